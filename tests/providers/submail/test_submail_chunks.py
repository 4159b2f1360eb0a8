"""client.sms.multisend_chunks: the ChunkSender the batch sender uses."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms.errors import AuthenticationError, InvalidInputError
from crowdsms.outcomes import (
    ChunkSender,
    OutcomeStatus,
    Recipient,
    RecipientOutcome,
    outcomes_for_error,
)
from crowdsms.providers.submail import AsyncSubmail

BASE = "https://api-v4.mysubmail.com"
CONTENT = "【SUBMAIL】@var(name)，您的取货码为 @var(code)"


@pytest.mark.asyncio
async def test_limits_and_flags(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(max_multisend_recipients=20) as client:
        sender: ChunkSender = client.sms.multisend_chunks(content=CONTENT, tag="t")
        assert sender.max_chunk_size == 20
        assert sender.supports_idempotency_key is False


@pytest.mark.asyncio
async def test_validate_normalizes_and_checks_vars(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        valid = sender.validate(
            Recipient("+86 138-0013-8000", {"name": "a", "code": "1"}), position=7
        )
        assert valid == Recipient("13800138000", {"name": "a", "code": "1"})
        with pytest.raises(InvalidInputError) as info:
            sender.validate(Recipient("13800138000", {"name": "a"}), position=4)
        assert info.value.field == "recipients[4].vars"
        assert info.value.position == 4
        assert "'code'" in str(info.value)
        with pytest.raises(InvalidInputError) as info:
            sender.validate(Recipient("+44 20 7946 0958", {"name": "a", "code": "1"}), position=9)
        assert info.value.field == "recipients[9].phone"
        assert info.value.position == 9


@pytest.mark.asyncio
async def test_bad_content_fails_when_the_sender_is_made(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with pytest.raises(InvalidInputError) as info:
            client.sms.multisend_chunks(content="没有签名的内容")
        assert info.value.field == "content"
        with pytest.raises(InvalidInputError) as info:
            client.sms.multisend_chunks(content=CONTENT, tag="x" * 33)
        assert info.value.field == "tag"


@pytest.mark.asyncio
async def test_send_chunk_returns_outcomes_in_order(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [
        Recipient("13800138001", {"name": "a", "code": "1"}),
        Recipient("13800138002", {"name": "b", "code": "2"}),
        Recipient("13800138003", {"name": "c", "code": "3"}),
    ]
    answer = [
        {"status": "success", "to": "13800138001", "send_id": "s1", "fee": 1},
        {"status": "error", "code": 409, "msg": "审核中"},
        {"status": "error", "code": 251, "msg": "错误的收件人地址"},
    ]
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT, tag="job-1")
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(json=answer)
            outcomes = await sender.send_chunk(recipients, idempotency_key="ignored")
    assert list(outcomes) == [
        RecipientOutcome(phone="13800138001", status=OutcomeStatus.SENT, message_id="s1", fee=1),
        RecipientOutcome(
            phone="13800138002",
            status=OutcomeStatus.FAILED,
            code="409",
            message="审核中",
            retryable=True,
        ),
        RecipientOutcome(
            phone="13800138003",
            status=OutcomeStatus.FAILED,
            code="251",
            message="错误的收件人地址",
            retryable=False,
        ),
    ]
    body = json.loads(route.calls.last.request.content)
    assert body["tag"] == "job-1"
    assert "ignored" not in route.calls.last.request.content.decode()
    assert [item["to"] for item in json.loads(body["multi"])] == [
        "13800138001",
        "13800138002",
        "13800138003",
    ]


@pytest.mark.asyncio
async def test_send_chunk_request_failure_is_raised(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [Recipient("13800138001", {"name": "a", "code": "1"})]
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(
                json={"status": "error", "code": 101, "msg": "不正确的 APP ID"}
            )
            with pytest.raises(AuthenticationError) as info:
                await sender.send_chunk(recipients)
    outcome = outcomes_for_error(recipients, info.value)[0]
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.code == "101"


@pytest.mark.asyncio
async def test_send_chunk_refuses_an_oversized_chunk(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [Recipient(f"1380013800{i}", {"name": "a", "code": "1"}) for i in range(3)]
    async with make_client(max_multisend_recipients=2) as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            route = mock.post("/sms/multisend.json").respond(json=[])
            with pytest.raises(InvalidInputError, match="more than one multisend"):
                await sender.send_chunk(recipients)
    assert route.call_count == 0


@pytest.mark.asyncio
async def test_max_connections_is_the_clients(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(max_connections=4) as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        assert sender.max_connections == client.max_connections == 4
    async with make_client(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
        # With your own transport, crowdsms does not know how many connections it keeps.
        assert client.sms.multisend_chunks(content=CONTENT).max_connections is None
