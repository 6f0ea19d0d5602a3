"""The service started as in production (lifespan: migrations, broker,
consumers, delivery worker) against the real Kafka-protocol broker."""
from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from notifications.delivery import DLQ_TOPIC
from notifications.main import create_app
from notifications.models import DEAD

pytestmark = pytest.mark.integration


@pytest.fixture
async def running(settings_for, sqlite_url, service_env):
    """Started as in production, but events are fed by hand (no subscription
    to the shared topics, which other tests write to)."""
    app = create_app(settings_for(sqlite_url, consumers_enabled=False, **service_env))
    async with app.router.lifespan_context(app):
        yield app
    assert app.state.delivery._task is None  # the worker stopped with the app


@pytest.fixture
async def subscribed(settings_for, sqlite_url, service_env):
    """Started with its consumers reading Kafka."""
    app = create_app(settings_for(sqlite_url, **service_env))
    async with app.router.lifespan_context(app):
        yield app


async def dead_letters(bootstrap: str, topic: str, predicate, timeout: float = 8.0) -> list:
    """Read `topic` from the start until a record matches (deadline, no blind sleep)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()  # no group: partitions assigned by hand, so no group join to wait for
    try:
        deadline = time.monotonic() + timeout
        await consumer.topics()  # refreshes the metadata that partitions_for_topic reads
        partitions = consumer.partitions_for_topic(topic) or {0}
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            found = [r for records in batches.values() for r in records if predicate(r)]
            if found:
                return found
        raise AssertionError(f"nothing matching on {topic} within {timeout}s")
    finally:
        await consumer.stop()


async def test_idn_07_login_event_from_kafka_becomes_a_mail(subscribed, kafka, events, mails):
    account = events.registered("es", email=f"kafka-{uuid.uuid4().hex[:8]}@example.com")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        for event in (account, events.new_location(account.account_id, city=None, country="ES")):
            await producer.send_and_wait(event.topic, event.to_bytes(), key=event.key.encode())
    finally:
        await producer.stop()
    [mail] = await mails(lambda m: m["to"] == [account.email], timeout=10)
    assert mail["subject"] == "Nuevo inicio de sesión en tu cuenta Manager"
    assert "Ubicación:     España" in mail["text"]


async def test_ntf_04_permanent_failure_dead_lettered(running, kafka, events, mail_catcher, eventually):
    mail_catcher.reject_domain = "bad.example"
    account = events.registered("en", email="nobody@bad.example")
    state = running.state
    for event in (account, events.new_location(account.account_id)):
        await state.consumer.handle_raw(event.topic, event.to_bytes())  # commit wakes the worker

    caller = SimpleNamespace(account_id=account.account_id)

    async def dead():
        async with state.runtime.db.transaction() as session:
            rows = await state.notifications.delivery_log(session, caller, None, 10, None)
        return rows if rows and rows[0].status == DEAD else None

    [message] = await eventually(dead, timeout=5)
    assert message.attempts == 1 and "550" in message.last_error
    [record] = await dead_letters(kafka.bootstrap, DLQ_TOPIC,
                                  lambda r: dict(r.headers).get("x-message-id") == str(message.id).encode())
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["x-error-kind"] == "permanent" and "550" in headers["x-error"]
    assert headers["x-event-id"] == str(message.event_id)
    body = json.loads(record.value)
    assert (body["address"], body["template"]) == ("nobody@bad.example", "login_from_new_location")
    assert not mail_catcher.messages


async def test_ntf_04_event_for_unknown_account_goes_to_the_consumer_dlq(running, kafka, events):
    login = events.new_location(uuid.uuid4())
    assert await running.state.consumer.handle_raw(login.topic, login.to_bytes()) == "dead_lettered"
    [record] = await dead_letters(kafka.bootstrap, f"{login.topic}.dlq", lambda r: r.value == login.to_bytes())
    assert dict(record.headers)["x-error-type"] == b"RecipientUnknown"


async def test_ntf_04_smtp_down_for_a_while_then_delivered_by_the_running_worker(running, events, mail_catcher,
                                                                                 mails, eventually):
    """No hand-driven worker: the service's own worker retries with growing
    delays while the server is down and delivers once it is back, once."""
    state = running.state
    account = events.registered("de")
    caller = SimpleNamespace(account_id=account.account_id)

    async def log():
        async with state.runtime.db.transaction() as session:
            return await state.notifications.delivery_log(session, caller, None, 10, None)

    mail_catcher.stop()
    try:
        for event in (account, events.new_location(account.account_id)):
            await state.consumer.handle_raw(event.topic, event.to_bytes())

        async def failed_repeatedly():
            # a claim counts its attempt before trying: attempts >= 4 while
            # still failing means at least three tries have really failed
            rows = await log()
            return rows if rows and rows[0].status == "failed" and rows[0].attempts >= 4 else None

        [failing] = await eventually(failed_repeatedly, timeout=10)
        assert "refused" in failing.last_error.lower() or "connect" in failing.last_error.lower()
    finally:
        mail_catcher.start()
    [mail] = await mails(lambda m: m["to"] == [account.email], timeout=10)
    assert mail["subject"] == "Neue Anmeldung bei Ihrem Manager-Konto"

    async def sent():
        rows = await log()
        return rows if rows and rows[0].status == "sent" else None

    [row] = await eventually(sent)
    assert row.attempts >= 4 and row.last_error is None
    assert len([m for m in mail_catcher.messages if m["to"] == [account.email]]) == 1
