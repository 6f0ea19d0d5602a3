"""X-06: the shared retention job on SQLite and PostgreSQL: old rows go,
rows still needed stay, two replicas at once delete each row once, and the
purge is visible in the metrics."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from manager_shared.db import Database
from manager_shared.retention import Retention, event_table_rules
from manager_shared.testing import probe

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
outbox, inbox = probe.outbox, probe.inbox


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/retention.db"
    return request.getfixturevalue("postgres").create_database("retention")


@pytest.fixture
async def db(url):
    database = Database(url)
    await probe.create_tables(database)
    yield database
    await database.dispose()


def _retention(db: Database, service: str, batch_size: int = 1000) -> Retention:
    retention = Retention(db, service, batch_size=batch_size)
    event_table_rules(retention, outbox, inbox, outbox_days=7, inbox_days=30, replay_window_hours=168)
    return retention


async def _outbox_row(session, *, created: datetime, published: datetime | None) -> uuid.UUID:
    event_id = uuid.uuid4()
    await session.execute(outbox.insert().values(event_id=event_id, topic="t", key="k", type="T", payload="{}",
                                                 created_at=created, published_at=published))
    return event_id


async def _inbox_rows(session, ages: list[timedelta]) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in ages]
    if ids:
        await session.execute(inbox.insert(), [{"consumer": "c", "event_id": i, "processed_at": NOW - age}
                                               for i, age in zip(ids, ages)])
    return ids


async def _left(db: Database, table: sa.Table) -> set[uuid.UUID]:
    async with db.transaction() as session:
        return set((await session.execute(sa.select(table.c.event_id))).scalars())


def _metric(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_x_06_old_rows_go_needed_rows_stay(db):
    day = timedelta(days=1)
    async with db.transaction() as session:
        old_published = await _outbox_row(session, created=NOW - 9 * day, published=NOW - 8 * day)
        young_published = await _outbox_row(session, created=NOW - 6 * day, published=NOW - 6 * day)
        # never published (broker down for a month): it must still go out
        unpublished = await _outbox_row(session, created=NOW - 40 * day, published=None)
        old_inbox, young_inbox = await _inbox_rows(session, [31 * day, 10 * day])
    service = f"probe-{uuid.uuid4().hex[:6]}"
    purged = await _retention(db, service).purge(NOW)
    assert purged == {"outbox": 1, "processed_event": 1}
    assert await _left(db, outbox) == {young_published, unpublished}
    assert await _left(db, inbox) == {young_inbox}
    assert old_published not in await _left(db, outbox) and old_inbox not in await _left(db, inbox)
    assert _metric("retention_rows_purged_total", service=service, table="outbox") == 1
    assert _metric("retention_rows_purged_total", service=service, table="processed_event") == 1
    assert _metric("retention_last_run_timestamp_seconds", service=service) > 0
    assert await _retention(db, service).purge(NOW) == {"outbox": 0, "processed_event": 0}


async def test_x_06_inbox_outlives_the_outbox_replay_horizon(db):
    """An inbox record is kept while a published row of its age could still
    be replayed to the consumer, even if RETENTION_INBOX_DAYS says less."""
    async with db.transaction() as session:
        kept, = await _inbox_rows(session, [timedelta(days=7, hours=12)])
    retention = Retention(db, "probe")
    event_table_rules(retention, outbox, inbox, outbox_days=7, inbox_days=1, replay_window_hours=168)
    await retention.purge(NOW)
    assert await _left(db, inbox) == {kept}


async def test_x_06_two_replicas_at_once_delete_each_row_once(url, db):
    """Two processes' jobs on one database, small batches: every old row is
    deleted exactly once between them, none fails, young rows stay."""
    async with db.transaction() as session:
        await _inbox_rows(session, [timedelta(days=40)] * 1500)
        young = set(await _inbox_rows(session, [timedelta(days=2)] * 20))
    other = Database(url)
    try:
        first, second = await asyncio.gather(_retention(db, "replica-a", batch_size=50).purge(NOW),
                                             _retention(other, "replica-b", batch_size=50).purge(NOW))
    finally:
        await other.dispose()
    assert first["processed_event"] + second["processed_event"] == 1500
    assert await _left(db, inbox) == young


async def test_x_06_metrics_are_exported(db):
    from manager_shared.metrics import metrics_response

    await _retention(db, "probe-metrics").purge(NOW)
    body = metrics_response().body.decode()
    assert "retention_last_run_timestamp_seconds" in body and "retention_rows_purged_total" in body
