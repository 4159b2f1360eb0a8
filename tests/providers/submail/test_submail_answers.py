"""SUBMAIL's JSON answers: request-level errors, malformed answers, wrong types."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import respx

from crowdsms.errors import (
    DeliveryCertainty,
    HTTPStatusError,
    ProviderError,
    ResponseParseError,
    SignatureError,
)
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import AsyncSubmail

BASE = "https://api-v4.mysubmail.com"
CONTENT = "【SUBMAIL】您好，@var(name)"
RECIPIENTS = [Recipient("13800138000", {"name": "a"}), Recipient("13900139000", {"name": "b"})]


@pytest.mark.asyncio
async def test_request_level_error(make_client: Callable[..., AsyncSubmail]) -> None:
    body = b'{"status":"error","code":108,"msg":"signature invalid"}'
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(content=body)
            with pytest.raises(SignatureError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert info.value.code == "108"
    assert info.value.provider_message == "signature invalid"


HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (HTML, "HTML page"),
        (b"<html><body>oops</body></html>", "HTML page"),
        (b'[{"status":"success","send_id":"a","fee":1},{"status":"succ', "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe{}", "UTF-8"),
    ],
)
@pytest.mark.asyncio
async def test_malformed_answers(
    make_client: Callable[..., AsyncSubmail], body: bytes, fragment: str
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(content=body)
            with pytest.raises(ResponseParseError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    message = str(info.value)
    assert fragment in message
    assert "Received: HTTP 200, body" in message
    assert info.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1  # a send whose answer is unreadable is not sent again


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'[{"status":"success","send_id":"a","fee":"abc"},{"status":"error","code":1}]', "fee"),
        (b'[{"status":"success","send_id":{"x":1}},{"status":"error","code":1}]', "send_id"),
        (b'[{"status":"success","send_id":"a","fee":true},{"status":"error","code":1}]', "fee"),
        (b'[{"status":"success"},{"status":"error","code":1}]', "send_id"),
        (b'[{"status":"error","msg":"x"},{"status":"error","code":1}]', "code"),
        (b'[{"status":"queued","send_id":"a"},{"status":"error","code":1}]', "queued"),
        (b'["ok","ok"]', "str"),
        (b'{"status":"success","send_id":"a"}', "list of results"),
        (b'"done"', "list of results"),
        (b"null", "list of results"),
    ],
)
@pytest.mark.asyncio
async def test_wrong_types(
    make_client: Callable[..., AsyncSubmail], body: bytes, fragment: str
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(content=body)
            with pytest.raises(ResponseParseError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    message = str(info.value)
    assert fragment in message
    assert "Received: HTTP 200, body" in message
    assert repr(body.decode()[:10])[1:-1] in message  # an excerpt of the answer


@pytest.mark.parametrize(
    "body",
    [b'{"status":"success","fee":1}', b"[]", b'{"status":"ok","send_id":"a"}', b"<x/>"],
)
@pytest.mark.asyncio
async def test_send_wrong_shapes(make_client: Callable[..., AsyncSubmail], body: bytes) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/send.json").respond(content=body)
            with pytest.raises(ResponseParseError):
                await client.sms.send(to="13800138000", content="【SUBMAIL】hi")


@pytest.mark.asyncio
async def test_4xx_html_is_an_http_error_not_sent(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/send.json").respond(404, content=HTML)
            with pytest.raises(HTTPStatusError) as info:
                await client.sms.send(to="13800138000", content="【SUBMAIL】hi")
    assert info.value.status_code == 404
    assert info.value.certainty is DeliveryCertainty.NOT_SENT
    assert "502 Bad Gateway" in str(info.value)  # the excerpt


@pytest.mark.asyncio
async def test_4xx_with_a_submail_error_object_is_the_typed_error(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/send.json").respond(
                400, json={"status": "error", "code": 252, "msg": "bad number"}
            )
            with pytest.raises(ProviderError) as info:
                await client.sms.send(to="13800138000", content="【SUBMAIL】hi")
    assert info.value.code == "252"
