"""IDN-04 made atomic: the throttle check and the record of an attempt are
one locked step, so N requests racing for the same key cannot all pass the
check before any of them is counted.

Every key's tally row is locked first (`SELECT ... FOR UPDATE` on
PostgreSQL; on SQLite the first statement is a write, which takes the
database's write lock for the rest of the transaction). Two ways on from
there:

* a fast check (a code, an application password, a second factor) runs in
  that same transaction: `begin` counts the attempt as failed, `release`
  puts the tally back on success; a rollback (refused for another reason)
  undoes the count with everything else.
* a slow check (Argon2id, tens of ms) must not hold a lock: `reserve`
  admits the attempt as *pending* in a short transaction of its own and
  `finish` records its outcome afterwards. An attempt is admitted only if
  the pending ones, were they all to fail, leave room before the lock or the
  hourly cap (throttle.wait_with_pending), so no more attempts are evaluated
  than the lock allows. A pending count left by a crashed process is
  forgotten after PENDING_STALE (no evaluation takes that long).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from . import repository as repo
from . import throttle
from .errors import TooManyAttempts
from .models import SigninThrottle

PENDING_STALE = timedelta(seconds=60)
Limits = Callable[[str], throttle.Limits]


@dataclass
class Attempt:
    """One admitted attempt: its keys and each key's tally before it."""

    keys: tuple[str, ...]
    before: dict[str, throttle.Tally] = field(default_factory=dict)


def _write(row: SigninThrottle, tally: throttle.Tally) -> None:
    row.consecutive, row.hour_start, row.in_hour, row.locked_until = (
        tally.consecutive, tally.hour_start, tally.in_hour, tally.locked_until)


async def locked_rows(session: AsyncSession, keys: tuple[str, ...]) -> list[SigninThrottle]:
    """The tally rows of `keys`, locked, always in the same (sorted) order so
    two transactions locking overlapping keys cannot deadlock."""
    return [await repo.throttle_for_update(session, key) for key in sorted(set(keys))]


def _pending(row: SigninThrottle, now: datetime) -> int:
    """Attempts of this key still being evaluated (0 once stale)."""
    since = row.pending_since
    if not row.pending or since is None:
        return 0
    return 0 if now - since > PENDING_STALE else row.pending


async def _admit(session: AsyncSession, keys: tuple[str, ...], now: datetime, limits_of: Limits,
                 tally_of) -> tuple[list[SigninThrottle], Attempt]:
    rows = await locked_rows(session, keys)
    attempt = Attempt(keys=keys, before={row.key: tally_of(row) for row in rows})
    wait = max((throttle.wait_with_pending(attempt.before[row.key], _pending(row, now), now,
                                           limits_of(row.key)) for row in rows), default=0)
    if wait:
        raise TooManyAttempts(wait)
    return rows, attempt


async def begin(session: AsyncSession, keys: tuple[str, ...], now: datetime, limits_of: Limits,
                tally_of) -> Attempt:
    """429 too_many_attempts if a key is locked, else the attempt counted as
    failed, in the caller's transaction (rows locked until it ends)."""
    rows, attempt = await _admit(session, keys, now, limits_of, tally_of)
    for row in rows:
        _write(row, throttle.after_failure(attempt.before[row.key], now, limits_of(row.key)))
    return attempt


async def release(session: AsyncSession, attempt: Attempt, *, end_streak: bool = False) -> None:
    """The attempt of `begin` succeeded, in the same transaction: the tallies
    are as before it (`end_streak`: the first key's streak ends, as a right
    password at sign-in does)."""
    for row in await locked_rows(session, attempt.keys):
        before = attempt.before[row.key]
        _write(row, throttle.after_success(before) if end_streak and row.key == attempt.keys[0] else before)


async def reserve(session: AsyncSession, keys: tuple[str, ...], now: datetime, limits_of: Limits,
                  tally_of) -> Attempt:
    """Admit a slow attempt as pending (its own short transaction)."""
    rows, attempt = await _admit(session, keys, now, limits_of, tally_of)
    for row in rows:
        row.pending, row.pending_since = _pending(row, now) + 1, now
    return attempt


async def finish(session: AsyncSession, attempt: Attempt, now: datetime, limits_of: Limits, tally_of, *,
                 failed: bool, end_streak: bool = False) -> list[SigninThrottle]:
    """Record the outcome of a reserved attempt; returns the locked rows."""
    rows = await locked_rows(session, attempt.keys)
    for row in rows:
        row.pending = max(0, _pending(row, now) - 1)
        if failed:
            _write(row, throttle.after_failure(tally_of(row), now, limits_of(row.key)))
        elif end_streak and row.key == attempt.keys[0]:
            _write(row, throttle.after_success(tally_of(row)))
    return rows
