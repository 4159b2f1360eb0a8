"""``RecipientOutcome.provider`` survives every place outcomes are stored."""

from __future__ import annotations

from crowdsms.batch._journal import decode_outcomes, encode_outcomes
from crowdsms.outcomes import Delivery, DeliveryState, OutcomeStatus, RecipientOutcome


def test_the_provider_defaults_to_none() -> None:
    assert RecipientOutcome(phone="13800138000", status=OutcomeStatus.SENT).provider is None


def test_the_batch_journal_keeps_the_provider() -> None:
    outcomes = [
        RecipientOutcome(
            phone="13800138000",
            status=OutcomeStatus.SENT,
            message_id="m1",
            provider="backup",
            delivery=Delivery(state=DeliveryState.DELIVERED),
        ),
        RecipientOutcome(
            phone="13800138001", status=OutcomeStatus.UNKNOWN, code="X", provider="primary"
        ),
        RecipientOutcome(phone="13800138002", status=OutcomeStatus.FAILED, code="Y"),
    ]
    text = encode_outcomes(outcomes)
    assert decode_outcomes(text) == outcomes
    assert '"provider": "backup"' in text
    assert text.count('"provider"') == 2  # left out where it is None, as before


def test_journal_rows_written_before_the_field_existed_still_read() -> None:
    (outcome,) = decode_outcomes('[{"phone": "13800138000", "status": "sent"}]')
    assert outcome.provider is None
