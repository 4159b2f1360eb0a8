"""What every per-number limiter offers: permits, refusals, and giving a permit back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from crowdsms.errors import InvalidInputError
from crowdsms.limits._errors import NumberLimitedError, mask_phone
from crowdsms.limits._windows import NumberLimits
from crowdsms.phones import normalize_mainland_mobile

__all__ = [
    "MAX_KEY_LENGTH",
    "NumberAdmission",
    "NumberLimiting",
    "NumberPermit",
    "check_key",
    "distinct_numbers",
]

MAX_KEY_LENGTH = 200
"""The longest ``key`` a limiter takes (it is stored with each send it names)."""


@attrs.frozen(repr=False)
class NumberPermit:
    """One message to ``phone`` (normalized), recorded by a limiter at ``at``.

    ``at`` is in seconds of the limiter's clock (the Redis server's for the shared limiter);
    ``token`` tells this send apart from the number's others (it is the ``key`` the send
    was acquired with, if any). Give it back with ``release`` when the message was provably
    not sent.
    """

    phone: str
    at: float
    token: str = ""

    def __repr__(self) -> str:
        return f"NumberPermit(phone={mask_phone(self.phone)!r}, at={self.at:.6f})"


@attrs.frozen
class NumberAdmission:
    """What ``acquire_many`` decided for each number (normalized), in the order given.

    ``allowed`` maps each number that may get its message to its permit, ``refused`` each
    other number to the :class:`NumberLimitedError` saying which window refused and when to
    try again. Every number is in exactly one of them.
    """

    allowed: Mapping[str, NumberPermit]
    refused: Mapping[str, NumberLimitedError]


@runtime_checkable
class NumberLimiting(Protocol):
    """A per-number limiter: :class:`~crowdsms.limits.NumberLimiter` (one process) or
    :class:`~crowdsms.limits.RedisNumberLimiter` (every process sharing a Redis).

    A refused attempt records nothing, so it never uses up a number's quota. Numbers are
    normalized (``+86 138-0013-8000`` is ``13800138000``); a number that is not a mainland
    mobile raises :class:`~crowdsms.errors.InvalidInputError`.
    """

    @property
    def limits(self) -> NumberLimits:
        """The windows every number's messages must fit in."""
        ...

    async def acquire(self, phone: str, *, key: str | None = None) -> NumberPermit:
        """Record one message to ``phone``, or raise :class:`NumberLimitedError`."""
        ...

    async def acquire_many(
        self, phones: Iterable[str], *, key: str | None = None
    ) -> NumberAdmission:
        """Decide for each of ``phones`` (distinct numbers), each atomically.

        ``key`` names these sends (e.g. one chunk of a job): a number that already has a
        send recorded under the same key gets that send's permit again, instead of being
        counted twice, so asking again for the same sends (a retry, a resumed job, a second
        worker racing for the same chunk) is harmless. Without a key every call counts.
        """
        ...

    async def release(self, permit: NumberPermit) -> None:
        """Forget ``permit``'s message: it was provably not sent."""
        ...

    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        """:meth:`release` each of ``permits``."""
        ...


def distinct_numbers(phones: Iterable[str]) -> list[str]:
    """``phones`` normalized; :class:`InvalidInputError` for a bad or repeated number."""
    if isinstance(phones, (str, bytes)):
        raise InvalidInputError(
            "acquire_many takes a list of numbers, not one text",
            field="phones",
            received=repr(phones)[:40],
            action="Pass e.g. ['13800138000', '13900139000'], or call acquire(phone)",
        )
    numbers: list[str] = []
    seen: set[str] = set()
    for position, phone in enumerate(phones):
        number = normalize_mainland_mobile(phone, field="phones", position=position)
        if number in seen:
            raise InvalidInputError(
                f"{mask_phone(number)} appears twice; each number is decided once per call",
                field="phones",
                position=position,
                action="Pass each number once (acquire it again in a second call to send twice)",
            )
        seen.add(number)
        numbers.append(number)
    return numbers


def check_key(key: object) -> None:
    """A clear :class:`InvalidInputError` unless ``key`` is ``None`` or a short text."""
    if key is None:
        return
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"a key is a non-empty text of at most {MAX_KEY_LENGTH} characters",
            field="key",
            received=repr(key)[:60],
            action="Pass e.g. key='order-42', or None",
        )
