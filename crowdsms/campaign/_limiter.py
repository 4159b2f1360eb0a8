"""One rate limit shared by every process and machine that sends through one account.

:class:`SharedRateLimiter` keeps its state in Redis and decides in a Lua script on the
*server's* clock (``TIME``), so the hosts' clocks do not matter. It is a GCRA (generic cell
rate algorithm): permits are evenly paced, one every ``1 / rate`` seconds, and after an idle
spell up to ``burst`` of them are granted at once. In any window of ``w`` seconds at most
``burst + rate * w`` permits are granted, however many processes ask.

It is not tied to campaigns: any code that sends through a shared account can use it. Eight
gunicorn workers sending verification codes through one account limited to 20 requests a
second, each worker with its own client of that account (``client``)::

    from crowdsms.campaign import SharedRateLimiter, connect

    redis = connect("redis://127.0.0.1:6379/0")              # once per worker process
    limiter = SharedRateLimiter(redis, "crowdsms:rate:<provider>:<account>", rate=20)

    async def send_code(phone: str, code: str) -> None:
        async with limiter.permit():                          # waits for a shared slot
            await client.sms.send(to=phone, content=f"【签名】您的验证码是 {code}")

When the provider still answers 429 (:class:`~crowdsms.errors.RateLimitedError`), leaving
``permit()`` with that error slows down *every* worker: the pace lives in Redis. It is
multiplied by ``0.5`` (down to ``min_rate``, ``rate / 20`` by default), other permits are
held back for the ``Retry-After`` the provider gave, and each later successful permit
recovers ``recovery`` (5%) of ``rate``, never above it. The same can be done by hand with
:meth:`SharedRateLimiter.slow_down` and :meth:`SharedRateLimiter.recovered`. A 429 for a
request sent before the last slow-down does not slow down again (the permit's
``generation`` tells).

A permit is reserved when asked for, and the caller then sleeps until its time: one round
trip per permit, first come first served. A caller cancelled while it waits loses its
permit (the limit errs on the slow side). Permits reserved before a slow-down keep their
times. The limiter uses redis-py's asyncio client, so it runs on asyncio.

State: one hash at ``key`` with ``tat`` (the theoretical arrival time of the next permit, in
microseconds of the server's clock), ``ivl`` (the current interval between permits, when
slowed down) and ``gen`` (the number of slow-downs); it expires a minute after the last
reserved permit, so an idle limiter forgets a slow-down.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import attrs
import redis.asyncio

from crowdsms.campaign._redis import LuaScript, call
from crowdsms.errors import ConfigurationError, InvalidInputError, RateLimitedError

__all__ = ["Permit", "SharedRateLimiter"]

_MICROS = 1_000_000
_DEFAULT_FLOOR = 1 / 20
_IDLE_TTL_MS = 60_000

# Common prologue: the server's clock and the current interval, kept within
# [base interval, floor interval]. ARGV[1] base interval (us), ARGV[2] floor interval (us).
_PROLOGUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local base = tonumber(ARGV[1])
local floor = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tat', 'ivl', 'gen')
local tat = tonumber(s[1]) or now
if tat < now then tat = now end
local ivl = tonumber(s[2]) or base
if ivl < base then ivl = base end
if ivl > floor then ivl = floor end
local gen = tonumber(s[3]) or 0
"""

# Reserve ARGV[4] permits with a burst of ARGV[3]: returns {wait us, interval us, generation}.
_ACQUIRE = LuaScript(
    _PROLOGUE
    + """
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
tat = tat + n * ivl
local wait = tat - burst * ivl - now
if wait < 0 then wait = 0 end
redis.call('HSET', KEYS[1], 'tat', string.format('%d', tat))
redis.call('PEXPIRE', KEYS[1], math.floor((tat - now) / 1000) + tonumber(ARGV[5]))
return {math.floor(wait), math.floor(ivl), gen}
"""
)

# Multiply the rate by ARGV[4] and hold permits back for ARGV[5] us, unless the generation
# ARGV[6] (>= 0) is not the current one. Returns {1 if slowed, interval us, generation}.
_SLOW_DOWN = LuaScript(
    _PROLOGUE
    + """
local burst = tonumber(ARGV[3])
local seen = tonumber(ARGV[6])
if seen >= 0 and seen ~= gen then return {0, math.floor(ivl), gen} end
ivl = math.ceil(ivl / tonumber(ARGV[4]))
if ivl > floor then ivl = floor end
local earliest = now + tonumber(ARGV[5]) + (burst - 1) * ivl
if tat < earliest then tat = earliest end
gen = gen + 1
redis.call('HSET', KEYS[1], 'tat', string.format('%d', tat),
    'ivl', string.format('%d', ivl), 'gen', gen)
redis.call('PEXPIRE', KEYS[1], math.floor((tat - now) / 1000) + tonumber(ARGV[7]))
return {1, ivl, gen}
"""
)

# Add ARGV[3] times the configured rate to the current one. Returns the interval (us).
_RECOVER = LuaScript(
    """
local base = tonumber(ARGV[1])
local ivl = tonumber(redis.call('HGET', KEYS[1], 'ivl'))
if not ivl then return base end
local rate = 1000000 / ivl + tonumber(ARGV[2]) * 1000000 / base
if rate * base >= 999000 then  -- within 0.1% (intervals are whole microseconds)
    redis.call('HDEL', KEYS[1], 'ivl')
    return base
end
ivl = math.ceil(1000000 / rate)
redis.call('HSET', KEYS[1], 'ivl', string.format('%d', ivl))
return ivl
"""
)


@attrs.frozen
class Permit:
    """Permits granted by :meth:`SharedRateLimiter.acquire`.

    ``waited`` is how long the caller was told to wait (seconds), ``rate`` the shared pace
    when they were granted (permits a second), ``generation`` how many slow-downs the
    limiter had seen then (pass the permit to :meth:`SharedRateLimiter.slow_down`).
    """

    n: int
    waited: float
    rate: float
    generation: int


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError("must be a number above 0", field=name, received=repr(value))
    if not math.isfinite(value):
        raise InvalidInputError("must be finite", field=name, received=repr(value))
    return float(value)


class SharedRateLimiter:
    """At most ``rate`` permits a second, shared through Redis by every process using ``key``.

    ``burst`` permits (1 by default: evenly paced) may be granted at once after an idle
    spell. ``min_rate`` is the floor of the slow-downs (``rate / 20`` by default) and
    ``recovery`` the fraction of ``rate`` regained by each :meth:`recovered`. Every process
    must use the same ``rate``, ``burst`` and ``min_rate`` for one ``key``.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        key: str,
        *,
        rate: float,
        burst: float | None = None,
        min_rate: float | None = None,
        recovery: float = 0.05,
    ) -> None:
        if not isinstance(key, str) or not key:
            raise InvalidInputError("must be a non-empty string", field="key", received=repr(key))
        self._redis = redis
        self.key = key
        self.rate = _positive("rate", rate)
        self.burst = _positive("burst", burst) if burst is not None else 1.0
        if self.burst < 1:
            raise InvalidInputError(
                "must be at least 1 permit", field="burst", received=repr(burst)
            )
        self.min_rate = _positive("min_rate", min_rate) if min_rate is not None else None
        floor = self.min_rate if self.min_rate is not None else self.rate * _DEFAULT_FLOOR
        if floor > self.rate:
            raise ConfigurationError(
                "min_rate is above rate",
                received=f"rate={rate!r}, min_rate={min_rate!r}",
                action="Pass a min_rate at or below the rate",
            )
        self.recovery = _positive("recovery", recovery)
        self._base_us = math.ceil(_MICROS / self.rate)
        self._floor_us = max(self._base_us, math.ceil(_MICROS / floor))

    def _args(self) -> list[int | float | str]:
        return [self._base_us, self._floor_us, repr(self.burst)]

    async def acquire(self, n: int = 1) -> Permit:
        """Wait until ``n`` permits are granted (one shared reservation, then a sleep)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInputError(
                "must be a whole number of at least 1", field="n", received=repr(n)
            )
        reply: Any = await _ACQUIRE.run(self._redis, [self.key], [*self._args(), n, _IDLE_TTL_MS])
        wait_us, interval_us, generation = (int(value) for value in reply)
        permit = Permit(
            n=n,
            waited=wait_us / _MICROS,
            rate=_MICROS / interval_us,
            generation=generation,
        )
        if wait_us > 0:
            await anyio.sleep(permit.waited)
        return permit

    @contextlib.asynccontextmanager
    async def permit(self, n: int = 1) -> AsyncIterator[Permit]:
        """``async with limiter.permit(n):`` acquire ``n`` permits, then send.

        Leaving the block with :class:`~crowdsms.errors.RateLimitedError` calls
        :meth:`slow_down` (with the error's ``retry_after``) before the error goes on; leaving
        it normally while the shared pace is below ``rate`` calls :meth:`recovered`.
        """
        granted = await self.acquire(n)
        try:
            yield granted
        except RateLimitedError as error:
            await self.slow_down(retry_after=error.retry_after, permit=granted)
            raise
        if granted.rate < _MICROS / self._base_us:
            await self.recovered()

    async def slow_down(
        self,
        factor: float = 0.5,
        *,
        retry_after: float | None = None,
        permit: Permit | None = None,
    ) -> bool:
        """Multiply the shared pace by ``factor`` (after a 429), down to ``min_rate``.

        Permits not yet reserved are held back for ``retry_after`` seconds as well, and no
        burst is granted right after. With ``permit`` (the one whose request got the 429),
        nothing changes when another process already slowed down since it was granted: the
        request was sent at the old pace. Returns whether the pace changed.
        """
        factor = _positive("factor", factor)
        if factor >= 1:
            raise InvalidInputError(
                "must be below 1 to slow down", field="factor", received=repr(factor)
            )
        pause = 0.0 if retry_after is None else max(0.0, float(retry_after))
        seen = -1 if permit is None else permit.generation
        reply: Any = await _SLOW_DOWN.run(
            self._redis,
            [self.key],
            [
                *self._args(),
                repr(factor),
                math.ceil(pause * _MICROS),
                seen,
                _IDLE_TTL_MS,
            ],
        )
        return int(reply[0]) == 1

    async def recovered(self) -> float:
        """After a success: regain ``recovery`` of ``rate``, never above it. Returns the pace."""
        reply: Any = await _RECOVER.run(
            self._redis, [self.key], [self._base_us, repr(self.recovery)]
        )
        return _MICROS / int(reply)

    async def current_rate(self) -> float:
        """The shared pace now, in permits a second (``rate`` unless slowed down)."""
        raw: Any = await call(self._redis, "HGET", self.key, "ivl")
        interval = max(self._base_us, int(raw)) if raw is not None else self._base_us
        return _MICROS / interval

    async def reset(self) -> None:
        """Forget the shared state: the full rate and burst are available again."""
        await call(self._redis, "DEL", self.key)
