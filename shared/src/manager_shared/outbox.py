"""Transactional outbox: record events with the state change, publish after commit."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database
from .events import Event
from .metrics import EVENTS_PUBLISH_FAILURES, EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
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


class OutboxRelay:
    """Publishes committed outbox rows in order, then marks them published.

    At-least-once: a crash between publish and mark re-publishes the batch
    and the idempotent consumers drop the copies. Rows are claimed with
    FOR UPDATE SKIP LOCKED, so several replicas can run relays safely.
    """

    def __init__(self, db: Database, table: sa.Table, publish: Publish, *, service: str,
                 batch_size: int = 500, idle_interval: float = 0.5, max_backoff: float = 10.0) -> None:
        self.db, self.table, self.publish, self.service = db, table, publish, service
        self.batch_size, self.idle_interval, self.max_backoff = batch_size, idle_interval, max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        db.on_commit(OUTBOX_FLAG, self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many events went out."""
        t = self.table
        async with self.db.transaction() as session:
            rows = (await session.execute(
                sa.select(t.c.id, t.c.topic, t.c.key, t.c.type, t.c.payload, t.c.event_id)
                .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch_size)
                .with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            await self._send(rows)
            await session.execute(t.update().where(t.c.id.in_([r.id for r in rows]))
                                  .values(published_at=datetime.now(timezone.utc), attempts=t.c.attempts + 1))
        for r in rows:
            EVENTS_PUBLISHED.labels(self.service, r.topic).inc()
        return len(rows)

    async def _send(self, rows: Sequence) -> None:
        # Send the whole batch, then wait for every ack: ordering per key is
        # kept because aiokafka sends to one partition in submission order.
        pending = [await self.publish(r.topic, r.key.encode(), r.payload.encode(),
                                      {"event_type": r.type, "event_id": str(r.event_id)})
                   for r in rows]
        await asyncio.gather(*[p for p in pending if asyncio.isfuture(p)])

    async def refresh_gauges(self) -> None:
        t = self.table
        async with self.db.transaction() as session:
            count, oldest = (await session.execute(
                sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(t.c.published_at.is_(None)))).one()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

    async def run(self) -> None:
        backoff, gauges_at = 0.1, 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # before reading, so a commit during the batch is not missed
            try:
                while await self.publish_pending():
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
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
