"""IDN-04 brute-force rules at their edges, as pure functions (no HTTP, no
database): the shortest Retry-After, the hourly window at exactly one hour,
a fresh failure streak after a success, and the wait while attempts are
still being evaluated."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from identity import throttle

LIMITS = throttle.Limits(delay_after=3, lock_after=10, lock_seconds=900, max_per_hour=100)
T0 = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def _fail(times: int, tally: throttle.Tally = throttle.Tally(), now: datetime = T0,
          limits: throttle.Limits = LIMITS) -> tuple[throttle.Tally, list[int]]:
    waits = []
    for _ in range(times):
        tally = throttle.after_failure(tally, now, limits)
        waits.append(throttle.retry_after(tally, now))
    return tally, waits


# --- Retry-After -----------------------------------------------------------

def test_idn_04_retry_after_is_never_0_while_the_key_is_still_locked():
    tally = throttle.Tally(consecutive=5, locked_until=T0 + timedelta(microseconds=1))
    assert throttle.retry_after(tally, T0) == 1  # 1 µs left: the client must still wait, 1 s at least


@pytest.mark.parametrize(("left", "wait"), [(timedelta(seconds=1.5), 2), (timedelta(seconds=2), 2),
                                            (timedelta(seconds=0.2), 1), (timedelta(seconds=899.01), 900)])
def test_idn_04_retry_after_rounds_up_to_whole_seconds(left, wait):
    """Retry-After never asks for less than the lock still holds (an early retry would be refused again)."""
    assert throttle.retry_after(throttle.Tally(consecutive=5, locked_until=T0 + left), T0) == wait


def test_idn_04_the_key_may_try_again_the_moment_its_lock_ends():
    tally = throttle.Tally(consecutive=10, locked_until=T0 + timedelta(seconds=900))
    assert throttle.retry_after(tally, T0 + timedelta(seconds=900)) == 0
    assert throttle.retry_after(tally, T0 + timedelta(seconds=901)) == 0
    assert throttle.retry_after(throttle.Tally(), T0) == 0  # never failed


def test_idn_04_slowdown_never_exceeds_the_lock():
    limits = throttle.Limits(delay_after=1, lock_after=20, lock_seconds=60, max_per_hour=1000)
    _, waits = _fail(8, limits=limits)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]


# --- a success ends the streak, not the hour --------------------------------

def test_idn_04_a_success_starts_a_fresh_failure_streak():
    tally, _ = _fail(9)  # one failure short of the lock
    after = throttle.after_success(tally)
    assert throttle.retry_after(after, T0) == 0
    _, waits = _fail(4, after)
    assert waits == [0, 0, 2, 4]  # the same grace and growth as a first streak, no lock at the 10th in all


def test_idn_04_a_success_keeps_the_hourly_count():
    tally, _ = _fail(9)
    after = throttle.after_success(tally)
    assert (after.in_hour, after.hour_start) == (9, T0)
    capped = throttle.Tally(consecutive=0, hour_start=T0, in_hour=99)
    late = throttle.after_failure(throttle.after_success(capped), T0 + timedelta(minutes=30), LIMITS)
    assert late.in_hour == 100 and throttle.retry_after(late, T0 + timedelta(minutes=30)) == 30 * 60


# --- the hourly cap ---------------------------------------------------------

def test_idn_04_the_hour_counts_until_just_before_one_hour():
    almost = throttle.after_failure(throttle.Tally(hour_start=T0, in_hour=99), T0 + HOUR - timedelta(microseconds=1),
                                    LIMITS)
    assert almost.in_hour == 100 and almost.hour_start == T0
    assert throttle.retry_after(almost, T0 + HOUR - timedelta(microseconds=1)) == 1


def test_idn_04_a_new_hour_starts_at_exactly_one_hour():
    tally = throttle.after_failure(throttle.Tally(hour_start=T0, in_hour=99), T0 + HOUR, LIMITS)
    assert (tally.in_hour, tally.hour_start) == (1, T0 + HOUR)
    assert throttle.retry_after(tally, T0 + HOUR) == 0


def test_idn_04_the_cap_locks_until_the_end_of_the_hour_it_counts():
    tally, waits = _fail(1, throttle.Tally(hour_start=T0, in_hour=98), T0 + timedelta(minutes=10))
    assert waits == [0] and tally.in_hour == 99  # the 99th is still only counted
    tally, waits = _fail(1, tally, T0 + timedelta(minutes=10))
    assert waits == [50 * 60] and tally.locked_until == T0 + HOUR


def test_idn_04_first_failure_of_a_key_opens_its_hour():
    tally, waits = _fail(1)
    assert (tally.consecutive, tally.in_hour, tally.hour_start, waits) == (1, 1, T0, [0])


# --- attempts still being evaluated ------------------------------------------

def test_idn_04_nothing_pending_no_wait_even_after_a_lock_ended():
    tally, _ = _fail(10)  # locked at the 10th failure...
    later = T0 + timedelta(seconds=900)  # ...and the lock is over
    assert throttle.wait_with_pending(tally, 0, later, LIMITS) == 0
    assert throttle.wait_with_pending(throttle.Tally(), 0, T0, LIMITS) == 0


def test_idn_04_a_locked_key_waits_for_its_lock_whatever_is_pending():
    tally, _ = _fail(10)
    assert throttle.wait_with_pending(tally, 0, T0, LIMITS) == 900
    assert throttle.wait_with_pending(tally, 1, T0 + timedelta(seconds=100), LIMITS) == 800


def test_idn_04_pending_attempts_that_could_reach_the_lock_hold_new_ones():
    tally, _ = _fail(9)
    later = T0 + timedelta(seconds=600)  # the 9th failure's slowdown (128 s) is over
    assert throttle.wait_with_pending(tally, 0, later, LIMITS) == 0
    assert throttle.wait_with_pending(tally, 1, later, LIMITS) == 1  # if it fails, it is the 10th: the lock
    eight, _ = _fail(8)
    assert throttle.wait_with_pending(eight, 1, later, LIMITS) == 0  # at most the 9th: a new one may run
    assert throttle.wait_with_pending(eight, 2, later, LIMITS) == 1


def test_idn_04_pending_attempts_that_could_reach_the_hourly_cap_hold_new_ones():
    in_hour = throttle.Tally(hour_start=T0, in_hour=99)
    assert throttle.wait_with_pending(in_hour, 1, T0 + timedelta(minutes=30), LIMITS) == 1
    assert throttle.wait_with_pending(throttle.Tally(hour_start=T0, in_hour=98), 1, T0 + timedelta(minutes=30),
                                      LIMITS) == 0
    assert throttle.wait_with_pending(in_hour, 1, T0 + HOUR - timedelta(microseconds=1), LIMITS) == 1
    # at exactly one hour the old hour no longer counts, as after_failure starts a new one there
    assert throttle.wait_with_pending(in_hour, 1, T0 + HOUR, LIMITS) == 0
    assert throttle.wait_with_pending(in_hour, 1, T0 + 2 * HOUR, LIMITS) == 0


def test_idn_04_pending_attempts_alone_can_fill_a_fresh_hour():
    limits = throttle.Limits(delay_after=100, lock_after=100, lock_seconds=900, max_per_hour=5)
    for tally in (throttle.Tally(), throttle.Tally(hour_start=T0 - 2 * HOUR, in_hour=4)):
        assert throttle.wait_with_pending(tally, 4, T0, limits) == 0  # a new one would be the 5th at most
        assert throttle.wait_with_pending(tally, 5, T0, limits) == 1  # a 6th would pass the cap


# --- keys -------------------------------------------------------------------

def test_idn_04_one_key_per_address_and_per_source():
    assert throttle.email_key("zoe@example.ch") == throttle.email_key("ZOE@Example.CH")
    assert throttle.email_key("zoe@example.ch") != throttle.email_key("zoa@example.ch")
    assert throttle.ip_key("80.128.1.1") != throttle.ip_key("80.128.1.2")
    assert throttle.ip_key("80.128.1.1") != throttle.email_key("80.128.1.1")
