"""Waiting in tests for what another task, thread or process does (not collected: no tests).

A test waits on a condition, never on a sleep that guesses how long the work takes. Where the
code under test offers no event (a push the sandbox records, rows another connection writes,
a lease in Redis), the condition is polled. The deadline is a safety net against a hang, not a
timing check: :func:`wait_until` gives up only when the condition is still false and nothing
it watches (``progress``) has changed for ``stall`` seconds. A machine that is merely slow (two
test suites at once, say) makes a wait longer, never a failure; a wait that is stuck fails
with what was still missing. ``CROWDSMS_TEST_WAIT_SCALE`` (default 1) multiplies every
deadline, for machines slower still.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

import anyio
import pytest

__all__ = ["SCALE", "scaled", "wait_until"]

T = TypeVar("T")

SCALE = float(os.environ.get("CROWDSMS_TEST_WAIT_SCALE", "1"))
"""How much longer than the default every deadline of a wait is."""


def scaled(seconds: float) -> float:
    """``seconds`` times :data:`SCALE`."""
    return seconds * SCALE


async def _value(function: Callable[[], T | Awaitable[T]]) -> T:
    result = function()
    if inspect.isawaitable(result):
        return await result
    return result


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    missing: Callable[[], str | Awaitable[str]],
    progress: Callable[[], Hashable | Awaitable[Hashable]] | None = None,
    stall: float = 60.0,
    poll: float = 0.02,
) -> None:
    """Poll ``condition`` until it is true.

    Fails when it is still false ``stall`` seconds (scaled) after ``progress()`` last changed
    (after the wait began, without ``progress``); the message is ``missing()``, what is still
    missing. ``condition`` may also fail the test itself, at once, when it sees that the
    condition can no longer come true.
    """
    patience = scaled(stall)
    last = await _value(progress) if progress is not None else None
    moved = anyio.current_time()
    while not await _value(condition):
        now = anyio.current_time()
        if progress is not None:
            current = await _value(progress)
            if current != last:
                last, moved = current, now
        if now - moved > patience:
            how = "no progress for" if progress is not None else "not done within"
            pytest.fail(
                f"{how} {patience:g} s; still missing: {await _value(missing)}", pytrace=False
            )
        await anyio.sleep(poll)
