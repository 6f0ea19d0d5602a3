"""Erase sealed secrets from published outbox rows (X-06).

A published row keeps its payload (for a replay to a broker that lost it),
but its codes and tokens are of no use there once every consumer had its
chance: after `after_seconds` the `ct` of each sealed field is emptied. The
row still parses (`{"kid": ..., "ct": ""}`), so a later replay is skipped by
the consumers' inboxes, or dead-lettered by notifications as erased, never
mailed wrong. Safe with several replicas: erasing twice gives the same row.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from .background import cancel_and_wait
from .db import Database
from .sealing import sealed_fields

log = logging.getLogger(__name__)


def _secret_fields() -> dict[str, tuple[str, ...]]:
    from .events import ALL_EVENTS
    return {e.model_fields["type"].default: sealed_fields(e) for e in ALL_EVENTS if sealed_fields(e)}


def erased(payload: str, fields: tuple[str, ...]) -> str:
    data = json.loads(payload)
    for name in fields:
        if isinstance(data.get(name), dict):
            data[name]["ct"] = ""
    return json.dumps(data, separators=(",", ":"))


class SealedFieldEraser:
    """Periodically empties the sealed fields of published outbox rows."""

    def __init__(self, db: Database, table: sa.Table, *, after_seconds: float, interval: float = 30.0,
                 batch_size: int = 500) -> None:
        self.db, self.table, self.after = db, table, timedelta(seconds=after_seconds)
        self.interval, self.batch_size = interval, batch_size
        self.fields = _secret_fields()
        self._task: asyncio.Task | None = None

    async def erase_once(self, now: datetime | None = None) -> int:
        """One batch; returns how many rows were erased."""
        t, cutoff = self.table, (now or datetime.now(timezone.utc)) - self.after
        async with self.db.transaction() as session:
            rows = (await session.execute(
                sa.select(t.c.id, t.c.type, t.c.payload)
                .where(t.c.published_at.is_not(None), t.c.published_at <= cutoff, t.c.type.in_(self.fields),
                       t.c.payload.like('%"ct":"%'), t.c.payload.not_like('%"ct":""%'))  # not erased yet
                .order_by(t.c.id).limit(self.batch_size))).all()
            if rows:
                await session.execute(t.update().where(t.c.id == sa.bindparam("row_id"))
                                      .values(payload=sa.bindparam("new_payload")),
                                      [{"row_id": r.id, "new_payload": erased(r.payload, self.fields[r.type])}
                                       for r in rows])
        return len(rows)

    async def run(self) -> None:
        while True:
            try:
                while await self.erase_once() == self.batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be down: next round
                log.warning("outbox eraser: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-sealed-eraser")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
