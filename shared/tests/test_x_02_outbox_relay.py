"""X-02 transactional outbox and its relay, in process: SQLite, a fake broker
`publish` callable and a fake broker incarnation, so each test takes a
fraction of a second (the real-broker versions are in test_event_machinery
and test_relay_order)."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from manager_shared.db import Database
from manager_shared.events import AccountRegistered
from manager_shared.outbox import LeaseLost, Outbox, OutboxRelay
from manager_shared.testing import probe

T = probe.outbox
_real_sleep = asyncio.sleep  # the tests' own polling, unaffected when a test records the relay's waits


def _event(n: int = 0) -> AccountRegistered:
    return AccountRegistered(account_id=uuid.uuid4(), account_version=1, email=f"p{n}@example.com",
                             first_name="P", last_name="Q", language="it", time_zone="Europe/Rome")


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    await probe.create_tables(database)
    yield database
    await database.dispose()


class _PostgresPath(Database):
    """SQLite standing in for PostgreSQL's path through the relay (the claim
    taken inside the batch's own transaction); the real thing is in
    test_x_02_outbox_relay_pg.py."""

    as_postgres = False

    @property
    def is_sqlite(self) -> bool:
        return not self.as_postgres and super().is_sqlite


@pytest.fixture(params=["sqlite", "postgres-path"])
async def any_db(request, tmp_path):
    database = _PostgresPath(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    await probe.create_tables(database)
    database.as_postgres = request.param == "postgres-path"
    yield database
    await database.dispose()


class Broker:
    """Fake `publish`: records what was sent; can fail on the n-th send."""

    def __init__(self, fail_at: int | None = None, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes, dict]] = []
        self.calls: list[float] = []
        self.fail_at, self.error = fail_at, error or ConnectionError("broker unreachable")

    async def __call__(self, topic, key, value, headers):
        self.calls.append(time.monotonic())
        if self.fail_at is not None and len(self.calls) - 1 >= self.fail_at:
            raise self.error
        self.sent.append((topic, key, value, headers))

    def ids(self) -> list[str]:
        return [h["event_id"] for *_, h in self.sent]


class Incarnation:
    """Fake broker incarnation: the marker of the broker now reachable."""

    def __init__(self, marker: str = "broker-1") -> None:
        self.marker, self.asked, self.closed = marker, 0, False

    async def current(self) -> str:
        self.asked += 1
        return self.marker

    async def close(self) -> None:
        self.closed = True


async def _record(db, *events) -> None:
    async with db.transaction() as session:
        await Outbox(T).record(session, *events)


async def _rows(db):
    async with db.transaction() as s:
        return (await s.execute(sa.select(T.c.event_id, T.c.published_at, T.c.attempts).order_by(T.c.id))).all()


async def _unpublished(db) -> int:
    return sum(r.published_at is None for r in await _rows(db))


async def _unpublished_is(db, n: int) -> bool:
    return await _unpublished(db) == n


async def _until(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await _real_sleep(0.01)
    return False


def _service() -> str:  # a fresh metrics label per test
    return f"svc-{uuid.uuid4().hex[:8]}"


def _gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


# --- recording ---------------------------------------------------------------

async def test_x_02_recorded_events_are_rows_of_the_callers_transaction(db):
    events = [_event(1), _event(2)]
    await _record(db, *events)
    rows = await _rows(db)
    assert [r.event_id for r in rows] == [e.event_id for e in events]
    assert all(r.published_at is None and r.attempts == 0 for r in rows)

    with pytest.raises(RuntimeError):  # a rolled-back state change leaves no event behind
        async with db.transaction() as session:
            await Outbox(T).record(session, _event(3))
            raise RuntimeError("the state change failed")
    assert len(await _rows(db)) == 2


async def test_x_02_recording_no_events_writes_nothing_and_wakes_nobody(db):
    relay = OutboxRelay(db, T, Broker(), service=_service())
    async with db.transaction() as session:
        await Outbox(T).record(session)
    assert await _rows(db) == []
    assert not relay._wake.is_set()


# --- one batch -----------------------------------------------------------------

async def test_x_02_relay_publishes_in_order_with_key_headers_and_marks_once(db):
    events = [_event(i) for i in range(3)]
    await _record(db, *events)
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service())
    assert await relay.publish_pending() == 3
    assert broker.sent == [(e.topic, e.key.encode(), e.to_bytes(), {"event_type": "AccountRegistered",
                                                                     "event_id": str(e.event_id)}) for e in events]
    rows = await _rows(db)
    assert all(r.published_at is not None for r in rows)
    assert [r.attempts for r in rows] == [1, 1, 1]  # one publish each
    assert await relay.publish_pending() == 0  # nothing left: nothing sent again
    assert len(broker.sent) == 3


async def test_x_02_relay_batch_size_bounds_one_batch(db):
    await _record(db, *[_event(i) for i in range(5)])
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), batch_size=2)
    assert [await relay.publish_pending() for _ in range(4)] == [2, 2, 1, 0]
    assert len(broker.sent) == 5


async def test_x_02_a_failed_send_marks_only_the_rows_before_it(db):
    events = [_event(i) for i in range(4)]
    await _record(db, *events)
    broker = Broker(fail_at=2)
    relay = OutboxRelay(db, T, broker, service=_service())
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    rows = await _rows(db)
    assert [r.published_at is not None for r in rows] == [True, True, False, False]
    broker.fail_at = None
    assert await relay.publish_pending() == 2  # the failed one and the rest, in order
    assert broker.ids()[2:] == [str(e.event_id) for e in events[2:]]
    assert [r.attempts for r in await _rows(db)] == [1, 1, 1, 1]


async def test_x_02_a_failed_ack_marks_only_the_acked_prefix(db):
    """publish returns futures (aiokafka's send): the batch is sent whole, then
    the acks are awaited; the first failed ack ends what is marked."""
    events = [_event(i) for i in range(3)]
    await _record(db, *events)
    loop = asyncio.get_running_loop()
    acks = []

    async def publish(topic, key, value, headers):
        fut = loop.create_future()
        acks.append(fut)
        return fut

    relay = OutboxRelay(db, T, publish, service=_service())
    task = asyncio.create_task(relay.publish_pending())
    assert await _until(lambda: _true(len(acks) == 3))  # all sent before any ack is awaited
    acks[0].set_result("ok")
    acks[1].set_exception(ConnectionError("not acked"))
    acks[2].set_result("ok")  # acked, but after a failure: it goes again, in order
    with pytest.raises(ConnectionError):
        await task
    assert [r.published_at is not None for r in await _rows(db)] == [True, False, False]


async def _true(value):
    return value


# --- the lease: one active relay per service -------------------------------------

async def test_x_02_only_the_lease_holder_publishes(any_db):
    db = any_db
    await _record(db, _event())
    first, second = Broker(), Broker()
    holder = OutboxRelay(db, T, first, service=_service())
    other = OutboxRelay(db, T, second, service=_service())
    assert await holder.publish_pending() == 1
    await _record(db, _event())
    assert await other.publish_pending() == 0  # the holder's lease is live
    assert second.sent == []
    assert await _unpublished(db) == 1
    assert await holder.publish_pending() == 1


async def test_x_02_a_relay_that_lost_its_lease_mid_batch_marks_nothing(db):
    await _record(db, _event(1), _event(2))
    lease = T.metadata.tables["outbox_relay_lease"]

    async def publish_while_taken_over(topic, key, value, headers):
        async with db.transaction() as s:  # another replica took the (expired) lease over meanwhile
            await s.execute(lease.update().values(holder="another-replica"))

    relay = OutboxRelay(db, T, publish_while_taken_over, service=_service())
    with pytest.raises(LeaseLost):
        await relay.publish_pending()
    assert await _unpublished(db) == 2  # the new holder publishes them, in order


# --- waking, idling, backing off -------------------------------------------------------

async def test_x_02_relay_wakes_on_commit_not_on_its_idle_timer(db):
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), idle_interval=30)
    relay.start()
    try:
        await asyncio.sleep(0.1)  # idle now, for 30 s
        event = _event()
        await _record(db, event)
        assert await _until(lambda: _true(broker.ids() == [str(event.event_id)]), timeout=1.5)
    finally:
        await relay.stop()


async def test_x_02_an_idle_relay_waits_instead_of_polling(db):
    relay = OutboxRelay(db, T, Broker(), service=_service(), idle_interval=30)
    batches = 0
    original = relay.publish_pending

    async def counted():
        nonlocal batches
        batches += 1
        return await original()

    relay.publish_pending = counted
    relay.start()
    try:
        await _record(db, _event())
        await asyncio.sleep(0.5)
    finally:
        await relay.stop()
    assert 1 <= batches <= 3, batches  # start and the woken batch (no empty follow-up): no busy loop


async def test_x_02_a_woken_relay_drains_full_batches_without_waiting_for_its_timer(db):
    # 7 events, batches of 3: one wake publishes 3 + 3 + 1 in a row (a full
    # batch means there may be more); the short last batch ends the round.
    await _record(db, *[_event(i) for i in range(7)])
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), batch_size=3, idle_interval=30)
    sizes = []
    original = relay.publish_pending

    async def counted():
        sizes.append(await original())
        return sizes[-1]

    relay.publish_pending = counted
    relay.start()
    try:
        assert await _until(lambda: _true(len(broker.sent) == 7), timeout=1.5)
        await asyncio.sleep(0.2)
    finally:
        await relay.stop()
    assert sizes == [3, 3, 1], sizes


async def test_x_02_a_batch_of_exactly_the_batch_size_is_followed_by_another_look(db):
    await _record(db, *[_event(i) for i in range(6)])
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), batch_size=3, idle_interval=30)
    sizes = []
    original = relay.publish_pending

    async def counted():
        sizes.append(await original())
        return sizes[-1]

    relay.publish_pending = counted
    relay.start()
    try:
        assert await _until(lambda: _true(len(broker.sent) == 6), timeout=1.5)
        assert await _until(lambda: _true(len(sizes) == 3), timeout=1.5)
    finally:
        await relay.stop()
    assert sizes == [3, 3, 0], sizes


async def test_x_02_relay_backs_off_exponentially_while_the_broker_is_down(db, monkeypatch):
    waits = []

    async def recorded_sleep(seconds):  # the relay's waits, slept for real
        waits.append(seconds)
        await _real_sleep(seconds)

    monkeypatch.setattr(asyncio, "sleep", recorded_sleep)
    await _record(db, _event())
    broker = Broker(fail_at=0)
    service = _service()
    relay = OutboxRelay(db, T, broker, service=service, idle_interval=30, max_backoff=0.4)
    relay.start()
    try:
        assert await _until(lambda: _true(len(broker.calls) >= 5), timeout=3.0)
        # the backlog gauge stays live while publishing fails (it drives the alerts)
        assert _gauge("outbox_backlog", service) == 1
        broker.fail_at = None  # the broker is back: the row goes out
        assert await _until(lambda: _unpublished_is(db, 0), timeout=2.0)
    finally:
        await relay.stop()
    assert waits[:4] == pytest.approx([0.1, 0.2, 0.4, 0.4])  # doubling, capped at max_backoff
    assert len(broker.calls) == len(waits) + 1  # one wait between failed attempts: no busy retry
    assert len(broker.sent) == 1


async def test_x_02_backlog_gauges_follow_the_outbox(db):
    service = _service()
    old = datetime.now(timezone.utc) - timedelta(seconds=120)
    await _record(db, _event(1), _event(2))
    async with db.transaction() as s:
        await s.execute(T.update().where(T.c.id == 1).values(created_at=old))
    relay = OutboxRelay(db, T, Broker(fail_at=0), service=service)
    await relay.refresh_gauges()
    assert _gauge("outbox_backlog", service) == 2
    assert 119 <= _gauge("outbox_oldest_age_seconds", service) < 200

    relay.publish = Broker()
    relay.start()
    try:
        assert await _until(lambda: _true(_gauge("outbox_backlog", service) == 0))
        assert _gauge("outbox_oldest_age_seconds", service) == 0
    finally:
        await relay.stop()


async def test_x_02_stop_ends_the_loop_and_hands_the_lease_over_at_once(db):
    incarnation = Incarnation()
    old_broker = Broker()
    relay = OutboxRelay(db, T, old_broker, service=_service(), incarnation=incarnation)
    relay.start()
    await _record(db, _event(1))
    assert await _until(lambda: _unpublished_is(db, 0))
    await relay.stop()
    assert incarnation.closed

    await _record(db, _event(2))  # a commit after stop wakes no one: the loop is gone
    await asyncio.sleep(0.2)
    assert len(old_broker.sent) == 1
    successor = Broker()  # default 10 s lease: it takes over only because the lease was released
    assert await OutboxRelay(db, T, successor, service=_service()).publish_pending() == 1
    assert len(successor.sent) == 1


async def test_x_02_stop_without_incarnation(db):
    relay = OutboxRelay(db, T, Broker(), service=_service())
    relay.start()
    await asyncio.sleep(0.05)
    await relay.stop()
    await relay.stop()  # twice is harmless


# --- a new, empty broker: the retained outbox goes again --------------------------

async def _published_days_ago(db, event_id, days: float) -> None:
    when = datetime.now(timezone.utc) - timedelta(days=days)
    async with db.transaction() as s:
        await s.execute(T.update().where(T.c.event_id == event_id).values(created_at=when))


async def test_x_05_a_new_broker_gets_the_retained_outbox_again_oldest_first(db):
    old, recent, ancient = _event(1), _event(2), _event(3)
    await _record(db, ancient, old, recent)
    incarnation = Incarnation("broker-1")
    new_broker_hooks = []

    async def on_new_broker():
        new_broker_hooks.append(incarnation.marker)

    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), incarnation=incarnation,
                        replay_window_seconds=7 * 86400, on_new_broker=on_new_broker,
                        incarnation_check_seconds=0)
    assert await relay.publish_pending() == 3  # the first broker this database ever saw: no replay
    assert new_broker_hooks == []
    await _published_days_ago(db, ancient.event_id, 8)  # outside the 7-day window
    await _published_days_ago(db, old.event_id, 6)

    assert await relay.publish_pending() == 0  # same broker: nothing again
    incarnation.marker = "broker-2"  # it restarted empty
    assert await relay.publish_pending() == 2  # in this very batch, with no new row to trigger it
    assert new_broker_hooks == ["broker-2"]
    assert broker.ids()[3:] == [str(old.event_id), str(recent.event_id)]
    attempts = {r.event_id: r.attempts for r in await _rows(db)}
    assert attempts == {ancient.event_id: 1, old.event_id: 2, recent.event_id: 2}

    assert await relay.publish_pending() == 0  # broker-2 is now the known one
    assert new_broker_hooks == ["broker-2"]


async def test_x_05_replay_works_without_a_topic_hook(db):
    event = _event()
    await _record(db, event)
    incarnation = Incarnation("a")
    broker = Broker()
    relay = OutboxRelay(db, T, broker, service=_service(), incarnation=incarnation, incarnation_check_seconds=0)
    assert await relay.publish_pending() == 1
    incarnation.marker = "b"
    assert await relay.publish_pending() == 1
    assert broker.ids() == [str(event.event_id)] * 2


async def test_x_05_an_idle_relay_asks_the_broker_once_per_check_interval(db):
    incarnation = Incarnation()
    relay = OutboxRelay(db, T, Broker(), service=_service(), incarnation=incarnation,
                        incarnation_check_seconds=3600)
    for _ in range(3):
        assert await relay.publish_pending() == 0
    assert incarnation.asked == 1
    await _record(db, _event())  # before a batch it always checks
    assert await relay.publish_pending() == 1
    assert incarnation.asked == 2
