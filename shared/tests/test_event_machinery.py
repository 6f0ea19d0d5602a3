"""X-02 integration: outbox → real Kafka-protocol broker (Tansu) → idempotent
consumer on real PostgreSQL; crashes at the worst moments; dead letters."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from manager_shared.db import Database
from manager_shared.events import AccountRegistered
from manager_shared.outbox import Outbox, OutboxRelay
from manager_shared.testing import probe

pytestmark = pytest.mark.integration


def _event() -> AccountRegistered:
    return AccountRegistered(account_id=uuid.uuid4(), account_version=1, email="p@example.com", first_name="P",
                             last_name="Q", language="it", time_zone="Europe/Rome")


@pytest.fixture
async def db(postgres):
    database = Database(postgres.create_database("probe"))
    await probe.create_tables(database)
    yield database
    await database.dispose()


@pytest.fixture
async def broker(kafka):
    b = KafkaBroker(kafka.bootstrap, log_level=10)
    yield b
    await b.stop()


async def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def _start_consumer(db, broker, topic):
    consumer = probe.make_consumer(db, broker)
    consumer.subscribe(topic, group_id=f"g-{uuid.uuid4().hex[:8]}", session_timeout_ms=1000,
                       heartbeat_interval_ms=300)
    await broker.start()
    return consumer


async def _unpublished(db) -> int:
    async with db.transaction() as s:
        return len((await s.execute(probe.outbox.select().where(probe.outbox.c.published_at.is_(None)))).all())


async def test_x_02_outbox_event_arrives_once_after_failed_and_interrupted_publishes(db, broker):
    # three relays one after the other, as if restarted: lease_seconds=0 lets each take over at once
    event = _event()
    async with db.transaction() as session:
        await Outbox(probe.outbox).record(session, event)

    async def broker_down(*_args):
        raise ConnectionError("broker unreachable")

    with pytest.raises(ConnectionError):
        await OutboxRelay(db, probe.outbox, broker_down, service="probe", lease_seconds=0).publish_pending()
    assert await _unpublished(db) == 1  # the failed publish kept the event

    await _start_consumer(db, broker, event.topic)

    async def publish(topic, key, value, headers):
        return await broker.publish(value, topic, key=key, headers=headers)

    async def publish_then_die(topic, key, value, headers):
        await publish(topic, key, value, headers)
        raise RuntimeError("relay killed after publish, before marking")

    with pytest.raises(RuntimeError):
        await OutboxRelay(db, probe.outbox, publish_then_die, service="probe", lease_seconds=0).publish_pending()
    assert await _unpublished(db) == 1  # sent once, but not marked: it will go again

    assert await OutboxRelay(db, probe.outbox, publish, service="probe", lease_seconds=0).publish_pending() == 1
    assert await _unpublished(db) == 0
    assert await _wait(lambda: _effect_is(db, event.event_id, 1))
    await asyncio.sleep(1.0)  # the second copy is on the broker too: give it time to be (not) applied
    assert await probe.effects_of(db, event.event_id) == 1


async def _effect_is(db, event_id, n):
    return await probe.effects_of(db, event_id) == n


async def test_x_02_consumer_crash_after_commit_before_ack_applies_once(db, broker, kafka, postgres):
    topic = f"probe.crash.{uuid.uuid4().hex[:8]}"
    group = f"g-{uuid.uuid4().hex[:8]}"
    event = _event()
    cmd = [sys.executable, "-m", "manager_shared.testing.probe", db.url, kafka.bootstrap, topic, group]
    crashing = subprocess.Popen(cmd + ["crash"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        await broker.start()
        await broker.publish(event.to_bytes(), topic, key=event.key.encode())
        assert crashing.wait(60) == 17, crashing.stdout.read()
    finally:
        if crashing.poll() is None:
            crashing.kill()
    assert await probe.effects_of(db, event.event_id) == 1  # the effect was committed before the crash

    survivor = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # The offset was never committed, so the survivor gets the event again
        # and must recognise it as already applied.
        line = await asyncio.wait_for(asyncio.to_thread(_first_outcome, survivor), 60)
        assert line == "outcome AccountRegistered duplicate"
        assert await probe.effects_of(db, event.event_id) == 1
    finally:
        survivor.terminate()
        survivor.wait(10)


def _first_outcome(process) -> str:
    for line in process.stdout:
        if line.startswith("outcome"):
            return line.strip()
    return "exited without an outcome"


async def test_x_02_duplicate_delivery_is_skipped(db, broker):
    consumer = probe.make_consumer(db, broker)
    event = _event()
    assert await consumer.handle_raw("t", event.to_bytes()) == "processed"
    assert await consumer.handle_raw("t", event.to_bytes()) == "duplicate"
    assert await probe.effects_of(db, event.event_id) == 1


async def test_x_02_concurrent_duplicates_apply_once(db, broker):
    consumer = probe.make_consumer(db, broker)
    event = _event()
    outcomes = await asyncio.gather(*[consumer.handle_raw("t", event.to_bytes()) for _ in range(5)])
    assert sorted(outcomes).count("processed") == 1, outcomes
    assert await probe.effects_of(db, event.event_id) == 1


async def test_x_03_malformed_event_goes_to_dead_letter_and_next_is_processed(db, broker, kafka):
    topic = f"probe.dlq.{uuid.uuid4().hex[:8]}"
    await _start_consumer(db, broker, topic)
    good = _event()
    await broker.publish(b"{not json", topic, key=b"x")
    await broker.publish(b'{"type": "AccountRegistered", "event_id": "nope"}', topic, key=b"y")
    await broker.publish(good.to_bytes(), topic, key=good.key.encode())
    assert await _wait(lambda: _effect_is(db, good.event_id, 1))

    reader = AIOKafkaConsumer(f"{topic}.dlq", bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest",
                              group_id=f"dlq-{uuid.uuid4().hex[:6]}", session_timeout_ms=1000,
                              heartbeat_interval_ms=300)
    await reader.start()
    try:
        records = []
        deadline = time.monotonic() + 30
        while len(records) < 2 and time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await reader.stop()
    assert sorted(r.value for r in records) == sorted([b"{not json", b'{"type": "AccountRegistered", "event_id": "nope"}'])
    headers = dict((k, v.decode()) for k, v in records[0].headers)
    assert headers["x-original-topic"] == topic and headers["x-consumer"] == "probe.probe"
    assert headers["x-error-type"] in {"JSONDecodeError", "ValidationError"}


async def test_x_02_handler_failure_is_retried_then_dead_lettered(db, broker, kafka):
    consumer = probe.make_consumer(db, broker, name="flaky")
    calls = []

    @consumer.on(AccountRegistered)
    async def always_fails(session, event):
        calls.append(1)
        raise RuntimeError("downstream broken")

    await broker.start()
    event = _event()
    assert await consumer.handle_raw("probe.flaky", event.to_bytes()) == "dead_lettered"
    assert len(calls) == 3  # bounded retries
    assert await probe.effects_of(db, event.event_id) == 0
    async with db.transaction() as s:  # a failed attempt leaves no inbox record (it can be replayed)
        assert (await s.execute(probe.inbox.select())).all() == []
