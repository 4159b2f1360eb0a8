"""Clocks, sleep and randomness, injected so that retry tests need no real waiting."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

import anyio
import attrs

__all__ = ["Runtime"]


@attrs.frozen
class Runtime:
    """The transport's view of time and chance.

    ``wall_time`` is Unix time in seconds (used for signatures, corrected for skew by the
    client's clock), ``monotonic`` measures intervals and deadlines, ``sleep`` waits between
    attempts and ``random`` returns a float in ``[0, 1)`` for jitter. Tests pass fakes.
    """

    wall_time: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    random: Callable[[], float] = random.random
