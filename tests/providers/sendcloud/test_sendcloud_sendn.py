"""client.sms.sendn and its chunk sender for the batch sender."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms._client import DEFAULT_MAX_CONNECTIONS
from crowdsms.errors import InvalidInputError, ResponseParseError, SignatureError
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient
from crowdsms.providers.sendcloud import AsyncSendCloud

from .sendcloud_support import NOW_MS, SMS_USER, answer, expected_signature, form

SENT = OutcomeStatus.SENT
FAILED = OutcomeStatus.FAILED


@pytest.mark.asyncio
async def test_exact_request(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    await client.sms.sendn(
        template_id=77,
        recipients=[
            Recipient("+86 138 0013 8000", {"%name%": "张三", "%x%": "a&b=c+d 😀"}),
            Recipient("139-0013-9000"),
        ],
        send_request_id="batch-1/chunk-0",
    )
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.url == "https://api.sendcloud.net/smsapi/sendn"
    fields = form(sent)
    assert {k: v for k, v in fields.items() if k != "signature"} == {
        "templateId": "77",
        "tos": '[{"phone":"13800138000","vars":{"%name%":"张三","%x%":"a&b=c+d 😀"}},'
        '{"phone":"13900139000","vars":{}}]',
        "sendRequestId": "batch-1/chunk-0",
        "smsUser": SMS_USER,
        "timestamp": NOW_MS,
    }
    assert fields["signature"] == expected_signature(fields)


@pytest.mark.asyncio
async def test_sendx_endpoint_setting(make_client: Callable[..., AsyncSendCloud]) -> None:
    client = make_client(sendn_endpoint="sendx", base_url="https://sendcloud.example.com/smsapi/")
    with respx.mock(base_url="https://sendcloud.example.com/smsapi") as router:
        route = router.post("/sendx").mock(return_value=answer())
        result = await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000")])
    assert route.call_count == 1
    assert result.all_sent


@pytest.mark.asyncio
async def test_partial_success(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    info = {
        "smsIds": ["170_0$13900139000"],
        "items": [{"phone": "13800138000", "vars": {"%n%": "a"}, "message": "变量错误"}],
    }
    api.post("/sendn").mock(return_value=answer(311, "部分成功", info))
    result = await client.sms.sendn(
        template_id=1,
        recipients=[Recipient("13800138000", {"%n%": "a"}), Recipient("13900139000")],
    )
    assert [(o.phone, o.status) for o in result.outcomes] == [
        ("13800138000", FAILED),
        ("13900139000", SENT),
    ]
    assert result.outcomes[0].message == "变量错误"
    assert result.outcomes[1].message_id == "170_0$13900139000"


@pytest.mark.asyncio
async def test_partial_success_missing_a_recipient(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    info = {"smsIds": ["170_0$13900139000"], "items": []}
    api.post("/sendn").mock(return_value=answer(311, "部分成功", info))
    with pytest.raises(ResponseParseError, match="13800138000"):
        await client.sms.sendn(
            template_id=1, recipients=[Recipient("13800138000"), Recipient("13900139000")]
        )


@pytest.mark.asyncio
async def test_all_failed(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/sendn").mock(return_value=answer(312, "全部失败", {"items": []}))
    result = await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000")])
    assert [(o.status, o.message) for o in result.outcomes] == [(FAILED, "全部失败")]


@pytest.mark.asyncio
async def test_request_level_error(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/sendn").mock(return_value=answer(422, "签名错误", result=False))
    with pytest.raises(SignatureError) as caught:
        await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000")])
    assert caught.value.code == "422"


@pytest.mark.asyncio
async def test_recipient_limit_is_a_setting(
    make_client: Callable[..., AsyncSendCloud], api: respx.MockRouter
) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    client = make_client(max_sendn_recipients=2)
    recipients = [Recipient("13800138000"), Recipient("13900139000"), Recipient("15000150000")]
    with pytest.raises(InvalidInputError) as caught:
        await client.sms.sendn(template_id=1, recipients=recipients)
    assert caught.value.field == "recipients"
    assert "at most 2" in str(caught.value)
    assert "max_sendn_recipients" in str(caught.value)
    await client.sms.sendn(template_id=1, recipients=recipients[:2])
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_default_limit_is_200(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    recipients = [Recipient(f"138{i:08d}") for i in range(201)]
    with pytest.raises(InvalidInputError, match="at most 200"):
        await client.sms.sendn(template_id=1, recipients=recipients)
    await client.sms.sendn(template_id=1, recipients=recipients[:200])
    assert route.call_count == 1
    assert form(route.calls.last.request)["tos"].count('"phone"') == 200


@pytest.mark.asyncio
async def test_chunk_sender(
    make_client: Callable[..., AsyncSendCloud], api: respx.MockRouter
) -> None:
    client = make_client(max_sendn_recipients=50)
    sender: ChunkSender = client.sms.sendn_chunks(template_id=9)
    assert sender.max_chunk_size == 50
    assert sender.supports_idempotency_key is True
    validated = sender.validate(Recipient("+86 139 0013 9000", {"%a%": "1"}), position=4)
    assert validated == Recipient("13900139000", {"%a%": "1"})
    info = {"smsIds": ["s2$13800138000"], "items": [{"phone": "13900139000", "message": "m"}]}
    route = api.post("/sendn").mock(return_value=answer(311, "部分成功", info))
    outcomes = await sender.send_chunk(
        [validated, Recipient("13800138000")], idempotency_key="job-7:chunk-3"
    )
    assert [(o.phone, o.status) for o in outcomes] == [
        ("13900139000", FAILED),
        ("13800138000", SENT),
    ]
    fields = form(route.calls.last.request)
    assert fields["sendRequestId"] == "job-7:chunk-3"
    assert fields["templateId"] == "9"


@pytest.mark.asyncio
async def test_chunk_sender_without_key(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    outcomes = await client.sms.sendn_chunks(template_id=9).send_chunk([Recipient("13800138000")])
    assert [o.status for o in outcomes] == [SENT]
    assert "sendRequestId" not in form(route.calls.last.request)


def test_chunk_sender_validate_names_the_position(client: AsyncSendCloud) -> None:
    sender = client.sms.sendn_chunks(template_id=9)
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient("12345"), position=7)
    assert caught.value.field == "recipients[7].phone"
    assert caught.value.position == 7
    with pytest.raises(InvalidInputError) as caught:
        sender.validate(Recipient("13800138000", {"%v%": "x" * 17}), position=3)
    assert caught.value.field == "recipients[3].vars[%v%]"
    assert caught.value.position == 3


def test_chunk_sender_refuses_a_bad_template(client: AsyncSendCloud) -> None:
    with pytest.raises(InvalidInputError) as caught:
        client.sms.sendn_chunks(template_id=0)
    assert caught.value.field == "template_id"


@pytest.mark.asyncio
async def test_chunk_sender_reports_the_clients_connections(
    make_client: Callable[..., AsyncSendCloud],
) -> None:
    assert make_client(max_connections=3).sms.sendn_chunks(template_id=9).max_connections == 3
    default = make_client()
    assert default.sms.sendn_chunks(template_id=9).max_connections == default.max_connections
    assert default.max_connections == DEFAULT_MAX_CONNECTIONS
    own = make_client(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    assert own.sms.sendn_chunks(template_id=9).max_connections is None


@pytest.mark.asyncio
async def test_sendn_reports_bad_recipients_before_duplicates(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    with pytest.raises(InvalidInputError) as caught:
        await client.sms.sendn(
            template_id=1,
            recipients=[
                Recipient("13800138000"),
                Recipient("+86 138 0013 8000"),
                Recipient("13900139000", {"%v%": "x" * 17}),
            ],
        )
    assert caught.value.field == "recipients[2].vars[%v%]"
    assert not route.called
