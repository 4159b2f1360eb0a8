"""Every error says what went wrong, what was received and what to do."""

from __future__ import annotations

import copy
import pickle

import pytest

from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    ConfigurationError,
    ConnectionFailedError,
    CrowdSMSError,
    DeadlineExceededError,
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
    RateLimitedError,
    RequestError,
    RequestTimeoutError,
    ResponseParseError,
    SignatureError,
    excerpt,
)

NOT_SENT = DeliveryCertainty.NOT_SENT
UNKNOWN = DeliveryCertainty.UNKNOWN
WHAT, RECEIVED, ACTION = "the thing went wrong", "HTTP 503, body 'busy'", "Do this instead"


def _provider(cls: type[ProviderError]) -> ProviderError:
    return cls(
        provider="submail",
        code="105",
        provider_message="签名错误",
        explanation="the signature does not match",
        operation="sms.send",
        action=ACTION,
    )


EXAMPLES: list[tuple[CrowdSMSError, str, str, str]] = [
    (CrowdSMSError(WHAT, received=RECEIVED, action=ACTION), WHAT, RECEIVED, ACTION),
    (ConfigurationError(WHAT, received=RECEIVED, action=ACTION), WHAT, RECEIVED, ACTION),
    (
        InvalidInputError(
            WHAT, field="recipients[2].phone", position=2, received="'x'", action=ACTION
        ),
        "recipients[2].phone: " + WHAT,
        "'x'",
        ACTION,
    ),
    *[
        (
            cls(WHAT, certainty=NOT_SENT, operation="op", received=RECEIVED),
            "op: " + WHAT,
            RECEIVED,
            "safe to send it again",
        )
        for cls in (
            RequestError,
            ConnectionFailedError,
            RequestTimeoutError,
            DeadlineExceededError,
            ResponseParseError,
        )
    ],
    *[
        (
            cls(WHAT, certainty=UNKNOWN, operation="op", received=RECEIVED),
            "op: " + WHAT,
            RECEIVED,
            "check its delivery reports before sending again",
        )
        for cls in (
            RequestError,
            ConnectionFailedError,
            RequestTimeoutError,
            DeadlineExceededError,
            ResponseParseError,
        )
    ],
    (
        HTTPStatusError(
            WHAT, status_code=502, certainty=UNKNOWN, operation="op", received=RECEIVED
        ),
        "op: " + WHAT,
        RECEIVED,
        "may have acted",
    ),
    (
        RateLimitedError(WHAT, status_code=429, retry_after=3.0, operation="op", received=RECEIVED),
        "op: " + WHAT,
        RECEIVED,
        "Send more slowly",
    ),
    *[
        (
            _provider(cls),
            "sms.send: submail refused the request with code 105: the signature does not match",
            "'签名错误'",
            ACTION,
        )
        for cls in (ProviderError, AuthenticationError, SignatureError, ClockSkewError)
    ],
]


@pytest.mark.parametrize(
    ("error", "what", "received", "action"),
    EXAMPLES,
    ids=[f"{type(e[0]).__name__}-{i}" for i, e in enumerate(EXAMPLES)],
)
def test_message_says_what_received_and_action(
    error: CrowdSMSError, what: str, received: str, action: str
) -> None:
    message = str(error)
    assert message.startswith(what + ".")
    assert f"Received: {received}." in message
    assert action in message
    assert message.index(what) < message.index("Received:") < message.index(action)
    assert isinstance(error, CrowdSMSError)


def test_every_request_error_has_a_certainty_and_attempts() -> None:
    for error, *_ in EXAMPLES:
        if isinstance(error, RequestError):
            assert error.certainty in (NOT_SENT, UNKNOWN)
            assert error.attempts == 1


def test_rate_limited_is_not_sent_and_keeps_retry_after() -> None:
    error = RateLimitedError("slow down", status_code=429, retry_after=2.5)
    assert error.certainty is NOT_SENT
    assert error.retry_after == 2.5
    assert error.status_code == 429


def test_value_errors_for_bad_arguments() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidInputError, ValueError)


def test_no_doubled_full_stops() -> None:
    error = CrowdSMSError("it broke.", received="x", action="Fix it.")
    assert str(error) == "it broke. Received: x. Fix it."


@pytest.mark.parametrize(("error", "what", "received", "action"), EXAMPLES[:12])
def test_errors_survive_pickling_and_copying(
    error: CrowdSMSError, what: str, received: str, action: str
) -> None:
    # Batch jobs hand errors across process pools; copy.copy uses the same protocol.
    error.attempts = 4  # type: ignore[attr-defined]
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):  # noqa: S301
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert clone.__dict__ == error.__dict__


def test_provider_errors_survive_pickling() -> None:
    error = _provider(SignatureError)
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(clone) is SignatureError
    assert (clone.code, clone.provider_message, clone.certainty) == ("105", "签名错误", NOT_SENT)
    assert str(clone) == str(error)


# --- excerpt ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "<nothing>"),
        (b"", "<empty body>"),
        ("", "<empty body>"),
        (b"ok", "'ok'"),
        (b"  two\n\t lines  \r\n", "'two lines'"),
        ("成功".encode(), "'成功'"),
        (b"bad \xff byte", "'bad \ufffd byte'"),
    ],
)
def test_excerpt(data: bytes | str | None, expected: str) -> None:
    assert excerpt(data) == expected


def test_excerpt_cuts_long_bodies_and_says_how_long() -> None:
    text = excerpt(b"a" * 1000, limit=10)
    assert text == "'aaaaaaaaaa' ... (1000 bytes in all)"
