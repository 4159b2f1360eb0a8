"""Clock correction after 461, and which ambiguous failures are retried."""

from __future__ import annotations

import httpx
import pytest
import respx

from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    RequestTimeoutError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.sendcloud import AsyncSendCloud, SendResult

from .sendcloud_support import NOW, NOW_MS, Sleeps, answer, expected_signature, form

TASK = {
    "contactListName": "list",
    "createTime": "2017-05-19 14:22:57",
    "endTime": "",
    "memberCount": 4,
    "status": "执行中",
    "taskId": 472,
    "taskName": "t",
    "templateId": 999,
}


async def send_one(
    client: AsyncSendCloud, endpoint: str, send_request_id: str | None = None
) -> SendResult:
    if endpoint == "send":
        return await client.sms.send(
            template_id=1, phones=["13800138000"], send_request_id=send_request_id
        )
    return await client.sms.sendn(
        template_id=1, recipients=[Recipient("13800138000")], send_request_id=send_request_id
    )


@pytest.mark.asyncio
async def test_timestamp_rejection_remeasures_and_retries(
    client: AsyncSendCloud, api: respx.MockRouter, sleeps: Sleeps
) -> None:
    server_ms = int((NOW + 120) * 1000)
    clock = api.get("/timestamp/get").mock(return_value=answer(200, info={"timestamp": server_ms}))
    send = api.post("/send").mock(
        side_effect=[answer(461, "时间戳无效", result=False), answer(200)]
    )
    result = await client.sms.send(template_id=1, phones=["13800138000"])
    assert result.all_sent
    assert send.call_count == 2
    assert clock.call_count == 1
    first, second = (form(call.request) for call in send.calls)
    assert first["timestamp"] == NOW_MS
    assert second["timestamp"] == str(server_ms)
    assert second["signature"] == expected_signature(second)
    assert second["signature"] != first["signature"]
    assert client.clock_offset == pytest.approx(120.0)
    time_request = clock.calls.last.request
    assert time_request.url == "https://api.sendcloud.net/smsapi/timestamp/get"
    assert time_request.content == b""
    assert sleeps.delays == []


@pytest.mark.asyncio
async def test_later_requests_keep_the_corrected_clock(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    api.get("/timestamp/get").mock(return_value=answer(200, info={"timestamp": 1700000030000}))
    send = api.post("/send").mock(
        side_effect=[answer(461, "时间戳无效", result=False), answer(200), answer(200)]
    )
    await client.sms.send(template_id=1, phones=["13800138000"])
    await client.sms.send(template_id=1, phones=["13800138000"])
    assert form(send.calls.last.request)["timestamp"] == "1700000030000"


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint", ["send", "sendn"])
async def test_read_timeout_with_send_request_id_is_retried(
    client: AsyncSendCloud, api: respx.MockRouter, sleeps: Sleeps, endpoint: str
) -> None:
    route = api.post(f"/{endpoint}").mock(side_effect=[httpx.ReadTimeout("no answer"), answer(200)])
    result = await send_one(client, endpoint, send_request_id="order-42")
    assert [o.status for o in result.outcomes] == [OutcomeStatus.SENT]
    assert route.call_count == 2
    keys = [form(call.request)["sendRequestId"] for call in route.calls]
    assert keys == ["order-42", "order-42"]
    assert len(sleeps.delays) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint", ["send", "sendn"])
async def test_read_timeout_without_send_request_id_is_not_retried(
    client: AsyncSendCloud, api: respx.MockRouter, sleeps: Sleeps, endpoint: str
) -> None:
    route = api.post(f"/{endpoint}").mock(side_effect=[httpx.ReadTimeout("no answer"), answer(200)])
    with pytest.raises(RequestTimeoutError) as caught:
        await send_one(client, endpoint)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1
    assert sleeps.delays == []


@pytest.mark.asyncio
async def test_connect_error_is_retried_even_without_key(
    client: AsyncSendCloud, api: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = api.post("/send").mock(side_effect=[httpx.ConnectError("refused"), answer(200)])
    result = await client.sms.send(template_id=1, phones=["13800138000"])
    assert result.all_sent
    assert route.call_count == 2
    assert len(sleeps.delays) == 1


@pytest.mark.asyncio
async def test_query_is_idempotent(
    client: AsyncSendCloud, api: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = api.post("/queryContactListTask").mock(
        side_effect=[httpx.ReadTimeout("slow"), answer(200, "查询成功", {"smsTask": TASK})]
    )
    task = await client.contact_tasks.query(task_id=472)
    assert task.task_id == 472
    assert route.call_count == 2


@pytest.mark.asyncio
async def test_creating_a_task_is_not_retried_after_a_read_timeout(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    route = api.post("/sendContactListTask").mock(
        side_effect=[httpx.ReadTimeout("slow"), answer(200, "ok", {"smsTask": TASK})]
    )
    with pytest.raises(RequestTimeoutError) as caught:
        await client.contact_tasks.send(contact_list_names=["list"], task_name="t", template_id=1)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_connection_lost_after_sending_is_unknown(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    route = api.post("/sendn").mock(side_effect=httpx.RemoteProtocolError("closed"))
    with pytest.raises(ConnectionFailedError) as caught:
        await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000")])
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1
