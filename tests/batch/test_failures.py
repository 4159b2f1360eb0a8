"""20,000 recipients through a chunk sender failing in every way: one outcome each, in order."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import pytest

from crowdsms.batch import WRONG_OUTCOME_COUNT, BatchOutcome, send_batch
from crowdsms.errors import (
    ConnectionFailedError,
    CrowdSMSError,
    DeliveryCertainty,
    InvalidInputError,
    ProviderError,
    RateLimitedError,
    RequestTimeoutError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, phone_at, position_of, sent

TOTAL = 20_000
KINDS = (
    "ok",
    "not_sent_once",  # a NOT_SENT request error, then success when resent
    "not_sent_always",  # NOT_SENT on every attempt: failed, retryable
    "unknown",  # a read timeout after the body was sent: unknown
    "rate_limited_once",  # 429, then success
    "wrong_count",  # one outcome too few: the chunk was sent, so unknown
    "per_recipient",  # partial success: every third recipient refused
    "crash",  # not a CrowdSMSError: a bug in the chunk sender
    "provider_fatal",  # provider refuses the request, not retryable (no balance)
    "invalid_in_sender",  # send_chunk raises InvalidInputError before any request
)


def kind_of(first_phone: str) -> str:
    # Chunk boundaries move with the skipped recipients; the kind follows the chunk's first
    # recipient, so a resent chunk keeps its kind.
    return KINDS[(position_of(first_phone) * 7 + 3) % len(KINDS)]


def provider_error(*, retryable: bool, code: str) -> ProviderError:
    return ProviderError(
        provider="fake",
        code=code,
        provider_message="余额不足" if code == "903" else "稍后再试",
        explanation="test",
        operation="sms.multisend",
        retryable=retryable,
    )


class Script:
    """The failure plan, and a record of what the fake did for each call."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()  # by the chunk's first phone
        self.kinds: dict[str, str] = {}  # phone -> the kind of the chunk it was in
        self.transport_retries = 0

    async def __call__(
        self, call: Call, recipients: Sequence[Recipient]
    ) -> Sequence[RecipientOutcome]:
        first = call.phones[0]
        kind = kind_of(first)
        self.attempts[first] += 1
        attempt = self.attempts[first]
        for phone in call.phones:
            self.kinds[phone] = kind
        if kind == "not_sent_once" and attempt == 1:
            raise ConnectionFailedError(
                "connection refused", certainty=DeliveryCertainty.NOT_SENT, operation="send"
            )
        if kind == "not_sent_always":
            error = provider_error(retryable=True, code="500")
            error.attempts = 3  # the transport tried three times
            self.transport_retries += 2
            raise error
        if kind == "unknown":
            raise RequestTimeoutError(
                "read timeout", certainty=DeliveryCertainty.UNKNOWN, operation="send"
            )
        if kind == "rate_limited_once" and attempt == 1:
            raise RateLimitedError("slow down", status_code=429, retry_after=1.5)
        if kind == "wrong_count":
            return [sent(recipient) for recipient in recipients[:-1]]
        if kind == "crash":
            raise KeyError("a bug in the chunk sender")
        if kind == "provider_fatal":
            raise provider_error(retryable=False, code="903")
        if kind == "invalid_in_sender":
            raise InvalidInputError("a var is too long", field="recipients[0].vars")
        if kind == "per_recipient":
            return [
                RecipientOutcome(
                    phone=recipient.phone,
                    status=OutcomeStatus.FAILED,
                    code="251",
                    message="bad number",
                )
                if position_of(recipient.phone) % 3 == 0
                else sent(recipient)
                for recipient in recipients
            ]
        return [sent(recipient) for recipient in recipients]


def build_input() -> tuple[list[Recipient], dict[int, str], dict[int, int]]:
    """The input, the invalid positions and the duplicates (position -> first position)."""
    items: list[Recipient] = []
    invalid: dict[int, str] = {}
    duplicates: dict[int, int] = {}
    for position in range(TOTAL):
        if position % 101 == 50:
            invalid[position] = "12345"
            items.append(Recipient("12345"))
        elif position % 97 == 60 and position - 10 not in set(invalid) | set(duplicates):
            duplicates[position] = position - 10
            items.append(Recipient("+86 " + phone_at(position - 10)))
        else:
            items.append(Recipient(phone_at(position), {"n": str(position)}))
    return items, invalid, duplicates


@pytest.mark.asyncio
async def test_every_failure_ends_in_exactly_one_outcome_each_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items, invalid, duplicates = build_input()
    # No input position is both a duplicate source and skipped (positions - 10 are valid).
    assert not set(duplicates.values()) & (set(invalid) | set(duplicates))
    script = Script()
    time = FakeTime()
    fake = FakeChunkSender(script=script, jitter=4, seed=7)
    received: list[BatchOutcome] = []

    report = await send_batch(
        fake, items, sink=received.append, concurrency=8, runtime=time.runtime()
    )

    # Exactly one outcome per recipient, in input order, with the input number.
    assert [item.position for item in received] == list(range(TOTAL))
    assert [item.input_phone for item in received] == [item.phone for item in items]

    expected_retries = script.transport_retries
    counts: Counter[str] = Counter()
    for item in received:
        outcome = item.outcome
        position = item.position
        if position in invalid:
            assert outcome.status is OutcomeStatus.SKIPPED
            assert outcome.code == "invalid"
            assert f"recipients[{position}].phone" in (outcome.message or "")
            continue
        if position in duplicates:
            assert outcome.status is OutcomeStatus.SKIPPED
            assert outcome.code == "duplicate"
            assert f"position {duplicates[position]}" in (outcome.message or "")
            continue
        phone = phone_at(position)
        kind = script.kinds[phone]
        counts[kind] += 1
        assert outcome.phone == phone
        if kind in {"ok", "not_sent_once", "rate_limited_once"}:
            assert outcome.status is OutcomeStatus.SENT
            assert outcome.message_id == f"id-{phone}"
        elif kind == "not_sent_always":
            assert outcome.status is OutcomeStatus.FAILED
            assert (outcome.code, outcome.retryable) == ("500", True)
        elif kind == "unknown":
            assert outcome.status is OutcomeStatus.UNKNOWN
            assert outcome.code == "RequestTimeoutError"
        elif kind == "wrong_count":
            assert outcome.status is OutcomeStatus.UNKNOWN
            assert outcome.code == WRONG_OUTCOME_COUNT
            assert "49 outcomes for 50 recipients" in (outcome.message or "")
        elif kind == "crash":
            assert outcome.status is OutcomeStatus.UNKNOWN
            assert outcome.code == "KeyError"
            assert "may have been sent" in (outcome.message or "")
        elif kind == "provider_fatal":
            assert outcome.status is OutcomeStatus.FAILED
            assert (outcome.code, outcome.retryable) == ("903", False)
        elif kind == "invalid_in_sender":
            assert outcome.status is OutcomeStatus.FAILED
            assert outcome.code == "InvalidInputError"
        else:
            assert kind == "per_recipient"
            if position % 3 == 0:
                assert (outcome.status, outcome.code) == (OutcomeStatus.FAILED, "251")
            else:
                assert outcome.status is OutcomeStatus.SENT
    assert set(counts) == set(KINDS), "every failure kind was exercised"

    # Nobody was given to the fake twice, except chunks resent after a NOT_SENT failure.
    given = Counter(fake.phones_received())
    for phone, times in given.items():
        kind = script.kinds[phone]
        if kind in {"not_sent_once", "rate_limited_once"}:
            assert times == 2
        elif kind == "not_sent_always":
            assert times == 3  # chunk_retry: 3 attempts in all
        else:
            assert times == 1, (phone, kind)
    expected_retries += sum(times - 1 for times in script.attempts.values())

    # The report counts what was emitted.
    statuses = Counter(item.status for item in received)
    assert dict(report.by_status) == {status: statuses[status] for status in OutcomeStatus}
    assert report.total == TOTAL
    assert report.skipped == len(invalid) + len(duplicates)
    assert report.by_code["invalid"] == len(invalid)
    assert report.by_code["duplicate"] == len(duplicates)
    assert report.by_code[WRONG_OUTCOME_COUNT] == counts["wrong_count"]
    assert report.fees == pytest.approx(
        sum(item.outcome.fee or 0 for item in received if item.status is OutcomeStatus.SENT)
    )
    assert report.requests == len(fake.calls)
    assert report.retries == expected_retries
    assert report.replayed == 0

    # Backoff waits went through the injected sleep: 429s waited their Retry-After.
    assert 1.5 in time.sleeps
    assert fake.max_in_flight <= 8
    # The non-crowdsms exception was logged with its traceback.
    crashes = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert crashes
    assert all("KeyError" in r.getMessage() for r in crashes)


@pytest.mark.asyncio
async def test_unknown_chunk_is_never_resent_and_not_sent_is_bounded() -> None:
    calls: list[str] = []

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        calls.append(call.phones[0])
        if position_of(call.phones[0]) == 0:
            raise ConnectionFailedError("reset", certainty=DeliveryCertainty.UNKNOWN)
        raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)

    fake = FakeChunkSender(script=script, max_chunk_size=5)
    time = FakeTime()
    items = [Recipient(phone_at(i)) for i in range(10)]
    received: list[BatchOutcome] = []
    report = await send_batch(fake, items, sink=received.append, runtime=time.runtime())

    assert calls.count(phone_at(0)) == 1
    assert calls.count(phone_at(5)) == 3
    assert [item.status for item in received] == [OutcomeStatus.UNKNOWN] * 5 + [
        OutcomeStatus.FAILED
    ] * 5
    assert all(item.outcome.retryable for item in received[5:])
    # Exponential backoff from the default chunk_retry (2 s, 4 s; random() == 0: no jitter).
    assert time.sleeps == [2.0, 4.0]
    assert report.retries == 2


@pytest.mark.asyncio
async def test_unknown_chunk_is_resent_with_the_same_key_when_the_sender_has_keys() -> None:
    attempts: dict[str, list[str | None]] = {}

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        seen = attempts.setdefault(call.phones[0], [])
        seen.append(call.key)
        if len(seen) == 1:  # the first attempt of every chunk is ambiguous
            raise ConnectionFailedError("reset", certainty=DeliveryCertainty.UNKNOWN)
        return [sent(recipient, "id") for recipient in recipients]

    keyed = FakeChunkSender(script=script, max_chunk_size=5, keyed=True)
    time = FakeTime()
    items = [Recipient(phone_at(i)) for i in range(10)]
    received: list[BatchOutcome] = []
    await send_batch(keyed, items, sink=received.append, runtime=time.runtime())

    assert [item.status for item in received] == [OutcomeStatus.SENT] * 10
    assert len(attempts) == 2
    for keys in attempts.values():
        assert len(keys) == 2
        assert keys[0] is not None
        assert keys[0] == keys[1]  # the provider sees the same key: it drops the copy


@pytest.mark.asyncio
async def test_errors_from_the_sink_stop_the_job_as_they_are() -> None:
    def sink(item: BatchOutcome) -> None:
        if item.position == 120:
            raise CrowdSMSError("disk full")

    with pytest.raises(CrowdSMSError, match="disk full"):
        await send_batch(FakeChunkSender(), [Recipient(phone_at(i)) for i in range(500)], sink=sink)
