"""Readiness checks that answer in bounded time whatever hangs.

A hung broker or database (SIGSTOPped, a black-holed connection) must not
hang `/readyz`: each check runs at most one probe at a time in the
background, callers wait for it up to a deadline and get "error: timeout"
after it, and a recent result is reused, so a flood of `/readyz` calls
during a hang does not pile up probes.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Probe = Callable[[], Awaitable[bool | None]]


class CachedProbe:
    """One named check: `probe()` returning False (or raising) means failing.

    `fresh_for` seconds a finished result is reused; `give_up_after` bounds a
    probe in flight (it is cancelled then, so a later call starts a new one).
    """

    def __init__(self, probe: Probe, *, fresh_for: float = 1.0, give_up_after: float = 10.0,
                 failure: str = "error: unreachable") -> None:
        self.probe, self.fresh_for, self.give_up_after, self.failure = probe, fresh_for, give_up_after, failure
        self._task: asyncio.Task[str] | None = None
        self._result: tuple[float, str] | None = None

    async def _run(self) -> str:
        try:
            async with asyncio.timeout(self.give_up_after):
                ok = await self.probe()
            outcome = "ok" if ok is not False else self.failure
        except TimeoutError:
            outcome = "error: timeout"
        except Exception as exc:  # readiness reports, it does not raise
            outcome = f"error: {type(exc).__name__}"
        self._result = (asyncio.get_running_loop().time(), outcome)
        return outcome

    async def check(self, timeout: float) -> str:
        """The probe's outcome, or "error: timeout" after `timeout` seconds
        (the probe goes on in the background and its result is kept)."""
        loop = asyncio.get_running_loop()
        if self._result is not None and loop.time() - self._result[0] < self.fresh_for:
            return self._result[1]
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._task)  # a caller giving up leaves the probe running
        except TimeoutError:
            return "error: timeout"

    def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


async def run_checks(checks: dict[str, CachedProbe], timeout: float) -> dict[str, str]:
    """Every check at once, each bounded by `timeout`."""
    names = list(checks)
    outcomes = await asyncio.gather(*(checks[n].check(timeout) for n in names))
    return dict(zip(names, outcomes))
