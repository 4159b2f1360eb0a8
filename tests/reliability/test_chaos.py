"""Issue 10 chaos: 100,000 recipients, many faults at once, and a client clock 30 minutes off.

Faults per request: 10% HTTP 503 before processing, 5% connection dropped before
processing, 2% processed then dropped, 5% HTTP 429 with ``Retry-After``. The client's clock
is 30 minutes slow, so its first requests carry timestamps SUBMAIL refuses until the client
measures the offset.

What a client can and cannot know. A connection dropped before processing and one dropped
after processing look the same from the client: in both, the request was written in full
and the connection then closed without an answer (the sandbox, like a proxy that gives up
on a request, drops it once the request has arrived; even a server that resets the
connection the moment it is accepted is seen only after the client has written its
request, as a lost connection while reading). So both are ``unknown``: reporting the
first kind as ``failed`` would be a guess that is wrong for the second. What the test
proves is the strongest statement that is true:

- every recipient has exactly one outcome, in input order;
- the ledger has no number twice;
- the ``unknown`` recipients are exactly those of the requests that were dropped, before
  or after processing: nothing else is ever left ambiguous (503 and 429 are retried, a
  refused timestamp is corrected and retried);
- the ledger holds exactly the ``sent`` recipients plus those of the processed-then-dropped
  requests the sandbox accepted; requests dropped before processing left nothing in it, and
  so did processed-then-dropped requests refused for their stale timestamp (the first
  requests, signed before the clock was corrected);
- no ``failed`` recipient is in the ledger.
"""

from __future__ import annotations

import time

import pytest

from crowdsms import RetryPolicy, Runtime
from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import FaultKind, FaultSettings, Sandbox
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from ._requests import RequestLog, SendRecord
from ._support import (
    assert_ledger_has_no_duplicates,
    assert_one_outcome_each,
    phone,
    phones_with,
)

COUNT = 100_000
CLOCK_ERROR = 1800.0  # the client's clock is 30 minutes slow
CHAOS = FaultSettings(
    rates={
        FaultKind.REJECT: 0.10,
        FaultKind.DROP: 0.05,
        FaultKind.DROP_AFTER: 0.02,
        FaultKind.RATE_LIMIT: 0.05,
    },
    seed=10,
    retry_after=0,  # a real Retry-After header, asking for no wait, so the test is fast
)


def stale(record: SendRecord) -> bool:
    """Whether the request's timestamp is far outside SUBMAIL's window (6 s)."""
    return abs(float(record.fields["timestamp"]) - record.received_at) > 60.0


@pytest.mark.slow
@pytest.mark.asyncio
async def test_chaos_100k_recipients(recorded: tuple[Sandbox, RequestLog]) -> None:
    sandbox, log = recorded
    sandbox.set_faults(CHAOS)
    numbers = [phone(i) for i in range(COUNT)]
    outcomes: list[BatchOutcome] = []
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=sandbox.base_url("submail"),
        runtime=Runtime(wall_time=lambda: time.time() - CLOCK_ERROR),
        retry_policy=RetryPolicy(initial_delay=0.01, max_delay=0.05),
    ) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content="【测试】@var(name)，您好"),
            concurrency=16,
            chunk_retry=RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.05),
        )
        report = await sender.send(
            (Recipient(number, {"name": number[-4:]}) for number in numbers),
            sink=outcomes.append,
        )
        # The client measured SUBMAIL's clock: about 30 minutes ahead of its own.
        assert abs(client.clock_offset - CLOCK_ERROR) < 5.0
    await log.wait_idle(within=30)

    assert report.total == COUNT
    assert_one_outcome_each(outcomes, numbers)
    ledger = set(assert_ledger_has_no_duplicates(sandbox.ledger, provider="submail"))
    sent = phones_with(outcomes, OutcomeStatus.SENT)
    unknown = phones_with(outcomes, OutcomeStatus.UNKNOWN)
    failed = phones_with(outcomes, OutcomeStatus.FAILED)
    assert len(sent) + len(unknown) + len(failed) == COUNT

    multisends = [record for record in log.records if "multisend" in record.path]
    assert {record.fault for record in multisends} == {None, *CHAOS.rates}
    assert any(stale(record) for record in multisends)  # the clock really was off
    dropped_before = [r for r in multisends if r.fault is FaultKind.DROP]
    dropped_after = [r for r in multisends if r.fault is FaultKind.DROP_AFTER]
    accepted_after = [r for r in dropped_after if not stale(r)]

    assert unknown == log.phones_of(dropped_before) | log.phones_of(dropped_after)
    assert ledger == sent | log.phones_of(accepted_after)
    assert unknown & ledger == log.phones_of(accepted_after)
    assert not log.phones_of(dropped_before) & ledger
    assert not log.phones_of(r for r in dropped_after if stale(r)) & ledger
    assert not failed & ledger
    assert report.unknown == len(unknown)
