"""A token bucket on anyio time: at most ``rate`` units a second, bursts up to ``burst``.

Used by the batch sender to keep recipients-per-second under a provider's limit. Waiters are
served in arrival order (an anyio lock), it works under asyncio and trio, and the rate can be
changed while it runs (the adaptive slow-down after a 429 does that).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["TokenBucket"]


class TokenBucket:
    """Hands out ``rate`` tokens a second, holding at most ``burst`` unused ones."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 tokens a second, got {rate!r}")
        self._rate = float(rate)
        self._burst = float(burst if burst is not None else rate)
        if self._burst <= 0:
            raise ValueError(f"burst must be > 0, got {burst!r}")
        self._clock = clock or anyio.current_time
        self._sleep = sleep or anyio.sleep
        self._tokens = self._burst
        self._updated: float | None = None
        self._lock = anyio.Lock()

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def burst(self) -> float:
        """The most tokens the bucket holds."""
        return self._burst

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on (tokens already earned are kept)."""
        if rate <= 0:
            raise ValueError(f"rate must be > 0 tokens a second, got {rate!r}")
        self._refill()
        self._rate = float(rate)

    def _refill(self) -> None:
        now = self._clock()
        if self._updated is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def acquire(self, tokens: float = 1.0) -> None:
        """Wait until ``tokens`` are available and take them.

        A request for more than ``burst`` tokens is allowed: it waits until the bucket is
        full and then drives it negative, so large chunks are paced correctly too.
        """
        if tokens <= 0:
            return
        async with self._lock:
            self._refill()
            needed = min(tokens, self._burst)
            while not self._holds(needed):
                await self._sleep((needed - self._tokens) / self._rate)
                self._refill()
            self._tokens -= tokens

    def _holds(self, needed: float) -> bool:
        """Whether ``needed`` tokens are there, up to what the clock can resolve.

        After sleeping for exactly the missing time, rounding can leave a shortfall worth
        less time than the clock's resolution at its current reading; the clock cannot
        advance by that little, so waiting for it would spin for ever.
        """
        shortfall = needed - self._tokens
        if shortfall <= 0:
            return True
        now = self._updated if self._updated is not None else 0.0
        return shortfall / self._rate <= 4.0 * math.ulp(now)
