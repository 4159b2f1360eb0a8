"""The registry's ``pull_events`` for paasw: the report queues pulled as webhook events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import pytest_asyncio
import respx

from crowdsms.deliveries import SQLiteDeliveryStore, pull_into
from crowdsms.errors import HTTPStatusError, InvalidInputError
from crowdsms.providers import _registry
from crowdsms.providers.paasw import (
    AsyncPaasw,
    DeliveryStatus,
    PaaswDeliveryReport,
    PaaswReply,
    SmsKind,
)
from crowdsms.sandbox import Sandbox, serve
from crowdsms.webhooks import DeliveryOutcome, UnknownEvent

from .conftest import BASE_URL, TOKEN, raw, token_answer

SIGN = "沙箱"
NOTICE = "【沙箱】您的快件已签收，谢谢使用。"
BLOCKED = "13800138001"
PHONES = ["13800138000", BLOCKED, "13800138002"]
TIME_LIMIT = 10
REPORT = {"phoneNumber": "13900000001", "code": "10000", "bizId": "39036632588910887018"}


def spec_pull() -> Any:
    pull = _registry.get("paasw").pull_events
    assert pull is not None
    return pull


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with serve() as served:
        yield served


@pytest.mark.asyncio
async def test_the_reports_of_what_was_sent_then_nothing(sandbox: Sandbox) -> None:
    pull = spec_pull()
    sandbox.configure(blocked_numbers={BLOCKED})
    with anyio.fail_after(TIME_LIMIT):
        async with sandbox.client("paasw") as client:
            sent = await client.sms.send(
                phones=PHONES, sign=SIGN, content=NOTICE, kind=SmsKind.NOTICE
            )
            events = await pull(client, None)
            again = await pull(client, None)
    assert all(type(event) is PaaswDeliveryReport for event in events)
    assert [(e.provider, e.kind, e.message_id, e.phone) for e in events] == [
        ("paasw", "report", sent.biz_id, phone) for phone in PHONES
    ]
    assert [e.outcome for e in events] == [
        DeliveryOutcome.DELIVERED,
        DeliveryOutcome.FAILED,
        DeliveryOutcome.DELIVERED,
    ]
    assert [e.status for e in events] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.BLOCKLISTED,
        DeliveryStatus.DELIVERED,
    ]
    assert all(e.occurred_at is not None for e in events)
    assert again == []  # pulling took them off the queue


@pytest.mark.asyncio
async def test_replies_are_pulled_only_with_a_sign(sandbox: Sandbox) -> None:
    pull = spec_pull()
    with anyio.fail_after(TIME_LIMIT):
        async with sandbox.client("paasw") as client:
            sent = await client.sms.send(
                phones=PHONES[:1], sign=SIGN, content=NOTICE, kind=SmsKind.NOTICE
            )
            added = sandbox.add_reply("paasw", PHONES[0], "退订", sign=SIGN)
            without_sign = await pull(client, None)
            with_sign = await pull(client, SIGN)
            again = await pull(client, SIGN)
    [report] = without_sign
    assert isinstance(report, PaaswDeliveryReport)
    assert (report.message_id, report.phone) == (sent.biz_id, PHONES[0])
    [reply] = with_sign
    assert type(reply) is PaaswReply
    assert (reply.provider, reply.kind, reply.phone, reply.content) == (
        "paasw",
        "reply",
        PHONES[0],
        "退订",
    )
    assert reply.sequence_id == str(added.sequence_id)
    assert again == []


@pytest.mark.asyncio
async def test_reports_and_replies_come_in_one_pull(sandbox: Sandbox) -> None:
    pull = spec_pull()
    with anyio.fail_after(TIME_LIMIT):
        async with sandbox.client("paasw") as client:
            await client.sms.send(phones=PHONES[:2], sign=SIGN, content=NOTICE, kind=SmsKind.NOTICE)
            sandbox.add_reply("paasw", PHONES[1], "好的", sign=SIGN)
            events = await pull(client, SIGN)
            again = await pull(client, SIGN)
    assert [(type(e), e.phone) for e in events] == [
        (PaaswDeliveryReport, PHONES[0]),
        (PaaswDeliveryReport, PHONES[1]),
        (PaaswReply, PHONES[1]),
    ]
    assert again == []


# -- failures (canned answers) --------------------------------------------------------------


def gateway() -> respx.MockRouter:
    router = respx.mock(base_url=BASE_URL, assert_all_called=False)
    router.get("/api/token").mock(return_value=token_answer())
    return router


def json_answer(value: Any) -> httpx.Response:
    return raw(json.dumps(value, ensure_ascii=False))


@pytest.mark.asyncio
async def test_a_bad_sign_is_refused_before_anything_is_pulled(client: AsyncPaasw) -> None:
    with gateway() as mock:
        deliver = mock.get("/sms/deliver").mock(return_value=json_answer([REPORT]))
        with pytest.raises(InvalidInputError) as caught:
            await spec_pull()(client, "")
    assert caught.value.field == "sign"
    assert deliver.call_count == 0


@pytest.mark.asyncio
async def test_reports_already_pulled_are_returned_when_the_reply_pull_fails(
    client: AsyncPaasw, caplog: pytest.LogCaptureFixture
) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=json_answer([REPORT]))
        replies = mock.get("/sms/smsUp").mock(return_value=raw("busy", 503, "text/plain"))
        with caplog.at_level(logging.WARNING, logger="crowdsms.providers.paasw"):
            events = await spec_pull()(client, SIGN)
    [event] = events
    assert isinstance(event, PaaswDeliveryReport)
    assert (event.message_id, event.phone) == (REPORT["bizId"], REPORT["phoneNumber"])
    assert replies.call_count >= 1  # a 503 is retried: the gateway did not act on it
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "without the replies" in warning.getMessage()
    assert TOKEN not in warning.getMessage()


@pytest.mark.asyncio
async def test_a_failed_reply_pull_is_raised_when_no_report_was_pulled(
    client: AsyncPaasw,
) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=json_answer([]))
        mock.get("/sms/smsUp").mock(return_value=raw("busy", 503, "text/plain"))
        with pytest.raises(HTTPStatusError):
            await spec_pull()(client, SIGN)


@pytest.mark.asyncio
async def test_a_failed_delivery_pull_is_raised_and_replies_are_not_pulled(
    client: AsyncPaasw,
) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=raw("busy", 503, "text/plain"))
        replies = mock.get("/sms/smsUp").mock(return_value=json_answer([]))
        with pytest.raises(HTTPStatusError):
            await spec_pull()(client, SIGN)
    assert replies.call_count == 0


@pytest.mark.asyncio
async def test_an_item_that_is_no_report_comes_as_an_unknown_event_and_the_others_stay(
    client: AsyncPaasw,
) -> None:
    # Pulled: the gateway has already dropped the batch, so nothing in it may be lost.
    no_code = {"phoneNumber": "13900000002", "bizId": "b"}
    odd = {"phoneNumber": "13900000003", "code": "4", "smsSize": "", "success": 0}
    no_content = {"phoneNumber": "18612345679"}
    reply = {"phoneNumber": "18612345678", "content": "T", "sequenceId": None}
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=json_answer([REPORT, no_code, odd]))
        mock.get("/sms/smsUp").mock(return_value=json_answer([no_content, reply]))
        events = await spec_pull()(client, SIGN)
    assert [type(e) for e in events] == [
        PaaswDeliveryReport,
        UnknownEvent,
        PaaswDeliveryReport,
        UnknownEvent,
        PaaswReply,
    ]
    assert [e.raw for e in events] == [REPORT, no_code, odd, no_content, reply]
    assert [e.kind for e in events] == ["report", "report", "report", "reply", "reply"]
    assert isinstance(events[2], PaaswDeliveryReport)
    assert events[2].outcome is DeliveryOutcome.FAILED


@pytest.mark.asyncio
async def test_pull_into_stores_the_readable_reports_of_a_batch_with_an_odd_one(
    client: AsyncPaasw, tmp_path: Path
) -> None:
    odd = {"phoneNumber": "13900000002", "code": "4", "success": 0, "smsSize": 1.0}
    store = await SQLiteDeliveryStore.open(tmp_path / "job.sqlite")
    try:
        with gateway() as mock:
            mock.get("/sms/deliver").mock(side_effect=[json_answer([REPORT, odd]), json_answer([])])
            assert await pull_into(lambda sign: spec_pull()(client, sign), store) == 2
        stored = await store.reports(since=0)
    finally:
        await store.aclose()
    assert sorted((r.phone, r.code) for r in stored) == [
        ("13900000001", None),
        ("13900000002", "4"),
    ]
