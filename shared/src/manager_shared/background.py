"""Background loops of a service process (relay, retention, eraser, refreshers)."""
from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task | None, *, retry_every: float = 1.0) -> None:
    """Stop a background loop and wait until it has unwound (its `finally`
    blocks ran), so a stop never returns while the loop still writes.

    The cancel is repeated until the task has ended: on Python 3.11 a cancel
    can be swallowed by code the loop awaits (`asyncio.wait_for` whose inner
    future finishes in the same turn as the cancel returns the result and
    drops the cancel, bpo-42130; aiokafka and SQLAlchemy use it), and the loop
    then runs on. A single cancel followed by `await task` hung the service's
    shutdown for good when that happened (seen in the relay's loop, CI)."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_every)
        if not task.done():
            log.warning("background task %s ignored a cancel; cancelling it again", task.get_name())
    with contextlib.suppress(asyncio.CancelledError):
        await task
