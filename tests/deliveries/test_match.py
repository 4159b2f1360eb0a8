"""Matching reports to a job's recipients, without I/O."""

from __future__ import annotations

from datetime import datetime, timezone

import attrs

from crowdsms.deliveries import (
    CLOCK_MARGIN,
    DeliveryState,
    DeliverySummary,
    InboundReply,
    Matcher,
    ProviderReport,
    ReportKind,
    chunk_reference,
    record_of,
)
from crowdsms.outcomes import Delivery, OutcomeStatus, RecipientOutcome
from crowdsms.webhooks import DeliveryEvent, DeliveryOutcome, MessageEvent, ReplyEvent

JOB = "job-1"
SENT_AT = 1_000_000.0


def sent(phone: str, message_id: str | None = None) -> RecipientOutcome:
    return RecipientOutcome(phone=phone, status=OutcomeStatus.SENT, message_id=message_id)


def unknown(phone: str) -> RecipientOutcome:
    return RecipientOutcome(
        phone=phone, status=OutcomeStatus.UNKNOWN, code="RequestTimeoutError", retryable=False
    )


def report(
    kind: ReportKind,
    phone: str | None,
    *,
    message_id: str | None = None,
    reference: str | None = None,
    code: str | None = None,
    at: float = SENT_AT + 10,
) -> ProviderReport:
    return ProviderReport(
        provider="p",
        kind=kind,
        phone=phone,
        message_id=message_id,
        reference=reference,
        code=code,
        occurred_at=at,
        received_at=at,
    )


def test_an_unknown_recipient_with_a_report_of_its_chunk_becomes_sent_and_confirmed() -> None:
    reference = chunk_reference(JOB, 4)
    matcher = Matcher.of(
        JOB, [report(ReportKind.ACCEPTED, "13800000001", message_id="m1", reference=reference)]
    )
    [outcome, other] = matcher.apply(4, SENT_AT, [unknown("13800000001"), unknown("13800000002")])
    assert outcome.status is OutcomeStatus.SENT
    assert outcome.confirmed
    assert outcome.message_id == "m1"
    assert outcome.code is None
    assert outcome.delivery == Delivery(state=DeliveryState.AWAITING)
    assert other == unknown("13800000002")


def test_a_report_of_another_chunk_or_job_confirms_nothing() -> None:
    matcher = Matcher.of(
        JOB,
        [
            report(ReportKind.DELIVERED, "13800000001", reference=chunk_reference(JOB, 5)),
            report(ReportKind.DELIVERED, "13800000001", reference=chunk_reference("job-2", 4)),
        ],
    )
    [outcome] = matcher.apply(4, SENT_AT, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.UNKNOWN


def test_sent_recipients_get_their_delivery_state_by_message_id() -> None:
    matcher = Matcher.of(
        JOB,
        [
            report(ReportKind.DELIVERED, "13800000001", message_id="a"),
            report(ReportKind.UNDELIVERED, "13800000002", message_id="b", code="UNDELIV"),
            report(ReportKind.ACCEPTED, "13800000003", message_id="c"),
            # a per-request id: the phone tells the recipients apart
            report(ReportKind.DELIVERED, "13800000004", message_id="batch"),
            report(ReportKind.UNDELIVERED, "13800000005", message_id="batch", code="4"),
        ],
    )
    outcomes = matcher.apply(
        0,
        SENT_AT,
        [
            sent("13800000001", "a"),
            sent("13800000002", "b"),
            sent("13800000003", "c"),
            sent("13800000004", "batch"),
            sent("13800000005", "batch"),
            sent("13800000006", "f"),
        ],
    )
    states = [(o.delivery.state, o.delivery.code) for o in outcomes if o.delivery]
    assert states == [
        (DeliveryState.DELIVERED, None),
        (DeliveryState.UNDELIVERED, "UNDELIV"),
        (DeliveryState.AWAITING, None),
        (DeliveryState.DELIVERED, None),
        (DeliveryState.UNDELIVERED, "4"),
        (DeliveryState.AWAITING, None),
    ]
    assert not any(o.confirmed for o in outcomes)


def test_delivered_wins_over_an_earlier_failure_and_the_latest_failure_gives_the_code() -> None:
    matcher = Matcher.of(
        JOB,
        [
            report(ReportKind.UNDELIVERED, "13800000001", message_id="a", code="X", at=SENT_AT + 1),
            report(ReportKind.DELIVERED, "13800000001", message_id="a", at=SENT_AT + 2),
            report(
                ReportKind.UNDELIVERED, "13800000002", message_id="b", code="OLD", at=SENT_AT + 1
            ),
            report(
                ReportKind.UNDELIVERED, "13800000002", message_id="b", code="NEW", at=SENT_AT + 3
            ),
        ],
    )
    first, second = matcher.apply(0, SENT_AT, [sent("13800000001", "a"), sent("13800000002", "b")])
    assert first.delivery is not None
    assert first.delivery.state is DeliveryState.DELIVERED
    assert second.delivery == Delivery(state=DeliveryState.UNDELIVERED, code="NEW", at=SENT_AT + 3)


def test_an_unknown_recipient_is_matched_by_number_only_after_its_chunk_was_sent() -> None:
    early = report(ReportKind.DELIVERED, "13800000001", at=SENT_AT - CLOCK_MARGIN - 1)
    matcher = Matcher.of(JOB, [early])
    [outcome] = matcher.apply(0, SENT_AT, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.UNKNOWN  # an older send's report
    matcher.add([report(ReportKind.DELIVERED, "13800000001", at=SENT_AT + 30)])
    [outcome] = matcher.apply(0, SENT_AT, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.SENT
    assert outcome.confirmed
    assert outcome.delivery is not None
    assert outcome.delivery.state is DeliveryState.DELIVERED


def test_a_report_of_an_event_before_the_chunk_was_sent_confirms_nothing() -> None:
    # A report pushed late (the provider retried its push) about an earlier message to the
    # number: it arrives after the chunk was sent, but the provider dates the event before.
    late_push = attrs.evolve(
        report(ReportKind.DELIVERED, "13800000001", at=SENT_AT + 60),
        occurred_at=SENT_AT - 86_400,
    )
    [outcome] = Matcher.of(JOB, [late_push]).apply(0, SENT_AT, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.UNKNOWN
    undated = attrs.evolve(late_push, occurred_at=None)
    [outcome] = Matcher.of(JOB, [undated]).apply(0, SENT_AT, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.SENT


def test_after_a_resend_a_dated_report_of_the_first_send_still_confirms() -> None:
    # The first send's answer was lost, then its resend's (an hour later, which moved the
    # chunk's send time); the first send's report comes last, dated before the resend.
    first_sent, resent = SENT_AT, SENT_AT + 3600
    late = attrs.evolve(
        report(ReportKind.DELIVERED, "13800000001", at=resent + 60), occurred_at=first_sent + 20
    )
    matcher = Matcher.of(JOB, [late], started=first_sent - 60)
    [outcome] = matcher.apply(0, resent, [unknown("13800000001")], resent=True)
    assert outcome.status is OutcomeStatus.SENT
    assert outcome.confirmed
    before_the_job = attrs.evolve(late, occurred_at=first_sent - 86_400)
    matcher = Matcher.of(JOB, [before_the_job], started=first_sent - 60)
    [outcome] = matcher.apply(0, resent, [unknown("13800000001")], resent=True)
    assert outcome.status is OutcomeStatus.UNKNOWN


def test_a_chunk_never_resent_is_confirmed_only_by_events_after_its_send() -> None:
    # Another message to the number, dated after the job began but before this chunk was
    # sent (a long job), proves nothing about this chunk.
    job_began, sent_at = SENT_AT - 7200, SENT_AT
    earlier = attrs.evolve(
        report(ReportKind.DELIVERED, "13800000001", at=sent_at + 60), occurred_at=sent_at - 600
    )
    matcher = Matcher.of(JOB, [earlier], started=job_began)
    [outcome] = matcher.apply(0, sent_at, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.UNKNOWN


def test_a_report_of_another_provider_confirms_nothing_for_an_outcome_naming_one() -> None:
    phone = "13800000001"
    lost_at_q = attrs.evolve(unknown(phone), provider="q")  # a failover route's outcome
    [outcome] = Matcher.of(JOB, [report(ReportKind.DELIVERED, phone)]).apply(
        0, SENT_AT, [lost_at_q]
    )
    assert outcome.status is OutcomeStatus.UNKNOWN
    lost_at_p = attrs.evolve(unknown(phone), provider="p")
    [outcome] = Matcher.of(JOB, [report(ReportKind.DELIVERED, phone)]).apply(
        0, SENT_AT, [lost_at_p]
    )
    assert outcome.status is OutcomeStatus.SENT


def test_without_a_send_time_an_unknown_recipient_is_matched_only_by_reference() -> None:
    matcher = Matcher.of(JOB, [report(ReportKind.DELIVERED, "13800000001")])
    [outcome] = matcher.apply(0, None, [unknown("13800000001")])
    assert outcome.status is OutcomeStatus.UNKNOWN


def test_failed_and_skipped_recipients_are_left_alone_and_matched_keys_are_kept() -> None:
    failed = RecipientOutcome(phone="13800000001", status=OutcomeStatus.FAILED, code="114")
    accepted = report(ReportKind.ACCEPTED, "13800000002", message_id="b")
    matcher = Matcher.of(JOB, [report(ReportKind.DELIVERED, "13800000001"), accepted])
    assert matcher.apply(0, SENT_AT, [failed, sent("13800000002", "b")])[0] is failed
    assert matcher.matched == {accepted.key}


def test_the_summary_counts_outcomes_and_delivery_states() -> None:
    outcomes = Matcher.of(
        JOB,
        [
            report(ReportKind.DELIVERED, "13800000001", message_id="a"),
            report(ReportKind.UNDELIVERED, "13800000002", message_id="b", code="UNDELIV"),
            report(ReportKind.ACCEPTED, "13800000003", reference=chunk_reference(JOB, 0)),
        ],
    ).apply(
        0,
        SENT_AT,
        [
            sent("13800000001", "a"),
            sent("13800000002", "b"),
            unknown("13800000003"),
            unknown("13800000004"),
            RecipientOutcome(phone="13800000005", status=OutcomeStatus.FAILED),
        ],
    )
    summary = DeliverySummary.count(JOB, outcomes, in_flight=2)
    assert (summary.recipients, summary.sent, summary.confirmed) == (7, 3, 1)
    assert (summary.unknown, summary.failed, summary.in_flight) == (1, 1, 2)
    assert (summary.delivered, summary.undelivered, summary.awaiting) == (1, 1, 1)
    assert summary.undelivered_codes == {"UNDELIV": 1}
    assert "3 sent (1 confirmed by reports)" in str(summary)


def test_webhook_events_become_records() -> None:
    when = datetime(2026, 12, 2, tzinfo=timezone.utc)
    delivered = record_of(
        DeliveryEvent(
            provider="p",
            kind="delivered",
            message_id="m",
            phone="+86 138-0000-0001",
            occurred_at=when,
            outcome=DeliveryOutcome.DELIVERED,
        ),
        received_at=5.0,
    )
    assert delivered == ProviderReport(
        provider="p",
        kind=ReportKind.DELIVERED,
        phone="13800000001",
        message_id="m",
        occurred_at=when.timestamp(),
        received_at=5.0,
    )
    accepted = record_of(MessageEvent(provider="p", kind="request", phone="13800000001"))
    assert isinstance(accepted, ProviderReport)
    assert accepted.kind is ReportKind.ACCEPTED
    reply = record_of(ReplyEvent(provider="p", kind="mo", phone="13800000001", content="TD"))
    assert isinstance(reply, InboundReply)
    assert reply.content == "TD"
    assert record_of(ReplyEvent(provider="p", kind="mo", phone=None, content="TD")) is None


def test_the_same_report_received_twice_has_one_key() -> None:
    first = report(ReportKind.DELIVERED, "13800000001", message_id="a")
    again = report(ReportKind.DELIVERED, "13800000001", message_id="a")
    other = report(ReportKind.UNDELIVERED, "13800000001", message_id="a")
    assert first.key == again.key != other.key
