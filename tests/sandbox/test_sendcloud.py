"""SendCloud over HTTP: envelope, signatures, 311/312 partial results, limits, tasks."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve
from crowdsms.sandbox.emulators.sendcloud import (
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SendCloudSettings,
)

from . import signing

API = "/sendcloud/smsapi"


def form(**fields: str) -> dict[str, str]:
    return signing.sendcloud_request(SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, **fields)


async def post(client: httpx.AsyncClient, endpoint: str, data: dict[str, str]) -> dict:
    response = await client.post(f"{API}/{endpoint}", data=data)
    assert response.status_code == 200
    return response.json()


@pytest.mark.asyncio
async def test_wrong_signature_is_422_in_the_envelope(sandbox: Sandbox, client: httpx.AsyncClient):
    data = signing.sendcloud_request(
        SENDCLOUD_SMS_USER, "wrong-key", templateId="1", phone="13800138000"
    )
    assert await post(client, "send", data) == {
        "result": False,
        "statusCode": 422,
        "message": "签名错误",
        "info": {},
    }
    missing = {key: value for key, value in data.items() if key != "signature"}
    assert (await post(client, "send", missing))["statusCode"] == 421
    unknown = signing.sendcloud_request("nobody", "key", templateId="1", phone="13800138000")
    assert (await post(client, "send", unknown))["statusCode"] == 471
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_md5_and_sha256_signatures_are_accepted(client: httpx.AsyncClient):
    params = {"smsUser": SENDCLOUD_SMS_USER, "templateId": "1", "phone": "13800138000"}
    for algorithm in ("md5", "sha256"):
        data = {
            **params,
            "signature": signing.sendcloud(params, SENDCLOUD_SMS_KEY, algorithm=algorithm),
        }
        answer = await post(client, "send", data)
        assert (answer["result"], answer["statusCode"]) == (True, 200)
        assert answer["info"]["successCount"] == 1


@pytest.mark.asyncio
async def test_timestamp_window_is_60_seconds(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.set_clock_offset(90)
    assert (await post(client, "send", form(templateId="1", phone="13800138000")))[
        "statusCode"
    ] == 461
    sandbox.set_clock_offset(-90)
    assert (await post(client, "send", form(templateId="1", phone="13800138000")))[
        "statusCode"
    ] == 461
    sandbox.set_clock_offset(30)
    assert (await post(client, "send", form(templateId="1", phone="13800138000")))[
        "statusCode"
    ] == 200
    before_ms = time.time() * 1000
    stamp = (await client.get(f"{API}/timestamp/get")).json()
    assert stamp["statusCode"] == 200
    assert abs(stamp["info"]["timestamp"] - (before_ms + 30_000)) < 2_000


@pytest.mark.asyncio
async def test_partial_success_is_311_with_items_and_ids_ending_in_the_phone(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    data = form(templateId="1", phone="13800138000,1312222,13800138001", vars='{"%code%":"4321"}')
    answer = await post(client, "send", data)
    assert (answer["result"], answer["statusCode"], answer["message"]) == (True, 311, "部分成功")
    info = answer["info"]
    assert (info["successCount"], info["failedCount"]) == (2, 1)
    assert info["items"] == [
        {"phone": "1312222", "vars": {"%code%": "4321"}, "message": "手机号格式错误"}
    ]
    first, second = info["smsIds"]
    assert first.endswith("0$13800138000")
    assert second.endswith("2$13800138001")
    assert first[: -len("0$13800138000")] == second[: -len("2$13800138001")]
    entries = sandbox.ledger.entries()
    assert [entry.message_id for entry in entries] == info["smsIds"]
    assert entries[0].content == "【SANDBOX】您的验证码是4321，10分钟内有效。"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("phone", "status"),
    [("1312222,110", 312), ("1312222", 412), ("13800138000,13800138000", 413), ("", 411)],
)
async def test_phone_errors(sandbox: Sandbox, client: httpx.AsyncClient, phone: str, status: int):
    answer = await post(client, "send", form(templateId="1", phone=phone))
    assert answer["statusCode"] == status
    assert answer["result"] is False
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_template_errors(client: httpx.AsyncClient):
    assert (await post(client, "send", form(templateId="999", phone="13800138000")))[
        "statusCode"
    ] == 431
    assert (await post(client, "send", form(phone="13800138000")))["statusCode"] == 433
    assert (await post(client, "send", form(templateId="1", phone="13800138000", vars="[1]")))[
        "statusCode"
    ] == 441


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint", ["sendn", "sendx"])
async def test_sendx_per_recipient_vars(sandbox: Sandbox, client: httpx.AsyncClient, endpoint: str):
    tos = [
        {"phone": "13800138000", "vars": {"%name%": "甲", "%order%": "A1"}},
        {"phone": "13800138001", "vars": {"%name%": "乙", "%order%": "x" * 17}},
    ]
    answer = await post(client, endpoint, form(templateId="2", tos=json.dumps(tos)))
    assert answer["statusCode"] == 311
    assert answer["info"]["items"][0]["phone"] == "13800138001"
    assert "16" in answer["info"]["items"][0]["message"]
    [entry] = sandbox.ledger.entries()
    assert entry.content == "【SANDBOX】甲，您好！您的订单A1已发货。"
    assert entry.endpoint == "sendx"


@pytest.mark.asyncio
async def test_sendx_shape_errors(client: httpx.AsyncClient):
    no_vars = json.dumps([{"phone": "13800138000"}])
    assert (await post(client, "sendx", form(templateId="1", tos=no_vars)))["statusCode"] == 482
    assert (await post(client, "sendx", form(templateId="1", tos="[")))["statusCode"] == 482
    assert (await post(client, "sendx", form(templateId="1")))["statusCode"] == 481
    twice = json.dumps([{"phone": "13800138000", "vars": {}}] * 2)
    assert (await post(client, "sendx", form(templateId="1", tos=twice)))["statusCode"] == 413


@pytest.mark.asyncio
async def test_request_limits():
    settings = SandboxSettings(
        providers={"sendcloud": SendCloudSettings(send_limit=2, sendx_limit=2)}
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        phones = "13800138000,13800138001,13800138002"
        assert (await post(client, "send", form(templateId="1", phone=phones)))["statusCode"] == 412
        tos = json.dumps([{"phone": p, "vars": {}} for p in phones.split(",")])
        assert (await post(client, "sendx", form(templateId="1", tos=tos)))["statusCode"] == 482
        assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_send_request_id_makes_a_repeat_send_nothing(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    first = await post(
        client, "send", form(templateId="1", phone="13800138000", sendRequestId="job-1")
    )
    again = await post(
        client, "send", form(templateId="1", phone="13800138000", sendRequestId="job-1")
    )
    other = await post(
        client, "send", form(templateId="1", phone="13800138000", sendRequestId="job-2")
    )
    assert again == first
    assert other["info"]["smsIds"] != first["info"]["smsIds"]
    assert sandbox.ledger.phones() == ["13800138000", "13800138000"]
    assert [entry.request_id for entry in sandbox.ledger.entries()] == ["job-1", "job-2"]


@pytest.mark.asyncio
async def test_balance_too_low_is_499_and_sends_nothing(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.top_up("sendcloud", 1 - sandbox.settings.initial_balance)
    answer = await post(client, "send", form(templateId="1", phone="13800138000,13800138001"))
    assert answer["statusCode"] == 499
    assert len(sandbox.ledger) == 0
    assert sandbox.balance("sendcloud") == 1


@pytest.mark.asyncio
async def test_contact_list_task_moves_from_waiting_to_done_with_the_clock(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    created = await post(
        client,
        "sendContactListTask",
        form(
            contactListName="sandbox-list;sandbox-vip",
            taskName="t1",
            templateId="3",
            senderName="s",
        ),
    )
    task = created["info"]["smsTask"]
    assert (created["statusCode"], task["status"], task["memberCount"], task["endTime"]) == (
        200,
        "等待执行",
        6,
        "",
    )

    async def status() -> dict:
        answer = await post(client, "queryContactListTask", form(taskId=str(task["taskId"])))
        return answer["info"]["smsTask"]

    assert (await status())["status"] == "等待执行"
    assert len(sandbox.ledger) == 0
    sandbox.advance_clock(sandbox.settings.provider("sendcloud").task_start_delay + 0.1)
    assert (await status())["status"] == "执行中"
    assert len(sandbox.ledger) == 0
    sandbox.advance_clock(sandbox.settings.provider("sendcloud").task_run_time)
    done = await status()
    assert done["status"] == "执行成功"
    assert done["endTime"] != ""
    entries = sandbox.ledger.entries()
    assert [entry.phone for entry in entries] == [
        "13800138000",
        "13800138001",
        "13800138002",
        "13800138003",
        "13900139000",
        "13900139001",
    ]
    assert {entry.request_id for entry in entries} == {f"task-{task['taskId']}"}


@pytest.mark.asyncio
async def test_contact_list_task_errors(client: httpx.AsyncClient):
    unknown_list = form(contactListName="nope", taskName="t", templateId="1")
    assert (await post(client, "sendContactListTask", unknown_list))["statusCode"] == 400
    bad_time = form(
        contactListName="sandbox-list", taskName="t", templateId="1", executeTime="soon"
    )
    assert (await post(client, "sendContactListTask", bad_time))["statusCode"] == 451
    past = form(
        contactListName="sandbox-list",
        taskName="t",
        templateId="1",
        executeTime="2001-01-01 00:00:00",
    )
    assert (await post(client, "sendContactListTask", past))["statusCode"] == 452
    assert (await post(client, "queryContactListTask", form(taskId="424242")))["statusCode"] == 400
