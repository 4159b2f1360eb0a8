"""``error_for_code``: a provider's code becomes the right typed error with English advice."""

from __future__ import annotations

import pytest

from crowdsms._codes import CodeInfo, CodeKind, error_for_code
from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    DeliveryCertainty,
    ProviderError,
    SignatureError,
)

TABLE = {
    "101": CodeInfo(CodeKind.AUTHENTICATION, "the app id does not exist"),
    "102": CodeInfo(CodeKind.SIGNATURE, "the signature does not match"),
    "103": CodeInfo(CodeKind.CLOCK, "the timestamp is outside the allowed window"),
    "201": CodeInfo(CodeKind.INPUT, "a required parameter is missing"),
    "301": CodeInfo(CodeKind.RECIPIENT, "the number is on the blacklist"),
    "401": CodeInfo(CodeKind.CONTENT, "the template was not approved"),
    "501": CodeInfo(CodeKind.RATE_LIMIT, "too many messages to this number", retryable=True),
    "601": CodeInfo(CodeKind.BALANCE, "the balance is too low"),
    "901": CodeInfo(CodeKind.SERVER, "internal error", retryable=True),
}


def _error(code: str, **kwargs: object) -> ProviderError:
    return error_for_code(
        provider="submail",
        code=code,
        message="参数错误",
        table=TABLE,
        operation="sms.multisend",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("code", "error_class", "advice"),
    [
        ("101", AuthenticationError, "Check the credentials"),
        ("102", SignatureError, "Check the key and the sign type"),
        ("103", ClockSkewError, "Check the machine's clock"),
        ("201", ProviderError, "Fix the request's parameters"),
        ("301", ProviderError, "Fix or remove this recipient"),
        ("401", ProviderError, "Fix the message content"),
        ("501", ProviderError, "Send more slowly"),
        ("601", ProviderError, "Top up the account"),
        ("901", ProviderError, "The provider had a problem"),
    ],
)
def test_the_kind_decides_the_class_and_the_advice(
    code: str, error_class: type[ProviderError], advice: str
) -> None:
    error = _error(code)
    assert type(error) is error_class
    assert error.provider == "submail"
    assert error.code == code
    assert error.provider_message == "参数错误"
    assert error.explanation == TABLE[code].explanation
    assert error.retryable is TABLE[code].retryable
    assert error.operation == "sms.multisend"
    message = str(error)
    assert f"submail refused the request with code {code}" in message  # what
    assert TABLE[code].explanation in message
    assert "Received: '参数错误'" in message  # what was received
    assert advice in message  # what to do


def test_an_unknown_code_is_a_plain_provider_error_that_says_so() -> None:
    error = _error("99999")
    assert type(error) is ProviderError
    assert error.code == "99999"
    assert error.retryable is False
    assert "a code crowdsms does not know" in str(error)
    assert "See the provider's documentation" in str(error)


def test_certainty_defaults_to_not_sent_and_can_be_given() -> None:
    assert _error("201").certainty is DeliveryCertainty.NOT_SENT
    assert _error("901", certainty=DeliveryCertainty.UNKNOWN).certainty is (
        DeliveryCertainty.UNKNOWN
    )


def test_every_kind_has_advice() -> None:
    for kind in CodeKind:
        error = error_for_code(
            provider="p",
            code="c",
            message="m",
            table={"c": CodeInfo(kind, "x")},
            operation="op",
        )
        assert error.action, kind
