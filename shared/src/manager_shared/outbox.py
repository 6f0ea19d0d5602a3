"""Transactional outbox: record events with the state change, publish after commit."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .background import cancel_and_wait
from .db import Database
from .events import Event
from .incarnation import BrokerIncarnation
from .lease import LEASE_TABLE, RelayLease
from .metrics import EVENTS_PUBLISH_FAILURES, EVENTS_PUBLISHED, EVENTS_REPLAYED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from .sealing import Sealer

log = logging.getLogger(__name__)

OUTBOX_FLAG = "outbox_events_recorded"

# (topic, key, value, headers) -> awaitable completing when the broker acked it
Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[object]]


class Outbox:
    """Writes events into the outbox table of the caller's transaction."""

    def __init__(self, table: sa.Table, sealer: Sealer | None = None) -> None:
        # `sealer` seals secret fields (codes, tokens) to notifications' key
        # before they reach the row; without one such an event raises.
        self.table, self.sealer = table, sealer

    async def record(self, session: AsyncSession, *events: Event) -> None:
        """Add events to the current unit of work; nothing is published
        unless and until that transaction commits."""
        if not events:
            return
        payloads = [e.to_bytes(self.sealer).decode() for e in events]  # before anything is written
        session.info[OUTBOX_FLAG] = True  # wakes the relay once this transaction commits
        now = datetime.now(timezone.utc)
        await session.execute(self.table.insert(), [
            {"event_id": e.event_id, "topic": e.topic, "key": e.key, "type": e.type,
             "payload": payload, "created_at": now}
            for e, payload in zip(events, payloads)
        ])


class LeaseLost(RuntimeError):
    """Another replica took the relay's lease over during a batch (this one hung)."""


class OutboxRelay:
    """Publishes committed outbox rows in order, then marks them published.

    At-least-once: a crash between publish and mark re-publishes the batch
    and the idempotent consumers drop the copies. One relay per service is
    active at a time, under a lease (`lease.RelayLease`): with several
    replicas, two relays publishing different batches at once would let a
    later event of a key overtake an earlier one (X-02). If a send fails
    mid-batch only the rows before the first failure are marked: the failed
    row and everything after it go out again, in order, on the retry.

    With `incarnation`, the relay notices a broker that came back empty (the
    embedded one keeps everything in memory) and publishes again every row
    of the last `replay_window_seconds`, oldest first; consumers skip what
    their inbox already has (X-05).
    """

    def __init__(self, db: Database, table: sa.Table, publish: Publish, *, service: str,
                 batch_size: int = 500, idle_interval: float = 0.5, max_backoff: float = 10.0,
                 lease_seconds: float = 10.0, incarnation: BrokerIncarnation | None = None,
                 replay_window_seconds: float = 7 * 86400, incarnation_check_seconds: float = 2.0,
                 on_new_broker: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db, self.table, self.publish, self.service = db, table, publish, service
        self.batch_size, self.idle_interval, self.max_backoff = batch_size, idle_interval, max_backoff
        self.lease = RelayLease(table.metadata.tables[LEASE_TABLE], seconds=lease_seconds)
        self.incarnation, self.replay_window_seconds = incarnation, replay_window_seconds
        self.incarnation_check_seconds, self.on_new_broker = incarnation_check_seconds, on_new_broker
        self._checked_at = float("-inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        db.on_commit(OUTBOX_FLAG, self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch if this replica holds the lease; returns how many events went out."""
        if self.db.is_sqlite:
            # A claim of its own: SQLite's single write lock held during the
            # publish would stall every request of the service meanwhile.
            async with self.db.transaction() as session:
                if not await self.lease.claim(session):
                    return 0
        async with self.db.transaction() as session:
            # On PostgreSQL the claim row-locks the lease until this batch commits.
            if not self.db.is_sqlite and not await self.lease.claim(session):
                return 0
            rows = await self._unpublished(session)
            if self.incarnation is not None and (rows or self._incarnation_due()):
                if await self._follow_broker(session):
                    rows = await self._unpublished(session)
            if not rows:
                return 0
            acked, failure = await self._send(rows)
            if acked:
                # On PostgreSQL the claim above row-locks the lease until this
                # commit, so no one can have taken it; on SQLite it was claimed
                # in a transaction of its own and may have expired meanwhile.
                if self.db.is_sqlite and not await self.lease.still_held(session):
                    raise LeaseLost(self.service)
                t = self.table
                await session.execute(t.update().where(t.c.id.in_([r.id for r in acked]))
                                      .values(published_at=datetime.now(timezone.utc), attempts=t.c.attempts + 1))
        for r in acked:
            EVENTS_PUBLISHED.labels(self.service, r.topic).inc()
        if failure is not None:
            raise failure
        return len(acked)

    async def _unpublished(self, session: AsyncSession) -> Sequence:
        t = self.table
        return (await session.execute(
            sa.select(t.c.id, t.c.topic, t.c.key, t.c.type, t.c.payload, t.c.event_id)
            .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch_size))).all()

    def _incarnation_due(self) -> bool:
        return asyncio.get_running_loop().time() - self._checked_at >= self.incarnation_check_seconds

    async def _follow_broker(self, session: AsyncSession) -> bool:
        """True if the broker is a new one and retained rows were queued again."""
        marker = await self.incarnation.current()
        self._checked_at = asyncio.get_running_loop().time()
        known = await self.lease.incarnation(session)
        if marker == known:
            return False
        await self.lease.set_incarnation(session, marker)
        if known is None:  # the first broker this database ever published to
            return False
        if self.on_new_broker is not None:
            await self.on_new_broker()  # e.g. create the topics again, with their partitions
        t = self.table
        since = datetime.now(timezone.utc) - timedelta(seconds=self.replay_window_seconds)
        again = (await session.execute(t.update().where(t.c.published_at.is_not(None), t.c.created_at >= since)
                                       .values(published_at=None))).rowcount
        EVENTS_REPLAYED.labels(self.service).inc(again)
        log.warning("outbox relay: new broker incarnation %s (was %s); publishing the last %d events again",
                    marker, known, again)
        return True

    async def _send(self, rows: Sequence) -> tuple[list, BaseException | None]:
        """Send the whole batch, then wait for every ack: ordering per key is
        kept because aiokafka sends to one partition in submission order.
        Returns the acked prefix and the first failure."""
        pending, failure = [], None
        for r in rows:
            try:
                pending.append(await self.publish(r.topic, r.key.encode(), r.payload.encode(),
                                                  {"event_type": r.type, "event_id": str(r.event_id)}))
            except Exception as exc:
                failure = exc
                break
        outcomes = await asyncio.gather(*[p for p in pending if asyncio.isfuture(p)], return_exceptions=True)
        acked: list = []
        outcome = iter(outcomes)
        for r, p in zip(rows, pending):
            result = next(outcome) if asyncio.isfuture(p) else None
            if isinstance(result, BaseException):
                return acked, result
            acked.append(r)
        return acked, failure

    async def refresh_gauges(self) -> None:
        t = self.table
        async with self.db.transaction() as session:
            count, oldest = (await session.execute(
                sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(t.c.published_at.is_(None)))).one()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

    async def run(self) -> None:
        backoff, gauges_at = 0.1, 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # before reading, so a commit during the batch is not missed
            try:
                # A short batch drained the table as of its read; what committed
                # since has set the wake flag (cleared above), so no empty
                # round of queries just to learn there is nothing more.
                while await self.publish_pending() >= self.batch_size:
                    pass
                if loop.time() - gauges_at >= 1.0:  # keep the hot path to one query
                    await self.refresh_gauges()
                    gauges_at = loop.time()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or DB down: keep the rows, retry later
                EVENTS_PUBLISH_FAILURES.labels(self.service).inc()
                try:  # keep backlog/age gauges live while the broker is down (they drive alerts)
                    await self.refresh_gauges()
                except Exception:
                    pass  # the database may be what is down
                log.warning("outbox relay: publish failed (%s), retrying in %.1fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            try:
                async with asyncio.timeout(self.idle_interval):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._wake.wait()
            except TimeoutError:
                pass

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            await cancel_and_wait(self._task)  # repeats a cancel the loop's awaits swallowed
            self._task = None
            try:  # hand the lease over at once instead of letting it expire
                async with self.db.transaction() as session:
                    await self.lease.release(session)
            except Exception:
                log.info("outbox relay: lease not released (%s will take it when it expires)", self.service)
            if self.incarnation is not None:
                await self.incarnation.close()
