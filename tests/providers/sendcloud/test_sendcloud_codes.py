"""The code table and error_for_code."""

from __future__ import annotations

import pytest

from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    DeliveryCertainty,
    ProviderError,
    SignatureError,
)
from crowdsms.providers.sendcloud import CODES, error_for_code, explain

DOCUMENTED = ["200", "311", "312", "401", "411", "412", "413", "421", "422", "461"]
DOCUMENTED += ["496", "498", "499", "501"]


@pytest.mark.parametrize("code", DOCUMENTED)
def test_documented_codes_have_english_explanations(code: str) -> None:
    explanation = CODES[code].explanation
    assert explanation
    assert explanation.isascii()
    assert explain(int(code)) == explanation


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (421, SignatureError),
        (422, SignatureError),
        (461, ClockSkewError),
        (471, AuthenticationError),
        (412, ProviderError),
        (499, ProviderError),
    ],
)
def test_error_classes(code: int, error_class: type[ProviderError]) -> None:
    error = error_for_code(code=code, message="消息", operation="sendcloud.sms.send")
    assert type(error) is error_class
    assert error.code == str(code)
    assert error.provider == "sendcloud"
    assert error.provider_message == "消息"
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert str(error).startswith("sendcloud.sms.send: sendcloud refused the request with code")


def test_server_error_is_ambiguous_and_retryable() -> None:
    error = error_for_code(code="501", message="服务器异常", operation="op")
    assert error.certainty is DeliveryCertainty.UNKNOWN
    assert error.retryable is True


def test_certainty_can_be_given() -> None:
    error = error_for_code(
        code=501, message="", operation="op", certainty=DeliveryCertainty.NOT_SENT
    )
    assert error.certainty is DeliveryCertainty.NOT_SENT


def test_unknown_code() -> None:
    error = error_for_code(code=9999, message="未知", operation="op")
    assert type(error) is ProviderError
    assert error.code == "9999"
    assert "not know" in str(error)
    assert "9999" in explain(9999)
