"""Pushes arrive at a receiver served by uvicorn, signed as each provider signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crowdsms.sandbox import SandboxSettings, serve, serve_asgi
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import (
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SENDCLOUD_WEBHOOK_KEY,
    SendCloudSettings,
)
from crowdsms.sandbox.emulators.submail import (
    SUBMAIL_APPID,
    SUBMAIL_APPKEY,
    SUBMAIL_SUBHOOK_KEY,
    SubmailSettings,
)

from . import signing


class Receiver:
    """A webhook receiver: records each push; fails the first ``failures`` of them."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, bytes]] = []
        self.failures = 0
        self.url = ""
        self._changed = anyio.Event()

    async def endpoint(self, request: Request) -> Response:
        self.pushes.append((request.headers.get("content-type", ""), await request.body()))
        self._changed.set()
        if self.failures > 0:
            self.failures -= 1
            return Response("try later", status_code=500)
        return Response('{"code":"10000","msg":"ok"}', media_type="application/json")

    async def wait_for(self, count: int) -> list[tuple[str, bytes]]:
        with anyio.fail_after(5):
            while len(self.pushes) < count:
                self._changed = anyio.Event()
                await self._changed.wait()
        return self.pushes


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = Starlette(routes=[Route("/hook", hooks.endpoint, methods=["POST"])])
    async with serve_asgi(app) as url:
        hooks.url = url + "/hook"
        yield hooks


def form_of(push: tuple[str, bytes]) -> dict[str, str]:
    content_type, body = push
    assert content_type == "application/x-www-form-urlencoded"
    return dict(urllib.parse.parse_qsl(body.decode()))


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for a condition the server reaches right after the receiver answers."""
    with anyio.fail_after(5):
        while not condition():  # noqa: ASYNC110 (the sandbox exposes no event for it)
            await anyio.sleep(0.01)


@pytest.mark.asyncio
async def test_subhook_pushes_are_signed_with_md5_of_token_and_key(receiver: Receiver):
    settings = SandboxSettings(webhooks={"submail": receiver.url})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        multi = json.dumps([{"to": "13800138000"}, {"to": "13800138001"}])
        form = signing.submail_request(
            SUBMAIL_APPID, SUBMAIL_APPKEY, content="【沙箱】你好", multi=multi, tag="camp-1"
        )
        answer = (await client.post("/submail/sms/multisend", data=form)).json()
        pushes = [form_of(push) for push in await receiver.wait_for(4)]
    # A request event for each message first, then each message's report.
    requests, reports = pushes[:2], pushes[2:]
    for push in pushes:
        expected = hashlib.md5((push["token"] + SUBMAIL_SUBHOOK_KEY).encode()).hexdigest()
        assert push["signature"] == expected
        assert len(push["token"]) == 32
        assert (push["app"], push["tag"]) == (SUBMAIL_APPID, "camp-1")
    for request, report, item in zip(requests, reports, answer, strict=True):
        assert (request["events"], request["address"], request["send_id"]) == (
            "request",
            item["to"],
            item["send_id"],
        )
        assert request["content"] == "【沙箱】你好"
        assert (report["events"], report["address"], report["send_id"]) == (
            "delivered",
            item["to"],
            item["send_id"],
        )


@pytest.mark.asyncio
async def test_failed_deliveries_and_replies_reach_the_subhook_as_json(receiver: Receiver):
    settings = SandboxSettings(
        webhooks={"submail": receiver.url},
        delivery_failure_rate=1.0,
        providers={"submail": SubmailSettings(subhook_format="json")},
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        form = signing.submail_request(
            SUBMAIL_APPID, SUBMAIL_APPKEY, content="【沙箱】你好", multi='[{"to":"13800138000"}]'
        )
        await client.post("/submail/sms/multisend", data=form)
        await receiver.wait_for(2)
        sandbox.add_reply("submail", "13800138000", "好的")
        pushes = await receiver.wait_for(3)
    events = [json.loads(body) for _, body in pushes]
    assert [(event["events"], event["address"]) for event in events] == [
        ("request", "13800138000"),
        ("dropped", "13800138000"),
        ("mo", "13800138000"),
    ]
    assert "tag" not in events[0]
    assert events[1]["report"] == "UNDELIV"
    assert events[2]["content"] == "好的"
    for event in events:
        key = (event["token"] + SUBMAIL_SUBHOOK_KEY).encode()
        assert event["signature"] == hashlib.md5(key).hexdigest()


@pytest.mark.asyncio
async def test_smshook_pushes_are_signed_with_hmac_sha256(receiver: Receiver):
    settings = SandboxSettings(
        webhooks={"sendcloud": receiver.url}, blocked_numbers={"13800138001"}
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        data = signing.sendcloud_request(
            SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, templateId="1", phone="13800138000,13800138001"
        )
        answer = (await client.post("/sendcloud/smsapi/send", data=data)).json()
        pushes = [form_of(push) for push in await receiver.wait_for(2)]
    assert answer["statusCode"] == 311
    for push in pushes:
        message = (push["timestamp"] + push["token"]).encode()
        expected = hmac.new(SENDCLOUD_WEBHOOK_KEY.encode(), message, hashlib.sha256).hexdigest()
        assert push["signature"] == expected
    assert [(p["event"], p["eventType"], p["phone"], p["smsId"]) for p in pushes] == [
        ("request", "1", "13800138000", answer["info"]["smsIds"][0]),
        ("deliver", "2", "13800138000", answer["info"]["smsIds"][0]),
    ]


@pytest.mark.asyncio
async def test_smshook_key_is_a_setting(receiver: Receiver):
    settings = SandboxSettings(
        webhooks={"sendcloud": receiver.url},
        providers={"sendcloud": SendCloudSettings(webhook_key="my-app-key", webhook_format="json")},
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        data = signing.sendcloud_request(
            SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, templateId="1", phone="13800138000"
        )
        await client.post("/sendcloud/smsapi/send", data=data)
        [(content_type, body)] = await receiver.wait_for(1)
    push = json.loads(body)
    assert content_type == "application/json"
    message = (push["timestamp"] + push["token"]).encode()
    assert push["signature"] == hmac.new(b"my-app-key", message, hashlib.sha256).hexdigest()


@pytest.mark.asyncio
async def test_paasw_pushes_json_arrays_of_reports_and_replies(receiver: Receiver):
    settings = SandboxSettings(webhooks={"paasw": receiver.url}, blocked_numbers={"13800138001"})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        params = {"appId": PAASW_APP_ID, "secret": PAASW_SECRET}
        tok = (await client.get("/paasw/api/token", params=params)).json()["token"]
        fields = {
            "token": tok,
            "phoneNumbers": "13800138000,13800138001,42",
            "sign": "沙箱",
            "content": "【沙箱】你好",
            "kind": "2",
        }
        sent = (await client.post("/paasw/sms/send", data=fields)).json()
        sandbox.add_reply("paasw", "13800138000", "收到", sign="沙箱")
        pushes = await receiver.wait_for(2)
    assert all(content_type == "application/json" for content_type, _ in pushes)
    reports, replies = (json.loads(body) for _, body in pushes)
    assert [(r["phoneNumber"], r["code"], r["success"], r["bizId"]) for r in reports] == [
        ("13800138000", "10000", True, sent["bizId"]),
        ("13800138001", "7", False, sent["bizId"]),
        ("42", "1", False, sent["bizId"]),
    ]
    assert replies == [
        {
            "phoneNumber": "13800138000",
            "sendTime": replies[0]["sendTime"],
            "content": "收到",
            "sign": "沙箱",
            "sequenceId": replies[0]["sequenceId"],
        }
    ]


@pytest.mark.asyncio
async def test_failed_pushes_are_retried_then_given_up(receiver: Receiver):
    settings = SandboxSettings(
        webhooks={"paasw": receiver.url}, webhook_attempts=3, webhook_retry_delay=0.01
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        params = {"appId": PAASW_APP_ID, "secret": PAASW_SECRET}
        tok = (await client.get("/paasw/api/token", params=params)).json()["token"]
        fields = {"token": tok, "sign": "沙箱", "content": "【沙箱】你好", "kind": "2"}
        receiver.failures = 1
        await client.post("/paasw/sms/send", data={**fields, "phoneNumbers": "13800138000"})
        await receiver.wait_for(2)
        await until(lambda: len(sandbox.webhook_records) == 1)
        receiver.failures = 3
        await client.post("/paasw/sms/send", data={**fields, "phoneNumbers": "13800138001"})
        await receiver.wait_for(5)
        await until(lambda: len(sandbox.webhook_records) == 2)
        first, second = sandbox.webhook_records
    assert (first.delivered, first.attempts) == (True, 2)
    assert (second.delivered, second.attempts, second.error) == (False, 3, "HTTP 500")
    assert receiver.pushes[0][1] == receiver.pushes[1][1]  # a retry repeats the same body
