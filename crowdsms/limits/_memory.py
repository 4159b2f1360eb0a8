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
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import anyio.lowlevel

from crowdsms.limits._errors import NumberLimitedError
from crowdsms.limits._protocol import (
    NumberAdmission,
    NumberPermit,
    check_key,
    distinct_numbers,
)
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


class _Sends:
    """One number's recent sends: their times (sorted) and tokens, side by side."""

    __slots__ = ("times", "tokens")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.tokens: list[str] = []

    def drop_before(self, horizon: float) -> None:
        """Forget the sends at or before ``horizon``."""
        cut = bisect.bisect_right(self.times, horizon)
        del self.times[:cut], self.tokens[:cut]

    def add(self, at: float, token: str) -> None:
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.tokens.insert(index, token)

    def find(self, token: str) -> int | None:
        return self.tokens.index(token) if token in self.tokens else None


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
        self._sends: OrderedDict[str, _Sends] = OrderedDict()
        """Each number's recent sends; numbers in the order of their last send."""
        self._tokens = itertools.count()

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
            phone, sends = next(iter(self._sends.items()))
            if sends.times and sends.times[-1] > horizon:
                return
            del self._sends[phone]

    def _take(self, phone: str, now: float, key: str | None) -> NumberPermit | NumberLimitedError:
        sends = self._sends.get(phone)
        if sends is None:
            sends = self._sends[phone] = _Sends()
        sends.drop_before(now - self._limits.longest)
        if key is not None:
            index = sends.find(key)
            if index is not None:  # asked again for the same send: the same permit
                return NumberPermit(phone=phone, at=sends.times[index], token=key)
        refused = refusal(self._limits, sends.times, now, phone)
        if refused is not None:
            if not sends.times:
                del self._sends[phone]
            return refused
        token = key if key is not None else f"#{next(self._tokens)}"
        sends.add(now, token)
        self._sends.move_to_end(phone)
        return NumberPermit(phone=phone, at=now, token=token)

    def acquire_nowait(self, phone: str, *, key: str | None = None) -> NumberPermit:
        """Record one message to ``phone`` now, or raise :class:`NumberLimitedError`.

        ``key``: see :meth:`acquire_many`.
        """
        number = normalize_mainland_mobile(phone, field="phone")
        check_key(key)
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            result = self._take(number, now, key)
        if isinstance(result, NumberLimitedError):
            raise result
        return result

    def acquire_many_nowait(
        self, phones: Iterable[str], *, key: str | None = None
    ) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers); see :meth:`acquire_many`."""
        numbers = distinct_numbers(phones)
        check_key(key)
        allowed: dict[str, NumberPermit] = {}
        refused: dict[str, NumberLimitedError] = {}
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            for number in numbers:
                result = self._take(number, now, key)
                if isinstance(result, NumberLimitedError):
                    refused[number] = result
                else:
                    allowed[number] = result
        return NumberAdmission(allowed=allowed, refused=refused)

    def release_nowait(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s send (nothing happens if it already left every window)."""
        with self._lock:
            sends = self._sends.get(permit.phone)
            if sends is None:
                return
            index = sends.find(permit.token)
            if index is not None:
                del sends.times[index], sends.tokens[index]
            if not sends.times:
                del self._sends[permit.phone]

    def reset(self, phone: str) -> None:
        """Forget every send to ``phone`` (a support agent unblocking a user)."""
        number = normalize_mainland_mobile(phone, field="phone")
        with self._lock:
            self._sends.pop(number, None)

    async def acquire(self, phone: str, *, key: str | None = None) -> NumberPermit:
        """Record one message to ``phone`` now, or raise :class:`NumberLimitedError`.

        ``key``: see :meth:`acquire_many`.
        """
        await anyio.lowlevel.checkpoint()
        return self.acquire_nowait(phone, key=key)

    async def acquire_many(
        self, phones: Iterable[str], *, key: str | None = None
    ) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers), each as :meth:`acquire` would.

        The numbers are normalized; a repeated one raises
        :class:`~crowdsms.errors.InvalidInputError` before anything is recorded. ``key``
        names these sends (a chunk of a job): a number that already has a send under the
        same key gets that send's permit again instead of counting twice.
        """
        await anyio.lowlevel.checkpoint()
        return self.acquire_many_nowait(phones, key=key)

    async def release(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s send: the message was provably not sent."""
        self.release_nowait(permit)

    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        """Forget each of ``permits``' sends."""
        for permit in permits:
            self.release_nowait(permit)
