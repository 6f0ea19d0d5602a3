"""The outbox relay's lease: one active relay per service, whatever the
number of replicas, so the events of one key are published in the order
they were recorded (X-02).

One row per lease (`outbox_relay_lease`, declared with the outbox in
`db.event_tables`): who holds it and until when (epoch milliseconds, so the
comparison is the same integer arithmetic on SQLite and PostgreSQL). The
holder renews it with every batch; another replica takes it over only once
it has expired (a crashed or hung holder). Claiming is one conditional
UPDATE, atomic on both databases; on PostgreSQL it also row-locks the lease
until the batch's transaction ends, so a takeover can never overlap a batch
in flight.
"""
from __future__ import annotations

import os
import socket
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .db import insert_if_absent

LEASE_TABLE = "outbox_relay_lease"


def lease_table(metadata: sa.MetaData) -> sa.Table:
    """The lease row(s); `broker_incarnation` is the broker the holder last
    published to (see `incarnation`): a different one means a broker that lost
    what it had, and the outbox is published again."""
    return sa.Table(
        LEASE_TABLE, metadata,
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("broker_incarnation", sa.String(100), nullable=True),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


class RelayLease:
    """Claims, renews and releases the lease named `name` in `table`."""

    def __init__(self, table: sa.Table, *, seconds: float = 10.0, name: str = "outbox",
                 holder: str | None = None) -> None:
        self.table, self.seconds, self.name = table, seconds, name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def claim(self, session: AsyncSession) -> bool:
        """Take or renew the lease in the caller's transaction; False while
        another live holder has it."""
        t, now = self.table, _now_ms()
        expires = now + int(self.seconds * 1000)
        result = await session.execute(
            t.update().where(t.c.name == self.name, sa.or_(t.c.holder == self.holder, t.c.expires_ms < now))
            .values(holder=self.holder, expires_ms=expires))
        if result.rowcount == 1:
            return True
        return await insert_if_absent(session, t, {"name": self.name, "holder": self.holder, "expires_ms": expires})

    async def still_held(self, session: AsyncSession) -> bool:
        """Renew only if this process still holds it (before marking a batch published)."""
        t = self.table
        result = await session.execute(t.update().where(t.c.name == self.name, t.c.holder == self.holder)
                                       .values(expires_ms=_now_ms() + int(self.seconds * 1000)))
        return result.rowcount == 1

    async def release(self, session: AsyncSession) -> None:
        """Let another replica take over at once (a graceful stop)."""
        t = self.table
        await session.execute(t.update().where(t.c.name == self.name, t.c.holder == self.holder)
                              .values(expires_ms=0))

    async def incarnation(self, session: AsyncSession) -> str | None:
        t = self.table
        return (await session.execute(sa.select(t.c.broker_incarnation).where(t.c.name == self.name))).scalar()

    async def set_incarnation(self, session: AsyncSession, incarnation: str) -> None:
        t = self.table
        await session.execute(t.update().where(t.c.name == self.name).values(broker_incarnation=incarnation))
