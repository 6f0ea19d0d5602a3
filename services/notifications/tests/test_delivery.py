"""The service and the delivery worker on a real database (SQLite file) and
the real SMTP catcher; events are fed to the consumer directly."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import aiosmtplib
import pytest


from manager_shared.clock import SystemClock
from notifications import repository as repo
from notifications.catalog import Addressee, MessageKind
from notifications.errors import RecipientUnknown
from notifications.models import DEAD, FAILED, SENT, Message, Recipient
from notifications.service import QUEUED_FLAG, NotificationService


async def recipient(harness, account_id) -> Recipient | None:
    async with harness.runtime.db.transaction() as session:
        return await session.get(Recipient, account_id)


async def test_ntf_02_projection_keeps_the_highest_version(harness, events):
    v2 = events.registered("de", version=2, first_name="Berta")
    v1 = events.registered("fr", version=1, first_name="Anna", account_id=v2.account_id)
    assert await harness.feed(v2, v1) == ["processed", "processed"]
    kept = await recipient(harness, v2.account_id)
    assert (kept.version, kept.first_name, kept.language) == (2, "Berta", "de")
    v3 = events.registered("it", version=3, first_name="Carla", account_id=v2.account_id)
    await harness.feed(v3)
    kept = await recipient(harness, v2.account_id)
    assert (kept.version, kept.first_name, kept.language) == (3, "Carla", "it")


async def test_idn_07_new_location_mail_delivered_in_recipient_language(harness, events, mails):
    account = events.registered("fr", email="claire@example.com", first_name="Claire")
    await harness.feed(account, events.new_location(account.account_id))
    [queued] = await harness.messages()
    assert (queued.status, queued.attempts, queued.language) == ("pending", 0, "fr")
    await harness.deliver_until(lambda: _status(harness, SENT))
    [mail] = await mails(lambda m: m["to"] == ["claire@example.com"])
    assert mail["subject"] == "Nouvelle connexion à votre compte Manager"
    assert "Bonjour Claire" in mail["text"] and "Lausanne, Suisse" in mail["html"]
    assert mail["headers"]["Auto-Submitted"] == "auto-generated"
    assert mail["headers"]["Content-Language"] == "fr"
    [sent] = await harness.messages()
    assert sent.sent_at is not None and sent.attempts == 1 and sent.last_error is None


async def test_ntf_04_duplicate_event_sends_once(harness, events, mail_catcher, mails):
    account = events.registered("en")
    login = events.new_location(account.account_id)
    assert await harness.feed(account, login, login) == ["processed", "processed", "duplicate"]
    await harness.deliver_until(lambda: _status(harness, SENT))
    await harness.feed(login)  # redelivered after it was sent
    assert await harness.worker.deliver_due() == 0
    assert len(await mails(lambda m: m["to"] == [account.email])) == 1
    assert len(mail_catcher.messages) == 1 and len(await harness.messages()) == 1


async def test_ntf_04_same_event_through_the_service_twice_queues_once(harness, events):
    """The unique key holds even when the inbox is bypassed (replay under another consumer name)."""
    account = events.registered("en")
    login = events.new_location(account.account_id)
    await harness.feed(account)
    for _ in range(2):
        async with harness.runtime.db.transaction() as session:
            await harness.service.notify(session, login)
    assert len(await harness.messages()) == 1


async def test_ntf_04_smtp_down_then_delivered(harness, events, mail_catcher, mails):
    account = events.registered("it")
    mail_catcher.stop()
    try:
        await harness.feed(account, events.new_location(account.account_id))
        assert await harness.worker.deliver_due() == 1
        [failed] = await harness.messages()
        assert (failed.status, failed.attempts) == (FAILED, 1)
        assert "Connect" in failed.last_error or "refused" in failed.last_error.lower()
        assert failed.next_attempt_at > failed.created_at
    finally:
        mail_catcher.start()
    await harness.deliver_until(lambda: _status(harness, SENT))
    [mail] = await mails(lambda m: m["to"] == [account.email])
    assert mail["subject"] == "Nuovo accesso al tuo account Manager"
    [sent] = await harness.messages()
    assert sent.attempts >= 2 and sent.last_error is None


async def test_ntf_04_retries_exhausted_end_dead_and_dead_lettered(harness, events, mail_catcher):
    harness.worker.settings = harness.worker.settings.model_copy(update={"delivery_max_attempts": 2})
    published = []

    async def publish(body, topic, key, headers):
        published.append((topic, key, headers))

    harness.worker.publish = publish
    account = events.registered("es")
    mail_catcher.stop()
    try:
        await harness.feed(account, events.new_location(account.account_id))
        await harness.deliver_until(lambda: _status(harness, DEAD))
    finally:
        mail_catcher.start()
    [dead] = await harness.messages()
    assert dead.attempts == 2
    [(topic, key, headers)] = published
    assert topic == "notifications.message.dlq" and key == str(account.account_id).encode()
    assert headers["x-error-kind"] == "attempts_exhausted" and headers["x-attempts"] == "2"
    assert headers["x-message-id"] == str(dead.id) and headers["x-error"]


async def test_ntf_04_invalid_address_is_dead_at_once(harness, events):
    published = []

    async def publish(body, topic, key, headers):
        published.append(headers)

    harness.worker.publish = publish
    account = events.registered("en", email="not an address")
    await harness.feed(account, events.new_location(account.account_id))
    await harness.worker.deliver_due()
    [dead] = await harness.messages()
    assert (dead.status, dead.attempts) == (DEAD, 1)
    assert published[0]["x-error-kind"] == "permanent" and "invalid address" in published[0]["x-error"]


@pytest.mark.parametrize(("mandatory", "expected"), [(False, 0), (True, 1)])
async def test_ntf_05_opted_out_alert_is_not_queued_unless_mandatory(harness, events, mandatory, expected):
    async def opted_out(directory, event):
        return [Addressee(key="k", address="x@example.com", first_name="X", language="en",
                          time_zone="UTC", opted_out=frozenset({"LoginFromNewLocation"}))]

    login = events.new_location(uuid.uuid4())
    service = NotificationService(clock=SystemClock(), catalog={
        type(login): (MessageKind("login_from_new_location", opted_out, mandatory=mandatory),)})
    async with harness.runtime.db.transaction() as session:
        assert await service.notify(session, login) == expected


async def test_ntf_04_event_for_unknown_account_is_not_dropped(harness, events):
    """No contact data: the handler fails, so the consumer retries and then
    dead-letters the event (test_running_service shows the dead letter)."""
    with pytest.raises(RecipientUnknown):
        async with harness.runtime.db.transaction() as session:
            await harness.service.notify(session, events.new_location(uuid.uuid4()))
    assert await harness.messages() == []



async def test_ntf_04_worker_that_died_after_claiming_is_replaced(harness, events, mails):
    """A replica claims a message and dies before sending: once its lease
    ends, another worker sends it, once."""
    harness.worker.settings = harness.worker.settings.model_copy(update={"delivery_lease_seconds": 0.5})
    account = events.registered("fr")
    await harness.feed(account, events.new_location(account.account_id))
    async with harness.runtime.db.transaction() as session:
        now = datetime.now(timezone.utc)
        [claimed] = await repo.claim_due(session, now, now + timedelta(seconds=0.5), 10)
    assert await harness.worker.deliver_due() == 0  # still leased to the dead replica
    await harness.deliver_until(lambda: _status(harness, SENT))
    assert len(await mails(lambda m: m["to"] == [account.email])) == 1
    [sent] = await harness.messages()
    assert sent.id == claimed.id and sent.attempts == 2


async def test_ntf_04_stopping_worker_hands_back_its_batch(harness, events):
    account = events.registered("en")
    await harness.feed(account, *(events.new_location(account.account_id) for _ in range(3)))
    harness.worker._stopping = True
    assert await harness.worker.deliver_due() == 3
    now = datetime.now(timezone.utc)
    assert [(m.status, m.attempts) for m in await harness.messages()] == [("pending", 0)] * 3
    assert all(m.next_attempt_at <= now for m in await harness.messages())


async def test_ntf_04_dead_letter_publish_failing_loses_nothing(harness, events, mail_catcher):
    harness.worker.settings = harness.worker.settings.model_copy(update={"delivery_lease_seconds": 0.5})
    mail_catcher.reject_domain = "bad.example"
    published = []

    async def broker_down(body, topic, key, headers):
        raise ConnectionError("broker unreachable")

    harness.worker.publish = broker_down
    bad, good = events.registered("en", email="x@bad.example"), events.registered("en")
    await harness.feed(bad, good, events.new_location(bad.account_id), events.new_location(good.account_id))
    with pytest.raises(ConnectionError):
        await harness.worker.deliver_due()
    first, second = await harness.messages()
    assert first.status == "pending" and first.attempts == 1  # still claimed, not marked dead
    assert (second.status, second.attempts) == ("pending", 0)  # handed back untried

    async def broker_up(body, topic, key, headers):
        published.append(headers["x-message-id"])

    harness.worker.publish = broker_up
    await harness.deliver_until(lambda: _statuses(harness, [DEAD, SENT]))
    assert published == [str(first.id)]


async def _status(harness, status: str) -> list[Message]:
    found = await harness.messages()
    return found if found and all(m.status == status for m in found) else []


async def _statuses(harness, statuses: list[str]) -> bool:
    return [m.status for m in await harness.messages()] == statuses


async def test_ntf_04_worker_woken_once_the_queuing_transaction_commits(harness, events):
    calls = []
    harness.runtime.db.on_commit(QUEUED_FLAG, lambda: calls.append("wake"))
    account = events.registered("en")
    await harness.feed(account)
    assert calls == []  # a projection change queues nothing
    login = events.new_location(account.account_id)
    with pytest.raises(RuntimeError):
        async with harness.runtime.db.transaction() as session:
            await harness.service.notify(session, login)
            raise RuntimeError("rolled back")
    assert calls == []
    await harness.feed(login)
    assert calls == ["wake"]


async def test_ntf_03_one_smtp_connection_per_batch(harness, events, mails, monkeypatch):
    connects = []
    original = aiosmtplib.SMTP.connect

    async def counting_connect(self, *args, **kwargs):
        connects.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", counting_connect)
    accounts = [events.registered("en") for _ in range(3)]
    await harness.feed(*accounts, *(events.new_location(a.account_id) for a in accounts))
    assert await harness.worker.deliver_due() == 3
    assert len(await mails(lambda m: True, count=3)) == 3 and connects == [1]


async def test_ntf_04_restart_in_the_middle_of_a_batch_sends_each_message_once(harness, events, mail_catcher,
                                                                               mails, settings_for, sqlite_url,
                                                                               monkeypatch):
    """The worker is stopped after two of five sends: what was sent is
    recorded before it stops, the rest goes back untried; a new process
    sends the rest. Five mails, none twice."""
    from notifications.main import create_app

    accounts = [events.registered("en") for _ in range(5)]
    await harness.feed(*accounts, *(events.new_location(a.account_id) for a in accounts))
    from notifications.mailer import SmtpSession

    original_send = SmtpSession.send

    async def send_then_maybe_stop(self, message):
        outcome = await original_send(self, message)
        if len(mail_catcher.messages) == 2:
            harness.worker._stopping = True  # what stop() does, mid-batch
        return outcome

    monkeypatch.setattr(SmtpSession, "send", send_then_maybe_stop)
    assert await harness.worker.deliver_due() == 5
    assert [(m.status, m.attempts) for m in await harness.messages()] == [("sent", 1)] * 2 + [("pending", 0)] * 3

    monkeypatch.undo()
    restarted = create_app(settings_for(sqlite_url))  # a new process on the same database
    try:
        while await restarted.state.delivery.deliver_due():
            pass
    finally:
        await restarted.state.runtime.db.dispose()
    received = await mails(lambda m: True, count=5)
    assert sorted(m["to"][0] for m in received) == sorted(a.email for a in accounts)
    assert len(mail_catcher.messages) == 5
    assert {(m.status, m.attempts) for m in await harness.messages()} == {("sent", 1)}


async def test_ntf_03_connection_kept_between_batches_and_replaced_if_the_relay_dropped_it(
        harness, events, mails, mail_catcher, monkeypatch):
    connects = []
    original = aiosmtplib.SMTP.connect

    async def counting_connect(self, *args, **kwargs):
        connects.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", counting_connect)
    first, second, third = (events.registered("en") for _ in range(3))
    await harness.feed(first, second, third, events.new_location(first.account_id))
    assert await harness.worker.deliver_due() == 1
    await harness.feed(events.new_location(second.account_id))
    assert await harness.worker.deliver_due() == 1
    assert len(await mails(lambda m: True, count=2)) == 2 and connects == [1]  # one connection, two batches

    mail_catcher.stop()  # the relay goes away and comes back: the kept connection is dead
    mail_catcher.start()
    await harness.feed(events.new_location(third.account_id))
    assert await harness.worker.deliver_due() == 1
    await mails(lambda m: m["to"] == [third.email])
    last = (await harness.messages())[-1]
    assert (last.status, last.attempts, last.last_error) == ("sent", 1, None)  # not a failed try
    assert connects == [1, 1]
    await harness.worker.transports["email"].aclose()
