"""Local projection of the sign-in sessions identity ended (IDN-03, IDN-18,
ASVS 7.4), kept by every service beside the blocked accounts: an access token
is verified locally and lives 10 minutes, so without it a signed-out, revoked
or stolen session would keep working everywhere until then.

A session never comes back once ended, so the projection only grows by
inserts (a late or repeated event changes nothing) and a row is useless once
every access token of its session has expired: rows older than the longest
access-token lifetime may be purged (`EndedSessions.purge`; the retention job keeps them
RETENTION_ENDED_SESSIONS_HOURS).
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .access import BlockedAccounts
from .db import UtcDateTime, insert_if_absent
from .errors import AccountIsBlocked, DomainError, SessionIsEnded
from .events import SessionsEnded


def ended_sessions_table(metadata: sa.MetaData) -> sa.Table:
    """One row per ended session (its `sid`), with when it ended (for the purge)."""
    return sa.Table(
        "ended_session", metadata,
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=False, index=True),
    )


class EndedSessions:
    """Reads and updates one service's projection of SessionsEnded."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def apply(self, session: AsyncSession, event: SessionsEnded) -> None:
        if not event.session_ids:
            return
        await insert_if_absent(session, self.table, [
            {"session_id": sid, "account_id": event.account_id, "ended_at": event.ended_at}
            for sid in event.session_ids])


    async def purge(self, session: AsyncSession, ended_before: datetime) -> int:
        """Delete rows of sessions ended before `ended_before` (now minus the
        longest access-token lifetime): their tokens are refused as expired anyway."""
        result = await session.execute(sa.delete(self.table).where(self.table.c.ended_at < ended_before))
        return result.rowcount or 0

def _session_uuid(sid: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(sid)
    except ValueError:  # identity only issues UUIDs: any other sid cannot be in the projection
        return None


async def refusal(conn: AsyncConnection, account_id: uuid.UUID, session_id: str, *,
                  blocked: BlockedAccounts | None, ended: EndedSessions | None) -> DomainError | None:
    """Why a verified token must still be refused (blocked account, ended
    session), from the local projections in ONE statement (every request pays it)."""
    columns = []
    if blocked is not None:
        b = blocked.table
        columns.append(sa.select(b.c.blocked).where(b.c.account_id == account_id).scalar_subquery().label("b"))
    sid = _session_uuid(session_id)
    if ended is not None and sid is not None:
        e = ended.table
        columns.append(sa.select(sa.literal(1)).where(e.c.session_id == sid).scalar_subquery().label("e"))
    if not columns:
        return None
    row = (await conn.execute(sa.select(*columns))).one()._mapping
    if row.get("b"):
        return AccountIsBlocked()
    if row.get("e"):
        return SessionIsEnded()
    return None
