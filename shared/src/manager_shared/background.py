"""Background loops of a service process (relay, retention, eraser, refreshers)."""
from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Stop a background loop and wait until it has unwound (its `finally`
    blocks ran), so a stop never returns while the loop still writes."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
