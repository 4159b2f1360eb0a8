"""The timestamp endpoint, and clock correction after a 151/152 rejection."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms.errors import ClockSkewError, DeliveryCertainty, ResponseParseError
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import AsyncSubmail

BASE = "https://api-v4.mysubmail.com"
APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"
CONTENT = "【SUBMAIL】您的验证码 @var(code)"
RECIPIENTS = [Recipient("13800138000", {"code": "1234"})]
OUR_TIME = 1_700_000_000  # the fixture's frozen clock, whole seconds
SERVER_TIME = OUR_TIME + 100  # SUBMAIL's clock is 100 s ahead


def signature(timestamp: int) -> str:
    text = (
        f"{APP_ID}{APP_KEY}"
        f"appid={APP_ID}&sign_type=md5&sign_version=2&timestamp={timestamp}"
        f"{APP_ID}{APP_KEY}"
    )
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize("code", [151, 152])
@pytest.mark.asyncio
async def test_clock_rejection_remeasures_and_retries_once(
    make_client: Callable[..., AsyncSubmail], sleeps: list[float], code: int
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            send = mock.post("/sms/multisend.json")
            send.side_effect = [
                httpx.Response(200, json={"status": "error", "code": code, "msg": "时间戳错误"}),
                httpx.Response(200, json=[{"status": "success", "send_id": "s1", "fee": 1}]),
            ]
            clock = mock.get("/service/timestamp.json").respond(json={"timestamp": SERVER_TIME})
            result = await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
        assert client.clock_offset == pytest.approx(SERVER_TIME - 1_700_000_000.25)
    assert result.items[0].send_id == "s1"
    assert send.call_count == 2
    assert clock.call_count == 1
    first, second = (json.loads(call.request.content) for call in send.calls)
    assert first["timestamp"] == str(OUR_TIME)
    assert first["signature"] == signature(OUR_TIME)
    assert second["timestamp"] == str(SERVER_TIME)
    assert second["signature"] == signature(SERVER_TIME)
    timestamp_request = clock.calls.last.request
    assert timestamp_request.method == "GET"
    assert timestamp_request.url == "https://api-v4.mysubmail.com/service/timestamp.json"
    assert timestamp_request.content == b""  # unsigned: no appid, no signature
    assert sleeps == []  # a repaired rejection is retried at once


@pytest.mark.asyncio
async def test_repeated_clock_rejection_raises_clock_skew_error(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            send = mock.post("/sms/multisend.json").respond(
                json={"status": "error", "code": 152, "msg": "expired"}
            )
            clock = mock.get("/service/timestamp.json").respond(json={"timestamp": SERVER_TIME})
            with pytest.raises(ClockSkewError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert send.call_count == 2
    assert clock.call_count == 1
    assert info.value.code == "152"
    assert info.value.certainty is DeliveryCertainty.NOT_SENT
    assert "6 seconds" in info.value.explanation


@pytest.mark.asyncio
async def test_clock_rejection_of_a_single_send_remeasures(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            send = mock.post("/sms/send.json")
            send.side_effect = [
                httpx.Response(200, json={"status": "error", "code": "151", "msg": "x"}),
                httpx.Response(200, json={"status": "success", "send_id": "q"}),
            ]
            clock = mock.get("/service/timestamp.json").respond(json={"timestamp": SERVER_TIME})
            result = await client.sms.send(to="13800138000", content="【SUBMAIL】hi")
    assert result.send_id == "q"
    assert clock.call_count == 1
    assert json.loads(send.calls.last.request.content)["timestamp"] == str(SERVER_TIME)


@pytest.mark.asyncio
async def test_service_timestamp(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.get("/service/timestamp.json").respond(
                content=b'{"timestamp": 1414253462}'
            )
            assert await client.service.timestamp() == 1414253462
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.query == b""
    assert request.content == b""


@pytest.mark.asyncio
async def test_service_timestamp_is_retried_after_an_ambiguous_failure(
    make_client: Callable[..., AsyncSubmail], sleeps: list[float]
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.get("/service/timestamp.json")
            route.side_effect = [
                httpx.Response(500),
                httpx.ReadTimeout("slow"),
                httpx.Response(200, json={"timestamp": 1414253462}),
            ]
            assert await client.service.timestamp() == 1414253462
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "body", [b'{"timestamp": -5}', b'{"timestamp": "x"}', b"<html>hi</html>", b'{"timestamp": 1']
)
@pytest.mark.asyncio
async def test_service_timestamp_malformed(
    make_client: Callable[..., AsyncSubmail], body: bytes
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.get("/service/timestamp.json").respond(content=body)
            with pytest.raises(ResponseParseError, match="Received: HTTP 200"):
                await client.service.timestamp()


@pytest.mark.asyncio
async def test_measure_clock_uses_the_timestamp_endpoint(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.get("/service/timestamp.json").respond(json={"timestamp": OUR_TIME - 30})
            offset = await client.measure_clock()
    assert offset == pytest.approx(-30.25)
