"""NTF-04 under crashes: notifications runs as its own process on a real
broker and a real SMTP server, and is SIGKILLed several times while it
delivers a burst. Nothing may be lost, and each kill may re-send at most the
one message that was on the wire (each message is recorded as sent right
after its own SMTP transaction). Counted at the SMTP server by Message-ID,
which is stable per (event, recipient, channel)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from manager_shared.events import AccountRegistered, LoginFromNewLocation
from manager_shared.testing.fixtures import local_broker_settings
from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import launch, wait_ready
from manager_shared.testing.smtp import MailCatcher
from manager_shared.testing.polling import eventually
from notifications.transport import delivery_key

pytestmark = pytest.mark.integration

EVENTS, KILLS, ACCOUNTS = 600, 4, 60


async def _publish(bootstrap: str, events: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(e.topic, e.to_bytes(), key=e.key.encode()) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _statuses(database_url: str) -> Counter:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT status, count(*) FROM message GROUP BY status"))
            return Counter(dict(rows.all()))
    finally:
        await engine.dispose()


def _received(catcher: MailCatcher) -> Counter:
    with catcher._lock:
        return Counter(m["headers"].get("Message-ID", "").strip("<>").partition("@")[0] for m in catcher.messages)


def _crash_run(tmp_path, database_url: str) -> dict:
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    catcher = MailCatcher().start()
    settings = {**local_broker_settings(broker.bootstrap), "database_url": database_url, "log_level": "WARNING",
                "smtp_port": catcher.smtp_port, "sms_file_path": str(tmp_path / "sms.jsonl"),
                # a killed process's claimed batch comes back soon (the default is 2 minutes)
                "delivery_lease_seconds": 3}
    log = tmp_path / "notifications.log"
    service = launch("notifications", settings, log_path=log)
    try:
        wait_ready(service, 90)
        accounts = [AccountRegistered(account_id=uuid.uuid4(), account_version=1, email=f"crash-{i}@example.ch",
                                      first_name="Crash", last_name="Test", language="de",
                                      time_zone="Europe/Zurich") for i in range(ACCOUNTS)]
        asyncio.run(_publish(broker.bootstrap, accounts))
        logins = [LoginFromNewLocation(account_id=accounts[i % ACCOUNTS].account_id, account_version=1,
                                       ip="80.128.1.1", country="DE", city="Berlin", device="Firefox on Windows",
                                       login_at=datetime.now(timezone.utc)) for i in range(EVENTS)]
        expected = {delivery_key(e.event_id, str(e.account_id), "email") for e in logins}
        asyncio.run(_publish(broker.bootstrap, logins))
        for k in range(1, KILLS + 1):
            # kill while mails are flowing: once another share of the burst has arrived
            eventually(lambda: len(set(_received(catcher)) & expected) >= k * EVENTS // (KILLS + 1),
                       timeout=120, interval=0.05, what=f"mails before kill {k}")
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(10)
            service = launch("notifications", settings, service.port, log)
            wait_ready(service, 90)
        eventually(lambda: expected <= set(_received(catcher)), timeout=180, interval=0.05, what="every mail")
        # every row recorded as sent: nothing is left that could be sent again
        eventually(lambda: asyncio.run(_statuses(database_url)) == Counter(sent=EVENTS), timeout=60, interval=0.05,
                   what="every message sent")
    finally:
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
            service.process.wait(30)
        catcher.stop()
        broker.stop()
    received = _received(catcher)
    return {"events": EVENTS, "kills": KILLS, "mails_received": sum(received[k] for k in expected),
            "lost": len(expected - set(received)),
            "duplicates": sum(received[k] - 1 for k in expected if received[k] > 1),
            "stray": sum(n for k, n in received.items() if k not in expected)}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_ntf_04_sigkill_during_a_burst_loses_nothing_and_re_sends_at_most_one_per_kill(tmp_path, request,
                                                                                      database):
    url = (request.getfixturevalue("postgres").create_database("crash") if database == "postgresql"
           else f"sqlite+aiosqlite:///{tmp_path}/notifications.db")
    figures = _crash_run(tmp_path, url)
    print(f"\nNTF-04 crash figures ({database}): {json.dumps(figures)}")
    assert figures["lost"] == 0 and figures["stray"] == 0
    assert figures["duplicates"] <= figures["kills"], figures
