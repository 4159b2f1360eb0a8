"""Spans and metrics of a batch job: the job, its chunks, their calls, pacing, outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from crowdsms import RetryPolicy
from crowdsms.batch import BatchSender
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import FaultKind, Sandbox, serve_in_thread
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID

from .conftest import Otel

CONTENT = "【测试】@var(name)您好"
OPERATION = "submail.sms.multisend"
FAST_CHUNKS = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)


def people(count: int, *, first: int = 0) -> list[Recipient]:
    return [Recipient(f"1380013{n:04d}", {"name": f"n{n}"}) for n in range(first, first + count)]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def check_tree(otel: Otel, chunks: int) -> ReadableSpan:
    """One job span; ``chunks`` chunk spans under it; every call under a chunk. The job."""
    job = otel.span("crowdsms.batch.job")
    chunk_spans = otel.spans("crowdsms.batch.chunk")
    assert len(chunk_spans) == chunks
    assert {parent_id(span) for span in chunk_spans} == {job.context.span_id}
    chunk_ids = {span.context.span_id for span in chunk_spans}
    calls = otel.spans(OPERATION)
    assert calls
    assert {parent_id(span) for span in calls} <= chunk_ids
    assert {span.context.trace_id for span in [*chunk_spans, *calls]} == {job.context.trace_id}
    return job


@pytest.mark.asyncio
async def test_a_job_with_chunks(sandbox: Sandbox, otel: Otel) -> None:
    recipients = [*people(7), Recipient("not a number", {"name": "bad"})]
    async with sandbox.client("submail") as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), chunk_size=3, concurrency=2, rate=1000
        )
        report = await sender.send(recipients, job_id="job-7")
    assert report.sent == 7

    job = check_tree(otel, chunks=3)
    assert dict(job.attributes or {}) == {
        "crowdsms.batch.job.id": "job-7",
        "crowdsms.batch.chunk_size": 3,
        "crowdsms.batch.concurrency": 2,
        "crowdsms.batch.recipients": 8,
        "crowdsms.batch.sent": 7,
        "crowdsms.batch.failed": 0,
        "crowdsms.batch.unknown": 0,
        "crowdsms.batch.skipped": 1,
        "crowdsms.batch.requests": 3,
        "crowdsms.batch.retries": 0,
        "crowdsms.batch.resumed": False,
        "crowdsms.batch.stopped": False,
        "crowdsms.batch.interrupted": False,
    }
    by_index = {
        (span.attributes or {})["crowdsms.batch.chunk.index"]: dict(span.attributes or {})
        for span in otel.spans("crowdsms.batch.chunk")
    }
    assert sorted(by_index) == [0, 1, 2]
    assert [by_index[i]["crowdsms.batch.chunk.recipients"] for i in range(3)] == [3, 3, 1]
    for attributes in by_index.values():
        assert attributes["crowdsms.batch.sent"] == attributes["crowdsms.batch.chunk.recipients"]
        assert attributes["crowdsms.batch.failed"] == attributes["crowdsms.batch.unknown"] == 0
        assert attributes["crowdsms.batch.chunk.attempts"] == 1
        assert attributes["crowdsms.batch.chunk.resend"] == 0
        assert attributes["crowdsms.batch.chunk.idempotent"] is False
        assert attributes["crowdsms.provider"] == "submail"
        assert attributes["crowdsms.operation"] == OPERATION
        assert attributes["crowdsms.batch.chunk.pace_wait"] >= 0
        assert "error.type" not in attributes
    status = "crowdsms.outcome.status"
    assert otel.total("crowdsms.recipients", **{status: "sent"}) == 7
    assert otel.total("crowdsms.recipients", **{status: "skipped"}) == 1
    assert otel.total("crowdsms.recipients", **{status: "failed"}) == 0
    assert otel.total("crowdsms.batch.pace.duration") == 3  # one wait per chunk
    assert otel.total("http.client.request.duration") == 3


@pytest.mark.asyncio
async def test_without_a_rate_the_pace_is_not_timed(sandbox: Sandbox, otel: Otel) -> None:
    async with sandbox.client("submail") as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), chunk_size=2)
        await sender.send(people(4))
    assert otel.points("crowdsms.batch.pace.duration") == []
    assert len(otel.spans("crowdsms.batch.chunk")) == 2


@pytest.mark.asyncio
async def test_a_chunk_sent_again_by_the_batch_sender(sandbox: Sandbox, otel: Otel) -> None:
    # The client does not retry; the batch sender sends the refused chunk again.
    sandbox.force_fault(FaultKind.REJECT, provider="submail")
    async with sandbox.client("submail", retry_policy=RetryPolicy.no_retries()) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), chunk_size=5, chunk_retry=FAST_CHUNKS
        )
        report = await sender.send(people(5))
    assert report.sent == 5

    check_tree(otel, chunks=1)
    chunk = dict(otel.span("crowdsms.batch.chunk").attributes or {})
    assert chunk["crowdsms.batch.chunk.attempts"] == 2
    assert chunk["crowdsms.batch.sent"] == 5
    assert "error.type" not in chunk  # the last request answered
    calls = otel.spans(OPERATION)
    assert [(span.attributes or {}).get("error.type") for span in calls] == ["503", None]
    assert otel.total("crowdsms.retries", **{"crowdsms.retry.scope": "chunk"}) == 1
    assert otel.total("crowdsms.retries", **{"crowdsms.retry.scope": "request"}) == 0


@pytest.mark.asyncio
async def test_a_chunk_the_provider_refuses(sandbox: Sandbox, otel: Otel) -> None:
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID, app_key="a-wrong-key", base_url=sandbox.base_url("submail")
    ) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), chunk_size=2, concurrency=1
        )
        report = await sender.send(people(4), job_id="refused")
    assert report.stopped is not None
    [code] = set(report.by_code) - {"not_sent"}

    refused = [
        span
        for span in otel.spans("crowdsms.batch.chunk")
        if (span.attributes or {}).get("crowdsms.batch.chunk.attempts")
    ]
    [span] = refused  # the job stopped after the first refusal
    attributes = dict(span.attributes or {})
    assert attributes["crowdsms.provider.code"] == code
    assert attributes["error.type"].startswith("crowdsms.errors.")
    assert attributes["crowdsms.delivery_certainty"] == "not_sent"
    assert attributes["crowdsms.batch.failed"] == 2
    assert span.status.status_code is StatusCode.ERROR
    # The call answered (HTTP 200): the refusal was read from the answer by the endpoint.
    call = dict(otel.spans(OPERATION)[0].attributes or {})
    assert call["http.response.status_code"] == 200
    job = dict(otel.span("crowdsms.batch.job").attributes or {})
    assert job["crowdsms.batch.stopped"] is True
    assert job["crowdsms.batch.failed"] == 4
    status = "crowdsms.outcome.status"
    assert otel.total("crowdsms.recipients", **{status: "failed"}) == 4


@pytest.mark.asyncio
async def test_an_unknown_chunk(sandbox: Sandbox, otel: Otel) -> None:
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail")
    async with sandbox.client("submail") as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), chunk_size=3)
        report = await sender.send(people(3))
    assert report.unknown == 3

    attributes = dict(otel.span("crowdsms.batch.chunk").attributes or {})
    assert attributes["crowdsms.batch.unknown"] == 3
    assert attributes["crowdsms.delivery_certainty"] == "unknown"
    assert attributes["error.type"] == "crowdsms.errors.ConnectionFailedError"
    status = "crowdsms.outcome.status"
    assert otel.total("crowdsms.recipients", **{status: "unknown"}) == 3


@pytest.mark.asyncio
async def test_a_resumed_job_does_not_count_replayed_outcomes_again(
    sandbox: Sandbox, otel: Otel, tmp_path: Path
) -> None:
    journal = str(tmp_path / "job.sqlite")
    status = "crowdsms.outcome.status"
    recipients = [*people(4), Recipient("13800130000", {"name": "again"})]  # a duplicate
    async with sandbox.client("submail") as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), chunk_size=2)
        await sender.send(recipients, journal=journal, job_id="twice")
        assert otel.total("crowdsms.recipients", **{status: "sent"}) == 4
        assert otel.total("crowdsms.recipients", **{status: "skipped"}) == 1
        again = await sender.send(recipients, journal=journal, job_id="twice")
    assert again.replayed == 4
    assert otel.total("crowdsms.recipients", **{status: "sent"}) == 4
    spans = otel.spans("crowdsms.batch.job")
    assert [(span.attributes or {})["crowdsms.batch.resumed"] for span in spans] == [False, True]


@pytest.fixture(scope="module")
def threaded_sandbox() -> Iterator[Sandbox]:
    """A sandbox on its own thread's loop, for tests on trio too."""
    with serve_in_thread() as served:
        yield served


@pytest.mark.anyio
async def test_the_span_tree_on_either_backend(threaded_sandbox: Sandbox, otel: Otel) -> None:
    async with threaded_sandbox.client("submail") as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), chunk_size=2, concurrency=3
        )
        report = await sender.send(people(6, first=100))
    assert report.by_status[OutcomeStatus.SENT] == 6
    check_tree(otel, chunks=3)
    assert len(otel.spans(OPERATION)) == 3
