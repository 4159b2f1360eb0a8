"""Delivery-report pushes as the SDK's receivers read them: request events, the domestic
SMSHook events, replies, the push delay, and reports of requests whose answer was lost.

The pushes go to a served WebhookApp with the SDK's receivers, so each test checks the
sandbox's pushes and the SDK's parsing of them together. Waits are bounded; nothing asserts
that something did *not* happen within some time.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import pytest_asyncio

from crowdsms.providers.paasw import PaaswWebhook
from crowdsms.providers.sendcloud import (
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudReply,
    SendCloudRequest,
    SendCloudWebhook,
)
from crowdsms.providers.submail import (
    SubmailDelivered,
    SubmailReply,
    SubmailRequest,
    SubmailWebhook,
)
from crowdsms.sandbox import FaultKind, SandboxSettings, serve, serve_asgi
from crowdsms.sandbox.emulators.sendcloud import (
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SENDCLOUD_WEBHOOK_KEY,
)
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY, SUBMAIL_SUBHOOK_KEY
from crowdsms.webhooks import DeliveryOutcome, Event, MessageEvent, WebhookApp

from . import signing

MULTISEND = "/submail/sms/multisend"
PHONES = ("13800138000", "13800138001")


class Inbox:
    """Every event the webhook app handled, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived: list[float] = []
        self.url = ""
        self._changed = anyio.Event()

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.append(time.monotonic())
        self._changed.set()

    async def wait_for(self, count: int) -> list[Event]:
        with anyio.fail_after(10):
            while len(self.events) < count:
                self._changed = anyio.Event()
                await self._changed.wait()
        return list(self.events)


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    hooks = Inbox()
    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_SUBHOOK_KEY),
        sendcloud=SendCloudWebhook(key=SENDCLOUD_WEBHOOK_KEY),
        paasw=PaaswWebhook(),
        handlers={Event: hooks},
    )
    async with serve_asgi(app) as url:
        hooks.url = url
        yield hooks


def hooked(inbox: Inbox, **settings: object) -> SandboxSettings:
    return SandboxSettings(
        webhooks={"submail": inbox.url + "/submail", "sendcloud": inbox.url + "/sendcloud"},
        **settings,
    )


def multisend(*phones: str, tag: str | None = None) -> dict[str, str]:
    multi = json.dumps([{"to": phone} for phone in phones])
    fields = {"content": "【沙箱】你好", "multi": multi}
    if tag is not None:
        fields["tag"] = tag
    return signing.submail_request(SUBMAIL_APPID, SUBMAIL_APPKEY, **fields)


def sendcloud_send(*phones: str) -> dict[str, str]:
    return signing.sendcloud_request(
        SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, templateId="1", phone=",".join(phones)
    )


# -- a: SUBHOOK request events -------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_submail_message_gets_a_tagged_request_event_before_its_report(inbox: Inbox):
    async with serve(hooked(inbox)) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = (await http.post(MULTISEND, data=multisend(*PHONES, tag="job-9.c2"))).json()
        events = await inbox.wait_for(4)
    ids = {item["to"]: item["send_id"] for item in answer}
    requests = [e for e in events if isinstance(e, SubmailRequest)]
    reports = [e for e in events if isinstance(e, SubmailDelivered)]
    assert sorted((e.phone, e.message_id) for e in requests) == sorted(ids.items())
    assert sorted((e.phone, e.message_id) for e in reports) == sorted(ids.items())
    assert all(e.reference == e.tag == "job-9.c2" for e in [*requests, *reports])
    assert all(e.content == "【沙箱】你好" and e.app == SUBMAIL_APPID for e in requests)
    for phone in PHONES:
        kinds = [type(e) for e in events if isinstance(e, MessageEvent) and e.phone == phone]
        assert kinds == [SubmailRequest, SubmailDelivered]


@pytest.mark.asyncio
async def test_a_submail_request_without_a_tag_has_no_reference(inbox: Inbox):
    async with serve(hooked(inbox)) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        await http.post(MULTISEND, data=multisend(PHONES[0]))
        request, report = await inbox.wait_for(2)
    assert isinstance(request, SubmailRequest)
    assert isinstance(report, SubmailDelivered)
    assert (request.reference, report.reference) == (None, None)


# -- b: SMSHook, the domestic edition ------------------------------------------------------


@pytest.mark.asyncio
async def test_sendcloud_pushes_request_then_deliver_with_their_event_types(inbox: Inbox):
    async with serve(hooked(inbox)) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = (await http.post("/sendcloud/smsapi/send", data=sendcloud_send(*PHONES))).json()
        events = await inbox.wait_for(4)
    ids = answer["info"]["smsIds"]
    assert [(type(e), e.kind, e.raw["eventType"]) for e in events] == [
        (SendCloudRequest, "request", "1"),
        (SendCloudRequest, "request", "1"),
        (SendCloudDelivered, "deliver", "2"),
        (SendCloudDelivered, "deliver", "2"),
    ]
    assert [(e.message_id, e.phone) for e in events] == [*zip(ids, PHONES, strict=True)] * 2


@pytest.mark.asyncio
async def test_an_undelivered_sendcloud_message_gets_delivererror(inbox: Inbox):
    settings = hooked(inbox, delivery_failure_rate=1.0)
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = (await http.post("/sendcloud/smsapi/send", data=sendcloud_send(PHONES[0]))).json()
        request, failed = await inbox.wait_for(2)
    assert isinstance(request, SendCloudRequest)
    assert isinstance(failed, SendCloudFailed)
    assert (failed.kind, failed.raw["eventType"], failed.failure) == (
        "delivererror",
        "5",
        "delivery",
    )
    assert (failed.message_id, failed.phone) == (answer["info"]["smsIds"][0], PHONES[0])
    assert (failed.outcome, failed.carrier_code) == (DeliveryOutcome.FAILED, "UNDELIV")


@pytest.mark.asyncio
async def test_a_blocked_contact_list_member_gets_workererror(inbox: Inbox):
    blocked = "13900139001"
    settings = hooked(inbox, blocked_numbers={blocked})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        task = signing.sendcloud_request(
            SENDCLOUD_SMS_USER,
            SENDCLOUD_SMS_KEY,
            contactListName="sandbox-vip",
            taskName="t",
            templateId="3",
        )
        created = (await http.post("/sendcloud/smsapi/sendContactListTask", data=task)).json()
        assert created["statusCode"] == 200
        sandbox.advance_clock(60)  # the task waits, runs, and sends
        events = await inbox.wait_for(4)
    reports = {e.phone: e for e in events if not isinstance(e, SendCloudRequest)}
    assert isinstance(reports["13900139000"], SendCloudDelivered)
    refused = reports[blocked]
    assert isinstance(refused, SendCloudFailed)
    assert (refused.kind, refused.raw["eventType"], refused.failure) == (
        "workererror",
        "4",
        "worker",
    )
    assert refused.carrier_code == "黑名单"


@pytest.mark.asyncio
async def test_sendcloud_and_submail_replies_are_pushed(inbox: Inbox):
    async with serve(hooked(inbox)) as sandbox:
        sandbox.add_reply("sendcloud", PHONES[0], "退订")
        sandbox.add_reply("submail", PHONES[1], "好的")
        first, second = await inbox.wait_for(2)
    assert isinstance(first, SendCloudReply)
    assert (first.kind, first.raw["eventType"]) == ("reply", "6")
    assert (first.phone, first.content, first.sms_user) == (PHONES[0], "退订", SENDCLOUD_SMS_USER)
    assert first.occurred_at is not None
    assert isinstance(second, SubmailReply)
    assert (second.phone, second.content, second.app) == (PHONES[1], "好的", SUBMAIL_APPID)


# -- c: the push delay ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_delayed_report_holds_back_no_other_push(inbox: Inbox):
    settings = hooked(inbox, webhook_delay=3600.0)
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        await http.post(MULTISEND, data=multisend(PHONES[0]))
        [request] = await inbox.wait_for(1)  # a request event is not delayed
        assert sandbox.state.webhooks.pending == 1  # its report waits an hour
        sandbox.add_reply("submail", PHONES[0], "好的")  # replies are not delayed
        await inbox.wait_for(2)
        sandbox.configure(webhook_delay=0.0)
        await http.post(MULTISEND, data=multisend(PHONES[1]))
        events = await inbox.wait_for(4)
        pending = sandbox.state.webhooks.pending
    assert [(type(e), getattr(e, "phone", None)) for e in events] == [
        (SubmailRequest, PHONES[0]),
        (SubmailReply, PHONES[0]),
        (SubmailRequest, PHONES[1]),
        (SubmailDelivered, PHONES[1]),  # due at once: it overtakes the report due later
    ]
    assert isinstance(request, SubmailRequest)
    assert pending == 1  # the first report, still waiting


@pytest.mark.asyncio
async def test_a_report_is_pushed_no_sooner_than_the_delay(inbox: Inbox):
    delay = 0.3
    async with serve(hooked(inbox, webhook_delay=delay)) as sandbox:
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            sent_at = time.monotonic()
            await http.post("/sendcloud/smsapi/send", data=sendcloud_send(PHONES[0]))
        request, report = await inbox.wait_for(2)
    assert isinstance(request, SendCloudRequest)
    assert isinstance(report, SendCloudDelivered)
    assert inbox.arrived[1] - sent_at >= delay


@pytest.mark.asyncio
async def test_the_delay_is_a_runtime_setting_over_http():
    async with serve() as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        patched = await http.patch("/_sandbox/settings", json={"webhook_delay": 2.5})
        refused = await http.patch("/_sandbox/settings", json={"webhook_delay": -1})
    assert patched.json()["webhook_delay"] == 2.5
    assert sandbox.settings.webhook_delay == 2.5
    assert refused.status_code == 400


# -- reports of requests whose answer was lost -----------------------------------------------


@pytest.mark.asyncio
async def test_a_request_dropped_after_processing_still_gets_its_reports(inbox: Inbox):
    async with serve(hooked(inbox)) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as http:
        sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.post(MULTISEND, data=multisend(*PHONES, tag="job-1.c0"))
        events = await inbox.wait_for(4)
        ledger = sandbox.ledger.entries(provider="submail")
    sent = sorted((entry.phone, entry.message_id) for entry in ledger)
    reports = [e for e in events if isinstance(e, SubmailDelivered)]
    assert sorted((e.phone, e.message_id) for e in reports) == sent
    assert {e.reference for e in reports} == {"job-1.c0"}
