"""Per-number limits: stop a bot (or a bug) from driving one number into the provider's limit.

Providers refuse a number that got too many messages too fast, with a code of their own, and
some count those refusals against the account. crowdsms refuses first, before any request:
:class:`NumberLimits` says how many messages one number may get (by default the common
rule in China: 1 a minute, 5 an hour, 10 a day), and a limiter keeps count:

- :class:`NumberLimiter`, in one process (any number of tasks or threads);
- :class:`RedisNumberLimiter`, shared by every process and machine through one Redis (the
  ``campaign`` extra), decided on the Redis server's clock.

Both are :class:`NumberLimiting`: ``await limiter.acquire(phone)`` records one message or
raises :class:`NumberLimitedError` (which window refused, and ``retry_after`` seconds),
never a provider error; ``await limiter.acquire_many(phones)`` decides for many numbers at
once (:class:`NumberAdmission`); ``await limiter.release(permit)`` forgets a message that
was provably not sent. A refused attempt records nothing, so a bot hammering one number
does not push its next allowed message further away. Windows slide (see
:mod:`crowdsms.limits._memory` for why).

One send::

    limiter = NumberLimiter()                           # one for the whole application

    async def send_code(phone: str, code: str) -> None:
        async with limited(limiter, phone):             # NumberLimitedError: not now
            await client.sms.send(to=phone, content=f"【签名】您的验证码是 {code}")

:func:`limited` gives the permit back when the send fails in a way that proves nothing was
sent (``NOT_SENT``); ``limited_blocking`` is the same for blocking clients. Batches:
``BatchSender(number_limiter=limiter)`` skips the numbers a limit refuses, with code
``number_limited`` (see :class:`~crowdsms.batch.BatchSender`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdsms.limits._errors import NumberLimitedError, mask_phone
from crowdsms.limits._memory import NumberLimiter
from crowdsms.limits._protocol import NumberAdmission, NumberLimiting, NumberPermit
from crowdsms.limits._single import limited, limited_blocking, provably_not_sent
from crowdsms.limits._windows import (
    DEFAULT_PER_DAY,
    DEFAULT_PER_HOUR,
    DEFAULT_PER_MINUTE,
    NumberLimits,
    Window,
)

if TYPE_CHECKING:
    from crowdsms.limits._redis import RedisNumberLimiter

__all__ = [
    "DEFAULT_PER_DAY",
    "DEFAULT_PER_HOUR",
    "DEFAULT_PER_MINUTE",
    "NumberAdmission",
    "NumberLimitedError",
    "NumberLimiter",
    "NumberLimiting",
    "NumberLimits",
    "NumberPermit",
    "RedisNumberLimiter",
    "Window",
    "limited",
    "limited_blocking",
    "mask_phone",
    "provably_not_sent",
]


def __getattr__(name: str) -> Any:
    """``RedisNumberLimiter`` is imported on first use: it needs redis-py (``campaign``)."""
    if name == "RedisNumberLimiter":
        from crowdsms.limits._redis import RedisNumberLimiter

        return RedisNumberLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
