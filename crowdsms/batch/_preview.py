"""What a preview (dry run) found: :class:`Preview` and its :class:`LongMessage` entries.

A preview is made by :meth:`crowdsms.batch.BatchSender.preview`, which reads the whole input
and screens and chunks it as the job would, without sending anything (see
:mod:`crowdsms.batch._previewer`). Phone numbers in a preview are masked (``138****8000``):
it is meant to be printed and shared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import attrs

from crowdsms.errors import InvalidInputError

__all__ = ["BalanceUnit", "LongMessage", "Preview", "check_price", "mask_phone"]

BalanceUnit = Literal["segments", "CNY"]
"""What an account's balance counts: SMS segments, or money in CNY."""


def mask_phone(phone: str) -> str:
    """``phone`` with its middle digits hidden: ``13800138000`` -> ``138****8000``.

    Numbers of fewer than 8 characters are hidden entirely.
    """
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def check_price(value: object, field: str = "price_per_segment") -> Decimal | None:
    """A price per segment (CNY, >= 0) as a ``Decimal``; ``None`` stays ``None``."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, Decimal))
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInputError(
            "must be a price in CNY per SMS segment, a finite number >= 0",
            field=field,
            received=repr(value)[:40],
            action=f"Pass e.g. {field}=0.05 (your contract's price of one segment)",
        )
    return Decimal(str(value))


def _balance(value: object) -> Decimal:
    """A balance (a number, or its text as a provider gives it) as a finite ``Decimal``."""
    balance: Decimal | None = None
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        try:
            balance = Decimal(value.strip() if isinstance(value, str) else str(value))
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            balance = None
    if balance is None or not balance.is_finite():
        raise InvalidInputError(
            "must be the account's balance: a finite number (or its text, such as '12.5')",
            field="balance",
            received=repr(value)[:40],
            action="Pass the balance the provider reported (client.account.balance())",
        )
    return balance


@attrs.frozen(kw_only=True)
class LongMessage:
    """One of the longest messages of a preview."""

    position: int
    """Its recipient's index in the input (0 is the first)."""
    phone: str
    """The recipient's number, masked (``138****8000``)."""
    characters: int
    """Its length in characters, the signature included."""
    segments: int
    """The segments it is billed as."""
    text: str
    """The message, variables filled in."""


@attrs.frozen(kw_only=True)
class Preview:
    """What a job would do with its input: counts, segments, requests and estimated cost.

    Nothing was sent to make it. ``segments`` is ``None`` when the chunk sender cannot give
    the messages' text (``segments_note`` says why: a template kept at the provider, or
    tasks rather than messages); ``estimated_cost`` is ``None`` then, or without a price.
    """

    recipients: int
    """Items read from the input."""
    valid: int
    """Recipients the job would send to (after every skip)."""
    invalid: int
    """Recipients refused by validation (skipped as ``invalid``)."""
    invalid_reasons: Mapping[str, int]
    """Why they were refused (the field and the reason, e.g. ``recipients[].phone: ...``)
    -> how many; at most 20 reasons, the rest counted under ``other reasons``."""
    duplicates: int
    """Recipients whose number came earlier in the input."""
    opted_out: int
    """Recipients on the suppression list (they replied to stop messages)."""
    other_skipped: Mapping[str, int] = attrs.field(factory=dict)
    """Items skipped for other reasons, by code (e.g. a campaign's earlier shard)."""
    requests: int
    """Requests (chunks) the job would make, without retries."""
    chunk_size: int
    """Recipients per request."""
    segments: int | None
    """The SMS segments the job would be billed, or ``None`` if unknown."""
    histogram: Mapping[int, int]
    """Segments per message -> how many messages."""
    longest: tuple[LongMessage, ...]
    """The longest messages, longest first (the first one among equals)."""
    price_per_segment: Decimal | None
    """The price used for the estimate, in CNY per segment."""
    segments_note: str | None = None
    """Why ``segments`` is unknown or does not apply, and what to do; else ``None``."""

    @property
    def estimated_cost(self) -> Decimal | None:
        """``segments x price_per_segment``, in CNY; ``None`` if either is unknown."""
        if self.segments is None or self.price_per_segment is None:
            return None
        return self.price_per_segment * self.segments

    def shortfall(self, balance: Decimal | float | str, *, unit: BalanceUnit) -> Decimal | None:
        """How much ``balance`` lacks to pay for the job (``0`` when it is enough).

        ``unit`` is what the balance counts: ``"segments"`` or ``"CNY"``. ``None`` when the
        preview cannot tell (segments unknown, or no price for a balance in CNY).
        """
        if unit not in ("segments", "CNY"):
            raise InvalidInputError(
                "must be 'segments' or 'CNY'",
                field="unit",
                received=repr(unit)[:40],
                action="Pass the unit the provider's balance counts",
            )
        have = _balance(balance)
        if self.segments is None:
            return None
        need = Decimal(self.segments) if unit == "segments" else self.estimated_cost
        if need is None:
            return None
        return max(Decimal(0), need - have)

    def __str__(self) -> str:
        skipped = self.invalid + self.duplicates + self.opted_out + sum(self.other_skipped.values())
        parts = [
            f"{self.recipients:,} recipients: {self.valid:,} to send, {skipped:,} skipped "
            f"({self.invalid:,} invalid, {self.duplicates:,} duplicates, "
            f"{self.opted_out:,} opted out)",
            f"{self.requests:,} requests of up to {self.chunk_size}",
        ]
        if self.segments is None:
            parts.append(f"segments unknown: {self.segments_note}")
        else:
            histogram = ", ".join(
                f"{count:,} x {size}" for size, count in sorted(self.histogram.items())
            )
            parts.append(f"{self.segments:,} segments ({histogram or 'none'})")
            cost = self.estimated_cost
            if cost is not None:
                parts.append(f"estimated cost CNY {cost:,.2f} at {self.price_per_segment} each")
        return "; ".join(parts)
