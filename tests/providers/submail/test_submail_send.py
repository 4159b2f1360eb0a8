"""client.sms.send: the exact request, success, request-level errors, no silent resend."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms.errors import (
    AuthenticationError,
    DeliveryCertainty,
    HTTPStatusError,
    ProviderError,
    RequestTimeoutError,
    SignatureError,
)
from crowdsms.providers.submail import AsyncSubmail, SendResult

BASE = "https://api-v4.mysubmail.com"
APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"
TIMESTAMP = "1700000000"  # the fixture's frozen clock, whole seconds
CONTENT = "【SUBMAIL】您的验证码是 4438，请在 10 分钟内输入 & 勿告诉他人 🎉"

SUCCESS = {
    "status": "success",
    "send_id": "093c0a7df143c087d6cba9cdf0cf3738",
    "fee": 1,
    "sms_credits": "14197",
}


def expected_send_signature(to: str, sign_type: str = "md5") -> str:
    text = (
        f"{APP_ID}{APP_KEY}"
        f"appid={APP_ID}&sign_type={sign_type}&sign_version=2&timestamp={TIMESTAMP}&to={to}"
        f"{APP_ID}{APP_KEY}"
    )
    return hashlib.new(sign_type, text.encode("utf-8")).hexdigest()


@pytest.mark.asyncio
async def test_send_request_and_result(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(json=SUCCESS)
            result = await client.sms.send(to="+86 138-0013-8000", content=CONTENT, tag="otp")
    assert result == SendResult(
        send_id="093c0a7df143c087d6cba9cdf0cf3738", to="13800138000", fee=1, sms_credits=14197
    )
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url == "https://api-v4.mysubmail.com/sms/send.json"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {
        "to": "13800138000",
        "content": CONTENT,
        "tag": "otp",
        "appid": APP_ID,
        "sign_type": "md5",
        "sign_version": "2",
        "timestamp": TIMESTAMP,
        "signature": expected_send_signature("13800138000"),
    }


@pytest.mark.asyncio
async def test_send_sha1_without_tag(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(sign_type="sha1") as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(
                json={"status": "success", "send_id": "abc", "fee": 2}
            )
            result = await client.sms.send(to="13900139000", content=CONTENT)
    assert result.fee == 2
    assert result.sms_credits is None
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content) == {
        "to": "13900139000",
        "content": CONTENT,
        "appid": APP_ID,
        "sign_type": "sha1",
        "sign_version": "2",
        "timestamp": TIMESTAMP,
        "signature": expected_send_signature("13900139000", "sha1"),
    }


@pytest.mark.asyncio
async def test_send_normal_sign_type(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(sign_type="normal") as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(json=SUCCESS)
            await client.sms.send(to="13800138000", content=CONTENT)
    body = json.loads(route.calls.last.request.content)
    assert body["signature"] == APP_KEY
    assert "timestamp" not in body
    assert body["sign_type"] == "normal"


@pytest.mark.parametrize(
    ("code", "error_class", "in_explanation"),
    [
        (101, AuthenticationError, "app id"),
        (108, SignatureError, "signature is not valid"),
        (252, ProviderError, "phone number"),
        (903, ProviderError, "credits"),
        (420, ProviderError, "template"),
        (999, ProviderError, "does not know"),
    ],
)
@pytest.mark.asyncio
async def test_request_level_errors_are_typed(
    make_client: Callable[..., AsyncSubmail],
    code: int,
    error_class: type[ProviderError],
    in_explanation: str,
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(
                json={"status": "error", "code": code, "msg": "错误信息"}
            )
            with pytest.raises(error_class) as info:
                await client.sms.send(to="13800138000", content=CONTENT)
    error = info.value
    assert type(error) is error_class
    assert error.code == str(code)
    assert error.provider == "submail"
    assert error.provider_message == "错误信息"
    assert in_explanation in error.explanation
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert error.operation == "submail.sms.send"
    assert "错误信息" in str(error)
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_rate_limited_code_is_retryable(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/send.json").respond(
                json={"status": "error", "code": "115", "msg": "该手机号码请求超限"}
            )
            with pytest.raises(ProviderError) as info:
                await client.sms.send(to="13800138000", content=CONTENT)
    assert info.value.code == "115"
    assert info.value.retryable is True


@pytest.mark.asyncio
async def test_ambiguous_failure_is_not_sent_again(
    make_client: Callable[..., AsyncSubmail], sleeps: list[float]
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(500, text="Internal Server Error")
            with pytest.raises(HTTPStatusError) as info:
                await client.sms.send(to="13800138000", content=CONTENT)
    assert route.call_count == 1
    assert info.value.certainty is DeliveryCertainty.UNKNOWN
    assert sleeps == []


@pytest.mark.asyncio
async def test_read_timeout_is_not_sent_again(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").mock(side_effect=httpx.ReadTimeout("slow"))
            with pytest.raises(RequestTimeoutError) as info:
                await client.sms.send(to="13800138000", content=CONTENT)
    assert route.call_count == 1
    assert info.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
async def test_not_processed_503_is_retried_and_re_signed(
    make_client: Callable[..., AsyncSubmail], sleeps: list[float]
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json")
            route.side_effect = [httpx.Response(503), httpx.Response(200, json=SUCCESS)]
            result = await client.sms.send(to="13800138000", content=CONTENT)
    assert result.send_id == SUCCESS["send_id"]
    assert route.call_count == 2
    assert len(sleeps) == 1
    for call in route.calls:
        assert json.loads(call.request.content)["signature"] == expected_send_signature(
            "13800138000"
        )
