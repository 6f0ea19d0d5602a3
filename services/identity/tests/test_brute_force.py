"""IDN-04 brute force and IDN-08 failed-attempt alerts, with an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from identity import throttle
from identity.errors import InvalidCredentials, TooManyAttempts
from identity.location import locate
from identity.models import outbox_table
from identity.schemas import AccountCreate
from manager_shared.events import parse_event

PASSWORD = "Alpenrose-Matterhorn-42"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
LIMITS = throttle.Limits(delay_after=3, lock_after=10, lock_seconds=900, max_per_hour=100)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_idn_04_rules_slow_down_then_lock_then_cap_per_hour():
    tally, waits = throttle.Tally(), []
    for _ in range(10):
        tally = throttle.after_failure(tally, T0, LIMITS)
        waits.append(throttle.retry_after(tally, T0))
    assert waits == [0, 0, 2, 4, 8, 16, 32, 64, 128, 900]  # escalating delay, then the lock
    assert throttle.retry_after(tally, T0 + timedelta(seconds=900)) == 0
    assert throttle.retry_after(throttle.after_success(tally), T0) == 0

    # however slowly it goes, the 100th failure of an hour locks until the hour is over
    late = throttle.Tally(consecutive=0, hour_start=T0, in_hour=99)
    capped = throttle.after_failure(late, T0 + timedelta(minutes=50), LIMITS)
    assert capped.in_hour == 100 and capped.locked_until == T0 + timedelta(hours=1)
    fresh_hour = throttle.after_failure(capped, T0 + timedelta(hours=1, seconds=1), LIMITS)
    assert fresh_hour.in_hour == 1


async def _register(db, service):
    async with db.transaction() as s:
        await service.register(s, AccountCreate(email="anna@example.ch", password=PASSWORD, first_name="Anna",
                                                last_name="Muster"), locate("195.186.1.1", FIREFOX))


async def _attempt(db, service, email, password, ip="80.128.1.1"):
    try:
        await service.sign_in(db, email, password, locate(ip, FIREFOX), True)
        return "ok"
    except InvalidCredentials:
        return "wrong"
    except TooManyAttempts as exc:
        return f"locked {exc.retry_after}"


async def test_idn_04_lock_looks_the_same_for_existing_and_unknown_email(db, service, clock):
    await _register(db, service)
    outcomes = {}
    for email in ("anna@example.ch", "nobody@example.ch"):
        outcomes[email] = [await _attempt(db, service, email, "wrong-password", ip=f"80.128.1.{len(outcomes) + 2}")
                           for _ in range(4)]
    assert outcomes["anna@example.ch"] == outcomes["nobody@example.ch"] == ["wrong", "wrong", "wrong", "locked 2"]
    clock.advance(seconds=2)
    assert await _attempt(db, service, "anna@example.ch", PASSWORD) == "ok"  # waited: the right password works
    assert await _attempt(db, service, "anna@example.ch", "wrong-password") == "wrong"  # the streak was reset


async def test_idn_04_account_locks_after_ten_failures_even_with_the_right_password(db, service, clock):
    await _register(db, service)
    for _ in range(10):
        await _attempt(db, service, "anna@example.ch", "wrong-password")
        clock.advance(seconds=300)  # waits out every delay
    assert await _attempt(db, service, "anna@example.ch", PASSWORD) == "locked 600"
    clock.advance(seconds=600)
    assert await _attempt(db, service, "anna@example.ch", PASSWORD) == "ok"


async def test_idn_04_source_address_is_throttled_across_emails(db, service, clock):
    service.settings.ip_delay_after, service.settings.ip_lock_after = 5, 8
    results = [await _attempt(db, service, f"user{i}@example.ch", "wrong-password", ip="203.0.113.7")
               for i in range(9)]
    assert results[:5] == ["wrong"] * 5 and results[5].startswith("locked")
    clock.advance(seconds=3600)
    assert await _attempt(db, service, "other@example.ch", "x", ip="203.0.113.8") == "wrong"  # others unaffected


async def test_idn_08_failed_attempt_alert_at_most_once_per_window(db, service, clock):
    await _register(db, service)
    for _ in range(3):
        await _attempt(db, service, "anna@example.ch", "wrong-password")
    clock.advance(minutes=16)
    await _attempt(db, service, "anna@example.ch", "wrong-password")
    await _attempt(db, service, "nobody@example.ch", "wrong-password")  # no account: nobody to tell
    async with db.transaction() as s:
        events = [parse_event(p) for p in (await s.execute(sa.select(outbox_table.c.payload))).scalars()]
    alerts = [e for e in events if e.type == "LoginFailed"]
    assert [(a.attempts, a.country, a.device) for a in alerts] == [(1, "DE", "Firefox on Windows"),
                                                                    (4, "DE", "Firefox on Windows")]


@pytest.mark.parametrize("ip", ["80.128.1.1", "2a02:1210::1"])
def test_idn_04_keys_fit_their_column(ip):
    assert len(throttle.ip_key(ip)) <= 64 and len(throttle.email_key("a" * 254)) <= 64
