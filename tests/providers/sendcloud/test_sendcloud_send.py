"""client.sms.send: the exact request, per-recipient results, provider codes, bad answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    DeliveryCertainty,
    HTTPStatusError,
    ProviderError,
    ResponseParseError,
    SignatureError,
)
from crowdsms.outcomes import OutcomeStatus
from crowdsms.providers.sendcloud import AsyncSendCloud

from .sendcloud_support import NOW_MS, SMS_USER, answer, expected_signature, form

SENT = OutcomeStatus.SENT
FAILED = OutcomeStatus.FAILED
PHONES = ["13800138000", "13900139000", "15000150000"]


@pytest.mark.asyncio
async def test_exact_request(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/send").mock(return_value=answer())
    await client.sms.send(
        template_id=3456,
        phones=["+86 138-0013-8000", "139 0013 9000"],
        vars={"%name%": "李雷 & 韩梅梅", "%code%": "a=b+c"},
    )
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.url == "https://api.sendcloud.net/smsapi/send"
    assert sent.url.query == b""
    fields = form(sent)
    assert {k: v for k, v in fields.items() if k != "signature"} == {
        "templateId": "3456",
        "phone": "13800138000,13900139000",
        "vars": '{"%name%":"李雷 & 韩梅梅","%code%":"a=b+c"}',
        "smsUser": SMS_USER,
        "timestamp": NOW_MS,
    }
    assert fields["signature"] == expected_signature(fields)


@pytest.mark.asyncio
async def test_optional_fields(
    make_client: Callable[..., AsyncSendCloud], api: respx.MockRouter
) -> None:
    client = make_client(sign_type="sha256")
    route = api.post("/send").mock(return_value=answer())
    await client.sms.send(
        template_id=1, phones=["13800138000"], msg_type=0, send_request_id="order-42", vars={}
    )
    fields = form(route.calls.last.request)
    assert fields["msgType"] == "0"
    assert fields["sendRequestId"] == "order-42"
    assert fields["vars"] == "{}"
    assert fields["signature"] == expected_signature(fields, sign_type="sha256")


@pytest.mark.asyncio
async def test_vars_left_out_when_not_given(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.post("/send").mock(return_value=answer())
    await client.sms.send(template_id=1, phones=["13800138000"])
    assert set(form(route.calls.last.request)) == {
        "templateId",
        "phone",
        "smsUser",
        "timestamp",
        "signature",
    }


@pytest.mark.asyncio
async def test_success_attaches_ids_by_phone_suffix(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    ids = ["1700_1_9$15000150000", "1700_1_7$13800138000", "1700_1_8$13900139000"]
    api.post("/send").mock(return_value=answer(200, info={"successCount": 3, "smsIds": ids}))
    result = await client.sms.send(template_id=1, phones=PHONES, send_request_id="k1")
    assert result.status_code == 200
    assert result.message == "请求成功"
    assert result.send_request_id == "k1"
    assert [o.phone for o in result.outcomes] == PHONES
    assert [o.status for o in result.outcomes] == [SENT, SENT, SENT]
    assert [o.message_id for o in result.outcomes] == [ids[1], ids[2], ids[0]]
    assert result.all_sent
    assert result.sms_ids == (ids[1], ids[2], ids[0])


@pytest.mark.asyncio
async def test_success_without_ids(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/send").mock(return_value=answer(200, info={}))
    result = await client.sms.send(template_id=1, phones=PHONES[:2])
    assert [(o.status, o.message_id) for o in result.outcomes] == [(SENT, None), (SENT, None)]


@pytest.mark.asyncio
async def test_partial_success(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    info = {
        "successCount": 2,
        "failedCount": 1,
        "smsIds": ["id_a$15000150000", "id_b$13800138000"],
        "items": [{"phone": "13900139000", "vars": {}, "message": "手机号在黑名单中"}],
    }
    api.post("/send").mock(return_value=answer(311, "部分成功", info, result=True))
    result = await client.sms.send(template_id=1, phones=PHONES)
    assert result.status_code == 311
    assert [o.status for o in result.outcomes] == [SENT, FAILED, SENT]
    assert result.outcomes[0].message_id == "id_b$13800138000"
    assert result.outcomes[2].message_id == "id_a$15000150000"
    failed = result.outcomes[1]
    assert failed.phone == "13900139000"
    assert failed.message == "手机号在黑名单中"
    assert failed.code == "311"
    assert failed.message_id is None
    assert not result.all_sent
    assert result.failed == (failed,)
    assert len(result.sent) == 2


@pytest.mark.asyncio
async def test_partial_success_in_the_2015_shape(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    info = {
        "successCount": 2,
        "failedCount": 1,
        "items": [{"phone": "+8615000150000", "vars": {}, "message": "手机号格式错误"}],
    }
    api.post("/send").mock(return_value=answer(311, "部分成功", info))
    result = await client.sms.send(template_id=1, phones=PHONES)
    assert [o.status for o in result.outcomes] == [SENT, SENT, FAILED]
    assert result.outcomes[2].message == "手机号格式错误"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "info",
    [
        pytest.param(
            {"smsIds": ["id_b$13800138000"], "items": []},
            id="listed-nowhere",
        ),
        pytest.param(
            {"successCount": 1, "items": [{"phone": "13900139000", "message": "x"}]},
            id="count-disagrees",
        ),
        pytest.param(
            {
                "smsIds": ["a$13800138000", "b$13900139000", "c$15000150000"],
                "items": [{"phone": "13900139000", "message": "x"}],
            },
            id="listed-twice",
        ),
    ],
)
async def test_partial_success_that_does_not_add_up_is_a_parse_error(
    client: AsyncSendCloud, api: respx.MockRouter, info: dict[str, object]
) -> None:
    api.post("/send").mock(return_value=answer(311, "部分成功", info))
    with pytest.raises(ResponseParseError) as caught:
        await client.sms.send(template_id=1, phones=PHONES)
    message = str(caught.value)
    assert "13900139000" in message or "15000150000" in message
    assert "Received: HTTP 200, body" in message
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
async def test_all_failed(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    info = {"items": [{"phone": "13800138000", "vars": {}, "message": "手机号格式错误"}]}
    api.post("/send").mock(return_value=answer(312, "全部失败", info, result=False))
    result = await client.sms.send(template_id=1, phones=PHONES[:2])
    assert result.status_code == 312
    assert [o.status for o in result.outcomes] == [FAILED, FAILED]
    assert [o.message for o in result.outcomes] == ["手机号格式错误", "全部失败"]
    assert {o.code for o in result.outcomes} == {"312"}
    assert result.sent == ()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "message", "error_class", "certainty", "retryable"),
    [
        (401, "短信内容不能为空", ProviderError, DeliveryCertainty.NOT_SENT, False),
        (412, "手机号格式错误", ProviderError, DeliveryCertainty.NOT_SENT, False),
        (413, "有重复的手机号", ProviderError, DeliveryCertainty.NOT_SENT, False),
        (421, "签名参数错误", SignatureError, DeliveryCertainty.NOT_SENT, False),
        (422, "签名错误", SignatureError, DeliveryCertainty.NOT_SENT, False),
        (471, "smsUser不存在", AuthenticationError, DeliveryCertainty.NOT_SENT, False),
        (496, "发信太频繁", ProviderError, DeliveryCertainty.NOT_SENT, True),
        (498, "一天内发信太多", ProviderError, DeliveryCertainty.NOT_SENT, False),
        (499, "账户额度不够", ProviderError, DeliveryCertainty.NOT_SENT, False),
        (501, "服务器异常", ProviderError, DeliveryCertainty.UNKNOWN, True),
        # a server error crowdsms does not know may have come mid-send, as 501 may
        (500, "服务器内部错误", ProviderError, DeliveryCertainty.UNKNOWN, False),
        (777, "新的错误", ProviderError, DeliveryCertainty.NOT_SENT, False),
    ],
)
async def test_request_level_errors(
    client: AsyncSendCloud,
    api: respx.MockRouter,
    code: int,
    message: str,
    error_class: type[ProviderError],
    certainty: DeliveryCertainty,
    retryable: bool,
) -> None:
    api.post("/send").mock(return_value=answer(code, message, result=False))
    with pytest.raises(ProviderError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    error = caught.value
    assert type(error) is error_class
    assert error.code == str(code)
    assert error.provider == "sendcloud"
    assert error.provider_message == message
    assert error.explanation
    assert error.certainty is certainty
    assert error.retryable is retryable
    assert error.explanation in str(error)
    assert message in str(error)
    assert "sendcloud.sms.send" in str(error)


@pytest.mark.asyncio
async def test_a_code_it_does_not_know_with_result_true_may_have_been_sent(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    """``"result": true`` says the call went through: whatever the code, it may have sent."""
    route = api.post("/send").mock(return_value=answer(201, "请求已接受", result=True))
    with pytest.raises(ProviderError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_balance_error_explains_in_english(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    api.post("/send").mock(return_value=answer(499, "账户额度不够", result=False))
    with pytest.raises(ProviderError, match=r"code 499: .*balance"):
        await client.sms.send(template_id=1, phones=["13800138000"])


@pytest.mark.asyncio
async def test_clock_error_that_persists(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.get("/timestamp/get").mock(return_value=answer(200, info={"timestamp": 1700000000000}))
    api.post("/send").mock(return_value=answer(461, "时间戳无效", result=False))
    with pytest.raises(ClockSkewError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    assert caught.value.code == "461"


MALFORMED = [
    pytest.param(
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
        "HTML page",
        "502 Bad Gateway",
        id="html",
    ),
    pytest.param(
        b'{"result":true,"statusCode":200,"message":"\xe8\xaf\xb7\xe6\xb1\x82',
        "not valid JSON",
        '{"result":true',
        id="truncated",
    ),
    pytest.param(b"", "empty", "<empty body>", id="empty"),
    pytest.param(b'[{"statusCode": 200}]', "not a JSON object", "statusCode", id="array"),
    pytest.param(
        b'{"result":true,"statusCode":"ok","message":"","info":{}}',
        "expected shape",
        '"ok"',
        id="code-not-a-number",
    ),
    pytest.param(
        b'{"result":"true","statusCode":200,"message":"","info":{}}',
        "expected shape",
        '"true"',
        id="result-not-a-bool",
    ),
    pytest.param(
        b'{"result":true,"statusCode":200,"message":"","info":[1,2]}',
        "expected shape",
        "[1,2]",
        id="info-not-an-object",
    ),
    pytest.param(
        b'{"result":true,"statusCode":200,"message":"","info":{"smsIds":"a$13800138000"}}',
        "expected shape",
        "smsIds",
        id="ids-not-a-list",
    ),
    pytest.param(
        b'{"result":true,"statusCode":311,"message":"","info":{"items":[{"phone":13800138000}]}}',
        "expected shape",
        "items",
        id="item-phone-not-a-string",
    ),
    pytest.param(b'{"message":"hello"}', "expected shape", "hello", id="no-status-code"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "what", "shown"), MALFORMED)
async def test_malformed_answers(
    client: AsyncSendCloud, api: respx.MockRouter, body: bytes, what: str, shown: str
) -> None:
    api.post("/send").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(ResponseParseError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    message = str(caught.value)
    assert what in message
    assert "Received: HTTP 200, body" in message
    assert shown.replace('"', "") in message.replace('"', "").replace("\\", "")
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
async def test_http_404_page_is_a_refusal(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.post("/send").mock(return_value=httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(HTTPStatusError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    assert caught.value.status_code == 404
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert "Not Found" in str(caught.value)


@pytest.mark.asyncio
async def test_http_4xx_with_an_envelope_uses_its_code(
    client: AsyncSendCloud, api: respx.MockRouter
) -> None:
    body = answer(422, "签名错误", result=False).content
    api.post("/send").mock(return_value=httpx.Response(400, content=body))
    with pytest.raises(SignatureError) as caught:
        await client.sms.send(template_id=1, phones=["13800138000"])
    assert caught.value.code == "422"
