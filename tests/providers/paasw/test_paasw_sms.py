"""``client.sms.send`` and ``client.sms.send_template``: exact requests, answers, errors and
the checks made before any request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import respx

from crowdsms.errors import (
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
    ResponseParseError,
)
from crowdsms.providers.paasw import AsyncPaasw, SmsKind

from .conftest import (
    BASE_URL,
    PHONE_1,
    PHONE_2,
    TOKEN,
    Sleeps,
    answer,
    form,
    numbers,
    raw,
    send_ok,
    token_answer,
)

SIGN = "圆通快递"
CONTENT = "【圆通快递】你的快件56682551825已签收，谢谢使用"


def mock_gateway() -> respx.MockRouter:
    router = respx.mock(base_url=BASE_URL, assert_all_called=False)
    router.get("/api/token").mock(return_value=token_answer())
    return router


@pytest.mark.asyncio
async def test_send_makes_the_exact_request(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok("39036632588910887018"))
        result = await client.sms.send(
            phones=["+86 138-0013-8000", "139 1234 5678"],
            sign=SIGN,
            content=CONTENT,
            kind=SmsKind.VERIFICATION_CODE,
        )
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/sms/send"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert form(request) == {
        "phoneNumbers": f"{PHONE_1},{PHONE_2}",
        "sign": SIGN,
        "content": CONTENT,
        "kind": "1",
        "token": TOKEN,
    }
    assert result.biz_id == "39036632588910887018"
    assert result.phones == (PHONE_1, PHONE_2)
    assert result.provider_message == "操作成功"


@pytest.mark.asyncio
async def test_send_without_kind_leaves_the_field_out(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok())
        await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert "kind" not in form(route.calls.last.request)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "wire"),
    [(SmsKind.NOTICE, "2"), (SmsKind.MARKETING, "3"), (3, "3"), ("2", "2")],
)
async def test_send_kind_values(client: AsyncPaasw, kind: Any, wire: str) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok())
        await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT, kind=kind)
    assert form(route.calls.last.request)["kind"] == wire


@pytest.mark.asyncio
async def test_send_accepts_an_integer_code_and_biz_id(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        mock.post("/sms/send").mock(return_value=answer(10000, bizId=39036632588910887018))
        result = await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert result.biz_id == "39036632588910887018"


@pytest.mark.asyncio
async def test_send_accepts_a_snake_case_biz_id(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        mock.post("/sms/send").mock(return_value=answer(biz_id="B-7"))
        result = await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert result.biz_id == "B-7"


@pytest.mark.asyncio
async def test_request_level_error_raises_provider_error_with_code(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=answer("30001", "余额不足"))
        with pytest.raises(ProviderError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    error = caught.value
    assert type(error) is ProviderError
    assert error.provider == "paasw"
    assert error.code == "30001"
    assert error.provider_message == "余额不足"
    assert error.explanation == "a code crowdsms does not know"
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert error.operation == "paasw.sms.send"
    assert "30001" in str(error)
    assert "余额不足" in str(error)
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_error_with_msg_field_instead_of_message(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        mock.post("/sms/send").mock(return_value=raw('{"code": 30002, "msg": "签名未审核"}'))
        with pytest.raises(ProviderError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert caught.value.code == "30002"
    assert caught.value.provider_message == "签名未审核"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<!DOCTYPE html><html><title>Error</title></html>", "HTML page"),
        ('{"code":"10000","message":"操作成功","bizId":"3903', "not valid JSON"),
        ('{"code":"10000","bizId":{"id":1}}', "expected shape"),
        ('{"code":"10000","bizId":true}', "expected shape"),
        ('{"code":"10000"}', "expected shape"),
        ('{"code":"10000","bizId":""}', "bizId is empty"),
        ('{"message":"操作成功","bizId":"1"}', "has no code"),
        ('{"code":["10000"],"bizId":"1"}', "code is missing"),
        ('["10000"]', "not an object"),
        ("", "empty"),
    ],
)
async def test_malformed_send_answer_raises_parse_error_and_is_not_retried(
    client: AsyncPaasw, body: str, expected: str
) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=raw(body))
        with pytest.raises(ResponseParseError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    error = caught.value
    assert expected in str(error)
    assert "Received: HTTP 200, body" in str(error)
    if body:
        assert body[:12] in str(error)  # an excerpt of what came back
    assert error.certainty is DeliveryCertainty.UNKNOWN  # the gateway may have sent it
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_http_error_page_raises_http_status_error(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        mock.post("/sms/send").mock(
            return_value=raw("<html>404 Not Found</html>", 404, "text/html")
        )
        with pytest.raises(HTTPStatusError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert caught.value.status_code == 404
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert "404 Not Found" in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", ["<html>See Other</html>", '{"code":"10000","message":"ok"}'])
async def test_a_redirect_after_a_send_is_unknown_and_not_retried(
    client: AsyncPaasw, body: str
) -> None:
    """crowdsms follows no redirects; one after a send ("processed, see there") may come
    after the gateway sent it, so it is never reported as not sent."""
    with mock_gateway() as mock:
        redirect = raw(body, 303, "text/html")
        redirect.headers["location"] = "/sms/result/1"
        route = mock.post("/sms/send").mock(return_value=redirect)
        with pytest.raises(HTTPStatusError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert caught.value.status_code == 303
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert "delivery reports" in str(caught.value)
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_ambiguous_failure_of_a_send_is_not_retried(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=raw("oops", 500, "text/plain"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_not_processed_send_is_retried(client: AsyncPaasw, sleeps: Sleeps) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(
            side_effect=[raw("busy", 503, "text/plain"), send_ok("AFTER-503")]
        )
        result = await client.sms.send(phones=[PHONE_1], sign=SIGN, content=CONTENT)
    assert result.biz_id == "AFTER-503"
    assert route.call_count == 2
    assert len(sleeps.delays) == 1


@pytest.mark.asyncio
async def test_send_of_125_numbers_fits_both_limits(client: AsyncPaasw) -> None:
    phones = numbers(125)
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok())
        await client.sms.send(phones=phones, sign=SIGN, content=CONTENT)
    field = form(route.calls.last.request)["phoneNumbers"]
    assert field == ",".join(phones)
    assert len(field) == 125 * 11 + 124  # 1499 characters


def _invalid_sends() -> list[Any]:
    ok: dict[str, Any] = {"phones": [PHONE_1], "sign": SIGN, "content": CONTENT}

    def case(field: str, position: int | None, text: str, **changes: Any) -> Any:
        return pytest.param({**ok, **changes}, field, position, text, id=f"{field}:{text}")

    return [
        case("phones", None, "not a single string", phones=PHONE_1),
        case("phones", None, "is empty", phones=[]),
        case("phones[1]", 1, "phone number", phones=[PHONE_1, "1380013800"]),
        case("phones[1]", 1, "phone number", phones=[PHONE_1, "hello"]),
        case("phones[0]", 0, "international", phones=["+1 415 555 2671"]),
        case("phones[0]", 0, "landline", phones=["010 6552 9988"]),
        case("phones[0]", 0, "must be a string", phones=[13800138000]),
        case(
            "phones[2]",
            2,
            "same number as phones[0]",
            phones=[PHONE_1, PHONE_2, "+86 138 0013 8000"],
        ),
        case("phones", None, "more than 1000", phones=numbers(1001)),
        case("phones", None, "1511 characters", phones=numbers(126)),
        case("sign", None, "must not contain 【 or 】", sign="【圆通快递】"),
        case("sign", None, "at most 20", sign="签" * 21, content=f"【{'签' * 21}】hi"),
        case("sign", None, "is empty", sign=""),
        case("sign", None, "must be a string", sign=None),
        case("sign", None, "spaces", sign=" 圆通快递"),
        case(
            "content", None, "must contain the signature as 【圆通快递】", content="你的快件已签收"
        ),
        case("content", None, "at most 1000", content="【圆通快递】" + "字" * 995),
        case("content", None, "is empty", content="  "),
        case("kind", None, "must be an SmsKind", kind=4),
        case("kind", None, "must be an SmsKind", kind=True),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("arguments", "field", "position", "text"), _invalid_sends())
async def test_bad_send_arguments_are_refused_before_any_request(
    client: AsyncPaasw, arguments: dict[str, Any], field: str, position: int | None, text: str
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        with pytest.raises(InvalidInputError) as caught:
            await client.sms.send(**arguments)
        assert mock.calls.call_count == 0  # not even a token was fetched
    error = caught.value
    assert error.field == field
    assert error.position == position
    assert text in str(error)


@pytest.mark.asyncio
async def test_content_of_exactly_1000_characters_is_accepted(client: AsyncPaasw) -> None:
    content = "【圆通快递】" + "字" * 994
    assert len(content) == 1000
    with mock_gateway() as mock:
        route = mock.post("/sms/send").mock(return_value=send_ok())
        await client.sms.send(phones=[PHONE_1], sign=SIGN, content=content)
    assert form(route.calls.last.request)["content"] == content


@pytest.mark.asyncio
async def test_send_template_makes_the_exact_request(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/sendTemplate").mock(return_value=send_ok("T-1"))
        result = await client.sms.send_template(
            phones=[PHONE_1, "+8613912345678"],
            template_id="1192360392260608",
            params=[{"name": "张三"}, {"code": "1234"}],
            sign=SIGN,
            content="你的快件已签收",
        )
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/sms/sendTemplate"
    assert form(request) == {
        "phoneNumbers": f"{PHONE_1},{PHONE_2}",
        "templateId": "1192360392260608",
        "paramJson": '[{"name":"张三"},{"code":"1234"}]',
        "sign": SIGN,
        "content": "你的快件已签收",
        "token": TOKEN,
    }
    assert result.biz_id == "T-1"
    assert result.phones == (PHONE_1, PHONE_2)


@pytest.mark.asyncio
async def test_send_template_with_one_mapping_sends_a_json_object(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        route = mock.post("/sms/sendTemplate").mock(return_value=send_ok())
        await client.sms.send_template(
            phones=[PHONE_1],
            template_id="77",
            params={"a": "1", "b": "二"},
            sign=SIGN,
            content=CONTENT,
        )
    assert json.loads(form(route.calls.last.request)["paramJson"]) == {"a": "1", "b": "二"}


@pytest.mark.asyncio
async def test_send_template_error_raises_provider_error(client: AsyncPaasw) -> None:
    with mock_gateway() as mock:
        mock.post("/sms/sendTemplate").mock(return_value=answer("30010", "模板不存在"))
        with pytest.raises(ProviderError) as caught:
            await client.sms.send_template(
                phones=[PHONE_1], template_id="77", params={}, sign=SIGN, content=CONTENT
            )
    assert caught.value.code == "30010"
    assert caught.value.operation == "paasw.sms.send_template"


def _invalid_templates() -> list[Any]:
    ok: dict[str, Any] = {
        "phones": [PHONE_1],
        "template_id": "1192360392260608",
        "params": [{"name": "x"}],
        "sign": SIGN,
        "content": "你的快件已签收",
    }

    def case(field: str, position: int | None, text: str, **changes: Any) -> Any:
        return pytest.param({**ok, **changes}, field, position, text, id=f"{field}:{text}")

    long_params = [{"name": "x" * 88}]  # [{"name":"xxx..."}] is 13 + 88 = 101 characters
    return [
        case("template_id", None, "at most 20", template_id="1" * 21),
        case("template_id", None, "non-empty", template_id=""),
        case("template_id", None, "non-empty", template_id=1192360392260608),
        case("params", None, "101 characters", params=long_params),
        case("params[0]", 0, "must be a mapping", params=["name"]),
        case("params", None, "must be a mapping or a list", params="name=x"),
        case("params[1]['n']", 1, "strings to strings", params=[{"a": "1"}, {"n": 2}]),
        case("phones[0]", 0, "phone", phones=["123"]),
        case("sign", None, "must not contain", sign="【x】"),
        case("content", None, "is empty", content=""),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("arguments", "field", "position", "text"), _invalid_templates())
async def test_bad_template_arguments_are_refused_before_any_request(
    client: AsyncPaasw, arguments: dict[str, Any], field: str, position: int | None, text: str
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        with pytest.raises(InvalidInputError) as caught:
            await client.sms.send_template(**arguments)
        assert mock.calls.call_count == 0
    assert caught.value.field == field
    assert caught.value.position == position
    assert text in str(caught.value)


@pytest.mark.asyncio
async def test_param_json_of_exactly_100_characters_is_accepted(client: AsyncPaasw) -> None:
    params = [{"name": "x" * 87}]
    expected = '[{"name":"' + "x" * 87 + '"}]'
    assert len(expected) == 100
    with mock_gateway() as mock:
        route = mock.post("/sms/sendTemplate").mock(return_value=send_ok())
        await client.sms.send_template(
            phones=[PHONE_1], template_id="7", params=params, sign=SIGN, content=CONTENT
        )
    assert form(route.calls.last.request)["paramJson"] == expected


def test_client_can_be_built_outside_an_event_loop(
    make_client: Callable[..., AsyncPaasw],
) -> None:
    """Clients can be built outside an event loop (the blocking facade does that)."""
    client = make_client()
    assert client.base_url == BASE_URL
