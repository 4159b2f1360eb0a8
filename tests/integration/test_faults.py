"""Each sandbox fault against the SDK: what is retried, what raises, what the ledger holds.

Forced faults target the send's path, so a paasw token fetch or a clock read is never the
request that fails. Retries sleep through :class:`SleepRecorder`, so nothing really waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
import pytest

from crowdsms import DeliveryCertainty, Recipient
from crowdsms.errors import (
    ConnectionFailedError,
    RequestError,
    RequestTimeoutError,
)
from crowdsms.providers.paasw import SmsKind
from crowdsms.sandbox import FaultKind, Sandbox

from .support import (
    TIME_LIMIT,
    SleepRecorder,
    assert_no_secret,
    crowdtask,
    paasw,
    runtime,
    sendcloud,
    submail,
)

PHONES = ["13800138000", "13800138001"]


@attrs.frozen
class Case:
    """How to send ``PHONES`` (or two task rows) with one provider's client."""

    provider: str
    path: str
    client: Callable[..., Any]
    send: Callable[[Any], Awaitable[object]]


async def _submail(client: Any) -> object:
    return await client.sms.multisend(
        content="【沙箱】你好。", recipients=[Recipient(phone) for phone in PHONES]
    )


async def _sendcloud(client: Any) -> object:
    return await client.sms.sendn(template_id=3, recipients=[Recipient(phone) for phone in PHONES])


async def _crowdtask(client: Any) -> object:
    return await client.tasks.batch(project_id=1, rows=[{"n": phone} for phone in PHONES])


async def _paasw(client: Any) -> object:
    return await client.sms.send(
        phones=PHONES, sign="沙箱", content="【沙箱】你好。", kind=SmsKind.NOTICE
    )


CASES = [
    Case("submail", "sms/multisend", submail, _submail),
    Case("sendcloud", "sendn", sendcloud, _sendcloud),
    Case("crowdtask", "task/batch", crowdtask, _crowdtask),
    Case("paasw", "sms/send", paasw, _paasw),
]
IDS = [case.provider for case in CASES]


def sent(sandbox: Sandbox) -> list[str | None]:
    """What the sandbox processed, in order: numbers, or CrowdTask rows' ``n``."""
    return [entry.phone or entry.vars.get("n") for entry in sandbox.ledger]


def force(sandbox: Sandbox, case: Case, kind: FaultKind) -> None:
    sandbox.force_fault(kind, provider=case.provider, path=case.path)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_503_before_processing_is_retried_and_sent_once(sandbox: Sandbox, case: Case):
    sleep = SleepRecorder()
    force(sandbox, case, FaultKind.REJECT)
    with anyio.fail_after(TIME_LIMIT):
        async with case.client(sandbox, runtime=runtime(sleep)) as client:
            await case.send(client)
    assert sandbox.faults.injected[FaultKind.REJECT] == 1
    assert len(sleep.delays) == 1  # one backoff (0.5 s less jitter) before the retry
    assert 0.0 < sleep.delays[0] <= 0.5
    assert sent(sandbox) == PHONES


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_drop_before_processing_raises_unknown_and_nothing_was_sent(
    sandbox: Sandbox, case: Case
):
    # A connection lost while waiting for the answer cannot tell "dropped before" from
    # "dropped after" processing: a non-idempotent send must not be repeated blindly.
    sleep = SleepRecorder()
    force(sandbox, case, FaultKind.DROP)
    with anyio.fail_after(TIME_LIMIT):
        async with case.client(sandbox, runtime=runtime(sleep)) as client:
            with pytest.raises(ConnectionFailedError) as caught:
                await case.send(client)
            assert sent(sandbox) == []
            await case.send(client)  # the client recovers with a new connection
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert caught.value.attempts == 1
    assert sleep.delays == []
    assert sent(sandbox) == PHONES
    assert_no_secret(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_drop_after_processing_raises_unknown_and_was_sent_once(sandbox: Sandbox, case: Case):
    sleep = SleepRecorder()
    force(sandbox, case, FaultKind.DROP_AFTER)
    with anyio.fail_after(TIME_LIMIT):
        async with case.client(sandbox, runtime=runtime(sleep)) as client:
            with pytest.raises(ConnectionFailedError) as caught:
                await case.send(client)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert sleep.delays == []  # not repeated: the ledger shows why that matters
    assert sent(sandbox) == PHONES
    assert_no_secret(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_429_is_retried_after_the_servers_delay(sandbox: Sandbox, case: Case):
    sleep = SleepRecorder()
    sandbox.set_faults(retry_after=3)
    force(sandbox, case, FaultKind.RATE_LIMIT)
    with anyio.fail_after(TIME_LIMIT):
        async with case.client(sandbox, runtime=runtime(sleep)) as client:
            await case.send(client)
    assert sleep.delays == [3.0]
    assert sent(sandbox) == PHONES


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_slow_answer_times_out_unknown_and_was_processed(sandbox: Sandbox, case: Case):
    sleep = SleepRecorder()
    sandbox.set_faults(slow_seconds=0.6)
    force(sandbox, case, FaultKind.SLOW)
    with anyio.fail_after(TIME_LIMIT):
        async with case.client(sandbox, runtime=runtime(sleep), timeout=0.25) as client:
            with pytest.raises(RequestTimeoutError) as caught:
                await case.send(client)
            assert caught.value.certainty is DeliveryCertainty.UNKNOWN
            assert sleep.delays == []
            # The server goes on with the request the client gave up on.
            await sandbox.wait_for_ledger(len(PHONES), within=5)
    assert sent(sandbox) == PHONES


# -- SendCloud's sendRequestId makes the ambiguous failures safe to retry ----------------


async def _send_keyed(client: Any, endpoint: str) -> Any:
    if endpoint == "send":
        return await client.sms.send(template_id=3, phones=PHONES, send_request_id="order-42")
    return await client.sms.sendn(
        template_id=3,
        recipients=[Recipient(phone) for phone in PHONES],
        send_request_id="order-42",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", [FaultKind.DROP, FaultKind.DROP_AFTER])
@pytest.mark.parametrize("endpoint", ["send", "sendn"])
async def test_sendcloud_with_send_request_id_retries_a_lost_answer_and_sends_once(
    sandbox: Sandbox, kind: FaultKind, endpoint: str
):
    sleep = SleepRecorder()
    sandbox.force_fault(kind, provider="sendcloud", path=endpoint)
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox, runtime=runtime(sleep)) as client:
            result = await _send_keyed(client, endpoint)
    assert sandbox.faults.injected[kind] == 1
    assert len(sleep.delays) == 1
    assert result.all_sent
    assert result.send_request_id == "order-42"
    assert sent(sandbox) == PHONES  # processed once, even when the lost answer was
    assert [o.message_id for o in result.outcomes] == [e.message_id for e in sandbox.ledger]
    assert {entry.request_id for entry in sandbox.ledger} == {"order-42"}


@pytest.mark.asyncio
async def test_sendcloud_without_send_request_id_is_not_retried(sandbox: Sandbox):
    sleep = SleepRecorder()
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="sendcloud", path="send")
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox, runtime=runtime(sleep)) as client:
            with pytest.raises(RequestError) as caught:
                await client.sms.send(template_id=3, phones=PHONES)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert sleep.delays == []
    assert sent(sandbox) == PHONES


@pytest.mark.asyncio
async def test_reads_are_retried_after_any_lost_answer(sandbox: Sandbox):
    sleep = SleepRecorder()
    sandbox.force_fault(FaultKind.DROP, provider="submail", path="timestamp")
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail", path="timestamp")
    with anyio.fail_after(TIME_LIMIT):
        async with submail(sandbox, runtime=runtime(sleep)) as client:
            timestamp = await client.service.timestamp()
    assert abs(timestamp - sandbox.clock.now()) <= 2
    assert len(sleep.delays) == 2
    assert len(sandbox.ledger) == 0
