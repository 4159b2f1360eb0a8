"""Hooks for users without OpenTelemetry: records per attempt, call and chunk; safe to fail."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from crowdsms import RetryPolicy, telemetry
from crowdsms.batch import BatchSender
from crowdsms.errors import ConfigurationError, ConnectionFailedError, DeliveryCertainty
from crowdsms.outcomes import Recipient
from crowdsms.sandbox import FaultKind, Sandbox
from crowdsms.telemetry._call import NO_CALL, start_call
from crowdsms.telemetry._state import STATE

from .conftest import Recorded

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
CONTENT = "【测试】@var(name)您好"
RECIPIENTS = [Recipient("13800138000", {"name": "x"})]
OPERATION = "submail.sms.multisend"


@pytest.fixture(autouse=True)
def _without_opentelemetry() -> Iterator[None]:
    """Hooks alone: OpenTelemetry switched off for these tests."""
    telemetry.use_opentelemetry(False)
    try:
        yield
    finally:
        telemetry.use_opentelemetry()


@pytest.mark.asyncio
async def test_a_successful_call(sandbox: Sandbox, recorded: Recorded) -> None:
    async with sandbox.client("submail") as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    [attempt] = recorded.attempts
    assert attempt.provider == "submail"
    assert attempt.operation == OPERATION
    assert attempt.attempt == 1
    assert attempt.status_code == 200
    assert attempt.error_type is attempt.certainty is attempt.code is None
    assert 0 < attempt.duration < 60
    [call] = recorded.calls
    assert call.method == "POST"
    assert call.server_address == "127.0.0.1"
    assert call.url_path == "/submail/sms/multisend.json"
    assert (call.attempts, call.status_code, call.error_type) == (1, 200, None)
    assert call.duration >= attempt.duration
    assert recorded.chunks == []


@pytest.mark.asyncio
async def test_a_call_retried_after_a_503(sandbox: Sandbox, recorded: Recorded) -> None:
    sandbox.force_fault(FaultKind.REJECT, provider="submail")
    async with sandbox.client("submail", retry_policy=FAST) as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    first, second = recorded.attempts
    assert (first.attempt, first.status_code, first.error_type) == (1, 503, "503")
    assert first.certainty is DeliveryCertainty.NOT_SENT
    assert (second.attempt, second.status_code, second.error_type) == (2, 200, None)
    [call] = recorded.calls
    assert (call.attempts, call.status_code, call.error_type) == (2, 200, None)


@pytest.mark.asyncio
async def test_an_unknown_failure(sandbox: Sandbox, recorded: Recorded) -> None:
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail")
    async with sandbox.client("submail", retry_policy=FAST) as client:
        with pytest.raises(ConnectionFailedError):
            await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    [attempt] = recorded.attempts
    [call] = recorded.calls
    for record in (attempt, call):
        assert record.status_code is None
        assert record.error_type == "crowdsms.errors.ConnectionFailedError"
        assert record.certainty is DeliveryCertainty.UNKNOWN
        assert record.code is None


@pytest.mark.asyncio
async def test_chunks_of_a_job(sandbox: Sandbox, recorded: Recorded) -> None:
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail")  # the first request
    recipients = [Recipient(f"1390013{n:04d}", {"name": f"n{n}"}) for n in range(5)]
    async with sandbox.client("submail") as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), chunk_size=3, concurrency=1
        )
        report = await sender.send(recipients, job_id="hooked")
    assert (report.sent, report.unknown) == (2, 3)

    first, second = sorted(recorded.chunks, key=lambda chunk: chunk.chunk_index)
    assert first.job_id == second.job_id == "hooked"
    assert (first.chunk_index, first.recipients, first.attempts) == (0, 3, 1)
    assert (first.sent, first.failed, first.unknown) == (0, 0, 3)
    assert first.error_type == "crowdsms.errors.ConnectionFailedError"
    assert first.certainty is DeliveryCertainty.UNKNOWN
    assert (second.chunk_index, second.recipients, second.sent, second.error_type) == (
        1,
        2,
        2,
        None,
    )
    for chunk in (first, second):
        assert (chunk.provider, chunk.operation) == ("submail", OPERATION)
        assert (chunk.resend, chunk.idempotent) == (0, False)
        assert chunk.pace_wait == 0.0  # no rate: nothing to wait for
        assert chunk.duration > 0
    assert len(recorded.calls) == 2


@pytest.mark.asyncio
async def test_a_raising_hook_is_logged_and_never_breaks_a_send(
    sandbox: Sandbox, recorded: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(details: object) -> None:
        raise RuntimeError("the hook is broken")

    with telemetry.add_hook(on_attempt=broken, on_call=broken, on_chunk=broken):
        async with sandbox.client("submail") as client:
            await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
            sender = BatchSender(client.sms.multisend_chunks(content=CONTENT))
            report = await sender.send([Recipient("13800138001", {"name": "y"})])
    assert report.sent == 1
    assert len(recorded.calls) == 2  # the other hook still gets every record
    assert len(recorded.chunks) == 1
    records = [record for record in caplog.records if record.name == "crowdsms.telemetry"]
    warnings = [record for record in records if record.levelno == logging.WARNING]
    assert len(warnings) == 1  # the first failure, with its traceback
    assert warnings[0].exc_info is not None
    assert len(records) == 5  # two attempts, two calls, one chunk


@pytest.mark.asyncio
async def test_a_removed_hook_is_not_called(sandbox: Sandbox) -> None:
    calls: list[telemetry.CallDetails] = []
    hook = telemetry.add_hook(on_call=calls.append)
    async with sandbox.client("submail") as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
        hook.remove()
        hook.remove()  # twice: nothing happens
        telemetry.remove_hook(hook)
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert len(calls) == 1


def test_nothing_recording_means_no_op_probes() -> None:
    class Request:
        method = "POST"
        path = "a/b"
        operation = "demo.op"

    assert not STATE.active
    assert start_call("demo", "https://example.test", Request()) is NO_CALL
    with telemetry.add_hook(on_chunk=print):
        assert STATE.active
        assert start_call("demo", "https://example.test", Request()) is not NO_CALL
    assert not STATE.active


def test_add_hook_checks_its_arguments() -> None:
    with pytest.raises(ConfigurationError, match="at least one"):
        telemetry.add_hook()
    with pytest.raises(ConfigurationError, match="on_call must be callable"):
        telemetry.add_hook(on_call="print")  # type: ignore[arg-type]
    assert not STATE.hooks.hooks


def test_a_hook_repr_names_its_callbacks() -> None:
    with telemetry.add_hook(on_call=print, on_chunk=print) as hook:
        assert repr(hook) == "<Hook on_call on_chunk>"
