"""Brute-force rules (IDN-04), pure functions a unit test reaches without
HTTP or a database.

Two kinds of keys are throttled: the e-mail typed (hashed, so it works the
same whether or not an account has it — a lock never tells which) and the
source address. Consecutive failures first slow down (short, growing lock
windows), then lock; an hourly cap bounds the total however slowly an
attacker goes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from manager_shared.addresses import normalize_email


@dataclass(frozen=True)
class Limits:
    delay_after: int  # consecutive failures before windows start
    lock_after: int  # consecutive failures that give the long lock
    lock_seconds: int
    max_per_hour: int

    def window_after(self, consecutive: int) -> timedelta:
        """How long the key must wait after its n-th consecutive failure."""
        if consecutive >= self.lock_after:
            return timedelta(seconds=self.lock_seconds)
        if consecutive >= self.delay_after:
            return timedelta(seconds=min(2 ** (consecutive - self.delay_after + 1), self.lock_seconds))
        return timedelta(0)


@dataclass(frozen=True)
class Tally:
    consecutive: int = 0
    hour_start: datetime | None = None
    in_hour: int = 0
    locked_until: datetime | None = None


def retry_after(tally: Tally, now: datetime) -> int:
    """Seconds until the key may try again (0 = now)."""
    if tally.locked_until is None or tally.locked_until <= now:
        return 0
    return max(1, int((tally.locked_until - now).total_seconds() + 0.999))


def wait_with_pending(tally: Tally, pending: int, now: datetime, limits: Limits) -> int:
    """Seconds to wait (0 = may try now) when `pending` attempts are still
    being evaluated: if they all failed they must not pass the lock or the
    hourly cap, so beyond that a new attempt waits for them (1 s)."""
    wait = retry_after(tally, now)
    if wait or not pending:
        return wait
    in_hour = tally.in_hour if tally.hour_start is not None and now - tally.hour_start < timedelta(hours=1) else 0
    if tally.consecutive + pending >= limits.lock_after or in_hour + pending >= limits.max_per_hour:
        return 1
    return 0


def after_failure(tally: Tally, now: datetime, limits: Limits) -> Tally:
    hour_start, in_hour = tally.hour_start, tally.in_hour
    if hour_start is None or now - hour_start >= timedelta(hours=1):
        hour_start, in_hour = now, 0
    in_hour += 1
    consecutive = tally.consecutive + 1
    until = now + limits.window_after(consecutive)
    if in_hour >= limits.max_per_hour:  # the hourly cap holds until the hour is over
        until = max(until, hour_start + timedelta(hours=1))
    return Tally(consecutive=consecutive, hour_start=hour_start, in_hour=in_hour,
                 locked_until=until if until > now else None)


def after_success(tally: Tally) -> Tally:
    """A right password ends the streak, not the hourly count."""
    return replace(tally, consecutive=0, locked_until=None)


def email_key(email: str) -> str:
    """One key for every form of an address (`ZOE@`, `ｚｏｅ@`): normalised
    here too, so no caller can count one address under two keys."""
    return "email:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()[:40]


def ip_key(ip: str) -> str:
    return f"ip:{ip}"
