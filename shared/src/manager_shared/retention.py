"""Retention (X-06): rows that would otherwise only grow are deleted once no
one can need them any more.

The mechanism is shared; the rules are not. The runtime registers the rules
for the tables every service has (published outbox rows, inbox records) and
each service adds its own with `runtime.retention.add(table, condition)`,
where `condition(now)` is the SQL clause a row must meet to go.

Safe with several replicas: every replica runs the job; a batch is at most
`batch_size` rows, picked in key order and, on PostgreSQL, locked with
`FOR UPDATE SKIP LOCKED`, so two replicas delete disjoint rows and never wait
on each other; on SQLite writes are serialized anyway. The condition is
checked again by the DELETE itself, so a row that changed after it was
picked (a throttle row that failed again) stays.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from .background import cancel_and_wait
from .db import Database
from .metrics import RETENTION_FAILURES, RETENTION_LAST_RUN, RETENTION_PURGED

log = logging.getLogger(__name__)

Condition = Callable[[datetime], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class Rule:
    table: sa.Table
    condition: Condition
    name: str


class Retention:
    """The purge rules of one service and the periodic job that applies them."""

    def __init__(self, db: Database, service: str, *, interval_seconds: float = 3600.0,
                 batch_size: int = 1000, max_batches: int = 100) -> None:
        self.db, self.service = db, service
        self.interval_seconds, self.batch_size, self.max_batches = interval_seconds, batch_size, max_batches
        self.rules: list[Rule] = []
        self._task: asyncio.Task | None = None

    def add(self, table: sa.Table, condition: Condition, *, name: str | None = None) -> None:
        """Delete rows of `table` for which `condition(now)` holds. Rules run
        in the order they were added (a child table's rule before its parent's)."""
        if not table.primary_key.columns:
            raise ValueError(f"retention needs a primary key on {table.name}")
        self.rules.append(Rule(table, condition, name or table.name))

    def keep_for(self, table: sa.Table, column: sa.Column, older_than: timedelta, *,
                 also: Condition | None = None, name: str | None = None) -> None:
        """The common rule: rows whose `column` is older than `older_than`
        (and, if given, meet `also`); a NULL `column` is never old."""
        def condition(now: datetime) -> sa.ColumnElement[bool]:
            old = column < now - older_than
            return sa.and_(old, also(now)) if also is not None else old
        self.add(table, condition, name=name)

    async def purge(self, now: datetime | None = None) -> dict[str, int]:
        """One run over every rule; returns the rows deleted per rule."""
        now = now or datetime.now(timezone.utc)
        purged = {}
        for rule in self.rules:
            total = 0
            for _ in range(self.max_batches):  # bounded: the rest waits for the next run
                deleted = await self._purge_batch(rule, now)
                total += deleted
                if deleted < self.batch_size:
                    break
            purged[rule.name] = total
            if total:
                RETENTION_PURGED.labels(self.service, rule.name).inc(total)
        RETENTION_LAST_RUN.labels(self.service).set(time.time())
        return purged

    async def _purge_batch(self, rule: Rule, now: datetime) -> int:
        t, condition = rule.table, rule.condition(now)
        keys = list(t.primary_key.columns)
        pick = sa.select(*keys).where(condition).order_by(*keys).limit(self.batch_size)
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        picked = keys[0].in_(pick) if len(keys) == 1 else sa.tuple_(*keys).in_(pick)
        async with self.db.transaction() as session:
            result = await session.execute(sa.delete(t).where(picked, condition))
        return max(result.rowcount or 0, 0)

    async def run(self) -> None:
        while True:
            try:
                purged = await self.purge()
                if any(purged.values()):
                    log.info("retention: purged %s", {k: v for k, v in purged.items() if v})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down or busy: try again at the next interval
                RETENTION_FAILURES.labels(self.service).inc()
                log.warning("retention: run failed (%s), next in %.0fs", type(exc).__name__, self.interval_seconds)
            await asyncio.sleep(self.interval_seconds)

    async def start(self) -> None:
        if self.interval_seconds > 0 and self.rules:
            self._task = asyncio.create_task(self.run(), name=f"{self.service}-retention")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


def event_table_rules(retention: Retention, outbox: sa.Table, inbox: sa.Table, *, outbox_days: float,
                      inbox_days: float, replay_window_hours: float) -> None:
    """Published outbox rows go after `outbox_days` (never sooner than the
    relay's replay window: a broker that came back empty gets them again);
    an unpublished row never goes. Inbox records go after `inbox_days`, but
    never before a published row of that age could still be replayed to
    this consumer (the outbox horizon plus a day)."""
    outbox_keep = max(timedelta(days=outbox_days), timedelta(hours=replay_window_hours))
    inbox_keep = max(timedelta(days=inbox_days), outbox_keep + timedelta(days=1))
    retention.keep_for(outbox, outbox.c.published_at, outbox_keep)  # NULL (unpublished) is never old
    retention.keep_for(inbox, inbox.c.processed_at, inbox_keep)
