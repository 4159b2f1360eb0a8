"""The fast path for wire-form numbers gives libphonenumber's verdict, only faster.

``normalize_phone`` accepts an 11-digit number at once when a number with the same
five-digit prefix was accepted before. That rests on libphonenumber's mainland data judging
such numbers by their first five digits; the first test checks that premise over every
prefix, so a new libphonenumber release that breaks it fails here.
"""

from __future__ import annotations

import random

import pytest

from crowdsms import phones as _phones
from crowdsms.errors import InvalidInputError
from crowdsms.phones import is_known_mobile, normalize_mainland_mobile
from crowdsms.phones import normalize_mainland_mobile as normalize_phone


def library_verdict(number: str) -> str | None:
    try:
        return normalize_mainland_mobile(number)
    except InvalidInputError:
        return None


@pytest.fixture(autouse=True)
def forget_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phones, "_accepted_prefixes", set())


def test_the_library_judges_wire_numbers_by_their_first_five_digits() -> None:
    rng = random.Random(20240501)
    disagreements = []
    for prefix in range(13000, 20000):
        suffixes = ["000000", "999999", f"{rng.randrange(10**6):06d}"]
        verdicts = {library_verdict(f"{prefix}{suffix}") is not None for suffix in suffixes}
        if len(verdicts) != 1:
            disagreements.append(prefix)
    assert disagreements == []


def test_a_number_with_an_accepted_prefix_is_accepted_without_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not is_known_mobile("13800138000")
    assert normalize_phone("13800138000", field="to") == "13800138000"
    assert is_known_mobile("13800999999")

    def fail(*args: object, **kwargs: object) -> str:
        raise AssertionError("the library was asked again")

    monkeypatch.setattr(_phones, "_problem", fail)
    assert normalize_phone("13800999999", field="to") == "13800999999"


@pytest.mark.parametrize(
    "number",
    [
        "1380013800",  # 10 digits
        "138001380000",  # 12 digits
        "1380013800a",
        "13800１38000",  # a full-width digit
        " 13800138000",
        "+8613800138000",
        "138 0013 8000",
    ],
)
def test_other_spellings_of_a_known_prefix_go_through_the_library(number: str) -> None:
    normalize_phone("13800138000", field="to")
    assert not is_known_mobile(number)
    expected = library_verdict(number)
    if expected is None:
        with pytest.raises(InvalidInputError) as error:
            normalize_phone(number, field="recipients[2].phone", position=2)
        with pytest.raises(InvalidInputError) as reference:
            normalize_mainland_mobile(number, field="recipients[2].phone", position=2)
        assert str(error.value) == str(reference.value)
    else:
        assert normalize_phone(number, field="to") == expected


def test_invalid_prefixes_are_never_remembered() -> None:
    for _ in range(2):
        with pytest.raises(InvalidInputError) as error:
            normalize_phone("17406000000", field="to")
        assert "not a valid mainland China phone number" in str(error.value)
    assert not is_known_mobile("17406000000")


def test_only_accepted_wire_numbers_teach_a_prefix() -> None:
    assert normalize_phone("+86 138 0013 8000", field="to") == "13800138000"
    assert not is_known_mobile("13800138000")
