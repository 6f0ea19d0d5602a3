"""identity's queries."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.db import insert_if_absent

from .models import Account, Activity, KnownLocation, RefreshToken, SignInSession, SigningKey, SigninThrottle


async def account_by_email(session: AsyncSession, email_normalized: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.email_normalized == email_normalized))).scalar_one_or_none()


async def account_by_id(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def known_location(session: AsyncSession, account_id: uuid.UUID, country: str, device: str) -> KnownLocation | None:
    return (await session.execute(select(KnownLocation).where(
        KnownLocation.account_id == account_id, KnownLocation.country == country,
        KnownLocation.device == device))).scalar_one_or_none()


async def has_known_locations(session: AsyncSession, account_id: uuid.UUID) -> bool:
    row = await session.execute(select(KnownLocation.id).where(KnownLocation.account_id == account_id).limit(1))
    return row.first() is not None


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return (await session.execute(select(RefreshToken).where(RefreshToken.token_hash == token_hash)
                                  .with_for_update())).scalar_one_or_none()


async def end_sessions(session: AsyncSession, account_id: uuid.UUID, now: datetime, *, live_after: datetime,
                       only: uuid.UUID | None = None, keep: uuid.UUID | None = None) -> list[tuple[uuid.UUID, bool]]:
    """Revoke the account's open sessions (just `only`, or all but `keep`);
    returns (id, expires after `live_after`) of those this call ended (one
    already ended by a concurrent request is not returned twice)."""
    query = sa.update(SignInSession).where(SignInSession.account_id == account_id,
                                           SignInSession.revoked_at.is_(None))
    if only is not None:
        query = query.where(SignInSession.id == only)
    if keep is not None:
        query = query.where(SignInSession.id != keep)
    rows = await session.execute(query.values(revoked_at=now).returning(
        SignInSession.id, (SignInSession.expires_at > live_after).label("live")))
    return [(row.id, bool(row.live)) for row in rows]


async def session_standing(session: AsyncSession, session_id: uuid.UUID, account_id: uuid.UUID):
    """(account status, session revoked_at) of an access token's session, in one read; None if unknown."""
    return (await session.execute(sa.select(Account.status, SignInSession.revoked_at)
                                  .join(Account, Account.id == SignInSession.account_id)
                                  .where(SignInSession.id == session_id, SignInSession.account_id == account_id))
            ).first()


async def active_signing_key(session: AsyncSession) -> SigningKey | None:
    return (await session.execute(select(SigningKey).where(SigningKey.active.is_(True))
                                  .order_by(SigningKey.created_at.desc()).limit(1))).scalar_one_or_none()


async def throttles(session: AsyncSession, keys) -> list[SigninThrottle]:
    return list((await session.execute(select(SigninThrottle).where(SigninThrottle.key.in_(keys)))).scalars())


async def throttle_for_update(session: AsyncSession, key: str) -> SigninThrottle:
    """The key's tally row, locked for this transaction (created if new;
    a concurrent creator's row is the one we then lock and read).

    The insert comes first on purpose: it is a write, so on SQLite it takes
    the database's write lock before anything is read (a read first would
    let two transactions read the same tally, and the second writer fail).
    On PostgreSQL the FOR UPDATE locks the row; `populate_existing` makes
    the read see the locked row, not an older copy held by the session."""
    await insert_if_absent(session, SigninThrottle.__table__, {"key": key, "consecutive": 0, "in_hour": 0})
    query = (select(SigninThrottle).where(SigninThrottle.key == key).with_for_update()
             .execution_options(populate_existing=True))
    return (await session.execute(query)).scalar_one()


async def activity_of(session: AsyncSession, account_id: uuid.UUID, limit: int, before: int | None) -> list[Activity]:
    query = select(Activity).where(Activity.account_id == account_id)
    if before is not None:
        query = query.where(Activity.id < before)
    return list((await session.execute(query.order_by(Activity.id.desc()).limit(limit))).scalars())


async def open_sessions(session: AsyncSession, account_id: uuid.UUID, now) -> list[SignInSession]:
    return list((await session.execute(select(SignInSession).where(
        SignInSession.account_id == account_id, SignInSession.revoked_at.is_(None), SignInSession.expires_at > now,
    ).order_by(SignInSession.created_at.desc()))).scalars())


async def last_activity_at(session: AsyncSession, account_id: uuid.UUID, kind: str):
    return (await session.execute(select(sa.func.max(Activity.at)).where(
        Activity.account_id == account_id, Activity.kind == kind))).scalar_one_or_none()
