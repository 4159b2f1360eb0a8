"""Flow control: how many requests at once, how many recipients a second, and backing off.

The sender runs a fixed pool of ``concurrency`` workers. Each request holds a slot of a
capacity limiter (the *effective* concurrency) and, when a ``rate`` is set, takes one token
per recipient from a :class:`~crowdsms._transport.rate_limit.TokenBucket`.

When the provider answers 429 (:class:`~crowdsms.errors.RateLimitedError`, after the
transport's own retries), the sender slows down multiplicatively (AIMD, as TCP does): the
rate is multiplied by ``slow_down`` (0.5 by default) down to a floor of ``rate / 20``; with
no rate set, the effective concurrency is, down to 1. Requests already in flight when the
first 429 arrived were sent at the old pace, so their 429s do not slow down again (a
*generation* counter tells them apart). Every successful request then recovers a little:
``recovery`` (5%) of the configured rate per request, or one slot of concurrency per
``concurrency`` successful requests, back up to the configured values. So one 429 halves
the rate and ten good requests restore it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio

from crowdsms._transport.rate_limit import TokenBucket
from crowdsms.telemetry._batch import observe_pace

__all__ = ["FlowControl", "SharedPace"]

logger = logging.getLogger("crowdsms.batch")

_RATE_FLOOR = 1 / 20


class SharedPace(Protocol):
    """A rate limit shared with other processes (e.g. crowdsms.campaign.SharedRateLimiter).

    The batch sender takes its permits before claiming and sending each chunk, tells it
    about a 429 (``slow_down``, with the permit of the refused request) and, while the pace
    is below its configured rate, about each success (``recovered``).
    """

    async def acquire(self, n: int = 1) -> Any:
        """Wait for ``n`` permits; return the permit (with ``rate`` and a generation)."""
        ...

    async def slow_down(
        self, factor: float = 0.5, *, retry_after: float | None = None, permit: Any = None
    ) -> bool:
        """Slow every process down after a 429."""
        ...

    async def recovered(self) -> float:
        """Regain some pace after a success."""
        ...


class FlowControl:
    """The concurrency limiter, the token bucket and the adaptive slow-down of one job."""

    def __init__(
        self,
        *,
        concurrency: int,
        rate: float | None,
        burst: float | None,
        slow_down: float,
        recovery: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        shared: SharedPace | None = None,
        shared_rate: float | None = None,
    ) -> None:
        self.shared = shared
        self._shared_rate = shared_rate
        self.concurrency = concurrency
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.target_rate = rate
        self.bucket = (
            TokenBucket(rate, burst=burst, clock=clock, sleep=sleep) if rate is not None else None
        )
        self.slow_down = slow_down
        self.recovery = recovery
        self.generation = 0
        self._successes = 0

    @property
    def rate_limit(self) -> float | None:
        """The current recipients-per-second limit, if a rate was set."""
        return self.bucket.rate if self.bucket is not None else None

    @property
    def concurrency_limit(self) -> int:
        """The current number of requests allowed at once."""
        return int(self.limiter.total_tokens)

    @observe_pace
    async def pace(self, recipients: int) -> Any:
        """Wait for the rate limits to allow ``recipients`` more recipients.

        Returns the shared limit's permit, if there is one (for :meth:`shared_answer`).
        """
        if self.bucket is not None:
            await self.bucket.acquire(recipients)
        if self.shared is not None:
            return await self.shared.acquire(recipients)
        return None

    async def shared_answer(self, permit: Any, error: BaseException | None) -> None:
        """Tell the shared limit how a request sent on ``permit`` went (a 429, or not)."""
        if self.shared is None or permit is None:
            return
        retry_after = getattr(error, "retry_after", None)
        if error is not None:
            await self.shared.slow_down(retry_after=retry_after, permit=permit)
        elif (
            self._shared_rate is not None and getattr(permit, "rate", 0) < 0.999 * self._shared_rate
        ):
            await self.shared.recovered()

    def rate_limited(self, generation: int) -> None:
        """React to a 429 for a request sent at ``generation``."""
        if generation != self.generation:
            return  # sent before the last slow-down: already accounted for
        self.generation += 1
        self._successes = 0
        if self.bucket is not None and self.target_rate is not None:
            floor = self.target_rate * _RATE_FLOOR
            new_rate = max(floor, self.bucket.rate * self.slow_down)
            self.bucket.set_rate(new_rate)
            logger.warning("batch: provider asked to slow down; rate now %.3g/s", new_rate)
        else:
            current = self.concurrency_limit
            new_limit = max(1, math.floor(current * self.slow_down))
            self.limiter.total_tokens = new_limit
            logger.warning(
                "batch: provider asked to slow down; concurrency now %d (was %d)",
                new_limit,
                current,
            )

    def succeeded(self) -> None:
        """Recover a step of the pace after a successful request."""
        if self.bucket is not None and self.target_rate is not None:
            if self.bucket.rate < self.target_rate:
                step = self.target_rate * self.recovery
                self.bucket.set_rate(min(self.target_rate, self.bucket.rate + step))
            return
        current = self.concurrency_limit
        if current >= self.concurrency:
            return
        self._successes += 1
        if self._successes >= self.concurrency:
            self._successes = 0
            self.limiter.total_tokens = current + 1
