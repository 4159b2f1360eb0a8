"""A span and metrics per provider call: a success, a retried call, an UNKNOWN failure."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from crowdsms import RetryPolicy
from crowdsms.errors import ConnectionFailedError, DeliveryCertainty
from crowdsms.outcomes import Recipient
from crowdsms.sandbox import FaultKind, Sandbox

from .conftest import Otel

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
CONTENT = "【测试】@var(name)您好"
RECIPIENTS = [Recipient("13800138000", {"name": "x"})]
OPERATION = "submail.sms.multisend"


def base_attributes(sandbox: Sandbox) -> dict[str, object]:
    return {
        "crowdsms.provider": "submail",
        "crowdsms.operation": OPERATION,
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": int(sandbox.url.rsplit(":", 1)[1]),
    }


@pytest.mark.asyncio
async def test_a_successful_call(sandbox: Sandbox, otel: Otel) -> None:
    async with sandbox.client("submail") as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    span = otel.span(OPERATION)
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        **base_attributes(sandbox),
        "url.path": "/submail/sms/multisend.json",
        "http.response.status_code": 200,
        "crowdsms.attempts": 1,
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "crowdsms"
    [point] = otel.points("http.client.request.duration")
    assert dict(point.attributes) == {**base_attributes(sandbox), "http.response.status_code": 200}
    assert point.count == 1
    assert 0 < point.sum < 60
    assert otel.total("crowdsms.client.call.duration", **{"http.response.status_code": 200}) == 1
    assert otel.points("crowdsms.retries") == []


@pytest.mark.asyncio
async def test_a_call_retried_after_a_503(sandbox: Sandbox, otel: Otel) -> None:
    sandbox.force_fault(FaultKind.REJECT, provider="submail")
    async with sandbox.client("submail", retry_policy=FAST) as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    span = otel.span(OPERATION)
    attributes = dict(span.attributes or {})
    assert attributes["crowdsms.attempts"] == 2
    assert attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes
    [event] = span.events
    assert event.name == "crowdsms.attempt_failed"
    assert dict(event.attributes or {}) == {
        "crowdsms.attempt": 1,
        "error.type": "503",
        "http.response.status_code": 503,
        "crowdsms.delivery_certainty": "not_sent",
    }
    request = "http.client.request.duration"
    assert otel.total(request, **{"http.response.status_code": 503, "error.type": "503"}) == 1
    assert otel.total(request, **{"http.response.status_code": 200}) == 1
    assert otel.total(request) == 2
    [retry] = otel.points("crowdsms.retries")
    assert retry.value == 1
    assert dict(retry.attributes) == {
        "crowdsms.provider": "submail",
        "crowdsms.operation": OPERATION,
        "crowdsms.retry.scope": "request",
        "error.type": "503",
    }


@pytest.mark.asyncio
async def test_an_unknown_failure(sandbox: Sandbox, otel: Otel) -> None:
    # Processed, then the connection is closed unanswered: a send without an idempotency
    # key is not retried, and the call fails UNKNOWN.
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail")
    async with sandbox.client("submail", retry_policy=FAST) as client:
        with pytest.raises(ConnectionFailedError) as raised:
            await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert raised.value.certainty is DeliveryCertainty.UNKNOWN

    span = otel.span(OPERATION)
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "crowdsms.errors.ConnectionFailedError"
    assert attributes["crowdsms.delivery_certainty"] == "unknown"
    assert attributes["crowdsms.attempts"] == 1
    assert "http.response.status_code" not in attributes
    assert "crowdsms.provider.code" not in attributes
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "crowdsms.errors.ConnectionFailedError"
    [event] = span.events
    assert event.attributes is not None
    assert event.attributes["crowdsms.delivery_certainty"] == "unknown"
    [point] = otel.points("http.client.request.duration")
    assert point.attributes["error.type"] == "crowdsms.errors.ConnectionFailedError"
    assert "http.response.status_code" not in point.attributes
    [call] = otel.points("crowdsms.client.call.duration")
    assert call.attributes["error.type"] == "crowdsms.errors.ConnectionFailedError"


@pytest.mark.asyncio
async def test_a_clock_repair_nests_the_clock_call_and_records_the_code(
    sandbox: Sandbox, otel: Otel
) -> None:
    # The provider refuses the timestamp: the transport reads the provider's clock (a call
    # of its own, a child of this one) and tries again.
    sandbox.set_clock_offset(3_600)
    async with sandbox.client("submail", retry_policy=FAST) as client:
        await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)

    call = otel.span(OPERATION)
    clock = otel.span("submail.service.timestamp")
    assert clock.parent is not None
    assert clock.parent.span_id == call.context.span_id
    assert clock.context.trace_id == call.context.trace_id
    assert (clock.attributes or {})["http.request.method"] == "GET"
    assert (call.attributes or {})["crowdsms.attempts"] == 2
    [event] = call.events
    attributes = dict(event.attributes or {})
    assert attributes["error.type"] == "crowdsms.errors.ClockSkewError"
    assert attributes["crowdsms.delivery_certainty"] == "not_sent"
    assert attributes["crowdsms.provider.code"].isdigit()


@pytest.mark.asyncio
async def test_the_call_span_is_a_child_of_the_current_span(sandbox: Sandbox, otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("handler") as parent:
        async with sandbox.client("submail") as client:
            await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    span = otel.span(OPERATION)
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
