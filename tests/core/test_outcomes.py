"""``Recipient`` and ``outcomes_for_error``: one outcome per recipient for a failed request;
``CheckedRecipients``, the batch sender's mark of validated chunks."""

from __future__ import annotations

import copy
import pickle

import attrs
import pytest

from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    InvalidInputError,
    ProviderError,
    RequestTimeoutError,
)
from crowdsms.outcomes import (
    CheckedRecipients,
    OutcomeStatus,
    Recipient,
    RecipientOutcome,
    is_checked_by,
    outcomes_for_error,
)

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


def test_checked_recipients_are_an_immutable_tuple_naming_their_checker() -> None:
    sender = object()
    given = [Recipient("13800138000"), Recipient("13800138001")]
    checked = CheckedRecipients(given, checked_by=sender)
    assert checked == tuple(given)
    assert checked.checked_by is sender
    assert is_checked_by(checked, sender)
    assert not is_checked_by(checked, object())
    assert not is_checked_by(given, sender)
    assert not is_checked_by(tuple(given), sender)
    with pytest.raises(AttributeError):
        checked.checked_by = object()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        checked._checked_by = object()  # type: ignore[misc]
    assert "checked_by=<object>" in repr(checked)


def test_the_mark_does_not_survive_a_slice_a_copy_or_a_pickle() -> None:
    sender = object()
    checked = CheckedRecipients([Recipient("13800138000")], checked_by=sender)
    for other in (
        checked[:],
        (*checked,),
        copy.copy(checked),
        pickle.loads(pickle.dumps(checked)),  # noqa: S301 (our own bytes)
    ):
        assert type(other) is tuple
        assert other == checked


@pytest.mark.parametrize(
    ("phone", "message_id", "fee"),
    [("13800138000", "id-1", 1), ("13800138001", None, None), ("13800138002", "x", 0.5)],
)
def test_a_sent_outcome_is_the_outcome_the_constructor_makes(
    phone: str, message_id: str | None, fee: float | None
) -> None:
    made = RecipientOutcome(phone=phone, status=OutcomeStatus.SENT, message_id=message_id, fee=fee)
    sent = RecipientOutcome.sent(phone, message_id, fee)
    assert type(sent) is RecipientOutcome
    assert sent == made
    assert hash(sent) == hash(made)
    assert repr(sent) == repr(made)
    assert attrs.asdict(sent) == attrs.asdict(made)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sent.phone = "13900139000"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del sent.fee  # type: ignore[misc]
    for other in (
        copy.copy(sent),
        pickle.loads(pickle.dumps(sent)),  # noqa: S301 (our own bytes)
        attrs.evolve(sent),
    ):
        assert type(other) is RecipientOutcome
        assert other == sent


def test_a_subclass_gets_its_own_fields_in_a_sent_outcome() -> None:
    @attrs.frozen(kw_only=True)
    class Tagged(RecipientOutcome):
        tag: str = "t"

    sent = Tagged.sent("13800138000", "id-1")
    assert sent == Tagged(phone="13800138000", status=OutcomeStatus.SENT, message_id="id-1")
    assert sent.tag == "t"
