"""Waiting for a condition in tests, by polling it with a deadline (never a
bare sleep standing in for the condition)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 45.0, interval: float = 0.2, what: str = "condition") -> T:
    """Call `check` until it returns something truthy and return that; fail
    with the last value seen once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met in {timeout}s (last: {last!r})")
        time.sleep(interval)
