"""X-02 the relay's lease on PostgreSQL, where the claim is taken inside the
batch's own transaction (row-locked until the batch commits); fake broker."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from manager_shared.db import Database
from manager_shared.events import AccountRegistered
from manager_shared.outbox import Outbox, OutboxRelay
from manager_shared.testing import probe

pytestmark = pytest.mark.integration
T = probe.outbox


@pytest.fixture
async def db(postgres):
    database = Database(postgres.create_database("relay"))
    await probe.create_tables(database)
    yield database
    await database.dispose()


def _event() -> AccountRegistered:
    return AccountRegistered(account_id=uuid.uuid4(), account_version=1, email="p@example.com", first_name="P",
                             last_name="Q", language="it", time_zone="Europe/Rome")


class Broker:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def __call__(self, topic, key, value, headers):
        self.sent.append(headers["event_id"])


async def _record(db, event) -> None:
    async with db.transaction() as session:
        await Outbox(T).record(session, event)


async def test_x_02_on_postgresql_only_the_lease_holder_publishes(db):
    first, second = _event(), _event()
    holder_broker, other_broker = Broker(), Broker()
    holder = OutboxRelay(db, T, holder_broker, service="pg-holder")
    other = OutboxRelay(db, T, other_broker, service="pg-other")
    await _record(db, first)
    assert await holder.publish_pending() == 1
    await _record(db, second)
    assert await other.publish_pending() == 0  # the holder's lease is live
    assert other_broker.sent == []
    assert await holder.publish_pending() == 1
    assert holder_broker.sent == [str(first.event_id), str(second.event_id)]
    async with db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(T).where(T.c.published_at.is_(None)))).scalar() == 0
