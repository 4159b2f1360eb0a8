"""Answer formats (json, xml, yaml) and malformed answers."""

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
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.submail import AsyncSubmail, SendResult

BASE = "https://api-v4.mysubmail.com"
CONTENT = "【SUBMAIL】您好，@var(name)"
RECIPIENTS = [Recipient("13800138000", {"name": "a"}), Recipient("13900139000", {"name": "b"})]

XML_SEND = b"""<?xml version="1.0" encoding="UTF-8"?>
<root><status>success</status><send_id>093c0a7d</send_id><fee>1</fee>
<sms_credits>14197</sms_credits></root>"""
YAML_SEND = b"---\nstatus: success\nsend_id: 093c0a7d\nfee: 1\nsms_credits: '14197'\n"

XML_MULTI = """<?xml version="1.0" encoding="UTF-8"?>
<root>
  <item><status>success</status><to>13800138000</to><send_id>a1</send_id><fee>2</fee></item>
  <item><status>error</status><code>252</code><msg>错误的收件人地址</msg></item>
</root>""".encode()
YAML_MULTI = """---
- status: success
  to: 13800138000
  send_id: a1
  fee: 2
- status: error
  code: 252
  msg: 错误的收件人地址
""".encode()


@pytest.mark.parametrize(
    ("response_format", "body", "accept"),
    [
        ("xml", XML_SEND, "application/xml"),
        ("yaml", YAML_SEND, "application/x-yaml"),
    ],
)
@pytest.mark.asyncio
async def test_send_in_each_format(
    make_client: Callable[..., AsyncSubmail], response_format: str, body: bytes, accept: str
) -> None:
    async with make_client(response_format=response_format) as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post(f"/sms/send.{response_format}").respond(content=body)
            result = await client.sms.send(to="13800138000", content="【SUBMAIL】hi")
    assert result == SendResult(send_id="093c0a7d", to="13800138000", fee=1, sms_credits=14197)
    assert route.calls.last.request.headers["accept"].startswith(accept)


@pytest.mark.parametrize(("response_format", "body"), [("xml", XML_MULTI), ("yaml", YAML_MULTI)])
@pytest.mark.asyncio
async def test_multisend_in_each_format(
    make_client: Callable[..., AsyncSubmail], response_format: str, body: bytes
) -> None:
    async with make_client(response_format=response_format) as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post(f"/sms/multisend.{response_format}").respond(content=body)
            result = await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    first, second = result.items
    assert (first.status, first.send_id, first.fee) == (OutcomeStatus.SENT, "a1", 2)
    assert (second.status, second.code, second.message) == (
        OutcomeStatus.FAILED,
        "252",
        "错误的收件人地址",
    )
    assert second.phone == "13900139000"


@pytest.mark.asyncio
async def test_xml_single_item_list(make_client: Callable[..., AsyncSubmail]) -> None:
    body = b"<results><result><status>success</status><send_id>z</send_id></result></results>"
    async with make_client(response_format="xml") as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.xml").respond(content=body)
            result = await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS[:1])
    assert result.items[0].send_id == "z"


@pytest.mark.parametrize(
    ("response_format", "body"),
    [
        ("json", b'{"status":"error","code":108,"msg":"signature invalid"}'),
        ("xml", b"<root><status>error</status><code>108</code><msg>signature invalid</msg></root>"),
        ("yaml", b"status: error\ncode: 108\nmsg: signature invalid\n"),
    ],
)
@pytest.mark.asyncio
async def test_request_level_error_in_each_format(
    make_client: Callable[..., AsyncSubmail], response_format: str, body: bytes
) -> None:
    async with make_client(response_format=response_format) as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post(f"/sms/multisend.{response_format}").respond(content=body)
            with pytest.raises(SignatureError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert info.value.code == "108"
    assert info.value.provider_message == "signature invalid"


HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("response_format", "body", "fragment"),
    [
        ("json", HTML, "HTML page"),
        ("xml", HTML, "HTML page"),
        ("xml", b"<html><body>oops</body></html>", "HTML page"),
        ("yaml", HTML, "HTML page"),
        ("json", b'[{"status":"success","send_id":"a","fee":1},{"status":"succ', "not valid JSON"),
        ("json", b"", "empty"),
        ("xml", b"<root><item><status>success</status>", "not valid XML"),
        ("xml", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><root>&a;</root>', "DOCTYPE"),
        ("yaml", b"- status: success\n  send_id: [unclosed\n", "not valid YAML"),
        ("json", b"\xff\xfe{}", "UTF-8"),
        ("yaml", b"\xff\xfe{}", "UTF-8"),
    ],
)
@pytest.mark.asyncio
async def test_malformed_answers(
    make_client: Callable[..., AsyncSubmail], response_format: str, body: bytes, fragment: str
) -> None:
    async with make_client(response_format=response_format) as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post(f"/sms/multisend.{response_format}").respond(content=body)
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
