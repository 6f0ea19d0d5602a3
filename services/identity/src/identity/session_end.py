"""Ending sign-in sessions and refusing their access tokens (IDN-03, IDN-18,
ASVS 7.4).

Access tokens are verified locally and live for minutes, so ending a session
in identity's table alone would leave its tokens working everywhere until
they expire. An ended session is therefore published (SessionsEnded, through
the outbox with the change that ended it) to the other services' projections,
and identity itself checks every token against its own rows: a sign-out,
revocation or block counts here from the commit, not when the event comes back.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal, bearer_token
from manager_shared.errors import AccountIsBlocked, SessionIsEnded
from manager_shared.events import SessionsEnded

from . import repository as repo

if TYPE_CHECKING:
    from manager_shared.runtime import ServiceRuntime

    from .service import IdentityService

# Bounded events, whatever the number of sessions one password reset ends.
SESSIONS_PER_EVENT = 500


async def end_sessions(identity: IdentityService, session: AsyncSession, account_id: uuid.UUID, reason: str, *,
                       only: uuid.UUID | None = None, keep: uuid.UUID | None = None) -> list[uuid.UUID]:
    """End the account's open sessions (just `only`, or all but `keep`) in
    the caller's transaction, and record SessionsEnded for those whose access
    tokens may still be valid. Returns the ids ended."""
    now = identity.clock.now()
    # a session that expired longer ago than a token lives has no valid token left to refuse
    horizon = now - timedelta(seconds=identity.settings.access_token_ttl_seconds)
    ended = await repo.end_sessions(session, account_id, now, live_after=horizon, only=only, keep=keep)
    live = [sid for sid, may_have_tokens in ended if may_have_tokens]
    if live:
        account = await repo.account_by_id(session, account_id)
        for i in range(0, len(live), SESSIONS_PER_EVENT):
            await identity.outbox.record(session, SessionsEnded(
                account_id=account_id, account_version=account.version, session_ids=live[i:i + SESSIONS_PER_EVENT],
                reason=reason, ended_at=now, occurred_at=now))
    return [sid for sid, _ in ended]


def own_principal(runtime: ServiceRuntime) -> Callable[[Request], Awaitable[Principal]]:
    """identity's `current_principal`: the verified token, refused if its
    session is ended or unknown (401 `session_ended`) or the account blocked
    (403 `account_blocked`), from identity's own rows in one read."""
    async def principal(request: Request) -> Principal:
        who = await runtime.verifier.verify(bearer_token(request))
        try:
            sid = uuid.UUID(who.session_id)
        except ValueError:
            raise SessionIsEnded() from None
        async with runtime.db.transaction() as session:
            standing = await repo.session_standing(session, sid, who.account_id)
        if standing is not None and standing.status == "blocked":
            raise AccountIsBlocked()
        if standing is None or standing.revoked_at is not None:
            raise SessionIsEnded()
        return who
    return principal
