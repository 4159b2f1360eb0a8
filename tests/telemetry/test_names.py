"""What errors become in attributes: a type and a safe code, never a message."""

from __future__ import annotations

import pytest

from crowdsms.errors import (
    AuthenticationError,
    DeliveryCertainty,
    HTTPStatusError,
    RateLimitedError,
    RequestTimeoutError,
)
from crowdsms.telemetry._names import OTHER_CODE, error_type, provider_code, safe_code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("108", "108"),
        ("40125", "40125"),
        ("token_expired", "token_expired"),
        ("E.12:3-x", "E.12:3-x"),
        (151, "151"),
        (None, None),
        ("13800138000", OTHER_CODE),  # a number where a code should be
        ("err1380013", OTHER_CODE),  # seven digits in a row
        ("bad number 138", OTHER_CODE),
        ("x" * 33, OTHER_CODE),
        ("", OTHER_CODE),
        ("签名错误", OTHER_CODE),
    ],
)
def test_safe_code(code: object, expected: str | None) -> None:
    assert safe_code(code) == expected


def test_error_type_is_the_status_or_the_class() -> None:
    status = HTTPStatusError(
        "failed 13800138000", status_code=502, certainty=DeliveryCertainty.UNKNOWN
    )
    assert error_type(status) == "502"
    assert error_type(RateLimitedError("slow", status_code=429, retry_after=None)) == "429"
    timeout = RequestTimeoutError("read 13800138000", certainty=DeliveryCertainty.UNKNOWN)
    assert error_type(timeout) == "crowdsms.errors.RequestTimeoutError"
    assert error_type(ValueError("13800138000")) == "builtins.ValueError"


def test_provider_code_only_for_refusals() -> None:
    refused = AuthenticationError(
        provider="demo",
        code="13800138000",
        provider_message="13800138000",
        explanation="x",
    )
    assert provider_code(refused) == OTHER_CODE
    assert provider_code(ValueError("108")) is None
