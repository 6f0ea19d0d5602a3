"""X-02 idempotent consumer, in process: `handle_records`/`handle_raw` driven
with fake Kafka records and a fake broker (dead letters), on SQLite. The
real-broker versions are in test_event_machinery."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from faststream import AckPolicy

from manager_shared import consumer as consumer_module
from manager_shared.consumer import EventConsumer, dlq_topic
from manager_shared.context import current_correlation_id, reset_correlation_id, set_correlation_id
from manager_shared.db import Database
from manager_shared.events import AccountBlocked, AccountRegistered
from manager_shared.testing import probe


def _event(correlation_id: str | None = None) -> AccountRegistered:
    return AccountRegistered(account_id=uuid.uuid4(), account_version=1, email="p@example.com", first_name="P",
                             last_name="Q", language="it", time_zone="Europe/Rome", correlation_id=correlation_id)


def _blocked() -> AccountBlocked:
    return AccountBlocked(account_id=uuid.uuid4(), account_version=2, reason="incident",
                          blocked_at=datetime.now(timezone.utc))


def _records(*bodies, topic: str = "identity.account") -> list:
    return [SimpleNamespace(topic=topic, value=b if isinstance(b, bytes) else b.to_bytes(), partition=3,
                            offset=100 + i, key=f"k{i}".encode()) for i, b in enumerate(bodies)]


class Broker:
    """Fake broker: `publish` (dead letters) and `subscriber` (subscriptions)."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self.subscriptions: list[tuple[tuple, dict, object]] = []

    async def publish(self, body, topic, *, key=None, headers=None):
        self.published.append({"body": body, "topic": topic, "key": key, "headers": headers})

    def subscriber(self, *topics, **options):
        def attach(fn):
            self.subscriptions.append((topics, options, fn))
            return fn
        return attach


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    await probe.create_tables(database)
    yield database
    await database.dispose()


@pytest.fixture
def broker():
    return Broker()


class Counting:
    """Counts the units of work a consumer opens (one per batch on the fast path)."""

    def __init__(self, db: Database) -> None:
        self.db, self.transactions = db, 0
        self.is_sqlite = db.is_sqlite

    def transaction(self):
        self.transactions += 1
        return self.db.transaction()


def _consumer(db, broker, name: str = "probe", **kwargs) -> tuple[EventConsumer, list]:
    """A consumer recording each applied event (effect row) and the
    correlation id its handler saw."""
    options = {"max_attempts": 3, "backoff_base": 0.01, **kwargs}
    c = EventConsumer(name, service="probe", db=db, inbox=probe.inbox, broker=broker, **options)
    seen: list = []

    @c.on(AccountRegistered)
    async def apply(session, event) -> None:
        seen.append((event.event_id, current_correlation_id()))
        await session.execute(probe.effect.insert().values(event_id=event.event_id,
                                                           applied_at=event.occurred_at))

    return c, seen


async def _effects(db) -> list:
    async with db.transaction() as s:
        return list((await s.execute(sa.select(probe.effect.c.event_id).order_by(probe.effect.c.id))).scalars())


async def _inbox(db) -> list:
    async with db.transaction() as s:
        return sorted((await s.execute(sa.select(probe.inbox.c.consumer, probe.inbox.c.event_id))).all())


# --- the batch fast path ------------------------------------------------------------

async def test_x_02_a_batch_is_applied_in_one_transaction(db, broker):
    c, seen = _consumer(db, broker)
    counting = Counting(db)
    c.db = counting
    events = [_event() for _ in range(3)]
    assert await c.handle_records(_records(*events)) == ["processed"] * 3
    assert counting.transactions == 1
    assert await _effects(db) == [e.event_id for e in events]
    assert await _inbox(db) == sorted(("probe", e.event_id) for e in events)


async def test_x_02_duplicates_in_a_batch_are_skipped_without_leaving_the_fast_path(db, broker):
    c, seen = _consumer(db, broker)
    before, again = _event(), _event()
    assert await c.handle_records(_records(before)) == ["processed"]
    counting = Counting(db)
    c.db = counting
    # a redelivered event, and one event twice in the same batch
    assert await c.handle_records(_records(before, again, again)) == ["duplicate", "processed", "duplicate"]
    assert counting.transactions == 1
    assert await _effects(db) == [before.event_id, again.event_id]
    assert len(seen) == 2


async def test_x_02_a_batch_skips_types_without_handler_and_unknown_types(db, broker):
    c, _ = _consumer(db, broker)
    outcomes = []
    c.on_outcome = lambda t, o: outcomes.append((t, o))
    blocked = _blocked()
    newer = json.dumps({"type": "SomethingFromTheFuture", "event_id": str(uuid.uuid4())}).encode()
    good = _event()
    counting = Counting(db)
    c.db = counting
    assert await c.handle_records(_records(blocked, newer, good)) == ["ignored", "processed"]
    assert counting.transactions == 1
    assert outcomes == [("SomethingFromTheFuture", "ignored"), ("AccountBlocked", "ignored"),
                        ("AccountRegistered", "processed")]
    assert await _inbox(db) == [("probe", good.event_id)]  # an ignored event is not recorded


async def test_x_02_the_inbox_is_per_consumer(db, broker):
    first, _ = _consumer(db, broker, name="first")
    second, _ = _consumer(db, broker, name="second")
    event, other = _event(), _event()
    assert await first.handle_records(_records(event)) == ["processed"]
    assert await second.handle_records(_records(event)) == ["processed"]  # first's record does not count here
    assert await second.handle_raw("t", other.to_bytes()) == "processed"
    assert await first.handle_raw("t", other.to_bytes()) == "processed"
    assert await second.handle_records(_records(event, other)) == ["duplicate", "duplicate"]
    assert await first.handle_raw("t", event.to_bytes()) == "duplicate"
    assert await _inbox(db) == sorted([("first", event.event_id), ("second", event.event_id),
                                       ("first", other.event_id), ("second", other.event_id)])


async def test_x_02_a_failing_batch_falls_back_one_by_one_and_poison_is_dead_lettered(db, broker):
    c, _ = _consumer(db, broker)
    poison = _event()
    calls = []

    @c.on(AccountBlocked)
    async def fails(session, event):
        calls.append(event.event_id)
        raise RuntimeError("downstream broken")

    blocked = _blocked()
    good = _event()
    outcomes = await c.handle_records(_records(poison, blocked, good))
    assert outcomes == ["processed", "dead_lettered", "processed"]
    assert await _effects(db) == [poison.event_id, good.event_id]  # the batch's rollback undid nothing for good
    assert len(calls) == 1 + 3  # once in the batch, then max_attempts on its own
    assert [p["topic"] for p in broker.published] == ["identity.account.dlq"]
    assert broker.published[0]["headers"]["x-attempts"] == "3"


async def test_x_02_a_malformed_record_in_a_batch_is_dead_lettered_and_the_rest_applied(db, broker):
    c, _ = _consumer(db, broker)
    good = _event()
    assert await c.handle_records(_records(b"{not json", good)) == ["dead_lettered", "processed"]
    assert await _effects(db) == [good.event_id]
    [letter] = broker.published
    assert letter["body"] == b"{not json" and letter["topic"] == dlq_topic("identity.account")
    assert letter["key"] == b"k0"
    h = letter["headers"]
    assert h["x-attempts"] == "1"  # malformed: retrying cannot help
    assert h["x-original-topic"] == "identity.account" and h["x-consumer"] == "probe.probe"
    assert (h["x-original-partition"], h["x-original-offset"]) == ("3", "100")
    assert h["x-error-type"] == "JSONDecodeError"
    assert h["x-error"] == "invalid JSON at line 1 column 2"


async def test_x_02_after_commit_hook_runs_after_each_effect_in_a_batch(db, broker):
    c, _ = _consumer(db, broker)
    committed = []

    async def hook(event):
        committed.append((event.event_id, await _effects(db)))

    c.after_commit = hook
    a, b = _event(), _event()
    assert await c.handle_records(_records(a, b)) == ["processed", "processed"]
    assert committed == [(a.event_id, [a.event_id]), (b.event_id, [a.event_id, b.event_id])]


# --- correlation ids ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["batch", "raw"])
async def test_x_02_each_event_is_handled_under_its_own_correlation_id(db, broker, path):
    c, seen = _consumer(db, broker)
    a, b = _event("corr-a"), _event("corr-b")
    outer = set_correlation_id("the-callers-id")
    try:
        if path == "batch":
            await c.handle_records(_records(a, b))
        else:
            await c.handle_raw("t", a.to_bytes())
            await c.handle_raw("t", b.to_bytes())
        assert [cid for _, cid in seen] == ["corr-a", "corr-b"]
        assert current_correlation_id() == "the-callers-id"  # nothing leaks out of the handling
    finally:
        reset_correlation_id(outer)


# --- one by one: retries, back-off, dead letters -----------------------------------------

async def test_x_02_duplicate_delivery_one_by_one_is_skipped(db, broker):
    c, _ = _consumer(db, broker)
    outcomes = []
    c.on_outcome = lambda t, o: outcomes.append(o)
    event = _event()
    assert await c.handle_raw("t", event.to_bytes()) == "processed"
    assert await c.handle_raw("t", event.to_bytes()) == "duplicate"
    assert outcomes == ["processed", "duplicate"]
    assert await _effects(db) == [event.event_id]
    assert broker.published == []


async def test_x_02_handle_raw_ignores_unknown_and_unhandled_types(db, broker):
    c, _ = _consumer(db, broker)
    newer = json.dumps({"type": "SomethingFromTheFuture"}).encode()
    assert await c.handle_raw("t", newer) == "ignored"
    blocked = _blocked()
    assert await c.handle_raw("t", blocked.to_bytes()) == "ignored"
    assert await _inbox(db) == [] and broker.published == []


async def test_x_02_handle_raw_dead_letters_a_contract_violation_once(db, broker):
    c, _ = _consumer(db, broker)
    body = b'{"type": "AccountRegistered", "event_id": "nope"}'
    assert await c.handle_raw("identity.account", body) == "dead_lettered"
    [letter] = broker.published
    assert letter["topic"] == "identity.account.dlq" and letter["key"] is None
    h = letter["headers"]
    assert h["x-attempts"] == "1" and h["x-error-type"] == "ValidationError"
    assert "event_id" in h["x-error"] and "nope" not in h["x-error"]
    assert "x-original-partition" not in h  # no record: nothing to say about where it was


async def test_x_02_a_transient_failure_is_retried_and_then_applied(db, broker):
    c, _ = _consumer(db, broker)
    calls = []

    @c.on(AccountRegistered)
    async def flaky(session, event):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("downstream hiccup")
        await session.execute(probe.effect.insert().values(event_id=event.event_id, applied_at=event.occurred_at))

    event = _event()
    assert await c.handle_raw("t", event.to_bytes()) == "processed"
    assert len(calls) == 3
    assert await _effects(db) == [event.event_id] and broker.published == []


async def test_x_02_retries_back_off_exponentially_up_to_a_cap_then_dead_letter(db, broker, monkeypatch):
    delays = []

    async def fake_sleep(seconds):
        delays.append(seconds)

    monkeypatch.setattr(consumer_module.asyncio, "sleep", fake_sleep)
    c, _ = _consumer(db, broker, max_attempts=6, backoff_base=0.2, backoff_max=1.0)
    calls = []

    @c.on(AccountRegistered)
    async def always_fails(session, event):
        calls.append(1)
        raise RuntimeError("the code is 123456")

    event = _event()
    record = _records(event)[0]
    assert await c.handle_raw(record.topic, record.value, record) == "dead_lettered"
    assert len(calls) == 6
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0])  # between attempts, none after the last
    assert await _effects(db) == [] and await _inbox(db) == []  # a failed attempt leaves no inbox record
    [letter] = broker.published
    h = letter["headers"]
    assert h["x-attempts"] == "6" and (h["x-original-partition"], h["x-original-offset"]) == ("3", "100")
    assert h["x-error-type"] == "RuntimeError"
    assert h["x-error"] == "RuntimeError"  # its text may hold a value: only the type
    assert "123456" not in h["x-error-trace"] and "in always_fails" in h["x-error-trace"]
    assert letter["body"] == event.to_bytes() and letter["key"] == b"k0"


async def test_x_02_an_error_declared_safe_to_log_keeps_its_text(db, broker):
    class Refused(Exception):
        safe_to_log = True

    c, _ = _consumer(db, broker, max_attempts=1)

    @c.on(AccountRegistered)
    async def refuses(session, event):
        raise Refused("member projection behind")

    assert await c.handle_raw("t", _event().to_bytes()) == "dead_lettered"
    assert broker.published[0]["headers"]["x-error"] == "member projection behind"


async def test_x_02_after_commit_hook_runs_one_by_one(db, broker):
    c, _ = _consumer(db, broker)
    committed = []

    async def hook(event):
        committed.append(event.event_id)

    c.after_commit = hook
    event = _event()
    assert await c.handle_raw("t", event.to_bytes()) == "processed"
    assert committed == [event.event_id]


async def test_x_02_handlers_can_be_stacked_for_several_types(db, broker):
    c = EventConsumer("stack", service="probe", db=db, inbox=probe.inbox, broker=broker, max_attempts=1)
    got = []

    @c.on(AccountBlocked)
    @c.on(AccountRegistered)
    async def both(session, event):
        got.append(event.type)

    assert await c.handle_raw("t", _event().to_bytes()) == "processed"
    assert await c.handle_raw("t", _blocked().to_bytes()) \
        == "processed"
    assert got == ["AccountRegistered", "AccountBlocked"]


# --- subscribing ----------------------------------------------------------------------

async def test_x_02_subscription_one_group_per_consumer_batches_acked_after_handling(db, broker):
    c, _ = _consumer(db, broker, name="projection")
    c.subscribe("identity.account", "organizations.org")
    c.subscribe("identity.account", group_id="explicit")
    (topics, options, on_batch), (_, explicit, _) = broker.subscriptions
    assert topics == ("identity.account", "organizations.org")
    assert options["group_id"] == "probe.projection"  # offsets are kept per service and consumer
    assert explicit["group_id"] == "explicit"
    assert options["batch"] is True
    assert options["ack_policy"] is AckPolicy.NACK_ON_ERROR  # offsets committed only after the transaction
    assert options["auto_offset_reset"] == "earliest"
    assert "AccountRegistered" in options["description"]

    a, b = _event(), _event()
    await on_batch(SimpleNamespace(raw_message=tuple(_records(a, b))))
    one = _event()
    await on_batch(SimpleNamespace(raw_message=_records(one)[0]))  # a single record, not a tuple
    assert await _effects(db) == [a.event_id, b.event_id, one.event_id]
