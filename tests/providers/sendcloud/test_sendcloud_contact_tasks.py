"""client.contact_tasks: sendContactListTask and queryContactListTask."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx

from crowdsms._time import CHINA_TIME as SHARED_CHINA_TIME
from crowdsms.errors import ProviderError, ResponseParseError
from crowdsms.providers.sendcloud import CHINA_TIME, AsyncSendCloud, ContactListTask, TaskStatus

from .sendcloud_support import NOW_MS, SMS_USER, answer, expected_signature, form

UTC8 = dt.timezone(dt.timedelta(hours=8))

SEED_TASK = {
    "contactListName": "test",
    "createTime": "2017-05-19 14:22:57",
    "endTime": "",
    "memberCount": 4,
    "senderName": "sendcloud",
    "status": "等待执行",
    "taskId": 472,
    "taskName": "test",
    "templateId": 999,
}


@pytest.mark.asyncio
async def test_send_exact_request_and_seed_answer(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    route = api.post("/sendContactListTask").mock(
        return_value=answer(200, "联系人列表任务保存成功", {"smsTask": SEED_TASK})
    )
    task = await client.contact_tasks.send(
        contact_list_names=["list-a", "名单 B"],
        task_name="双十一 promo",
        template_id=999,
        label_id=11,
        sender_name="sendcloud",
        execute_time=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    )
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.url == "https://api.sendcloud.net/smsapi/sendContactListTask"
    fields = form(sent)
    assert {k: v for k, v in fields.items() if k != "signature"} == {
        "contactListName": "list-a;名单 B",
        "taskName": "双十一 promo",
        "templateId": "999",
        "labelId": "11",
        "senderName": "sendcloud",
        "executeTime": "2024-01-02 11:04:05",
        "smsUser": SMS_USER,
        "timestamp": NOW_MS,
    }
    assert fields["signature"] == expected_signature(fields)
    assert task == ContactListTask(
        task_id=472,
        task_name="test",
        template_id=999,
        status_text="等待执行",
        contact_list_name="test",
        label_id=None,
        sender_name="sendcloud",
        member_count=4,
        create_time=dt.datetime(2017, 5, 19, 14, 22, 57, tzinfo=UTC8),
        end_time=None,
    )
    assert task.status is TaskStatus.WAITING
    assert task.contact_list_names == ("test",)
    assert task.create_time is not None
    assert task.create_time.tzinfo is CHINA_TIME


def test_china_time_is_the_shared_zone() -> None:
    assert CHINA_TIME is SHARED_CHINA_TIME
    assert CHINA_TIME.utcoffset(None) == dt.timedelta(hours=8)


@pytest.mark.asyncio
async def test_send_minimal_and_naive_time(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/sendContactListTask").mock(
        return_value=answer(200, "ok", {"smsTask": SEED_TASK})
    )
    await client.contact_tasks.send(
        contact_list_names=["a"],
        task_name="t",
        template_id=1,
        execute_time=dt.datetime(2030, 12, 31, 23, 59, 58),
    )
    fields = form(route.calls.last.request)
    assert fields["executeTime"] == "2030-12-31 23:59:58"
    assert "labelId" not in fields
    assert "senderName" not in fields
    await client.contact_tasks.send(contact_list_names=["a"], task_name="t", template_id=1)
    assert "executeTime" not in form(route.calls.last.request)


@pytest.mark.asyncio
async def test_query(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    info = {
        "smsTask": {
            **SEED_TASK,
            "contactListName": "a;b",
            "labelId": "11",
            "status": "执行成功",
            "endTime": "2017-05-19 15:00:01",
        }
    }
    route = api.post("/queryContactListTask").mock(return_value=answer(200, "查询成功", info))
    task = await client.contact_tasks.query(task_id=472)
    fields = form(route.calls.last.request)
    assert {k: v for k, v in fields.items() if k != "signature"} == {
        "taskId": "472",
        "smsUser": SMS_USER,
        "timestamp": NOW_MS,
    }
    assert fields["signature"] == expected_signature(fields)
    assert task.label_id == 11
    assert task.status is TaskStatus.SUCCEEDED
    assert task.status_text == "执行成功"
    assert task.end_time == dt.datetime(2017, 5, 19, 15, 0, 1, tzinfo=UTC8)
    assert task.contact_list_names == ("a", "b")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("等待执行", TaskStatus.WAITING),
        ("执行中", TaskStatus.RUNNING),
        ("执行成功", TaskStatus.SUCCEEDED),
        ("执行失败", TaskStatus.FAILED),
        ("已暂停", "已暂停"),
    ],
)
async def test_status_values(
    client: AsyncSendCloud, api: respx.MockRouter, text: str, status: object
) -> None:
    info = {"smsTask": {**SEED_TASK, "status": text}}
    api.post("/queryContactListTask").mock(return_value=answer(200, "查询成功", info))
    task = await client.contact_tasks.query(task_id=472)
    assert task.status == status
    assert type(task.status) is type(status)
    assert task.status_text == text


@pytest.mark.asyncio
async def test_provider_error(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/sendContactListTask").mock(return_value=answer(431, "模板不存在", result=False))
    with pytest.raises(ProviderError) as caught:
        await client.contact_tasks.send(contact_list_names=["a"], task_name="t", template_id=5)
    assert caught.value.code == "431"
    assert "template does not exist" in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("info", "shown"),
    [
        pytest.param({}, "smsTask", id="no-task"),
        pytest.param({"smsTask": {**SEED_TASK, "createTime": "yesterday"}}, "yesterday", id="time"),
        pytest.param({"smsTask": {**SEED_TASK, "taskId": "abc"}}, "abc", id="task-id"),
        pytest.param({"smsTask": {**SEED_TASK, "memberCount": 4.5}}, "4.5", id="count"),
        pytest.param({"smsTask": [SEED_TASK]}, "smsTask", id="task-list"),
    ],
)
async def test_malformed_task(
    client: AsyncSendCloud, api: respx.MockRouter, info: dict[str, object], shown: str
) -> None:
    api.post("/queryContactListTask").mock(return_value=answer(200, "查询成功", info))
    with pytest.raises(ResponseParseError) as caught:
        await client.contact_tasks.query(task_id=472)
    assert "expected shape" in str(caught.value)
    assert shown in str(caught.value)


@pytest.mark.asyncio
async def test_html_answer(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/queryContactListTask").mock(
        return_value=httpx.Response(200, text="<html><body>维护中</body></html>")
    )
    with pytest.raises(ResponseParseError, match="HTML page"):
        await client.contact_tasks.query(task_id=472)
