"""Per-number limits in one process: a sliding log of each number's recent sends.

Why sliding windows: the limiter keeps the time of each permitted send and allows another
only if, for every window, fewer than ``count`` sends fall in the last ``seconds``. That
holds in *every* stretch of time of that length, so it also holds in any fixed window (a
calendar minute, hour or day) a provider may count in: whichever way the provider counts,
the limiter never lets through what the provider would refuse. Fixed windows of our own
would let ``2 x count`` through across a boundary (the last second of one minute and the
first of the next). The price is memory: at most the longest window's ``count`` times per
number (10 floats for the default rule), and only for numbers sent to within the longest
window; older ones are dropped as new sends come in, so memory is bounded by the numbers
sent to in the last day (with the default rule), never by the life of the process.

Concurrency: each decision (check every window, then record) runs under a lock and never
awaits in between, so any number of tasks, event loops or threads (the blocking clients)
can share one limiter. A refused attempt records nothing.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import anyio.lowlevel

from crowdsms.limits._errors import NumberLimitedError
from crowdsms.limits._protocol import NumberAdmission, NumberPermit, distinct_numbers
from crowdsms.limits._windows import NumberLimits, check_limits
from crowdsms.phones import normalize_mainland_mobile

__all__ = ["NumberLimiter", "refusal"]


def refusal(
    limits: NumberLimits, times: list[float], now: float, phone: str
) -> NumberLimitedError | None:
    """Why one more send to ``phone`` now is refused, given its sends' sorted ``times``.

    A send at ``t`` counts in a window of ``w`` seconds while ``now - w < t``. When several
    windows are full, the error names the one that frees up last.
    """
    worst: NumberLimitedError | None = None
    for window in limits.windows:
        inside = len(times) - bisect.bisect_right(times, now - window.seconds)
        if inside < window.count:
            continue
        # The count-th most recent send leaving the window makes room for one more.
        retry_after = times[len(times) - window.count] + window.seconds - now
        if worst is None or retry_after > worst.retry_after:
            worst = NumberLimitedError(
                phone=phone,
                count=window.count,
                seconds=window.seconds,
                window=window.describe(),
                retry_after=retry_after,
            )
    return worst


class NumberLimiter:
    """Per-number limits for one process (see :mod:`crowdsms.limits`).

    ``limits`` defaults to :class:`NumberLimits()` (1 a minute, 5 an hour, 10 a day).
    ``clock`` is a monotonic clock in seconds (tests inject a fake one). The ``*_nowait``
    methods do the same as the coroutines, for blocking code; none of them ever waits.
    ``len(limiter)`` is how many numbers it remembers.
    """

    def __init__(
        self, limits: NumberLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = limits if limits is not None else NumberLimits()
        check_limits(self._limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._sends: OrderedDict[str, list[float]] = OrderedDict()
        """Each number's recent send times, sorted; numbers in the order of their last send."""

    @property
    def limits(self) -> NumberLimits:
        """The windows every number's messages must fit in."""
        return self._limits

    def __len__(self) -> int:
        return len(self._sends)

    def __repr__(self) -> str:
        return f"NumberLimiter({self._limits}, numbers={len(self._sends)})"

    def _forget_old(self, now: float) -> None:
        """Drop numbers whose last send left the longest window (oldest first)."""
        horizon = now - self._limits.longest
        while self._sends:
            phone, times = next(iter(self._sends.items()))
            if times and times[-1] > horizon:
                return
            del self._sends[phone]

    def _take(self, phone: str, now: float) -> NumberPermit | NumberLimitedError:
        times = self._sends.get(phone)
        if times is not None:
            horizon = now - self._limits.longest
            del times[: bisect.bisect_right(times, horizon)]
            refused = refusal(self._limits, times, now, phone)
            if refused is not None:
                return refused
            bisect.insort(times, now)
            self._sends.move_to_end(phone)
        else:
            self._sends[phone] = [now]
        return NumberPermit(phone=phone, at=now)

    def acquire_nowait(self, phone: str) -> NumberPermit:
        """Record one message to ``phone`` now, or raise :class:`NumberLimitedError`."""
        number = normalize_mainland_mobile(phone, field="phone")
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            result = self._take(number, now)
        if isinstance(result, NumberLimitedError):
            raise result
        return result

    def acquire_many_nowait(self, phones: Iterable[str]) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers); see :meth:`acquire_many`."""
        numbers = distinct_numbers(phones)
        allowed: dict[str, NumberPermit] = {}
        refused: dict[str, NumberLimitedError] = {}
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            for number in numbers:
                result = self._take(number, now)
                if isinstance(result, NumberLimitedError):
                    refused[number] = result
                else:
                    allowed[number] = result
        return NumberAdmission(allowed=allowed, refused=refused)

    def release_nowait(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s send (nothing happens if it already left every window)."""
        with self._lock:
            times = self._sends.get(permit.phone)
            if times is None:
                return
            index = bisect.bisect_left(times, permit.at)
            if index < len(times) and times[index] == permit.at:
                del times[index]
            if not times:
                del self._sends[permit.phone]

    def reset(self, phone: str) -> None:
        """Forget every send to ``phone`` (a support agent unblocking a user)."""
        number = normalize_mainland_mobile(phone, field="phone")
        with self._lock:
            self._sends.pop(number, None)

    async def acquire(self, phone: str) -> NumberPermit:
        """Record one message to ``phone`` now, or raise :class:`NumberLimitedError`."""
        await anyio.lowlevel.checkpoint()
        return self.acquire_nowait(phone)

    async def acquire_many(self, phones: Iterable[str]) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers), each as :meth:`acquire` would.

        The numbers are normalized; a repeated one raises
        :class:`~crowdsms.errors.InvalidInputError` before anything is recorded.
        """
        await anyio.lowlevel.checkpoint()
        return self.acquire_many_nowait(phones)

    async def release(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s send: the message was provably not sent."""
        self.release_nowait(permit)

    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        """Forget each of ``permits``' sends."""
        for permit in permits:
            self.release_nowait(permit)
