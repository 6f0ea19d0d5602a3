"""/readyz answers in bounded time whatever hangs (X-05 operations): with the
broker process stopped (SIGSTOP) every service says 503 naming the broker
within ~1.5 s, and 200 again once the broker runs (SIGCONT)."""
from __future__ import annotations

import asyncio
import importlib
import os
import signal
import time

import httpx
import pytest

from manager_shared.testing.fixtures import local_broker_settings
from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import SERVICES

pytestmark = pytest.mark.integration

ANSWER_WITHIN = 1.5  # seconds; the setting's default is 0.8


@pytest.fixture
def own_broker(tmp_path):
    """A broker of this test's own: stopping the session's shared one would stall other tests."""
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    try:
        yield broker
    finally:
        if broker.process is not None:
            os.kill(broker.process.pid, signal.SIGCONT)
        broker.stop()


async def readyz(client: httpx.AsyncClient) -> httpx.Response:
    async with asyncio.timeout(ANSWER_WITHIN):  # an answer later than this fails the test
        return await client.get("/readyz")


async def until(client: httpx.AsyncClient, status: int, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = await readyz(client)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("name", SERVICES)
async def test_x_05_readyz_answers_503_naming_a_hung_broker(name, own_broker, tmp_path):
    config, main = importlib.import_module(f"{name}.config"), importlib.import_module(f"{name}.main")
    settings = config.Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db", consumers_enabled=False,
                               **local_broker_settings(own_broker.bootstrap))
    app = main.create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            assert (await until(client, 200)).status_code == 200
            os.kill(own_broker.process.pid, signal.SIGSTOP)
            r = await until(client, 503)
            assert r.status_code == 503, r.text
            assert r.json()["checks"]["database"] == "ok"
            assert r.json()["checks"]["broker"].startswith("error")
            for _ in range(5):  # every answer during the hang is bounded, not just the first
                assert (await readyz(client)).status_code == 503
            os.kill(own_broker.process.pid, signal.SIGCONT)
            r = await until(client, 200)
            assert r.status_code == 200, r.text
