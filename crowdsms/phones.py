"""Phone numbers: accept what people type, send what the providers expect.

Every provider here wants a mainland China mobile number as 11 digits (``1[3-9]`` and nine
more), with no ``+86``, spaces or dashes. Users type ``+86 138-0013-8000``, ``0086
13800138000`` or ``138 0013 8000``; :func:`normalize_mainland_mobile` accepts all of them and
checks the number against libphonenumber's data rather than a hand-written pattern, so
unassigned prefixes are refused too. International numbers are a separate product at these
providers and are refused with a clear error.

Judging a number with libphonenumber's data costs about 40 us, more than the rest of a
multisend request costs per recipient. Large jobs give numbers in the wire form already
(11 ASCII digits ``1[3-9]...``), and for that form libphonenumber's verdict depends on the
first five digits only: its mainland mobile pattern is ``1(?:610\\d|740[0-5])\\d{6}|
1(?:[38]\\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\\d{8}``, and no other pattern of its CN
data (landlines, toll-free, shared-cost numbers) matches 11 digits starting with ``1[3-9]``
(the tests check that premise against the installed libphonenumber for every prefix). So
the first number accepted with a given five-digit prefix goes through the library, and later
wire-form numbers with the same prefix are accepted at once. Only acceptance is remembered
(at most 70,000 prefixes): every other number takes the library's path and gets its error
message.

A recipient's number is checked with :func:`normalize_recipient_phone`, which names it
``recipients[<position>].phone`` in an error; for a wire-form number with a known prefix it
costs that one check (about 0.3 us, against 0.6 us when the error's field name is written
out before the check).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Final

import phonenumbers

from crowdsms.errors import InvalidInputError

__all__ = [
    "is_known_mobile",
    "normalize_distinct",
    "normalize_mainland_mobile",
    "normalize_recipient_phone",
]

_WIRE: Final = re.compile(r"1[3-9][0-9]{9}")
_PREFIX: Final = 5
_accepted_prefixes: set[str] = set()

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def normalize_mainland_mobile(
    raw: object, *, field: str = "phone", position: int | None = None
) -> str:
    """Return ``raw`` as the 11-digit mainland mobile number, or raise :class:`InvalidInputError`.

    ``field`` and ``position`` name the input in the error (``recipients[7].phone``).
    """
    if is_known_mobile(raw):
        assert isinstance(raw, str)
        return raw
    if not isinstance(raw, str):
        raise InvalidInputError(
            f"a phone number must be a string, not {type(raw).__name__}",
            field=field,
            position=position,
            received=repr(raw)[:40],
            action="Pass numbers as strings, e.g. '13800138000' (ints lose leading zeros)",
        )
    problem = _problem(raw.strip())
    if problem is None:
        phone = _normalized(raw.strip())
        if phone == raw and _WIRE.fullmatch(phone) is not None:
            _accepted_prefixes.add(phone[:_PREFIX])
        return phone
    raise InvalidInputError(
        problem,
        field=field,
        position=position,
        received=repr(raw[:40]),
        action=(
            "Give a mainland China mobile number, e.g. 13800138000 or +86 138 0013 8000; "
            "remove it from the list if it is not one"
        ),
    )


def normalize_recipient_phone(raw: object, position: int) -> str:
    """The number of the recipient at ``position``: :func:`normalize_mainland_mobile` with
    ``field="recipients[<position>].phone"``, the same value or the same error.

    A wire-form number with a known prefix (:func:`is_known_mobile`) is returned at once,
    before any error text is prepared: the one path most recipients of a job take.
    """
    if is_known_mobile(raw):
        assert isinstance(raw, str)
        return raw
    return normalize_mainland_mobile(raw, field=f"recipients[{position}].phone", position=position)


def normalize_distinct(
    phones: Iterable[object], *, field: Callable[[int], str], twice: str
) -> list[str]:
    """Each number of one request as its 11 digits, in order, each number once.

    ``field(position)`` names an item in errors (``phones[3]``). A number given twice (once
    normalized) is refused naming both items, with ``twice`` saying why it matters to the
    provider (e.g. "the gateway would send it twice").
    """
    normalized: list[str] = []
    first: dict[str, int] = {}
    for position, raw in enumerate(phones):
        phone = normalize_mainland_mobile(raw, field=field(position), position=position)
        earlier = first.setdefault(phone, position)
        if earlier != position:
            raise InvalidInputError(
                f"is the same number as {field(earlier)} ({phone} once normalized): {twice}",
                field=field(position),
                position=position,
                received=repr(str(raw)[:40]),
                action="Give each number once",
            )
        normalized.append(phone)
    return normalized


def is_known_mobile(raw: object) -> bool:
    """Whether ``raw`` is an 11-digit wire-form number with a prefix already accepted."""
    # An accepted prefix is five ASCII digits "1[3-9]...", so the rest must be ASCII digits.
    return (
        type(raw) is str
        and len(raw) == 11
        and raw[:_PREFIX] in _accepted_prefixes
        and raw.isascii()
        and raw.isdigit()
    )


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None


def _digits(text: str) -> str:
    """Every decimal digit in ``text`` (full-width ones too), as ASCII."""
    return "".join(str(unicodedata.decimal(char)) for char in text if char.isdecimal())


def _problem(text: str) -> str | None:
    if not text:
        return "the phone number is empty"
    number = _parse(text)
    if number is None:
        return "this is not a phone number"
    if number.country_code != 86:
        return (
            f"international numbers (+{number.country_code}) are not supported; "
            "only mainland China mobile numbers are"
        )
    if not phonenumbers.is_valid_number(number):
        return "this is not a valid mainland China phone number"
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return "this is a landline, not a mobile number; SMS needs a mobile number"
    # Every digit typed must be part of the number: libphonenumber reads letters as keypad
    # digits ("138OO138OOO" -> 13866138666, a stranger's number) and drops what follows
    # ';' or an extension marker (a second number, an extension).
    national = str(number.national_number)
    if _digits(text) not in {
        national,
        f"0{national}",
        f"86{national}",
        f"860{national}",
        f"0086{national}",
    }:
        return (
            "this is not exactly one phone number (letters are not read as digits, and a "
            "second number or an extension is not allowed)"
        )
    return None


def _normalized(text: str) -> str:
    number = _parse(text)
    assert number is not None  # _problem() returned None
    return str(number.national_number)
