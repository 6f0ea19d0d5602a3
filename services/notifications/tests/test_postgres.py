"""On PostgreSQL (the production database): migrations, upserts and two
delivery workers claiming side by side."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from manager_shared.db import migrate
from notifications.main import MIGRATIONS, create_app
from notifications.models import SENT, Message, Recipient

pytestmark = pytest.mark.integration


@pytest.fixture
async def pg_apps(postgres, settings_for):
    """Two replicas of the service on one fresh PostgreSQL database."""
    url = postgres.create_database("notifications")
    apps = [create_app(settings_for(url, delivery_batch_size=5)) for _ in range(2)]
    await migrate(apps[0].state.runtime.db, MIGRATIONS)
    yield apps
    for app in apps:
        await app.state.runtime.db.dispose()


async def test_ntf_04_two_replicas_send_each_message_once(pg_apps, events, mail_catcher, mails):
    first, second = (app.state for app in pg_apps)
    logins = []
    for i in range(12):
        account = events.registered("en", email=f"pg-{i}@example.com")
        logins.append(events.new_location(account.account_id))
        await first.consumer.handle_raw(account.topic, account.to_bytes())
    for login in logins:  # the same events reach both replicas: still one message each
        for state in (first, second):
            await state.consumer.handle_raw(login.topic, login.to_bytes())

    async def drain(worker):
        while await worker.deliver_due():
            pass

    await asyncio.gather(drain(first.delivery), drain(second.delivery))
    # Both workers have returned: every mail they will ever send is in.
    received = await mails(lambda m: m["to"][0].startswith("pg-"), count=12)
    assert sorted(m["to"][0] for m in received) == sorted(f"pg-{i}@example.com" for i in range(12))
    assert len(mail_catcher.messages) == 12
    async with first.runtime.db.transaction() as session:
        rows = (await session.execute(sa.select(Message.status, Message.attempts))).all()
    assert sorted(rows) == [(SENT, 1)] * 12


async def test_ntf_02_projection_upsert_on_postgres(pg_apps, events):
    state = pg_apps[0].state
    newer = events.registered("de", version=5, first_name="Berta")
    older = events.registered("fr", version=4, first_name="Anna", account_id=newer.account_id)
    for event in (newer, older):
        assert await state.consumer.handle_raw(event.topic, event.to_bytes()) == "processed"
    async with state.runtime.db.transaction() as session:
        kept = await session.get(Recipient, newer.account_id)
    assert (kept.version, kept.first_name) == (5, "Berta")


async def test_ntf_04_sent_status_recorded_on_postgres(pg_apps, events, mails):
    state = pg_apps[0].state
    account = events.registered("es")
    for event in (account, events.new_location(account.account_id)):
        await state.consumer.handle_raw(event.topic, event.to_bytes())
    assert await state.delivery.deliver_due() == 1
    await mails(lambda m: m["to"] == [account.email])
    caller = SimpleNamespace(account_id=account.account_id)
    async with state.runtime.db.transaction() as session:
        page = await state.notifications.delivery_log(session, caller, None, 10, None)
    assert [(m.status, m.attempts) for m in page] == [(SENT, 1)]


async def test_ntf_04_unique_key_guards_on_postgres(pg_apps, events):
    state = pg_apps[0].state
    account = events.registered("it")
    await state.consumer.handle_raw(account.topic, account.to_bytes())
    login = events.new_location(account.account_id)
    for _ in range(2):  # the same event twice, bypassing the inbox: the unique key holds
        async with state.runtime.db.transaction() as session:
            await state.notifications.notify(session, login)
    async with state.runtime.db.transaction() as session:
        rows = (await session.execute(sa.select(Message).where(Message.event_id == login.event_id))).scalars().all()
    assert len(rows) == 1


async def test_ntf_04_a_claim_takes_at_most_a_batch_on_postgres(pg_apps):
    """With many due messages a claim takes `limit` of them and no more
    (the locking subquery inside IN (...) was planned as a subplan run once
    per due row and claimed them all, in seconds)."""
    import uuid
    from datetime import datetime, timedelta, timezone

    from notifications import repository as repo

    db = pg_apps[0].state.runtime.db
    now = datetime.now(timezone.utc)
    async with db.transaction() as session:
        await session.execute(sa.insert(Message.__table__), [dict(
            event_id=uuid.uuid4(), event_type="X", recipient=str(i), address="a@example.ch", channel="email",
            template="t", language="en", subject="s", body_text="b", status="pending", attempts=0,
            created_at=now, next_attempt_at=now - timedelta(seconds=i % 7)) for i in range(400)])
    async with db.transaction() as session:
        claimed = await repo.claim_due(session, now, now + timedelta(seconds=60), 20)
    assert len(claimed) == 20
    async with db.transaction() as session:
        taken = (await session.execute(sa.select(sa.func.count()).select_from(Message).where(
            Message.attempts == 1))).scalar_one()
    assert taken == 20
