"""One send under a per-number limit: take a permit, send, give it back if nothing was sent.

::

    async with limited(limiter, phone):       # NumberLimitedError: the number must wait
        await client.sms.send(to=phone, content=...)

The permit is given back when the block raises an error that proves the provider did not
send: a :class:`~crowdsms.errors.RequestError` whose certainty is ``NOT_SENT`` (a refusal,
the provider's own per-number limit included, a 429, a refused connection), or an
:class:`~crowdsms.errors.InvalidInputError` or :class:`~crowdsms.errors.ConfigurationError`
(raised before any request). Anything else keeps it: an ``UNKNOWN`` failure or a
cancellation may have sent the message, and the limit errs on the side of fewer messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import anyio

from crowdsms.errors import (
    ConfigurationError,
    DeliveryCertainty,
    InvalidInputError,
    RequestError,
)
from crowdsms.limits._memory import NumberLimiter
from crowdsms.limits._protocol import NumberLimiting, NumberPermit

__all__ = ["limited", "limited_blocking", "provably_not_sent"]


def provably_not_sent(error: BaseException) -> bool:
    """Whether ``error``, raised by a send, proves that the message was not sent."""
    if isinstance(error, RequestError):
        return error.certainty is DeliveryCertainty.NOT_SENT
    return isinstance(error, (InvalidInputError, ConfigurationError))


@contextlib.asynccontextmanager
async def limited(limiter: NumberLimiting, phone: str) -> AsyncIterator[NumberPermit]:
    """``async with limited(limiter, phone):`` send one message to ``phone`` within its limits.

    Raises :class:`~crowdsms.limits.NumberLimitedError` (before the block runs) when the
    number reached a limit. The permit is given back when the block raises an error that
    proves nothing was sent (see :func:`provably_not_sent`).
    """
    permit = await limiter.acquire(phone)
    try:
        yield permit
    except BaseException as error:
        if provably_not_sent(error):
            with anyio.CancelScope(shield=True):
                await limiter.release(permit)
        raise


@contextlib.contextmanager
def limited_blocking(limiter: NumberLimiter, phone: str) -> Iterator[NumberPermit]:
    """:func:`limited` for blocking code (a blocking client), with an in-process limiter.

    One :class:`~crowdsms.limits.NumberLimiter` may be shared by every thread.
    """
    if not isinstance(limiter, NumberLimiter):
        raise InvalidInputError(
            f"limited_blocking takes a NumberLimiter, not {type(limiter).__name__}",
            field="limiter",
            action=(
                "Pass a crowdsms.limits.NumberLimiter; the shared Redis limiter runs on "
                "asyncio: use `async with limited(...)` there"
            ),
        )
    permit = limiter.acquire_nowait(phone)
    try:
        yield permit
    except BaseException as error:
        if provably_not_sent(error):
            limiter.release_nowait(permit)
        raise
