"""Before sending: validate and normalize each recipient, and drop repeated numbers.

Each recipient is validated by the chunk sender's ``validate``, except the ones its promise
covers (``valid_as_given_with_vars``, see :class:`Screener`), which are their own validated
form and are checked here.

A refused recipient becomes a ``skipped`` outcome (code ``"invalid"`` or ``"duplicate"``),
never a failed request. The first occurrence of a number is the one sent.

Remembering every number seen is the one part of a job whose memory grows with the job. It
is kept compact: an 11-digit number (every mainland mobile number) is stored as the 32-bit
integer of its last 8 digits, in sorted arrays, beside the 32-bit position of its first
occurrence, in a bucket chosen by its first 3 digits and the rest (about 4,300 buckets for
mainland numbers). That is about 9.5 bytes per distinct number (9.5 MB for a million random
mainland numbers, measured with tracemalloc; the earlier 64-bit form took 17.6 MB, a Python
``set`` of the same strings about 90 MB, and a ``dict`` to the first position about
120 MB). Inserting costs a binary search and a ``memmove`` of one bucket (a few KB even at
ten million numbers).
"""

from __future__ import annotations

import bisect
import inspect
from array import array
from collections.abc import Callable, Collection

from crowdsms.batch._report import BatchOutcome
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import (
    ChunkSender,
    OutcomeStatus,
    PreSkipped,
    Recipient,
    RecipientOutcome,
)
from crowdsms.phones import is_known_mobile

__all__ = [
    "SKIPPED_DUPLICATE",
    "SKIPPED_INVALID",
    "SKIPPED_OPTED_OUT",
    "Screener",
    "SeenPhones",
    "input_phone_of",
]

SKIPPED_INVALID = "invalid"
"""The ``code`` of a recipient refused by validation."""
SKIPPED_DUPLICATE = "duplicate"
"""The ``code`` of a recipient whose number came earlier in the input."""
SKIPPED_OPTED_OUT = "opted_out"
"""The ``code`` of a recipient whose number is on the suppression list (it replied "stop")."""

_PROMISE = "valid_as_given_with_vars"
"""The chunk sender's promise about its ``validate`` (see :class:`Screener`)."""
_SUB_BUCKETS = 61
"""Buckets per 3-digit prefix: about 4,300 in all for mainland numbers (70 prefixes)."""
_MAX_POSITION = 2**32 - 1
_LOW = 10**8
"""An 11-digit number is ``prefix * _LOW + low``: its first 3 digits and its last 8."""


class SeenPhones:
    """The numbers seen so far, each with the position where it first appeared.

    An 11-digit number (every mainland mobile number) is split into its 3-digit prefix and
    the 8 digits after it, which fit in 32 bits: it is stored as that 32-bit remainder
    beside its 32-bit first position, in sorted arrays, in a bucket chosen by the prefix and
    the remainder. 8 bytes a number plus the arrays' slack. Other numbers (and positions
    past 2**32) go to a dict.
    """

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[array[int], array[int]]] = {}
        self._other: dict[str, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_position(self, phone: str, position: int, digits_checked: bool = False) -> int | None:
        """Record ``phone`` at ``position`` unless seen; return the earlier position if seen.

        ``digits_checked`` says the caller knows ``phone`` is 11 ASCII digits, so that check
        is skipped.
        """
        if not digits_checked and (len(phone) != 11 or not (phone.isdigit() and phone.isascii())):
            return self._other_position(phone, position)
        prefix, low = divmod(int(phone), _LOW)  # the first 3 digits, the last 8
        bucket_key = prefix * _SUB_BUCKETS + low % _SUB_BUCKETS
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            bucket = self._buckets[bucket_key] = (array("I"), array("I"))
        keys, positions = bucket
        if not keys or keys[-1] < low:  # after every number of its bucket (sorted input)
            index = len(keys)
        else:
            index = bisect.bisect_left(keys, low)
            if keys[index] == low:
                return positions[index]
        if position > _MAX_POSITION:
            return self._other_position(phone, position)
        if self._other:
            earlier = self._other.get(phone)
            if earlier is not None:
                return earlier
        keys.insert(index, low)
        positions.insert(index, position)
        self._count += 1
        return None

    def _other_position(self, phone: str, position: int) -> int | None:
        earlier = self._other.setdefault(phone, position)
        if earlier != position:
            return earlier
        self._count += 1
        return None


def _skipped(position: int, input_phone: str, code: str, message: str) -> BatchOutcome:
    return BatchOutcome(
        position,
        input_phone,
        RecipientOutcome(
            phone=input_phone, status=OutcomeStatus.SKIPPED, code=code, message=message
        ),
    )


def input_phone_of(item: object) -> str:
    """The number of an input item, as given, for reports."""
    if isinstance(item, Recipient):
        return item.phone if isinstance(item.phone, str) else repr(item.phone)[:40]
    if isinstance(item, str):
        return item
    if isinstance(item, PreSkipped):
        return item.phone
    return ""


class Screener:
    """Turns each input item into a recipient to send or a ``skipped`` outcome.

    ``valid_as_given_with_vars`` is the chunk sender's promise of that name (see
    :class:`~crowdsms.outcomes.ChunkSender`): a recipient with a wire-form number of a known
    prefix and every one of those variables is its own validated form, so ``validate`` is
    not called for it. ``None`` makes no promise: every recipient is validated.
    """

    def __init__(
        self,
        validate: Callable[..., Recipient],
        valid_as_given_with_vars: Collection[str] | None = None,
    ) -> None:
        if isinstance(valid_as_given_with_vars, str):
            raise TypeError(
                f"{_PROMISE} must be a set of variable names, not the string "
                f"{valid_as_given_with_vars!r:.40}: write frozenset({{'name'}}), not 'name'"
            )
        self._validate = validate
        self._valid_as_given_with = (
            None if valid_as_given_with_vars is None else frozenset(valid_as_given_with_vars)
        )
        self.seen = SeenPhones()
        self.suppressed: Collection[str] = frozenset()
        """Numbers skipped as ``opted_out`` (the suppression list)."""
        self.last_error: InvalidInputError | None = None
        """The error of the last recipient found invalid (a preview groups them by it)."""

    @classmethod
    def for_chunk_sender(cls, chunk_sender: ChunkSender) -> Screener:
        """A screener with ``chunk_sender``'s ``validate`` and its promise, if it makes one.

        Only a promise the chunk sender holds itself counts (a class attribute, a property
        or an instance attribute): one a wrapper forwards from the sender it wraps through
        ``__getattr__`` is about that sender's ``validate``, not the wrapper's.
        """
        promise = None
        if inspect.getattr_static(chunk_sender, _PROMISE, None) is not None:
            promise = getattr(chunk_sender, _PROMISE)
        return cls(chunk_sender.validate, promise)

    def screen(self, item: object, position: int, input_phone: str) -> Recipient | BatchOutcome:
        """The normalized recipient at ``position``, or why it is skipped.

        ``input_phone`` is :func:`input_phone_of` the item. Only :class:`InvalidInputError`
        from the chunk sender's ``validate`` makes a recipient ``invalid``; any other
        exception is a bug and propagates.
        """
        required = self._valid_as_given_with
        if (
            required is not None
            and type(item) is Recipient
            and is_known_mobile(item.phone)
            and item.vars.keys() >= required
        ):
            # The chunk sender promised validate would return the item itself: the usual
            # recipient of a large job costs a few checks here instead of validate's call.
            recipient = item
            earlier = self.seen.first_position(item.phone, position, True)
        else:
            if not isinstance(item, Recipient):
                if isinstance(item, str):
                    item = Recipient(item)
                elif isinstance(item, PreSkipped):
                    return _skipped(position, input_phone, item.code, item.message)
                else:
                    return _skipped(
                        position,
                        input_phone,
                        SKIPPED_INVALID,
                        f"recipients[{position}]: expected a Recipient or a phone string, got "
                        f"{type(item).__name__}. Yield Recipient(phone, vars) objects",
                    )
            try:
                recipient = self._validate(item, position=position)
            except InvalidInputError as exc:
                self.last_error = exc
                return _skipped(position, input_phone, SKIPPED_INVALID, str(exc))
            earlier = self.seen.first_position(recipient.phone, position)
        if earlier is not None:
            return _skipped(
                position,
                input_phone,
                SKIPPED_DUPLICATE,
                f"recipients[{position}]: the number {recipient.phone} already appears at "
                f"position {earlier}; it is sent once, to the first",
            )
        if self.suppressed and recipient.phone in self.suppressed:
            return _skipped(
                position,
                input_phone,
                SKIPPED_OPTED_OUT,
                f"recipients[{position}]: {recipient.phone} replied to opt out of messages; "
                "it is not sent. For a message the recipient expects regardless (a "
                "verification code), send with honour_opt_outs=False",
            )
        return recipient
