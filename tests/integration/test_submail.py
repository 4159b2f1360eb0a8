"""SUBMAIL through the SDK against the sandbox: send, multisend, timestamp, every sign type.

Each test serves one sandbox and goes through several client settings on it (a server
takes about 0.2 s to stop, so one per combination would make the folder slow).
"""

from __future__ import annotations

import anyio
import pytest

from crowdsms import OutcomeStatus, Recipient
from crowdsms.errors import InvalidInputError
from crowdsms.sandbox import Sandbox

from .support import TIME_LIMIT, assert_no_secret, segments, submail

SIGN_TYPES = ["md5", "sha1", "normal"]
TEMPLATE = "【沙箱】@var(name)，您的验证码是@var(code)。"
BALANCE = 1_000_000


@pytest.mark.asyncio
async def test_send_one_message(sandbox: Sandbox):
    content = "【沙箱】您的验证码是 4438，10 分钟内有效。"
    with anyio.fail_after(TIME_LIMIT):
        for count, sign_type in enumerate(SIGN_TYPES, start=1):
            async with submail(sandbox, sign_type=sign_type) as client:
                result = await client.sms.send(to="+86 138-0013-8000", content=content, tag="t")
            entry = sandbox.ledger.entries()[-1]
            assert len(sandbox.ledger) == count, sign_type
            assert (entry.endpoint, entry.phone, entry.content) == (
                "sms/send",
                "13800138000",
                content,
            )
            assert result.to == "13800138000"
            assert result.send_id == entry.message_id
            assert result.fee == entry.fee == segments(content) == 1
            assert result.sms_credits == sandbox.balance("submail") == BALANCE - count
            assert_no_secret(result, client)


@pytest.mark.asyncio
async def test_multisend_partial_success_and_fees(sandbox: Sandbox):
    # The SDK refuses malformed numbers before sending (see below), so partial success comes
    # from a number the provider refuses: one on the sandbox's block list (code 114).
    sandbox.configure(blocked_numbers={"13900139000"})
    long_name = "张" * 60  # this recipient's text is longer than one 70-character segment
    recipients = [
        Recipient("13800138000", {"name": "李雷", "code": "1111"}),
        Recipient("139 0013 9000", {"name": "韩梅梅", "code": "2222"}),
        Recipient("+8613700137000", {"name": long_name, "code": "3333"}),
    ]
    texts = [
        "【沙箱】李雷，您的验证码是1111。",
        f"【沙箱】{long_name}，您的验证码是3333。",
    ]
    with anyio.fail_after(TIME_LIMIT):
        for count, sign_type in enumerate(SIGN_TYPES, start=1):
            async with submail(sandbox, sign_type=sign_type) as client:
                result = await client.sms.multisend(content=TEMPLATE, recipients=recipients)
            case = sign_type
            assert [item.phone for item in result] == [
                "13800138000",
                "13900139000",
                "13700137000",
            ], case
            assert [item.status for item in result] == [
                OutcomeStatus.SENT,
                OutcomeStatus.FAILED,
                OutcomeStatus.SENT,
            ], case
            failed = result.items[1]
            assert (failed.code, failed.send_id, failed.fee) == ("114", None, None), case
            assert failed.message, case
            assert [item.fee for item in result.sent] == [segments(t) for t in texts] == [1, 2]
            assert result.total_fee == 3

            entries = sandbox.ledger.entries()[-2:]
            assert len(sandbox.ledger) == 2 * count, case
            assert [entry.phone for entry in entries] == ["13800138000", "13700137000"]
            assert [entry.content for entry in entries] == texts
            assert [entry.fee for entry in entries] == [1, 2]
            assert [entry.message_id for entry in entries] == [i.send_id for i in result.sent]
            assert sandbox.balance("submail") == BALANCE - 3 * count


@pytest.mark.asyncio
async def test_multisend_without_variables(sandbox: Sandbox):
    phones = ["13800138000", "13800138001", "13800138002"]
    with anyio.fail_after(TIME_LIMIT):
        async with submail(sandbox) as client:
            result = await client.sms.multisend(
                content="【沙箱】系统将于今晚维护。", recipients=[Recipient(p) for p in phones]
            )
    assert result.all_sent
    assert sandbox.ledger.phones() == phones
    assert sandbox.ledger.duplicates() == {}


@pytest.mark.asyncio
async def test_special_characters_arrive_unchanged(sandbox: Sandbox):
    value = 'q"uo\\te 😀 &=+% 100%'
    with anyio.fail_after(TIME_LIMIT):
        async with submail(sandbox) as client:
            result = await client.sms.multisend(
                content="【沙箱】A&B=C+D%20 @var(x)",
                recipients=[Recipient("13800138000", {"x": value})],
                tag="a&b=c+d%",
            )
        assert result.all_sent
    assert [(e.content, dict(e.vars)) for e in sandbox.ledger] == [
        (f"【沙箱】A&B=C+D%20 {value}", {"x": value})
    ]


@pytest.mark.asyncio
async def test_an_invalid_number_is_refused_before_anything_is_sent(sandbox: Sandbox):
    recipients = [
        Recipient("13800138000", {"name": "a", "code": "1"}),
        Recipient("12345", {"name": "b", "code": "2"}),
    ]
    with anyio.fail_after(TIME_LIMIT):
        async with submail(sandbox) as client:
            with pytest.raises(InvalidInputError) as caught:
                await client.sms.multisend(content=TEMPLATE, recipients=recipients)
    assert caught.value.field == "recipients[1].phone"
    assert caught.value.position == 1
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_timestamp_reads_the_servers_clock(sandbox: Sandbox):
    sandbox.set_clock_offset(3600)  # an hour ahead: the answer must be the server's time
    with anyio.fail_after(TIME_LIMIT):
        async with submail(sandbox) as client:
            timestamp = await client.service.timestamp()
    assert isinstance(timestamp, int)
    assert abs(timestamp - sandbox.clock.now()) <= 2
    assert len(sandbox.ledger) == 0
