"""PostgreSQL for tests: TEST_DATABASE_URL, else a server on 127.0.0.1:5432,
else a throwaway cluster from the local binaries (run as `postgres` when root)."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

from .ports import free_port, wait_for_port


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if isinstance(found, list):
        if not found:
            raise RuntimeError(f"PostgreSQL binary {name} not found")
        return found[-1]
    return found


class PostgresServer:
    """Gives out fresh databases (one per service per test session)."""

    def __init__(self) -> None:
        self.admin_url: str | None = None  # postgresql://user@host:port/db (sync form)
        self._tmp: str | None = None
        self._port: int | None = None
        self._created: list[str] = []

    def start(self) -> "PostgresServer":
        env = os.environ.get("TEST_DATABASE_URL")
        if env:
            self.admin_url = env.replace("+asyncpg", "").replace("+psycopg2", "")
        elif _answers("127.0.0.1", 5432):
            self.admin_url = f"postgresql://{os.environ.get('PGUSER', 'postgres')}@127.0.0.1:5432/postgres"
        else:
            self._start_cluster()
        return self

    def _run_as_postgres(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _start_cluster(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="manager-pg-")
        if os.geteuid() == 0:
            shutil.chown(self._tmp, "postgres", "postgres")
        self._port = free_port()
        data = f"{self._tmp}/data"
        self._run_as_postgres([_pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self._run_as_postgres([_pg_bin("pg_ctl"), "-D", data, "-l", f"{self._tmp}/log", "-w", "-o",
                               f"-p {self._port} -k {self._tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                               "start"])
        wait_for_port("127.0.0.1", self._port)
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self._port}/postgres"

    def create_database(self, prefix: str) -> str:
        """Create an empty database; returns its asyncpg URL."""
        import psycopg2

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        self._created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"

    def stop(self) -> None:
        if self._tmp is None and self._created:  # a shared server: leave it as we found it
            self._drop_created()
        if self._tmp:
            self._run_as_postgres([_pg_bin("pg_ctl"), "-D", f"{self._tmp}/data", "-m", "immediate", "stop"])
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


    def _drop_created(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in self._created:
                try:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except psycopg2.Error:
                    pass  # best effort: a leftover test database harms nobody
        conn.close()
        self._created.clear()

