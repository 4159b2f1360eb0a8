"""Bad arguments are refused before any request, naming the field and position."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import respx

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import AsyncSubmail

BASE = "https://api-v4.mysubmail.com"
GOOD = "【SUBMAIL】您好，@var(name)"


async def multisend_error(
    make_client: Callable[..., AsyncSubmail], **arguments: Any
) -> InvalidInputError:
    arguments.setdefault("content", GOOD)
    arguments.setdefault("recipients", [Recipient("13800138000", {"name": "a"})])
    async with make_client(max_multisend_recipients=3) as client:
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            route = mock.post("/sms/multisend.json").respond(json=[])
            with pytest.raises(InvalidInputError) as info:
                await client.sms.multisend(**arguments)
            assert route.call_count == 0
    return info.value


async def send_error(
    make_client: Callable[..., AsyncSubmail], **arguments: Any
) -> InvalidInputError:
    arguments.setdefault("to", "13800138000")
    arguments.setdefault("content", "【SUBMAIL】你好")
    async with make_client() as client:
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            route = mock.post("/sms/send.json").respond(json={})
            with pytest.raises(InvalidInputError) as info:
                await client.sms.send(**arguments)
            assert route.call_count == 0
    return info.value


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("您好【SUBMAIL】", "does not start with an SMS signature"),
        (" 【SUBMAIL】您好", "does not start with an SMS signature"),
        ("[SUBMAIL]您好", "does not start with an SMS signature"),
        ("【S】您好", "has 1 characters"),
        ("【一二三四五六七八九十一】您好", "has 11 characters"),
        ("【】您好", "has 0 characters"),
        ("【SUBMAIL】", "no message after it"),
        ("【SUBMAIL】 ", "no message after it"),
        ("【SUBMAIL】" + "字" * 992, "1001 characters"),
        ("【SUBMAIL】hello @var()", "without a name"),
    ],
)
@pytest.mark.asyncio
async def test_bad_content(
    make_client: Callable[..., AsyncSubmail], content: str, fragment: str
) -> None:
    error = await send_error(make_client, content=content)
    assert error.field == "content"
    assert fragment in str(error)


@pytest.mark.asyncio
async def test_content_must_be_a_string(make_client: Callable[..., AsyncSubmail]) -> None:
    error = await send_error(make_client, content=None)
    assert error.field == "content"


@pytest.mark.parametrize(
    "content", ["【SU】x", "【一二三四五六七八九十】x", "【SUBMAIL】" + "字" * 991]
)
@pytest.mark.asyncio
async def test_boundary_content_is_accepted(  # 2 and 10 signature characters, 1000 in all
    make_client: Callable[..., AsyncSubmail], content: str
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(
                json={"status": "success", "send_id": "x", "fee": 1}
            )
            await client.sms.send(to="13800138000", content=content)
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_send_refuses_placeholders(make_client: Callable[..., AsyncSubmail]) -> None:
    error = await send_error(make_client, content="【SUBMAIL】code @var(code)")
    assert error.field == "content"
    assert "multisend" in str(error)


@pytest.mark.parametrize(
    ("to", "fragment"),
    [
        ("", "empty"),
        ("12345", "not a valid"),
        ("+1 650 253 0000", "international"),
        ("010-12345678", "landline"),
    ],
)
@pytest.mark.asyncio
async def test_send_bad_phone(
    make_client: Callable[..., AsyncSubmail], to: str, fragment: str
) -> None:
    error = await send_error(make_client, to=to)
    assert error.field == "to"
    assert error.position is None
    assert fragment in str(error)


@pytest.mark.asyncio
async def test_tag_too_long(make_client: Callable[..., AsyncSubmail]) -> None:
    error = await send_error(make_client, tag="t" * 33)
    assert error.field == "tag"
    assert "33 characters" in str(error)


@pytest.mark.asyncio
async def test_tag_of_32_is_accepted_and_empty_tag_is_no_tag(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/send.json").respond(
                json={"status": "success", "send_id": "x", "fee": 1}
            )
            await client.sms.send(to="13800138000", content="【SUBMAIL】hi", tag="t" * 32)
            await client.sms.send(to="13800138000", content="【SUBMAIL】hi", tag="")
    assert b'"tag":"' + b"t" * 32 + b'"' in route.calls[0].request.content
    assert b'"tag"' not in route.calls[1].request.content


@pytest.mark.asyncio
async def test_multisend_bad_phone_names_position(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [Recipient("13800138000", {"name": "a"}), Recipient("999", {"name": "b"})]
    error = await multisend_error(make_client, recipients=recipients)
    assert error.field == "recipients[1].phone"
    assert error.position == 1


@pytest.mark.asyncio
async def test_multisend_refuses_a_number_given_twice(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    """SUBMAIL sends each item, so the same number twice would get two messages."""
    recipients = [
        Recipient("13800138000", {"name": "a"}),
        Recipient("13900139000", {"name": "b"}),
        Recipient("+86 138-0013-8000", {"name": "c"}),
    ]
    error = await multisend_error(make_client, recipients=recipients)
    assert error.field == "recipients[2].phone"
    assert error.position == 2
    assert "recipients[0]" in str(error)
    assert "twice" in str(error)


@pytest.mark.asyncio
async def test_multisend_missing_var_names_recipient_and_key(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [
        Recipient("13800138000", {"name": "a", "code": "1"}),
        Recipient("13900139000", {"name": "b", "code": "2"}),
        Recipient("13700137000", {"name": "c"}),
    ]
    error = await multisend_error(
        make_client, content="【SUBMAIL】@var(name) 的码 @var(code)", recipients=recipients
    )
    assert error.field == "recipients[2].vars"
    assert error.position == 2
    assert "'code'" in str(error)
    assert "@var(code)" in str(error)
    assert "'name'" in str(error.received)


@pytest.mark.asyncio
async def test_multisend_empty(make_client: Callable[..., AsyncSubmail]) -> None:
    error = await multisend_error(make_client, recipients=[])
    assert error.field == "recipients"
    assert "no recipients" in str(error)


@pytest.mark.asyncio
async def test_multisend_too_many_points_to_chunking(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    recipients = [Recipient(f"1380013800{i}", {"name": "x"}) for i in range(4)]
    error = await multisend_error(make_client, recipients=recipients)
    assert error.field == "recipients"
    assert "4 recipients" in str(error)
    assert "multisend_chunks" in str(error)
    assert "batch sender" in str(error)


@pytest.mark.parametrize("recipients", ["13800138000", {"13800138000": {}}, 5])
@pytest.mark.asyncio
async def test_multisend_recipients_must_be_a_sequence(
    make_client: Callable[..., AsyncSubmail], recipients: object
) -> None:
    error = await multisend_error(make_client, recipients=recipients)
    assert error.field == "recipients"


@pytest.mark.asyncio
async def test_multisend_items_must_be_recipients(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    error = await multisend_error(
        make_client, recipients=[Recipient("13800138000", {"name": "a"}), "13900139000"]
    )
    assert error.field == "recipients[1]"
    assert error.position == 1


@pytest.mark.asyncio
async def test_multisend_bad_content_and_tag(make_client: Callable[..., AsyncSubmail]) -> None:
    assert (await multisend_error(make_client, content="no signature")).field == "content"
    assert (await multisend_error(make_client, tag="x" * 40)).field == "tag"
