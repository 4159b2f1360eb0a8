"""SendCloud through the SDK against the sandbox: send, sendn/sendx, timestamp, tasks."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from crowdsms import OutcomeStatus, Recipient
from crowdsms.providers.sendcloud import TaskStatus
from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_CONTACT_LISTS

from .support import TIME_LIMIT, RecordingTransport, assert_no_secret, sendcloud

CODE_TEXT = "【SANDBOX】您的验证码是{code}，10分钟内有效。"  # template 1 of the sandbox
ORDER_TEXT = "【SANDBOX】{name}，您好！您的订单{order}已发货。"  # template 2
SIGN_TYPES = ["md5", "sha256"]


@pytest.mark.asyncio
async def test_send_one_template_to_several_numbers(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        for count, sign_type in enumerate(SIGN_TYPES, start=1):
            async with sendcloud(sandbox, sign_type=sign_type) as client:
                result = await client.sms.send(
                    template_id=1,
                    phones=["13800138000", "+86 138 0013 8001"],
                    vars={"code": "654321"},
                )
            assert result.status_code == 200, sign_type
            assert result.all_sent
            assert [o.phone for o in result.outcomes] == ["13800138000", "13800138001"]
            entries = sandbox.ledger.entries()[-2:]
            assert len(sandbox.ledger) == 2 * count, sign_type
            assert [entry.phone for entry in entries] == ["13800138000", "13800138001"]
            assert {entry.content for entry in entries} == {CODE_TEXT.format(code="654321")}
            assert {entry.endpoint for entry in entries} == {"send"}
            assert [o.message_id for o in result.outcomes] == [e.message_id for e in entries]
            assert all((o.message_id or "").endswith("$" + o.phone) for o in result.outcomes)
            assert_no_secret(result, client)


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint", ["sendn", "sendx"])
async def test_sendn_gives_each_recipient_its_variables(sandbox: Sandbox, endpoint: str):
    recipients = [
        Recipient("13800138000", {"name": "李&雷", "order": "A+1=2%"}),  # signed raw
        Recipient("13800138001", {"%name%": "韩梅梅", "order": 'B "22"'}),
    ]
    with anyio.fail_after(TIME_LIMIT):
        for count, sign_type in enumerate(SIGN_TYPES, start=1):
            async with (
                RecordingTransport() as recorder,
                sendcloud(
                    sandbox, sign_type=sign_type, sendn_endpoint=endpoint, transport=recorder
                ) as client,
            ):
                result = await client.sms.sendn(template_id=2, recipients=recipients)
            assert recorder.requests == [("POST", f"/sendcloud/smsapi/{endpoint}")]
            assert result.status_code == 200, sign_type
            assert [o.status for o in result.outcomes] == [OutcomeStatus.SENT] * 2
            entries = sandbox.ledger.entries()[-2:]
            assert len(sandbox.ledger) == 2 * count, sign_type
            assert [entry.phone for entry in entries] == ["13800138000", "13800138001"]
            assert [entry.content for entry in entries] == [
                ORDER_TEXT.format(name="李&雷", order="A+1=2%"),
                ORDER_TEXT.format(name="韩梅梅", order='B "22"'),
            ]
            assert [o.message_id for o in result.outcomes] == [e.message_id for e in entries]


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint", ["send", "sendn"])
async def test_partial_success_311_is_a_result(sandbox: Sandbox, endpoint: str):
    sandbox.configure(blocked_numbers={"13800138001"})
    phones = ["13800138000", "13800138001", "13800138002"]
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox) as client:
            if endpoint == "send":
                result = await client.sms.send(
                    template_id=1, phones=phones, vars={"code": "111111"}
                )
            else:
                result = await client.sms.sendn(
                    template_id=1, recipients=[Recipient(p, {"code": "111111"}) for p in phones]
                )
    assert result.status_code == 311
    assert [o.status for o in result.outcomes] == [
        OutcomeStatus.SENT,
        OutcomeStatus.FAILED,
        OutcomeStatus.SENT,
    ]
    failed = result.outcomes[1]
    assert (failed.phone, failed.code, failed.message_id) == ("13800138001", "311", None)
    assert "黑名单" in (failed.message or "")
    assert sandbox.ledger.phones() == ["13800138000", "13800138002"]
    assert [o.message_id for o in result.sent] == [e.message_id for e in sandbox.ledger]


@pytest.mark.asyncio
async def test_timestamp_reads_the_servers_clock(sandbox: Sandbox):
    sandbox.set_clock_offset(-7200)
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox) as client:
            server = await client.timestamp.get()
    assert abs(server.seconds - sandbox.clock.now()) <= 2
    assert abs(server.as_datetime().timestamp() - server.milliseconds / 1000) < 1e-6
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_contact_task_moves_from_waiting_to_done_with_the_clock(sandbox: Sandbox):
    members = SENDCLOUD_CONTACT_LISTS["sandbox-list"]
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox) as client:
            task = await client.contact_tasks.send(
                contact_list_names=["sandbox-list"], task_name="周末通知", template_id=3
            )
            assert task.status is TaskStatus.WAITING
            assert task.task_name == "周末通知"
            assert task.contact_list_names == ("sandbox-list",)

            queried = await client.contact_tasks.query(task_id=task.task_id)
            assert queried.status is TaskStatus.WAITING
            assert queried.end_time is None
            assert len(sandbox.ledger) == 0

            sandbox.advance_clock(2.5)  # past the start delay (2 s): running
            running = await client.contact_tasks.query(task_id=task.task_id)
            assert running.status is TaskStatus.RUNNING
            assert len(sandbox.ledger) == 0

            sandbox.advance_clock(3.0)  # past the run time (3 s): done, messages sent
            done = await client.contact_tasks.query(task_id=task.task_id)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.member_count == len(members)
    assert done.end_time is not None
    entries = sandbox.ledger.entries()
    assert tuple(entry.phone for entry in entries) == members
    assert {entry.endpoint for entry in entries} == {"sendContactListTask"}
    assert {entry.content for entry in entries} == {"【SANDBOX】感谢您的关注。"}


@pytest.mark.asyncio
async def test_scheduled_contact_task_waits_for_its_execute_time(sandbox: Sandbox):
    lists = ["sandbox-vip", "sandbox-list"]
    members = SENDCLOUD_CONTACT_LISTS["sandbox-vip"] + SENDCLOUD_CONTACT_LISTS["sandbox-list"]
    start = dt.datetime.fromtimestamp(int(sandbox.clock.now()) + 20, tz=dt.timezone.utc)
    with anyio.fail_after(TIME_LIMIT):
        async with sendcloud(sandbox) as client:
            task = await client.contact_tasks.send(
                contact_list_names=lists,
                task_name="预约 & 通知",
                template_id=3,
                label_id=7,
                sender_name="沙箱",
                execute_time=start,
            )
            sandbox.advance_clock(10)  # the default start delay is long past, not the time
            waiting = await client.contact_tasks.query(task_id=task.task_id)
            sandbox.advance_clock(11)
            running = await client.contact_tasks.query(task_id=task.task_id)
            sandbox.advance_clock(3)
            done = await client.contact_tasks.query(task_id=task.task_id)
    assert task.contact_list_names == tuple(lists)
    assert (done.task_name, done.label_id, done.sender_name) == ("预约 & 通知", 7, "沙箱")
    assert [waiting.status, running.status, done.status] == [
        TaskStatus.WAITING,
        TaskStatus.RUNNING,
        TaskStatus.SUCCEEDED,
    ]
    assert done.member_count == len(members)
    assert tuple(sandbox.ledger.phones()) == members
