"""NumberLimits: the default rule, general windows, the command line's text, bad input."""

from __future__ import annotations

import pytest

from crowdsms.errors import InvalidInputError
from crowdsms.limits import NumberLimits, Window


def test_the_default_is_the_common_rule() -> None:
    limits = NumberLimits()
    assert limits.windows == (Window(1, 60.0), Window(5, 3600.0), Window(10, 86400.0))
    assert limits.longest == 86400.0
    assert limits.describe() == "1 per minute, 5 per hour and 10 per day"
    assert str(limits) == "1/m,5/h,10/d"


def test_none_drops_a_window() -> None:
    assert NumberLimits(per_hour=None, per_day=None).windows == (Window(1, 60.0),)
    assert NumberLimits(per_minute=2, per_day=None).describe() == "2 per minute and 5 per hour"


def test_any_windows_sorted_by_length() -> None:
    limits = NumberLimits.of([(3, 600), Window(1, 30)])
    assert limits.windows == (Window(1, 30.0), Window(3, 600.0))
    assert limits.describe() == "1 per 30 seconds and 3 per 10 minutes"


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("1/m,5/h,10/d", [(1, 60), (5, 3600), (10, 86400)]),
        (" 2 / 30s , 3/10m ", [(2, 30), (3, 600)]),
        ("1/1.5S", [(1, 1.5)]),
        ("4/2d", [(4, 172800)]),
    ],
)
def test_parse(text: str, windows: list[tuple[int, float]]) -> None:
    assert NumberLimits.parse(text) == NumberLimits.of(windows)


def test_parse_round_trips_str() -> None:
    limits = NumberLimits.of([(1, 30), (3, 600), (7, 7200), (20, 172800)])
    assert NumberLimits.parse(str(limits)) == limits


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "a list such as 1/m,5/h,10/d"),
        ("1/x", "'1/x' is not COUNT/LENGTH"),
        ("1/m,", "'' is not COUNT/LENGTH"),
        ("m/1", "'m/1' is not COUNT/LENGTH"),
        ("0/m", "at least 1"),
        ("1/m,2/60s", "two windows of 1 minute contradict each other"),
        ("1/400d", "at most"),
    ],
)
def test_parse_refuses_bad_text_clearly(text: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match="per_number") as caught:
        NumberLimits.parse(text)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: NumberLimits(per_minute=0), "per_minute: a window's count"),
        (lambda: NumberLimits(per_hour=1.5), "per_hour: a window's count"),  # type: ignore[arg-type]
        (lambda: NumberLimits(per_day=True), "per_day: a window's count"),  # type: ignore[arg-type]
        (lambda: NumberLimits(None, None, None), "at least one window"),
        (lambda: NumberLimits.of([]), "at least one window"),
        (lambda: NumberLimits.of([(1, 0)]), "above 0"),
        (lambda: NumberLimits.of([(1, float("inf"))]), "above 0"),
        (lambda: NumberLimits.of([(1, "60")]), "above 0"),  # type: ignore[list-item]
        (lambda: NumberLimits.of([1]), "(count, seconds) pair"),  # type: ignore[list-item]
        (lambda: NumberLimits.of("1/m"), "not text"),  # type: ignore[arg-type]
    ],
)
def test_bad_windows_get_a_clear_error(build: object, says: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build()  # type: ignore[operator]
    assert says in str(caught.value)
