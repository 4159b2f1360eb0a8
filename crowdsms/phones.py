"""Phone numbers: accept what people type, send what the providers expect.

Every provider here wants a mainland China mobile number as 11 digits (``1[3-9]`` and nine
more), with no ``+86``, spaces or dashes. Users type ``+86 138-0013-8000``, ``0086
13800138000`` or ``138 0013 8000``; :func:`normalize_mainland_mobile` accepts all of them and
checks the number against libphonenumber's data rather than a hand-written pattern, so
unassigned prefixes are refused too. International numbers are a separate product at these
providers and are refused with a clear error.
"""

from __future__ import annotations

import functools
import unicodedata

import phonenumbers

from crowdsms.errors import InvalidInputError

__all__ = ["normalize_mainland_mobile"]

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def normalize_mainland_mobile(
    raw: object, *, field: str = "phone", position: int | None = None
) -> str:
    """Return ``raw`` as the 11-digit mainland mobile number, or raise :class:`InvalidInputError`.

    ``field`` and ``position`` name the input in the error (``recipients[7].phone``).
    """
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
        return _normalized(raw.strip())
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
