"""pytest plugin: when a test is about to hit its timeout, print where every
asyncio task of the running event loop is waiting.

pytest-timeout shows the threads' stacks, and a hung asyncio test shows only
the event loop's `select()` there: the await that never returns is in some
task's coroutine chain. This dumps each task's full chain (following
`cr_await`) to stderr a little before the timeout fires, so a hang in CI says
which await it was.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import threading
import traceback

import pytest

# seconds before pytest-timeout's limit at which the tasks are dumped
_MARGIN = 20.0


def _await_chain(coro) -> list:
    frames = []
    seen = 0
    while coro is not None and seen < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        coro = (getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
                or getattr(coro, "gi_yieldfrom", None))
        seen += 1
    return frames


def dump_tasks(out=sys.stderr) -> None:
    """Print every running loop's tasks with their await chains."""
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    for loop in loops:
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed while copied: try once more
            tasks = list(asyncio.all_tasks(loop))
        print(f"\n===== {len(tasks)} asyncio tasks of {loop!r} =====", file=out)
        for task in tasks:
            print(f"--- {task.get_name()}: {task!r:.300}", file=out)
            for frame in _await_chain(task.get_coro()):
                out.write("".join(traceback.format_stack(frame, limit=1)))
    out.flush()


def _timeout_of(item) -> float | None:
    marker = item.get_closest_marker("timeout")
    value = marker.args[0] if marker is not None and marker.args else item.config.getini("timeout")
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def _watch(item, phase: str):
    timeout = _timeout_of(item)
    if not timeout or timeout <= _MARGIN * 2:
        return None

    def report() -> None:
        print(f"\n{item.nodeid} ({phase}) is about to time out; its asyncio tasks:", file=sys.stderr)
        dump_tasks()
    timer = threading.Timer(timeout - _MARGIN, report)
    timer.daemon = True
    timer.start()
    return timer


def _phase(phase: str):
    @pytest.hookimpl(hookwrapper=True)
    def hook(item):
        timer = _watch(item, phase)  # pytest-timeout times each phase on its own
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
    return hook


pytest_runtest_setup = _phase("setup")
pytest_runtest_call = _phase("call")
pytest_runtest_teardown = _phase("teardown")
