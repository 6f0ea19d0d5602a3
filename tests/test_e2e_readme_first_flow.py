"""The README's first flow, as a newcomer runs it (IDN-07, NTF-02): the
platform started exactly as `./manager up` starts it (its own data directory
and ports, nothing else changed), then the README's curl commands, read from
the README and run by a shell, with only the ports swapped for free ones; the
German "new sign-in" mail arrives."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from manager_shared.testing.platform import DEFAULT_PORTS, SERVICES
from manager_shared.testing.ports import free_port

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[1] / "README.md"


def first_flow_commands() -> list[str]:
    """The shell commands of the README's first `sh` block after "Try the first flow"."""
    text = README.read_text()
    block = re.search(r"Try the first flow.*?```sh\n(.*?)```", text, re.S)
    assert block, "the README's first flow block is gone"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl")]


def _free_run(n: int) -> int:
    """A first port with the n-1 following ones free (services take consecutive ports)."""
    for _ in range(50):
        first = free_port()
        if first + n < 65535 and all(_is_free(first + i) for i in range(n)):
            return first
    raise RuntimeError("no run of free ports")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def manager_up(tmp_path):
    """`./manager up` (python -m manager_shared.testing.platform) on free ports.
    Ports seen free can be taken by another process before the platform binds
    them: then it exits, and it is started again on other ports (3 tries)."""
    for attempt in range(3):
        proc, ports, log_path = _start_platform(tmp_path / f"try-{attempt}")
        outcome = _wait_until_up(proc, log_path)
        if outcome == "up":
            break
        _stop(proc)
        assert outcome == "port_taken" and attempt < 2, log_path.read_text()[-3000:]
    try:
        yield ports
    finally:
        _stop(proc)


def _start_platform(folder: Path) -> tuple[subprocess.Popen, dict[int, int], Path]:
    folder.mkdir()
    first, kafka, smtp, mail = _free_run(len(SERVICES)), free_port(), free_port(), free_port()
    ports = {DEFAULT_PORTS[name]: first + i for i, name in enumerate(SERVICES)} | {8025: mail}
    log_path = folder / "up.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "manager_shared.testing.platform", "--data-dir",
                                 str(folder / "data"), "--kafka-port", str(kafka), "--smtp-port", str(smtp),
                                 "--mail-http-port", str(mail), "--first-port", str(first)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, ports, log_path


def _wait_until_up(proc: subprocess.Popen, log_path: Path) -> str:
    """'up', 'port_taken' (a port went to someone else meanwhile) or 'failed'."""
    deadline = time.monotonic() + 120
    while "platform is up" not in log_path.read_text():
        text = log_path.read_text()
        if "address already in use" in text:
            return "port_taken"
        if proc.poll() is not None or time.monotonic() > deadline:
            return "failed"
        time.sleep(0.2)
    return "up"


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C, as the README says; killed if it does not stop within a minute."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    except ProcessLookupError:  # already gone
        proc.wait()
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _on_ports(command: str, ports: dict[int, int]) -> str:
    return re.sub(r"localhost:(\d+)", lambda m: f"localhost:{ports.get(int(m.group(1)), m.group(1))}", command)


def test_idn_07_the_readme_first_flow_works_as_written(manager_up):
    *steps, read_mail = [_on_ports(c, manager_up) for c in first_flow_commands()]
    assert "8025" in first_flow_commands()[-1] and len(steps) == 2
    for command in steps:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 60
    while True:
        out = subprocess.run(["bash", "-c", read_mail], capture_output=True, text=True, timeout=30).stdout
        mails = [m for m in json.loads(out or "[]") if "anna@example.ch" in [a.lower() for a in m["to"]]]
        if mails or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [m["subject"] for m in mails] == ["Neue Anmeldung bei Ihrem Manager-Konto"]
    assert "Deutschland" in mails[0]["text"]
    assert httpx.get(f"http://127.0.0.1:{manager_up[8001]}/healthz").status_code == 200
