"""``client.sms.send_chunks``: the ChunkSender the batch sender uses."""

from __future__ import annotations

import pytest
import respx

from crowdsms.errors import InvalidInputError, ProviderError
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient
from crowdsms.providers.paasw import AsyncPaasw, SmsKind

from .conftest import (
    BASE_URL,
    PHONE_1,
    PHONE_2,
    TOKEN,
    answer,
    form,
    numbers,
    send_ok,
    token_answer,
)

SIGN = "圆通快递"
CONTENT = "【圆通快递】明日 9 点停水"


def gateway() -> respx.MockRouter:
    router = respx.mock(base_url=BASE_URL, assert_all_called=False)
    router.get("/api/token").mock(return_value=token_answer())
    return router


def largest_chunk() -> int:
    """The most 11-digit numbers under both limits, counted the slow way."""
    count = 0
    while count + 1 <= 1000 and (count + 1) * 11 + count <= 1500:
        count += 1
    return count


@pytest.mark.asyncio
async def test_chunk_limits(client: AsyncPaasw) -> None:
    sender: ChunkSender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    assert sender.max_chunk_size == largest_chunk() == 125
    assert sender.supports_idempotency_key is False


@pytest.mark.asyncio
async def test_validate_normalizes_the_number(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    assert sender.validate(Recipient("+86 138-0013-8000"), position=4) == Recipient(PHONE_1)


@pytest.mark.asyncio
async def test_validate_refuses_recipient_variables(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient(PHONE_1, {"name": "张三"}), position=3)
    assert caught.value.field == "recipients[3].vars"
    assert caught.value.position == 3
    assert "not supported" in str(caught.value)
    assert "name" in str(caught.value)


@pytest.mark.asyncio
async def test_validate_refuses_a_bad_number(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient("12345"), position=7)
    assert caught.value.field == "recipients[7].phone"
    assert caught.value.position == 7


@pytest.mark.asyncio
async def test_send_chunk_marks_every_recipient_sent_with_the_batch_id(
    client: AsyncPaasw,
) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT, kind=SmsKind.NOTICE)
    recipients = [Recipient(PHONE_2), Recipient(PHONE_1)]
    with gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok("BATCH-1"))
        outcomes = await sender.send_chunk(recipients)
    assert form(route.calls.last.request) == {
        "phoneNumbers": f"{PHONE_2},{PHONE_1}",
        "sign": SIGN,
        "content": CONTENT,
        "kind": "2",
        "token": TOKEN,
    }
    assert [(o.phone, o.status, o.message_id) for o in outcomes] == [
        (PHONE_2, OutcomeStatus.SENT, "BATCH-1"),
        (PHONE_1, OutcomeStatus.SENT, "BATCH-1"),
    ]


@pytest.mark.asyncio
async def test_send_chunk_of_the_largest_size(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    phones = numbers(sender.max_chunk_size)
    with gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok("B"))
        outcomes = await sender.send_chunk([Recipient(p) for p in phones])
    assert form(route.calls.last.request)["phoneNumbers"] == ",".join(phones)
    assert [o.phone for o in outcomes] == phones


@pytest.mark.asyncio
async def test_send_chunk_over_the_limit_is_refused(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        with pytest.raises(InvalidInputError) as caught:
            await sender.send_chunk([Recipient(p) for p in numbers(126)])
        assert mock.calls.call_count == 0
    assert caught.value.field == "recipients"


@pytest.mark.asyncio
async def test_send_chunk_refuses_vars_and_idempotency_keys(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        with pytest.raises(InvalidInputError) as with_vars:
            await sender.send_chunk([Recipient(PHONE_1), Recipient(PHONE_2, {"a": "1"})])
        with pytest.raises(InvalidInputError) as with_key:
            await sender.send_chunk([Recipient(PHONE_1)], idempotency_key="k-1")
        assert mock.calls.call_count == 0
    assert with_vars.value.field == "recipients[1].vars"
    assert with_key.value.field == "idempotency_key"


@pytest.mark.asyncio
async def test_send_chunk_duplicate_names_both_positions(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with pytest.raises(InvalidInputError) as caught:
        await sender.send_chunk([Recipient(PHONE_1), Recipient(PHONE_2), Recipient(PHONE_1)])
    assert caught.value.field == "recipients[2].phone"
    assert "recipients[0].phone" in str(caught.value)


@pytest.mark.asyncio
async def test_send_chunk_of_nothing_sends_nothing(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        assert await sender.send_chunk([]) == []
        assert mock.calls.call_count == 0


@pytest.mark.asyncio
async def test_send_chunk_request_error_is_raised(client: AsyncPaasw) -> None:
    sender = client.sms.send_chunks(sign=SIGN, content=CONTENT)
    with gateway() as mock:
        mock.post("/sms/send").mock(return_value=answer("30001", "余额不足"))
        with pytest.raises(ProviderError) as caught:
            await sender.send_chunk([Recipient(PHONE_1)])
    assert caught.value.code == "30001"


@pytest.mark.asyncio
async def test_send_chunks_checks_its_arguments_at_once(client: AsyncPaasw) -> None:
    with pytest.raises(InvalidInputError) as bad_content:
        client.sms.send_chunks(sign=SIGN, content="no signature")
    with pytest.raises(InvalidInputError) as bad_kind:
        client.sms.send_chunks(sign=SIGN, content=CONTENT, kind=9)  # type: ignore[arg-type]
    assert bad_content.value.field == "content"
    assert bad_kind.value.field == "kind"
