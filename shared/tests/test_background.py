"""X-05: a service's shutdown ends its background loops even when a cancel
is swallowed by code they await (Python 3.11's asyncio.wait_for, bpo-42130)."""
from __future__ import annotations

import asyncio

from manager_shared.background import cancel_and_wait


async def test_x_05_stop_ends_a_loop_that_swallowed_its_cancel():
    cancels_seen = []

    async def loop_swallowing_the_first_cancel():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels_seen.append(1)
                if len(cancels_seen) > 1:
                    raise
                asyncio.current_task().uncancel()  # what the 3.11 wait_for race leaves behind

    task = asyncio.create_task(loop_swallowing_the_first_cancel())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, retry_every=0.05), timeout=10)
    assert task.cancelled() and len(cancels_seen) == 2


async def test_x_05_stop_reports_a_loop_that_failed():
    async def failing():
        raise RuntimeError("boom")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    try:
        await cancel_and_wait(task)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the loop's own failure was hidden")


async def test_x_05_cancel_and_wait_of_nothing_is_a_no_op():
    await cancel_and_wait(None)


async def test_x_05_a_loop_that_honours_its_cancel_stops_quietly(caplog):
    """The warning says a cancel was ignored: it must not cry wolf."""
    task = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    with caplog.at_level("WARNING", logger="manager_shared.background"):
        await cancel_and_wait(task, retry_every=0.05)
    assert task.cancelled() and caplog.records == []


async def test_x_05_an_ignored_cancel_is_logged(caplog):
    async def ignores_one_cancel():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            await asyncio.sleep(3600)

    task = asyncio.create_task(ignores_one_cancel())
    await asyncio.sleep(0)
    with caplog.at_level("WARNING", logger="manager_shared.background"):
        await cancel_and_wait(task, retry_every=0.05)
    assert [r.getMessage() for r in caplog.records] == [
        f"background task {task.get_name()} ignored a cancel; cancelling it again"]
