"""``parse_retry_after``: every form a server may send, and what it must not trust."""

from __future__ import annotations

import datetime

import httpx
import pytest

from crowdsms._transport import parse_retry_after

NOW = 1_700_000_000.0


def _imf_date(seconds_from_now: float) -> str:
    """An IMF-fixdate written by hand (RFC 9110), independent of the code under test."""
    when = datetime.datetime.fromtimestamp(NOW + seconds_from_now, tz=datetime.timezone.utc)
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _asctime_date(seconds_from_now: float) -> str:
    """The obsolete asctime form (no zone; HTTP dates are always GMT)."""
    when = datetime.datetime.fromtimestamp(NOW + seconds_from_now, tz=datetime.timezone.utc)
    return when.strftime("%a %b ") + f"{when.day:>2}" + when.strftime(" %H:%M:%S %Y")


CASES = [
    pytest.param({"retry-after": "7"}, 7.0, id="whole-seconds"),
    pytest.param({"retry-after": " 5 "}, 5.0, id="seconds-with-spaces"),
    pytest.param({"retry-after": "1.5"}, 1.5, id="fractional-seconds"),
    pytest.param({"retry-after": "0"}, 0.0, id="zero"),
    pytest.param({"retry-after": "-3"}, 0.0, id="negative-is-zero"),
    pytest.param({"retry-after": _imf_date(30)}, 30.0, id="http-date-future"),
    pytest.param({"retry-after": _imf_date(-30)}, 0.0, id="http-date-past"),
    pytest.param({"retry-after": _asctime_date(12)}, 12.0, id="http-date-asctime-is-gmt"),
    pytest.param({"retry-after-ms": "250", "retry-after": "7"}, 0.25, id="ms-wins"),
    pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms-alone"),
    pytest.param({"retry-after-ms": "-20"}, 0.0, id="ms-negative-is-zero"),
    pytest.param({"retry-after-ms": "soon", "retry-after": "7"}, 7.0, id="bad-ms-falls-back"),
    pytest.param({"retry-after-ms": "nan", "retry-after": "2"}, 2.0, id="nan-ms-falls-back"),
    pytest.param({"retry-after": "soon"}, None, id="garbage"),
    pytest.param({"retry-after": ""}, None, id="empty"),
    pytest.param({"retry-after": "inf"}, None, id="inf"),
    pytest.param({"retry-after": "-inf"}, None, id="minus-inf"),
    pytest.param({"retry-after": "nan"}, None, id="nan"),
    pytest.param({"retry-after": "1e400"}, None, id="overflows-to-inf"),
    pytest.param({"retry-after-ms": "inf"}, None, id="ms-inf-alone"),
    pytest.param({}, None, id="missing"),
    pytest.param({"content-type": "text/plain"}, None, id="other-headers-only"),
]


@pytest.mark.parametrize(("headers", "expected"), CASES)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    result = parse_retry_after(httpx.Headers(headers), now=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Retry-After": "9"}, id="title-case"),
        pytest.param({"RETRY-AFTER": "9"}, id="upper-case"),
        pytest.param({"Retry-After-Ms": "9000"}, id="ms-title-case"),
    ],
)
def test_header_names_are_case_insensitive_in_any_mapping(headers: dict[str, str]) -> None:
    # Header names are case-insensitive (RFC 9110), also when given as a plain dict.
    assert parse_retry_after(headers, now=NOW) == 9.0
