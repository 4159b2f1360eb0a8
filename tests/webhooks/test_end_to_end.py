"""End to end: the SDK sends through the sandbox, which pushes to a served WebhookApp.

The webhook app runs under uvicorn on 127.0.0.1 (a free port); the sandbox signs its pushes
with its own implementation of each provider's rule. Waits are bounded (anyio.fail_after
around an event), never sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import pytest_asyncio

from crowdsms import AsyncPaasw, AsyncSendCloud, AsyncSubmail, Recipient
from crowdsms.providers.paasw import PaaswDeliveryReport, PaaswReply, PaaswWebhook, SmsKind
from crowdsms.providers.sendcloud import SendCloudDelivered, SendCloudFailed, SendCloudWebhook
from crowdsms.providers.submail import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailWebhook,
)
from crowdsms.sandbox import SandboxSettings, serve, serve_asgi
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import (
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SENDCLOUD_WEBHOOK_KEY,
)
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY, SUBMAIL_SUBHOOK_KEY
from crowdsms.webhooks import DeliveryEvent, DeliveryOutcome, Event, ReplyEvent, WebhookApp

BLOCKED = "13800138002"
PHONES = ["13800138000", "13800138001", BLOCKED]


class Inbox:
    """Collects events; ``wait_for(n)`` returns once ``n`` arrived (bounded)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = anyio.Event()

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, count: int) -> list[Event]:
        with anyio.fail_after(10):
            while len(self.events) < count:
                self._arrived = anyio.Event()
                await self._arrived.wait()
        return self.events


class Hooks:
    def __init__(self, url: str, reports: Inbox, replies: Inbox) -> None:
        self.url = url
        self.reports = reports
        self.replies = replies


@pytest_asyncio.fixture
async def hooks() -> AsyncIterator[Hooks]:
    reports, replies = Inbox(), Inbox()
    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_SUBHOOK_KEY),
        sendcloud=SendCloudWebhook(key=SENDCLOUD_WEBHOOK_KEY),
        paasw=PaaswWebhook(),
        handlers={DeliveryEvent: reports, ReplyEvent: replies},
    )
    async with serve_asgi(app, host="127.0.0.1", port=0) as url:
        yield Hooks(url, reports, replies)


def settings_for(hooks: Hooks) -> SandboxSettings:
    return SandboxSettings(
        webhooks={
            "submail": hooks.url + "/submail",
            "sendcloud": hooks.url + "/sendcloud",
            "paasw": hooks.url + "/paasw/deliver",
        },
        reply_webhooks={"paasw": hooks.url + "/paasw/replies"},
        blocked_numbers={BLOCKED},
    )


@pytest.mark.asyncio
async def test_submail_reports_arrive_once_per_sent_message_with_their_send_ids(hooks: Hooks):
    recipients = [Recipient(phone, {"name": f"n{i}"}) for i, phone in enumerate(PHONES)]
    async with serve(settings_for(hooks)) as sandbox:
        async with AsyncSubmail(
            app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=sandbox.base_url("submail")
        ) as client:
            result = await client.sms.multisend(
                content="【沙箱】您好，@var(name)", recipients=recipients, tag="e2e"
            )
            reports = list(await hooks.reports.wait_for(len(result.sent)))
            sandbox.configure(delivery_failure_rate=1.0)
            later = await client.sms.send(to=PHONES[1], content="【沙箱】再见")
            reports = await hooks.reports.wait_for(len(result.sent) + 1)
        sandbox.add_reply("submail", PHONES[0], "好的")
        [reply] = await hooks.replies.wait_for(1)
        records = sandbox.webhook_records
    # The blocked number is refused at send time (code 114): it gets no report.
    assert [item.phone for item in result.sent] == PHONES[:2]
    assert [item.code for item in result.failed] == ["114"]
    sent = [(item.send_id, item.phone) for item in result.sent] + [(later.send_id, later.to)]
    assert sorted((e.message_id, e.phone) for e in reports if isinstance(e, DeliveryEvent)) == (
        sorted(sent)
    )
    kinds = {e.message_id: (type(e), e.outcome) for e in reports if isinstance(e, DeliveryEvent)}
    assert kinds == {
        result.sent[0].send_id: (SubmailDelivered, DeliveryOutcome.DELIVERED),
        result.sent[1].send_id: (SubmailDelivered, DeliveryOutcome.DELIVERED),
        later.send_id: (SubmailDropped, DeliveryOutcome.FAILED),
    }
    tags = [e.tag for e in reports if isinstance(e, (SubmailDelivered, SubmailDropped))]
    assert tags == ["e2e", "e2e", None]
    assert isinstance(reply, SubmailReply)
    assert (reply.phone, reply.content, reply.app) == (PHONES[0], "好的", SUBMAIL_APPID)
    # Every push was accepted at the first attempt (the last record may still be on its way).
    assert len(records) >= 3
    assert all((r.delivered, r.attempts, r.status_code) == (True, 1, 200) for r in records)


@pytest.mark.asyncio
async def test_sendcloud_reports_arrive_once_per_sent_message_with_their_sms_ids(hooks: Hooks):
    async with (
        serve(settings_for(hooks)) as sandbox,
        AsyncSendCloud(
            sms_user=SENDCLOUD_SMS_USER,
            sms_key=SENDCLOUD_SMS_KEY,
            base_url=sandbox.base_url("sendcloud"),
        ) as client,
    ):
        result = await client.sms.send(template_id=1, phones=PHONES, vars={"code": "1234"})
        await hooks.reports.wait_for(len(result.sms_ids))
        sandbox.configure(delivery_failure_rate=1.0)
        later = await client.sms.send(template_id=1, phones=[PHONES[0]], vars={"code": "9"})
        reports = await hooks.reports.wait_for(len(result.sms_ids) + 1)
    assert [o.phone for o in result.sent] == PHONES[:2]
    ids = [*result.sms_ids, *later.sms_ids]
    assert sorted(e.message_id or "" for e in reports) == sorted(ids)
    by_id = {e.message_id: type(e) for e in reports}
    assert by_id == {
        result.sms_ids[0]: SendCloudDelivered,
        result.sms_ids[1]: SendCloudDelivered,
        later.sms_ids[0]: SendCloudFailed,
    }
    assert [e.phone for e in reports] == [PHONES[0], PHONES[1], PHONES[0]]


@pytest.mark.asyncio
async def test_paasw_reports_and_replies_arrive_at_their_own_paths(hooks: Hooks):
    async with serve(settings_for(hooks)) as sandbox:
        async with AsyncPaasw(
            app_id=PAASW_APP_ID, secret=PAASW_SECRET, base_url=sandbox.base_url("paasw")
        ) as client:
            result = await client.sms.send(
                phones=PHONES, sign="沙箱", content="【沙箱】你好", kind=SmsKind.NOTICE
            )
        reports = await hooks.reports.wait_for(len(PHONES))
        sandbox.add_reply("paasw", PHONES[1], "收到", sign="沙箱")
        [reply] = await hooks.replies.wait_for(1)
    assert all(isinstance(e, PaaswDeliveryReport) for e in reports)
    assert sorted((e.message_id, e.phone) for e in reports if isinstance(e, DeliveryEvent)) == [
        (result.biz_id, phone) for phone in sorted(PHONES)
    ]
    by_phone = {e.phone: e.delivered for e in reports if isinstance(e, DeliveryEvent)}
    assert by_phone == {PHONES[0]: True, PHONES[1]: True, BLOCKED: False}
    assert isinstance(reply, PaaswReply)
    assert (reply.phone, reply.content, reply.sign) == (PHONES[1], "收到", "沙箱")
