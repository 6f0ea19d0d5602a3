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
    """`./manager up` (python -m manager_shared.testing.platform) on free ports."""
    first, kafka, smtp, mail = _free_run(len(SERVICES)), free_port(), free_port(), free_port()
    ports = {DEFAULT_PORTS[name]: first + i for i, name in enumerate(SERVICES)} | {8025: mail}
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "manager_shared.testing.platform", "--data-dir",
                             str(tmp_path / "data"), "--kafka-port", str(kafka), "--smtp-port", str(smtp),
                             "--mail-http-port", str(mail), "--first-port", str(first)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "platform is up" not in (tmp_path / "up.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "up.log").read_text()[-3000:]
            time.sleep(0.2)
        yield ports
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as the README says
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
