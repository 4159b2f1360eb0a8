"""The sandbox's fast number check agrees with crowdsms.phones on the wire form."""

from __future__ import annotations

import random

from crowdsms.errors import InvalidInputError
from crowdsms.phones import normalize_mainland_mobile
from crowdsms.sandbox._text import valid_number


def strict_verdict(number: str) -> str | None:
    """What a strict provider accepts: the library's number, if it is spelled as sent."""
    try:
        normalized = normalize_mainland_mobile(number)
    except InvalidInputError:
        return None
    return normalized if normalized == number else None


def test_fast_check_matches_the_library_on_random_numbers():
    rng = random.Random(20240601)
    numbers = [f"1{rng.randint(0, 9_999_999_999):010d}" for _ in range(3000)]
    numbers += ["17400000000", "17405999999", "17406000000", "16100000000", "16200000000"]
    disagreements = [n for n in numbers if valid_number(n, strict=True) != strict_verdict(n)]
    assert disagreements == []
    assert {valid_number(number, strict=True) is None for number in numbers} == {True, False}


def test_strict_refuses_other_spellings_and_lenient_normalizes_them():
    assert valid_number("+86 138 0013 8000", strict=True) is None
    assert valid_number("+86 138 0013 8000", strict=False) == "13800138000"
    assert valid_number("12345", strict=False) is None
    assert valid_number(13800138000, strict=False) is None
