"""Start the whole platform as separate processes: the Tansu broker, an SMTP
catcher and the five services. Used by the local `./manager up` command and by
the end-to-end tests.

Services are started by module name (`python -m identity serve`), so this
module imports none of them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..sealing import generate_key_pair
from .fixtures import env_for, local_broker_settings
from .drain import wait_until_drained
from .kafka import TansuBroker
from .ports import free_port
from .smtp import MailCatcher

SERVICES = ("identity", "organizations", "billing", "domains", "notifications")
DEFAULT_PORTS = {"identity": 8001, "organizations": 8002, "billing": 8003, "domains": 8004, "notifications": 8005}


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def launch(name: str, overrides: dict, port: int | None = None, log_path: Path | None = None) -> ServiceProcess:
    """One service as its own process (`python -m <name> serve`) with
    `overrides` as its settings (environment, prefix `<NAME>_`); output to
    `log_path`, or dropped. Call `wait_ready` before using it."""
    port = port or free_port()
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", name, "serve", "--port", str(port)],
                            env=env_for(f"{name.upper()}_", overrides), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return ServiceProcess(name, port, proc, log_path)


def wait_ready(svc: ServiceProcess, timeout: float = 60.0) -> None:
    """Until `/readyz` answers 200; fails early (with the log's tail) if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.process.poll() is not None:
            tail = svc.log_path.read_text()[-3000:] if svc.log_path else ""
            raise RuntimeError(f"{svc.name} exited with {svc.process.returncode}; see {svc.log_path}:\n{tail}")
        try:
            if httpx.get(f"{svc.url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{svc.name} not ready after {timeout}s; see {svc.log_path}")


def stop(svc: ServiceProcess, sig: int = signal.SIGTERM) -> None:
    """Stop the service's process group (SIGKILL after 10 s)."""
    if svc.process.poll() is None:
        os.killpg(svc.process.pid, sig)
        try:
            svc.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(svc.process.pid, signal.SIGKILL)
            svc.process.wait()


@dataclass
class Platform:
    """The five services wired to one broker, one SMTP server and their own databases."""

    bootstrap: str
    smtp_port: int
    database_urls: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    extra: dict[str, dict] = field(default_factory=dict)  # per-service settings overrides
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    # (private, public): producers seal codes and tokens to it, notifications opens them
    seal_keys: tuple[str, str] = field(default_factory=generate_key_pair)

    def settings_for(self, name: str) -> dict:
        identity_url = f"http://127.0.0.1:{self.ports['identity']}"
        overrides = {**local_broker_settings(self.bootstrap), "database_url": self.database_urls[name],
                     "jwks_url": f"{identity_url}/.well-known/jwks.json", "log_level": "INFO"}
        if name == "notifications":
            overrides.update(smtp_host="127.0.0.1", smtp_port=self.smtp_port, seal_private_keys=self.seal_keys[0])
        else:
            overrides.update(notifications_seal_key=self.seal_keys[1])
        overrides.update(self.extra.get(name, {}))
        return overrides

    def start(self, names=SERVICES, timeout: float = 60.0) -> "Platform":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        for name in names:
            self.start_service(name)
        for name in names:
            self.wait_ready(name, timeout)
        return self

    def start_service(self, name: str) -> ServiceProcess:
        self.processes[name] = launch(name, self.settings_for(name), self.ports[name],
                                      self.log_dir / f"{name}.log")
        return self.processes[name]

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        wait_ready(self.processes[name], timeout)

    def url(self, name: str) -> str:
        return self.processes[name].url

    def stop_service(self, name: str, sig: int = signal.SIGTERM) -> None:
        svc = self.processes.pop(name, None)
        if svc:
            stop(svc, sig)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


LOCAL_SYNC_KEY = "local-sync-server-key"
# Every local service listens on loopback only, so whatever reaches identity
# came from this machine: the curl of the README's first flow plays the proxy
# and its X-Forwarded-For says where the user is (a production identity
# trusts only the proxies in IDENTITY_TRUSTED_PROXIES).
LOCAL_TRUSTED_PROXIES = "127.0.0.1/32,::1/128"


def local_seal_keys(data: Path) -> tuple[str, str]:
    """The local platform's seal key pair, made on the first run and kept in
    `data/` with the databases: events still in them stay readable."""
    path = data / "notifications-seal-key.json"
    if not path.exists():
        path.write_text(json.dumps(dict(zip(("private", "public"), generate_key_pair()))))
        path.chmod(0o600)
    keys = json.loads(path.read_text())
    return keys["private"], keys["public"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the whole Manager platform locally.")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--mail-http-port", type=int, default=8025)
    parser.add_argument("--drain-seconds", type=float, default=20.0,
                        help="at stop, wait at most this long for consumers to catch up before the broker stops")
    parser.add_argument("--first-port", type=int, default=DEFAULT_PORTS["identity"],
                        help="identity's port; the other services take the next ones")
    args = parser.parse_args()
    # SIGTERM (e.g. from a process manager) stops the children like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    broker = TansuBroker(args.kafka_port, log_path=data / "tansu.log").start()
    catcher = MailCatcher(args.smtp_port, args.mail_http_port).start()
    platform = Platform(bootstrap=broker.bootstrap, smtp_port=args.smtp_port, log_dir=data / "logs",
                        ports={name: args.first_port + i for i, name in enumerate(SERVICES)},
                        database_urls={n: f"sqlite+aiosqlite:///{data}/{n}.db" for n in SERVICES},
                        seal_keys=local_seal_keys(data),
                        # a sync-server key for trying app passwords locally (never in production)
                        extra={"identity": {"trusted_proxies": LOCAL_TRUSTED_PROXIES,
                                            "sync_client_key_hashes": hashlib.sha256(LOCAL_SYNC_KEY.encode()).hexdigest()}})
    try:
        platform.start()
        print("\nManager platform is up (Ctrl-C stops everything):")
        for name in SERVICES:
            print(f"  {name:<14} {platform.url(name)}   docs {platform.url(name)}/docs")
        print(f"  {'kafka':<14} {broker.bootstrap} (Tansu, in memory)")
        print(f"  {'mail':<14} smtp://127.0.0.1:{args.smtp_port}   received mail http://127.0.0.1:{args.mail_http_port}/")
        print(f"  {'sync servers':<14} X-Sync-Client-Key: {LOCAL_SYNC_KEY} (local only) for POST /v1/sync/check")
        print(f"  logs in {data / 'logs'}; accounts and everything else are kept in {data} between runs"
              " (stop, delete it, start again for a clean platform)\n", flush=True)
        while all(p.process.poll() is None for p in platform.processes.values()):
            time.sleep(1)
        print("a service stopped; see the logs", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        _drain(platform, broker, args.drain_seconds)
        platform.stop()
        catcher.stop()
        broker.stop()


def _drain(platform: Platform, broker: TansuBroker, timeout: float) -> None:
    """Before the in-memory broker goes: every outbox published, every consumer caught up."""
    if not platform.processes or timeout <= 0:
        return
    print(f"stopping: letting consumers catch up (at most {timeout:.0f} s; Ctrl-C again skips)", flush=True)
    try:
        if not wait_until_drained(broker.bootstrap, [p.url for p in platform.processes.values()], timeout):
            print("not everything was consumed in time: the next start publishes it again", file=sys.stderr)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
