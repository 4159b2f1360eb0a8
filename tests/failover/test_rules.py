"""The failover rules against every registered provider's code table and the error types."""

from __future__ import annotations

import pytest

from crowdsms._codes import CodeKind, error_for_code
from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    ConfigurationError,
    DeadlineExceededError,
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseParseError,
)
from crowdsms.failover import (
    PROVIDER_SIDE,
    error_fails_over,
    error_opens_circuit,
    refusal_fails_over,
    refusal_opens_circuit,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome, outcomes_for_error
from crowdsms.providers import _registry

NOT_SENT = DeliveryCertainty.NOT_SENT
UNKNOWN = DeliveryCertainty.UNKNOWN
TABLES = [
    (spec.name, code, info) for spec in _registry.providers() for code, info in spec.codes.items()
]


def failed(code: str, *, retryable: bool = False) -> RecipientOutcome:
    return RecipientOutcome(
        phone="13800138000", status=OutcomeStatus.FAILED, code=code, retryable=retryable
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RequestTimeoutError("connect timed out", certainty=NOT_SENT), True),
        (RequestTimeoutError("read timed out", certainty=UNKNOWN), False),
        (DeadlineExceededError("out of time", certainty=NOT_SENT), True),
        (HTTPStatusError("503", status_code=503, certainty=NOT_SENT), True),
        (HTTPStatusError("500", status_code=500, certainty=UNKNOWN), False),
        (RateLimitedError("429", status_code=429, retry_after=1.0), True),
        (ResponseParseError("not JSON", certainty=UNKNOWN), False),
        (InvalidInputError("bad", field="to"), False),
        (ConfigurationError("no key"), False),
    ],
)
def test_transport_failures_go_on_only_when_provably_not_sent(error, expected: bool) -> None:
    assert error_fails_over(error) is expected
    assert not error_opens_circuit(error)


@pytest.mark.parametrize(("provider", "code", "info"), TABLES)
def test_a_request_refused_with_a_known_code_goes_on_only_for_the_providers_side(
    provider: str, code: str, info
) -> None:
    spec = _registry.get(provider)
    error = error_for_code(
        provider=provider, code=code, message="...", table=spec.codes, operation="send"
    )
    about_the_provider = info.stops_a_job or info.kind is CodeKind.CLOCK
    assert error_fails_over(error) is about_the_provider
    assert error_opens_circuit(error) is info.stops_a_job
    if info.kind in (CodeKind.RECIPIENT, CodeKind.RATE_LIMIT):
        assert not error_fails_over(error)


@pytest.mark.parametrize(("provider", "code", "info"), TABLES)
def test_a_recipient_refused_with_a_known_code_goes_on_only_for_the_providers_side(
    provider: str, code: str, info
) -> None:
    codes = _registry.get(provider).codes
    expected = info.kind in PROVIDER_SIDE and info.job_wide is not False
    assert refusal_fails_over(failed(code), codes) is expected
    assert refusal_opens_circuit(failed(code), codes) is (
        info.kind in (CodeKind.AUTHENTICATION, CodeKind.SIGNATURE, CodeKind.BALANCE)
    )
    if info.kind in (CodeKind.RECIPIENT, CodeKind.RATE_LIMIT, CodeKind.INPUT):
        assert not refusal_fails_over(failed(code), codes)


def test_the_known_cases_come_out_as_documented() -> None:
    wanted = {CodeKind.RECIPIENT, CodeKind.BALANCE, CodeKind.CONTENT}
    rich = [
        spec
        for spec in _registry.providers()
        if wanted <= {info.kind for info in spec.codes.values()}
    ]
    assert rich, "no provider's table has blocklist, balance and content codes"
    first = rich[0]
    for code, info in first.codes.items():
        if info.kind is CodeKind.RECIPIENT:
            assert not refusal_fails_over(failed(code), first.codes), code
        if info.kind is CodeKind.BALANCE:
            assert refusal_fails_over(failed(code), first.codes), code
        if info.kind is CodeKind.CONTENT and info.job_wide is False:
            assert not refusal_fails_over(failed(code), first.codes), code


def test_unknown_codes_and_other_statuses_stay() -> None:
    assert not refusal_fails_over(failed("no-such-code"), {})
    sent = RecipientOutcome(phone="1", status=OutcomeStatus.SENT, code="x")
    assert not refusal_fails_over(sent, {})
    assert not refusal_opens_circuit(failed("no-such-code"), {})


def test_outcomes_of_a_not_sent_transport_failure_go_on_and_of_an_unknown_one_do_not() -> None:
    recipient = [Recipient("13800138000")]
    (not_sent,) = outcomes_for_error(
        recipient, HTTPStatusError("503", status_code=503, certainty=NOT_SENT)
    )
    (unknown,) = outcomes_for_error(
        recipient, HTTPStatusError("500", status_code=500, certainty=UNKNOWN)
    )
    assert refusal_fails_over(not_sent, {})
    assert not refusal_fails_over(unknown, {})
    assert not refusal_fails_over(failed("HTTPStatusError", retryable=False), {})


def test_credentials_and_clock_refusals_go_on() -> None:
    auth = AuthenticationError(provider="p", code="1", provider_message="", explanation="")
    clock = ClockSkewError(provider="p", code="2", provider_message="", explanation="")
    assert error_fails_over(auth)
    assert error_opens_circuit(auth)
    assert error_fails_over(clock)
    assert not error_opens_circuit(clock)
    maybe = AuthenticationError(
        provider="p", code="1", provider_message="", explanation="", certainty=UNKNOWN
    )
    assert not error_fails_over(maybe)
    assert not error_opens_circuit(maybe)
