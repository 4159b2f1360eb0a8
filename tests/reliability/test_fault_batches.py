"""Issue 6: 20,000 recipients through a sandbox injecting every kind of fault.

Every fault kind is on at once: 503 before processing, a connection dropped before
processing, one dropped after processing, 429 with ``Retry-After`` and answers slower than
the client's read timeout. What must hold, over real loopback HTTP:

- every recipient gets exactly one outcome, in input order;
- the ledger (what the sandbox really sent) has no number twice;
- the ledger is exactly the ``sent`` recipients plus those ``unknown`` ones whose request
  was processed (dropped after processing, or answered too late); ``unknown`` recipients
  whose request was never processed are not in it, and no ``failed`` recipient is.

SUBMAIL has no idempotency key, so every ambiguous failure ends ``unknown``. SendCloud's
``sendRequestId`` lets the client resend ambiguous failures safely: far fewer unknowns, and
still nothing twice.
"""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest

from crowdsms import RetryPolicy
from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.errors import DeliveryCertainty, RequestError
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import FaultKind, FaultSettings, Sandbox
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from ._requests import RequestLog, SendRecord
from ._support import (
    assert_ledger_has_no_duplicates,
    assert_one_outcome_each,
    phone,
    phones_with,
)

COUNT = 20_000

# Every fault kind at once. Slow answers take 2 s; the client gives up reading after 1 s,
# while an ordinary answer on loopback takes milliseconds.
EVERY_FAULT = FaultSettings(
    rates={
        FaultKind.REJECT: 0.05,
        FaultKind.DROP: 0.03,
        FaultKind.DROP_AFTER: 0.03,
        FaultKind.RATE_LIMIT: 0.05,
        FaultKind.SLOW: 0.03,
    },
    seed=6,
    retry_after=0,
    slow_seconds=2.0,
)
READ_TIMEOUT = httpx.Timeout(10.0, read=1.0)
# Waits are short so the test is fast; the number of attempts is what matters.
FAST_RETRIES = RetryPolicy(initial_delay=0.01, max_delay=0.05)
FAST_CHUNK_RETRIES = RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.05)

NOT_PROCESSED = (FaultKind.REJECT, FaultKind.RATE_LIMIT, FaultKind.DROP)
PROCESSED_UNANSWERED = (FaultKind.DROP_AFTER, FaultKind.SLOW)
AMBIGUOUS = (FaultKind.DROP, FaultKind.DROP_AFTER, FaultKind.SLOW)


def recipients(count: int) -> list[Recipient]:
    return [Recipient(phone(i), {"name": f"u{i}", "order": f"{i:06d}"}) for i in range(count)]


async def run_batch(sender: BatchSender, count: int) -> list[BatchOutcome]:
    outcomes: list[BatchOutcome] = []
    report = await sender.send(recipients(count), sink=outcomes.append)
    assert report.total == count
    return outcomes


def assert_every_fault_kind_met(log: RequestLog) -> None:
    met = {record.fault for record in log.records}
    assert set(FaultKind) <= met, f"fault kinds not exercised: {set(FaultKind) - met}"


def assert_ledger_matches_outcomes(
    sandbox: Sandbox, provider: str, outcomes: list[BatchOutcome]
) -> set[str]:
    """The ledger is the sent recipients plus some unknown ones; return its numbers."""
    ledger = set(assert_ledger_has_no_duplicates(sandbox.ledger, provider=provider))
    sent = phones_with(outcomes, OutcomeStatus.SENT)
    unknown = phones_with(outcomes, OutcomeStatus.UNKNOWN)
    failed = phones_with(outcomes, OutcomeStatus.FAILED)
    assert phones_with(outcomes, OutcomeStatus.SKIPPED) == set()
    assert sent <= ledger
    assert ledger == sent | (unknown & ledger)
    assert not failed & ledger
    # The ids the client reports are the ids the provider gave these very messages.
    ids = {entry.phone: entry.message_id for entry in sandbox.ledger.entries(provider=provider)}
    for outcome in outcomes:
        if outcome.status is OutcomeStatus.SENT:
            assert outcome.outcome.message_id == ids[outcome.outcome.phone]
    return ledger


@pytest.mark.asyncio
async def test_submail_batch_under_every_fault(recorded: tuple[Sandbox, RequestLog]) -> None:
    sandbox, log = recorded
    sandbox.set_faults(EVERY_FAULT)
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=sandbox.base_url("submail"),
        timeout=READ_TIMEOUT,
        retry_policy=FAST_RETRIES,
    ) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content="【测试】@var(name)，您的订单@var(order)已发货"),
            concurrency=16,
            chunk_retry=FAST_CHUNK_RETRIES,
        )
        outcomes = await run_batch(sender, COUNT)
    await log.wait_idle(within=30)  # slow requests are still processed after the client left

    assert_one_outcome_each(outcomes, [phone(i) for i in range(COUNT)])
    assert_every_fault_kind_met(log)
    ledger = assert_ledger_matches_outcomes(sandbox, "submail", outcomes)
    unknown = phones_with(outcomes, OutcomeStatus.UNKNOWN)

    # Without an idempotency key an ambiguous failure is never resent, so the unknown
    # recipients are exactly those of the requests that were dropped or answered too late...
    assert unknown == log.phones_of(log.with_fault(*AMBIGUOUS))
    # ... those that were processed are in the ledger, once ...
    assert unknown & ledger == log.phones_of(log.with_fault(*PROCESSED_UNANSWERED))
    # ... and those dropped before processing never reached it.
    assert not log.phones_of(log.with_fault(FaultKind.DROP)) & ledger
    # 503 and 429 are retried (they are provably not processed): nothing else failed.
    assert phones_with(outcomes, OutcomeStatus.FAILED) == set()


@pytest.mark.asyncio
async def test_sendcloud_batch_under_every_fault(recorded: tuple[Sandbox, RequestLog]) -> None:
    sandbox, log = recorded
    sandbox.set_faults(EVERY_FAULT)
    async with AsyncSendCloud(
        sms_user=SENDCLOUD_SMS_USER,
        sms_key=SENDCLOUD_SMS_KEY,
        base_url=sandbox.base_url("sendcloud"),
        timeout=READ_TIMEOUT,
        retry_policy=FAST_RETRIES,
    ) as client:
        sender = BatchSender(
            client.sms.sendn_chunks(template_id=2),  # 【SANDBOX】%name%，...%order%...
            chunk_size=50,
            concurrency=16,
            chunk_retry=FAST_CHUNK_RETRIES,
        )
        outcomes = await run_batch(sender, COUNT)
    await log.wait_idle(within=30)

    assert_one_outcome_each(outcomes, [phone(i) for i in range(COUNT)])
    assert_every_fault_kind_met(log)
    ledger = assert_ledger_matches_outcomes(sandbox, "sendcloud", outcomes)
    unknown = phones_with(outcomes, OutcomeStatus.UNKNOWN)

    # Each chunk's requests carry its idempotency key: group them, in arrival order.
    by_key: dict[str, list[SendRecord]] = defaultdict(list)
    for record in log.records:
        by_key[record.fields["sendRequestId"]].append(record)
    for records in by_key.values():
        assert len({record.phones for record in records}) == 1  # one chunk per key
    resent_after_ambiguous = [
        records
        for records in by_key.values()
        if any(record.fault in AMBIGUOUS for record in records[:-1])
    ]
    # Ambiguous failures were resent with the same key and then sent, and the ledger
    # still has each number once (the provider dropped the repeats)...
    sent = phones_with(outcomes, OutcomeStatus.SENT)
    recovered = [records for records in resent_after_ambiguous if records[-1].fault is None]
    assert recovered
    for records in recovered:
        assert set(records[0].phones) <= sent

    # ... so a chunk ends unknown only when one of its attempts was ambiguous and no later
    # attempt got an answer (the transport gave up; a refused retry proves nothing about
    # the ambiguous attempt), and it fails only when every attempt was provably refused.
    def chunk_phones(records: list[SendRecord]) -> set[str]:
        return set(records[0].phones)

    unanswered = [records for records in by_key.values() if records[-1].fault is not None]
    unknown_chunks = [
        chunk_phones(records)
        for records in unanswered
        if any(record.fault in AMBIGUOUS for record in records)
    ]
    failed_chunks = [
        chunk_phones(records)
        for records in unanswered
        if all(record.fault in (FaultKind.REJECT, FaultKind.RATE_LIMIT) for record in records)
    ]
    assert unknown == set().union(*unknown_chunks)
    assert phones_with(outcomes, OutcomeStatus.FAILED) == set().union(*failed_chunks)
    ambiguous_phones = log.phones_of(log.with_fault(*AMBIGUOUS))
    assert len(unknown) * 4 <= len(ambiguous_phones)
    assert ledger >= log.phones_of(log.with_fault(FaultKind.DROP_AFTER))


@pytest.mark.asyncio
async def test_a_refused_retry_does_not_hide_an_ambiguous_attempt(
    recorded: tuple[Sandbox, RequestLog],
) -> None:
    """An attempt processed then dropped, then its retries refused (503): still unknown.

    The refusal of a retry says nothing about the first attempt, which the provider did
    process: reporting the call as not sent ("safe to send again") would be a lie.
    """
    sandbox, _ = recorded
    sandbox.force_fault(FaultKind.DROP_AFTER, path="sendn")
    sandbox.force_fault(FaultKind.REJECT, count=2, path="sendn")
    async with AsyncSendCloud(
        sms_user=SENDCLOUD_SMS_USER,
        sms_key=SENDCLOUD_SMS_KEY,
        base_url=sandbox.base_url("sendcloud"),
        retry_policy=FAST_RETRIES,  # 3 attempts: dropped after processing, 503, 503
    ) as client:
        with pytest.raises(RequestError) as caught:
            await client.sms.sendn(
                template_id=2,
                recipients=[Recipient(phone(1), {"name": "a", "order": "1"})],
                send_request_id="reliability-1",
            )
        assert caught.value.certainty is DeliveryCertainty.UNKNOWN
        assert caught.value.attempts == 3
        assert "may have acted" in str(caught.value)
        assert [entry.phone for entry in sandbox.ledger.entries()] == [phone(1)]

        # The same through the batch sender: the chunk is unknown, not failed.
        sandbox.force_fault(FaultKind.DROP_AFTER, path="sendn")
        sandbox.force_fault(FaultKind.REJECT, count=2, path="sendn")
        sender = BatchSender(
            client.sms.sendn_chunks(template_id=2), chunk_retry=RetryPolicy(max_attempts=1)
        )
        outcomes: list[BatchOutcome] = []
        await sender.send([Recipient(phone(2), {"name": "b", "order": "2"})], sink=outcomes.append)
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.UNKNOWN]
    assert [entry.phone for entry in sandbox.ledger.entries()] == [phone(1), phone(2)]
    assert sandbox.faults.pending_forced() == 0
