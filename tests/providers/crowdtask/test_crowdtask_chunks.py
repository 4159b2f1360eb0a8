"""client.tasks.batch_chunks: the ChunkSender the batch sender uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from crowdsms.errors import DeliveryCertainty, InvalidInputError, ProviderError
from crowdsms.outcomes import (
    ChunkSender,
    OutcomeStatus,
    Recipient,
    RecipientOutcome,
    outcomes_for_error,
)
from crowdsms.providers.crowdtask import AsyncCrowdTask

BASE = "https://api.crowdtask.cn"
COLUMNS = ("question", "image")


def success(*task_ids: str) -> httpx.Response:
    result = {"tasknum": len(task_ids), "batchSN": "SN1", "taskids": list(task_ids)}
    body = {"status": "success", "result": result}
    return httpx.Response(200, content=json.dumps(body).encode())


def rows(count: int) -> list[Recipient]:
    return [
        Recipient(f"row-{index}", {"image": f"{index}.jpg", "question": "是猫吗?"})
        for index in range(count)
    ]


@pytest.mark.asyncio
async def test_the_chunk_sender_protocol(client: AsyncCrowdTask) -> None:
    sender: ChunkSender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
    assert sender.max_chunk_size == 100
    assert sender.supports_idempotency_key is False


@pytest.mark.asyncio
async def test_the_chunk_size_follows_the_setting(
    make_client: Callable[..., AsyncCrowdTask],
) -> None:
    async with make_client(max_rows_per_batch=20) as client:
        assert client.tasks.batch_chunks(project_id=5, columns=COLUMNS).max_chunk_size == 20


@pytest.mark.asyncio
async def test_send_chunk_uploads_the_rows_and_reports_task_ids(
    client: AsyncCrowdTask, multipart: Callable[..., Any]
) -> None:
    sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
    chunk = rows(3)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=success("t9", "t7", "t8"))
        outcomes = await sender.send_chunk(chunk)
    body = multipart(route.calls[0].request)
    assert body.fields["projectid"] == "5"
    assert body.files["inputCVS"][2].decode() == (
        "question image\n是猫吗? 0.jpg\n是猫吗? 1.jpg\n是猫吗? 2.jpg\n"
    )
    assert list(outcomes) == [
        RecipientOutcome(phone="row-0", status=OutcomeStatus.SENT, message_id="t9"),
        RecipientOutcome(phone="row-1", status=OutcomeStatus.SENT, message_id="t7"),
        RecipientOutcome(phone="row-2", status=OutcomeStatus.SENT, message_id="t8"),
    ]


@pytest.mark.asyncio
async def test_a_refused_upload_raises_for_the_batch_sender(client: AsyncCrowdTask) -> None:
    sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
    chunk = rows(2)
    refusal = httpx.Response(400, content=b'{"status":"error","reason":"project closed"}')
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(return_value=refusal)
        with pytest.raises(ProviderError) as caught:
            await sender.send_chunk(chunk)
    outcomes = outcomes_for_error(chunk, caught.value)
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.FAILED] * 2
    assert [outcome.code for outcome in outcomes] == ["400", "400"]
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


@pytest.mark.asyncio
async def test_validate_accepts_any_identifier_and_checks_the_row(client: AsyncCrowdTask) -> None:
    sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
    row = Recipient("not a phone number", {"question": "q", "image": "i"})
    assert sender.validate(row, position=0) is row
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient("x", {"question": "q"}), position=3)
    assert caught.value.field == "recipients[3].vars"
    assert caught.value.position == 3
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient("x", {"question": "q", "image": "a\tb"}), position=4)
    assert caught.value.field == "recipients[4].vars['image']"


@pytest.mark.asyncio
async def test_send_chunk_refuses_bad_chunks_before_any_request(client: AsyncCrowdTask) -> None:
    sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/task/batch").mock(return_value=success("t"))
        assert list(await sender.send_chunk([])) == []
        with pytest.raises(InvalidInputError, match="at most 100"):
            await sender.send_chunk(rows(101))
        with pytest.raises(InvalidInputError) as caught:
            await sender.send_chunk([*rows(2), Recipient("bad", {"question": "q\n"})])
        assert caught.value.field == "recipients[2].vars"
        with pytest.raises(InvalidInputError, match="idempotency"):
            await sender.send_chunk(rows(1), idempotency_key="k1")
        assert route.call_count == 0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"project_id": -1, "columns": COLUMNS}, "project_id"),
        ({"project_id": 1, "columns": "question image"}, "columns"),
        ({"project_id": 1, "columns": ["a", "a"]}, "columns[1]"),
    ],
)
@pytest.mark.asyncio
async def test_batch_chunks_checks_its_arguments(
    client: AsyncCrowdTask, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        client.tasks.batch_chunks(**arguments)
    assert caught.value.field == field


@pytest.mark.anyio
async def test_uploads_work_under_asyncio_and_trio(
    make_client: Callable[..., AsyncCrowdTask], anyio_backend: str
) -> None:
    async with make_client() as client:
        sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/task/batch").mock(return_value=success("a", "b"))
            outcomes = await sender.send_chunk(rows(2))
    assert [outcome.message_id for outcome in outcomes] == ["a", "b"]
    assert route.call_count == 1
