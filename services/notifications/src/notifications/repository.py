"""notifications' queries."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import FAILED, PENDING, Message, Recipient


def _insert(session: AsyncSession, model):
    """INSERT with ON CONFLICT support, in the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def recipient(session: AsyncSession, account_id: uuid.UUID) -> Recipient | None:
    return await session.get(Recipient, account_id)


async def upsert_recipient(session: AsyncSession, values: dict) -> None:
    """Insert or update the projection, only ever moving to a higher version."""
    stmt = _insert(session, Recipient).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Recipient.account_id],
        set_={k: stmt.excluded[k] for k in values if k != "account_id"},
        where=Recipient.version < stmt.excluded.version)
    await session.execute(stmt)


async def update_recipient(session: AsyncSession, account_id: uuid.UUID, version: int, values: dict) -> None:
    """Apply a change of a known recipient, only ever moving to a higher version."""
    await session.execute(sa.update(Recipient).where(Recipient.account_id == account_id, Recipient.version < version)
                          .values(version=version, **values))


async def add_message(session: AsyncSession, values: dict) -> bool:
    """Queue a message; False if this event already made it (NTF-04)."""
    stmt = _insert(session, Message).values(**values).on_conflict_do_nothing(
        index_elements=["event_id", "recipient", "channel"])
    result = await session.execute(stmt)
    return result.rowcount == 1


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
    """Take up to `limit` due messages for this worker until `lease_until`.

    FOR UPDATE SKIP LOCKED lets replicas claim side by side (PostgreSQL); the
    repeated conditions make the UPDATE a compare-and-set, which is what keeps
    SQLite (no row locks) from handing one message to two workers.
    """
    due = (Message.status.in_((PENDING, FAILED)), Message.next_attempt_at <= now)
    ids = (sa.select(Message.id).where(*due).order_by(Message.next_attempt_at, Message.id)
           .limit(limit).with_for_update(skip_locked=True))
    stmt = (sa.update(Message).where(Message.id.in_(ids), *due)
            .values(next_attempt_at=lease_until, attempts=Message.attempts + 1)
            .returning(Message).execution_options(synchronize_session=False))
    rows = (await session.execute(stmt)).scalars().all()
    return sorted(rows, key=lambda m: m.id)


async def release(session: AsyncSession, message_ids: list[int], now: datetime) -> None:
    """Give back claimed messages that were not tried: due now, attempt not counted."""
    await session.execute(sa.update(Message).where(Message.id.in_(message_ids))
                          .values(next_attempt_at=now, attempts=Message.attempts - 1)
                          .execution_options(synchronize_session=False))


async def update_message(session: AsyncSession, message_id: int, **values) -> None:
    await session.execute(sa.update(Message).where(Message.id == message_id).values(**values)
                          .execution_options(synchronize_session=False))


async def messages_of(session: AsyncSession, account_id: uuid.UUID, limit: int,
                      before: int | None = None) -> Sequence[Message]:
    """An account's messages, newest first, paged by id."""
    query = select(Message).where(Message.account_id == account_id)
    if before is not None:
        query = query.where(Message.id < before)
    return (await session.execute(query.order_by(Message.id.desc()).limit(limit))).scalars().all()


async def message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)
