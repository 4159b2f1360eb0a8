"""Per-number limits shared by every process and machine through one Redis.

Each number has a sorted set at ``{prefix}:{number}``: one member per permitted send (a
random token), scored with the send's time in microseconds of the *Redis server's* clock
(``TIME``), so the hosts' clocks do not matter. One Lua script, atomic on the server, drops
the sends older than the longest window, checks every window (a sliding log, as
:mod:`crowdsms.limits._memory` explains) and records the send only if all of them allow it;
a refused attempt records nothing. The key expires a little after the longest window has
passed since its last send, so an idle number costs nothing.

:meth:`RedisNumberLimiter.acquire_many` sends one script per number in one pipeline: one
round trip for a whole chunk, each number decided atomically (numbers of one chunk need not
live on one cluster node). The script is idempotent for its token: when a broken connection
makes it run twice, the second run returns the first one's permit. Callers may name their
sends with a ``key`` (the batch sender names each chunk's): the script returns the permit
recorded under that key (with its first time) rather than counting the number again.

Durability: permits are not fsynced one by one (a send is not worth a disk write to wait
for). If the Redis *machine* crashes, the last second of permits may be lost, so a number
may get one message more than its limit once; a crash of the Redis *process* loses nothing
with ``appendonly yes``. The limiter uses redis-py's asyncio client, so it runs on asyncio.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio
import redis.exceptions

from crowdsms.errors import InvalidInputError
from crowdsms.limits._errors import NumberLimitedError
from crowdsms.limits._protocol import (
    NumberAdmission,
    NumberPermit,
    check_key,
    distinct_numbers,
)
from crowdsms.limits._windows import NumberLimits, check_limits
from crowdsms.phones import normalize_mainland_mobile

__all__ = ["DEFAULT_PREFIX", "RedisNumberLimiter"]

DEFAULT_PREFIX = "crowdsms:numbers"
"""The keys' prefix by default: ``crowdsms:numbers:13800138000``."""

_MICROS = 1_000_000

# KEYS[1] the number's sends. ARGV[1] token, ARGV[2] longest window (us), then pairs of
# (count, window us). Returns {1, time us} when allowed (and recorded, or recorded before
# under the same token), {0, window number (1-based), wait us} when refused.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local longest = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - longest))
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
if had then return {1, had} end
local worst, refused = -1, 0
for i = 3, #ARGV, 2 do
    local count = tonumber(ARGV[i])
    local since = '(' .. string.format('%d', now - tonumber(ARGV[i + 1]))
    if redis.call('ZCOUNT', KEYS[1], since, '+inf') >= count then
        local e = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', since, 'WITHSCORES',
            'LIMIT', count - 1, 1)
        local wait = tonumber(e[2]) + tonumber(ARGV[i + 1]) - now
        if wait > worst then
            worst = wait
            refused = (i - 1) / 2
        end
    end
end
if refused > 0 then return {0, refused, string.format('%d', worst)} end
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1000)
return {1, string.format('%d', now)}
"""
_ACQUIRE_SHA = hashlib.sha1(_ACQUIRE.encode(), usedforsecurity=False).hexdigest()


async def _call(client: redis.asyncio.Redis, *args: str | int) -> Any:
    """One Redis command (redis-py leaves ``execute_command`` untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisNumberLimiter:
    """Per-number limits shared through Redis by every process using the same ``prefix``.

    ``limits`` defaults to :class:`NumberLimits()` (1 a minute, 5 an hour, 10 a day); every
    process must use the same limits for one prefix. Providers count per account (or per
    signature): give each its own prefix, e.g. ``crowdsms:numbers:<account>``.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        limits: NumberLimits | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise InvalidInputError(
                "must be a non-empty string", field="prefix", received=repr(prefix)[:60]
            )
        self._redis = redis
        self._limits = check_limits(limits if limits is not None else NumberLimits())
        self.prefix = prefix
        windows = self._limits.windows
        self._args: list[str | int] = [round(self._limits.longest * _MICROS)]
        for window in windows:
            self._args += [window.count, round(window.seconds * _MICROS)]

    @property
    def limits(self) -> NumberLimits:
        """The windows every number's messages must fit in."""
        return self._limits

    def __repr__(self) -> str:
        return f"RedisNumberLimiter({self._limits}, prefix={self.prefix!r})"

    def key(self, phone: str) -> str:
        """The Redis key of ``phone``'s sends (``phone`` normalized)."""
        return f"{self.prefix}:{phone}"

    def _decision(self, phone: str, token: str, reply: Any) -> NumberPermit | NumberLimitedError:
        if int(reply[0]) == 1:
            return NumberPermit(phone=phone, at=float(_text(reply[1])) / _MICROS, token=token)
        window = self._limits.windows[int(reply[1]) - 1]
        return NumberLimitedError(
            phone=phone,
            count=window.count,
            seconds=window.seconds,
            window=window.describe(),
            retry_after=float(_text(reply[2])) / _MICROS,
        )

    async def acquire(self, phone: str, *, key: str | None = None) -> NumberPermit:
        """Record one message to ``phone``, or raise :class:`NumberLimitedError`.

        ``key``: see :meth:`acquire_many`.
        """
        number = normalize_mainland_mobile(phone, field="phone")
        check_key(key)
        token = key if key is not None else uuid.uuid4().hex
        (reply,) = await self._pipelined([number], [token])
        result = self._decision(number, token, reply)
        if isinstance(result, NumberLimitedError):
            raise result
        return result

    async def acquire_many(
        self, phones: Iterable[str], *, key: str | None = None
    ) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers), each atomically, in one round trip.

        The numbers are normalized; a repeated one raises
        :class:`~crowdsms.errors.InvalidInputError` before anything is recorded. ``key``
        names these sends (a chunk of a job): a number that already has a send under the
        same key, in any process, gets that send's permit again instead of counting twice.
        """
        numbers = distinct_numbers(phones)
        check_key(key)
        tokens = [key if key is not None else uuid.uuid4().hex for _ in numbers]
        replies = await self._pipelined(numbers, tokens)
        allowed: dict[str, NumberPermit] = {}
        refused: dict[str, NumberLimitedError] = {}
        for number, token, reply in zip(numbers, tokens, replies, strict=True):
            result = self._decision(number, token, reply)
            if isinstance(result, NumberLimitedError):
                refused[number] = result
            else:
                allowed[number] = result
        return NumberAdmission(allowed=allowed, refused=refused)

    async def _pipelined(self, numbers: Sequence[str], tokens: Sequence[str]) -> list[Any]:
        """One script run per number, in one pipeline (loading the script, retrying once).

        The script is run by its SHA1, and loaded when the server does not know it (a
        restarted server has forgotten every script); a broken connection is tried once more
        (the runs are idempotent for their tokens).
        """
        if not numbers:
            return []
        broken = loaded = False
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for number, token in zip(numbers, tokens, strict=True):
                        pipe.execute_command(
                            "EVALSHA", _ACQUIRE_SHA, 1, self.key(number), token, *self._args
                        )
                    replies: list[Any] = await pipe.execute(raise_on_error=False)
            except redis.exceptions.ConnectionError:
                if broken:
                    raise
                broken = True  # a restarted server: the runs are idempotent for their tokens
                continue
            if not loaded and any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                await _call(self._redis, "SCRIPT", "LOAD", _ACQUIRE)
                loaded = True
                continue  # the runs that went through return their permits again
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies

    async def release(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s send: the message was provably not sent."""
        await _call(self._redis, "ZREM", self.key(permit.phone), permit.token)

    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        """Forget each of ``permits``' sends, in one round trip."""
        given = list(permits)
        if not given:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for permit in given:
                pipe.execute_command("ZREM", self.key(permit.phone), permit.token)
            await pipe.execute()

    async def reset(self, phone: str) -> None:
        """Forget every send to ``phone`` (a support agent unblocking a user)."""
        number = normalize_mainland_mobile(phone, field="phone")
        await _call(self._redis, "DEL", self.key(number))
