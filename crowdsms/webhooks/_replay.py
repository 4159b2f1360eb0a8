"""Replay protection for signed pushes: a timestamp window and a bounded memory of pushes.

A signed push is refused when its timestamp is too old or too far ahead of this machine's
clock, and when a push with the same signature was received recently. The memory is a
bounded LRU (the oldest pairs are forgotten first), kept per receiver and safe to share
between threads.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Final

from crowdsms.errors import ConfigurationError
from crowdsms.webhooks._errors import WebhookReplayError

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_AHEAD",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "ReplayGuard",
    "timestamp_seconds",
]

DEFAULT_MAX_AGE: Final = 600.0
"""Seconds a push's timestamp may lie in the past (providers retry failed pushes later)."""

DEFAULT_MAX_AHEAD: Final = 300.0
"""Seconds a push's timestamp may lie in the future (the provider's clock may be ahead)."""

DEFAULT_REPLAY_CACHE_SIZE: Final = 50_000
"""How many recent pushes (by signature) a receiver remembers."""

_MILLISECONDS_FROM: Final = 100_000_000_000
"""Timestamps at least this large are milliseconds (seconds reach it in the year 5138)."""

ReplayKey = str
"""A push's signature as verified (lower-case hex): one signed text has one, however its
fields are split (a signature over ``timestamp + token``, say) or the signature is spelled."""


def timestamp_seconds(value: float) -> float:
    """A Unix timestamp in seconds, from seconds or milliseconds (told apart by size)."""
    return value / 1000.0 if abs(value) >= _MILLISECONDS_FROM else float(value)


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(
            f"{name} must be a number of seconds, at least 0",
            received=repr(value)[:40],
            action=f"Pass e.g. {name}={DEFAULT_MAX_AGE:.0f}",
        )
    return float(value)


class ReplayGuard:
    """The timestamp window and the recently seen pushes of one receiver."""

    def __init__(
        self,
        *,
        provider: str,
        max_age: float,
        max_ahead: float,
        capacity: int,
        clock: Callable[[], float],
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError(
                "replay_cache_size must be a whole number of at least 1",
                received=repr(capacity)[:40],
                action=f"Pass e.g. replay_cache_size={DEFAULT_REPLAY_CACHE_SIZE}",
            )
        self._provider = provider
        self._max_age = _check_seconds("max_age", max_age)
        self._max_ahead = _check_seconds("max_ahead", max_ahead)
        self._capacity = capacity
        self._clock = clock
        self._seen: collections.OrderedDict[ReplayKey, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def check_time(self, seconds: float) -> None:
        """Refuse a push whose timestamp (Unix seconds) is outside the window."""
        now = self._clock()
        age = now - seconds
        if age > self._max_age:
            raise WebhookReplayError(
                f"the push's timestamp is {age:.0f} s old, more than the {self._max_age:.0f} s "
                "allowed",
                provider=self._provider,
                duplicate=False,
                received=_when(seconds),
                action=(
                    "A replayed (or very late) push was refused. If the provider retries "
                    "pushes later than that, raise max_age; check this machine's clock"
                ),
            )
        if -age > self._max_ahead:
            raise WebhookReplayError(
                f"the push's timestamp is {-age:.0f} s in the future, more than the "
                f"{self._max_ahead:.0f} s allowed",
                provider=self._provider,
                duplicate=False,
                received=_when(seconds),
                action=(
                    "Check this machine's clock (NTP); raise max_ahead if the provider's "
                    "clock runs ahead"
                ),
            )

    def claim(self, keys: Iterable[ReplayKey]) -> None:
        """Remember ``keys``; refuse them all if any was seen recently, or comes twice."""
        given = list(keys)
        wanted = list(dict.fromkeys(given))
        if len(wanted) != len(given):
            raise WebhookReplayError(
                "the same push (the same signature) comes twice in one request",
                provider=self._provider,
                duplicate=True,
                received=f"{len(given)} pushes, {len(wanted)} different",
                action="Nothing was handled: a genuine batch of pushes has each push once",
            )
        with self._lock:
            for key in wanted:
                if key in self._seen:
                    self._seen.move_to_end(key)
                    raise WebhookReplayError(
                        "this push (the same signature) was already received",
                        provider=self._provider,
                        duplicate=True,
                        received=f"signature {key[:8]!r}...",
                        action=(
                            "Nothing was handled again. A provider that repeats a push it "
                            "already delivered can be ignored; otherwise it is a replay"
                        ),
                    )
            for key in wanted:
                self._seen[key] = None
                if len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)

    def release(self, keys: Iterable[ReplayKey]) -> None:
        """Forget ``keys``, so that the provider's retry of the same push is accepted."""
        with self._lock:
            for key in keys:
                self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)


def _when(seconds: float) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"timestamp {seconds!r}"
    return f"timestamp {seconds:.0f} ({moment:%Y-%m-%d %H:%M:%S} UTC)"
