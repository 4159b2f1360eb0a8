"""``count_segments``: 70 characters are one segment, longer messages are billed per 67."""

from __future__ import annotations

import pytest

from crowdsms.errors import InvalidInputError
from crowdsms.segments import count_segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 1), (1, 1), (69, 1), (70, 1), (71, 2), (133, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_the_boundaries(length: int, segments: int) -> None:
    assert count_segments("字" * length) == segments


def test_the_signature_and_its_brackets_count() -> None:
    body = "您" * 66
    assert count_segments(body) == 1
    assert len("【小店】" + body) == 70
    assert count_segments("【小店】" + body) == 1
    assert count_segments("【小店】" + body + "。") == 2


def test_an_emoji_is_one_character_as_the_providers_count() -> None:
    emoji = "\U0001f600"  # outside the BMP: two UTF-16 units, four UTF-8 bytes, one character
    assert len(emoji.encode("utf-16-le")) == 4
    assert count_segments(emoji * 70) == 1
    assert count_segments(emoji * 71) == 2
    assert count_segments("a" * 69 + emoji) == 1  # not counted as two


def test_a_lone_surrogate_is_one_character() -> None:
    assert count_segments("\ud83d" * 70) == 1
    assert count_segments("\ud83d" * 71) == 2


def test_other_lengths_can_be_given() -> None:
    assert count_segments("a" * 160, single=160, multi=153) == 1
    assert count_segments("a" * 161, single=160, multi=153) == 2
    assert count_segments("a" * 307, single=160, multi=153) == 3


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"single": 0}, "single"),
        ({"multi": -1}, "multi"),
        ({"single": 70.0}, "single"),
        ({"multi": True}, "multi"),
        ({"single": 60, "multi": 67}, "multi"),
    ],
)
def test_bad_lengths_are_refused_by_name(arguments: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        count_segments("text", **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "Pass" in str(caught.value)


def test_text_must_be_a_string() -> None:
    with pytest.raises(InvalidInputError, match="must be the message text as a str, not bytes"):
        count_segments(b"abc")  # type: ignore[arg-type]
