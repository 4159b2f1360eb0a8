"""paasw through the SDK against the sandbox: sends, report and reply queues, balance."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from crowdsms.providers.paasw import DeliveryStatus, SmsKind
from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID

from .support import TIME_LIMIT, RecordingTransport, assert_no_secret, paasw, segments

SIGN = "沙箱"
NOTICE = "【沙箱】您的快件已签收，谢谢使用。"


@pytest.mark.asyncio
async def test_send_to_several_numbers(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            result = await client.sms.send(
                phones=["13800138000", "+86 138 0013 8001"],
                sign=SIGN,
                content=NOTICE,
                kind=SmsKind.NOTICE,
            )
    assert result.phones == ("13800138000", "13800138001")
    entries = sandbox.ledger.entries()
    assert [entry.phone for entry in entries] == ["13800138000", "13800138001"]
    assert {entry.message_id for entry in entries} == {result.biz_id}
    assert {(entry.endpoint, entry.content) for entry in entries} == {("sms/send", NOTICE)}
    assert_no_secret(result, client)


@pytest.mark.asyncio
async def test_send_template_fills_the_parameters(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            result = await client.sms.send_template(
                phones=["13800138000"],
                template_id="1192360392260608",
                params=[{"code": "4438"}],
                sign=SIGN,
                content="【沙箱】您的验证码是${code}。",
                kind=SmsKind.VERIFICATION_CODE,
            )
    [entry] = sandbox.ledger.entries()
    assert (entry.endpoint, entry.phone) == ("sms/sendTemplate", "13800138000")
    assert entry.content == "【沙箱】您的验证码是4438。"
    assert entry.template == "1192360392260608"
    assert entry.message_id == result.biz_id


@pytest.mark.asyncio
async def test_delivery_reports_for_what_was_sent(sandbox: Sandbox):
    sandbox.configure(blocked_numbers={"13800138001"})
    phones = ["13800138000", "13800138001", "13800138002"]
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            first = await client.sms.send(
                phones=phones, sign=SIGN, content=NOTICE, kind=SmsKind.NOTICE
            )
            second = await client.sms.send(
                phones=["13900139000"],
                sign="别的签名",
                content="【别的签名】你好。",
                kind=SmsKind.NOTICE,
            )
            mine = await client.reports.pull_deliveries(sign=SIGN)
            rest = await client.reports.pull_deliveries()
            again = await client.reports.pull_deliveries()
    assert [(r.phone, r.biz_id) for r in mine] == [(p, first.biz_id) for p in phones]
    assert [r.status for r in mine] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.BLOCKLISTED,
        DeliveryStatus.DELIVERED,
    ]
    assert [r.code for r in mine] == ["10000", "7", "10000"]
    assert [r.sms_size for r in mine] == [segments(NOTICE)] * 3
    assert [(r.phone, r.biz_id, r.status) for r in rest] == [
        ("13900139000", second.biz_id, DeliveryStatus.DELIVERED)
    ]
    assert again == []  # pulling took them off the queue
    assert sandbox.ledger.phones() == [*phones, "13900139000"]


@pytest.mark.asyncio
async def test_replies_after_an_inbound_message(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            assert await client.reports.pull_replies(sign=SIGN) == []
            reply = sandbox.add_reply("paasw", "13800138000", "退订", sign=SIGN)
            replies = await client.reports.pull_replies(sign=SIGN)
            again = await client.reports.pull_replies(sign=SIGN)
    [got] = replies
    assert (got.phone, got.content) == ("13800138000", "退订")
    assert got.sequence_id == str(reply.sequence_id)
    assert again == []
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_balance_goes_down_by_the_fees(sandbox: Sandbox):
    long_text = "【沙箱】" + "长" * 80  # two segments per number
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            before = await client.account.balance()
            await client.sms.send(
                phones=["13800138000", "13800138001"],
                sign=SIGN,
                content=long_text,
                kind=SmsKind.MARKETING,
            )
            after = await client.account.balance()
    fees = sum(entry.fee for entry in sandbox.ledger)
    assert fees == 2 * segments(long_text) == 4
    assert before.balance - after.balance == Decimal(fees)
    assert after.balance == Decimal(sandbox.balance("paasw", PAASW_APP_ID))


@pytest.mark.asyncio
async def test_one_token_serves_every_call(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        async with RecordingTransport() as recorder, paasw(sandbox, transport=recorder) as client:
            await client.account.balance()
            await client.sms.send(
                phones=["13800138000"], sign=SIGN, content=NOTICE, kind=SmsKind.NOTICE
            )
            await client.reports.pull_deliveries()
    assert [path for _, path in recorder.requests] == [
        "/paasw/api/token",
        "/paasw/sms/balance",
        "/paasw/sms/send",
        "/paasw/sms/deliver",
    ]
