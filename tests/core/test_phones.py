"""``normalize_mainland_mobile``: what people type in, what providers get."""

from __future__ import annotations

import pytest

from crowdsms.errors import InvalidInputError
from crowdsms.phones import normalize_mainland_mobile


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138-0013-8000",
        "+8613800138000",
        "008613800138000",
        "0086 138 0013 8000",
        "138 0013 8000",
        "  13800138000  ",
        "13800138000\n",
        "138.0013.8000",
        "+86 (138) 0013 8000",
        "＋86 138－0013－8000",  # full-width plus and dashes
        "1３800138000",  # a full-width digit
    ],
)
def test_common_ways_of_typing_a_mobile_number(raw: str) -> None:
    assert normalize_mainland_mobile(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["19912345678", "16612345678", "15012345678"])
def test_other_mobile_prefixes_are_accepted(raw: str) -> None:
    assert normalize_mainland_mobile(raw) == raw


def _refused(raw: object, **kwargs: object) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        normalize_mainland_mobile(raw, **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("12000138000", "not a valid mainland China", id="unassigned-prefix"),
        pytest.param("1380013800", "not a valid mainland China", id="too-short"),
        pytest.param("138001380000", "not a valid mainland China", id="too-long"),
        pytest.param("010 6552 9988", "landline", id="beijing-landline"),
        pytest.param("+86 21 6321 0000", "landline", id="shanghai-landline-with-country-code"),
        pytest.param("+1 650 253 0000", "international numbers (+1)", id="united-states"),
        pytest.param("+852 6123 4567", "international numbers (+852)", id="hong-kong"),
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param("---", "not a phone number", id="punctuation-only"),
    ],
)
def test_numbers_that_cannot_get_an_sms_are_refused(raw: str, reason: str) -> None:
    error = _refused(raw)
    assert reason in str(error)
    assert error.field == "phone"


@pytest.mark.parametrize(
    "raw",
    [
        # libphonenumber would read letters as keypad digits: a stranger's number.
        pytest.param("138OO138OOO", id="letter-o-for-zero"),
        pytest.param("138-0013-FLOW", id="vanity-letters"),
        # ... and would drop what follows ';' or an extension marker.
        pytest.param("13800138000;13900139000", id="two-numbers"),
        pytest.param("+86 138 0013 8000 x12", id="extension"),
        pytest.param("13800138000 ext. 5", id="extension-word"),
    ],
)
def test_digits_are_never_invented_or_dropped(raw: str) -> None:
    error = _refused(raw)
    assert "not exactly one phone number" in str(error)


@pytest.mark.parametrize(
    "raw",
    [
        "\ufeff13800138000",  # a byte order mark from a CSV file
        "13800138000\u200b",  # a zero-width space from pasted text
        "'13800138000",  # a spreadsheet's text marker
        '"13800138000"',
        "138\u00a00013\u00a08000",  # no-break spaces
        "tel:+86-138-0013-8000",
        "手机：13800138000",
        "+86 (0) 138 0013 8000",
        "013800138000",
    ],
)
def test_harmless_decoration_around_the_digits_is_accepted(raw: str) -> None:
    assert normalize_mainland_mobile(raw) == "13800138000"


def test_the_error_names_field_and_position_and_says_what_to_do() -> None:
    error = _refused("12000138000", field="recipients[3].phone", position=3)
    assert error.field == "recipients[3].phone"
    assert error.position == 3
    message = str(error)
    assert message.startswith("recipients[3].phone: ")
    assert "Received: '12000138000'" in message  # what was received
    assert "e.g. 13800138000" in message  # what to do


@pytest.mark.parametrize("raw", [13800138000, None, 1.38e10, b"13800138000", ["13800138000"]])
def test_a_non_string_is_refused_with_field_and_position(raw: object) -> None:
    error = _refused(raw, field="recipients[7].phone", position=7)
    assert error.field == "recipients[7].phone"
    assert error.position == 7
    message = str(error)
    assert message.startswith("recipients[7].phone: a phone number must be a string")
    assert type(raw).__name__ in message
    assert "Pass numbers as strings" in message


def test_a_long_input_is_cut_short_in_the_message() -> None:
    error = _refused("1" * 500)
    assert "1" * 41 not in str(error)


def test_normalize_distinct_names_both_items_of_a_number_given_twice() -> None:
    from crowdsms.phones import normalize_distinct

    field = "phones[{}]".format
    assert normalize_distinct(["+86 138 0013 8000", "13900139000"], field=field, twice="x") == [
        "13800138000",
        "13900139000",
    ]
    with pytest.raises(InvalidInputError) as caught:
        normalize_distinct(["13800138000", "138-0013-8000"], field=field, twice="sent twice")
    message = str(caught.value)
    assert "phones[1]" in message
    assert "phones[0]" in message
    assert "sent twice" in message
