"""``Recipient`` and ``outcomes_for_error``: one outcome per recipient for a failed request."""

from __future__ import annotations

import pytest

from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    InvalidInputError,
    ProviderError,
    RequestTimeoutError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome, outcomes_for_error

RECIPIENTS = [
    Recipient("13800138000", {"code": "1234"}),
    Recipient("13900139000"),
    Recipient("15012345678", {"name": "王"}),
]


def test_an_unknown_failure_makes_every_recipient_unknown() -> None:
    error = RequestTimeoutError(
        "the provider took too long to answer",
        certainty=DeliveryCertainty.UNKNOWN,
        operation="sms.multisend",
    )
    outcomes = outcomes_for_error(RECIPIENTS, error)
    assert [o.phone for o in outcomes] == [r.phone for r in RECIPIENTS]
    assert {o.status for o in outcomes} == {OutcomeStatus.UNKNOWN}
    assert all(o.code == "RequestTimeoutError" for o in outcomes)
    assert all(o.retryable is False for o in outcomes)
    assert all(o.message == str(error) for o in outcomes)
    assert all(o.message_id is None and o.fee is None for o in outcomes)


def test_a_not_sent_failure_makes_every_recipient_failed_and_retryable() -> None:
    error = ConnectionFailedError(
        "could not connect", certainty=DeliveryCertainty.NOT_SENT, operation="sms.multisend"
    )
    outcomes = outcomes_for_error(RECIPIENTS, error)
    assert {o.status for o in outcomes} == {OutcomeStatus.FAILED}
    assert all(o.retryable for o in outcomes)
    assert len(outcomes) == 3


@pytest.mark.parametrize(
    ("certainty", "status"),
    [
        (DeliveryCertainty.NOT_SENT, OutcomeStatus.FAILED),
        (DeliveryCertainty.UNKNOWN, OutcomeStatus.UNKNOWN),
    ],
)
def test_a_provider_error_keeps_its_code_and_retryable(
    certainty: DeliveryCertainty, status: OutcomeStatus
) -> None:
    error = ProviderError(
        provider="submail",
        code="106",
        provider_message="余额不足",
        explanation="the balance is too low",
        certainty=certainty,
        retryable=True,
    )
    outcomes = outcomes_for_error(RECIPIENTS[:2], error)
    assert outcomes == [
        RecipientOutcome(
            phone=recipient.phone,
            status=status,
            code="106",
            message=str(error),
            retryable=True,
        )
        for recipient in RECIPIENTS[:2]
    ]


def test_an_error_without_certainty_is_failed_and_not_retryable() -> None:
    error = InvalidInputError("too many recipients", field="recipients")
    outcomes = outcomes_for_error(RECIPIENTS, error)
    assert {o.status for o in outcomes} == {OutcomeStatus.FAILED}
    assert {o.code for o in outcomes} == {"InvalidInputError"}
    assert not any(o.retryable for o in outcomes)


def test_no_recipients_no_outcomes() -> None:
    error = ConnectionFailedError("x", certainty=DeliveryCertainty.NOT_SENT)
    assert outcomes_for_error([], error) == []


def test_recipient_vars_become_strings() -> None:
    recipient = Recipient("13800138000", {"count": 3, "price": 1.5})
    assert recipient.vars == {"count": "3", "price": "1.5"}
    assert Recipient("13800138000").vars == {}


def test_outcome_status_values_are_the_report_words() -> None:
    assert [s.value for s in OutcomeStatus] == ["sent", "failed", "unknown", "skipped"]
    assert OutcomeStatus("unknown") is OutcomeStatus.UNKNOWN
