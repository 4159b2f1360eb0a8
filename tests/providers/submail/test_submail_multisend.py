"""client.sms.multisend: the exact request, success, partial success, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
import respx

from crowdsms.errors import (
    AuthenticationError,
    DeliveryCertainty,
    HTTPStatusError,
    ResponseParseError,
    SignatureError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.providers.submail import AsyncSubmail, MultisendItem

BASE = "https://api-v4.mysubmail.com"
APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"
TIMESTAMP = "1700000000"
CONTENT = "【SUBMAIL】您好，@var(name)，您的取货码为 @var(code)"

# Only appid, sign_type, sign_version and timestamp are signed for sms/multisend (v2).
MD5_SIGNATURE = hashlib.md5(
    (
        f"{APP_ID}{APP_KEY}"
        f"appid={APP_ID}&sign_type=md5&sign_version=2&timestamp={TIMESTAMP}"
        f"{APP_ID}{APP_KEY}"
    ).encode()
).hexdigest()

RECIPIENTS = [
    Recipient("+86 150 0000 0001", {"name": "kevin", "code": "123456", "unused": "x"}),
    Recipient("18600000002", {"name": "张 & 三", "code": "a=b+c 😀"}),
    Recipient("13900000003", {"name": "tom", "code": 236554}),  # an int: sent as a string
]


@pytest.mark.asyncio
async def test_multisend_request_and_success(make_client: Callable[..., AsyncSubmail]) -> None:
    answer = [
        {"status": "success", "to": "15000000001", "send_id": "id-1", "fee": 1},
        {"status": "success", "to": "18600000002", "send_id": "id-2", "fee": 2},
        {"status": "success", "to": "13900000003", "send_id": "id-3", "fee": 1},
    ]
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(json=answer)
            result = await client.sms.multisend(
                content=CONTENT, recipients=RECIPIENTS, tag="spring-sale"
            )
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/sms/multisend.json"
    body = json.loads(request.content)
    assert set(body) == {
        "content",
        "multi",
        "tag",
        "appid",
        "sign_type",
        "sign_version",
        "timestamp",
        "signature",
    }
    assert body["content"] == CONTENT
    assert body["tag"] == "spring-sale"
    assert body["appid"] == APP_ID
    assert body["sign_type"] == "md5"
    assert body["sign_version"] == "2"
    assert body["timestamp"] == TIMESTAMP
    assert body["signature"] == MD5_SIGNATURE
    assert isinstance(body["multi"], str)  # a JSON string, as SUBMAIL's own examples send it
    assert json.loads(body["multi"]) == [
        {"to": "15000000001", "vars": {"name": "kevin", "code": "123456"}},
        {"to": "18600000002", "vars": {"name": "张 & 三", "code": "a=b+c 😀"}},
        {"to": "13900000003", "vars": {"name": "tom", "code": "236554"}},
    ]
    assert "张 & 三" in body["multi"]  # not \u-escaped: fewer bytes

    assert len(result) == 3
    assert result.all_sent
    assert result.total_fee == 4
    assert [item.send_id for item in result] == ["id-1", "id-2", "id-3"]
    assert result.items[0] == MultisendItem(
        position=0, phone="15000000001", status=OutcomeStatus.SENT, send_id="id-1", fee=1
    )


@pytest.mark.asyncio
async def test_partial_success_is_a_result(make_client: Callable[..., AsyncSubmail]) -> None:
    # As in the seed: error items carry no `to`; success items may lack `fee`.
    answer = [
        {"status": "error", "code": 114, "msg": "该手机号码在账户黑名单中，已被屏蔽"},
        {"status": "success", "to": "18600000002", "send_id": "093c0a7df143c087"},
        {"status": "error", "code": "115", "msg": "该手机号码请求超限"},
    ]
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(json=answer)
            result = await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert not result.all_sent
    assert [item.position for item in result.failed] == [0, 2]
    assert [item.position for item in result.sent] == [1]
    first = result.items[0]
    assert first.phone == "15000000001"
    assert first.status is OutcomeStatus.FAILED
    assert first.code == "114"
    assert first.message == "该手机号码在账户黑名单中，已被屏蔽"
    assert first.explanation is not None
    assert "blocklist" in first.explanation
    assert first.retryable is False
    assert result.items[2].retryable is True  # 115: per-number rate limit
    assert result.items[1].fee is None
    assert result.outcomes == (
        RecipientOutcome(
            phone="15000000001",
            status=OutcomeStatus.FAILED,
            code="114",
            message="该手机号码在账户黑名单中，已被屏蔽",
        ),
        RecipientOutcome(
            phone="18600000002", status=OutcomeStatus.SENT, message_id="093c0a7df143c087"
        ),
        RecipientOutcome(
            phone="13900000003",
            status=OutcomeStatus.FAILED,
            code="115",
            message="该手机号码请求超限",
            retryable=True,
        ),
    )


@pytest.mark.asyncio
async def test_content_without_placeholders_sends_no_vars(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(
                json=[
                    {"status": "success", "send_id": "a", "fee": 1},
                    {"status": "success", "send_id": "b", "fee": 1},
                ]
            )
            await client.sms.multisend(
                content="【SUBMAIL】系统维护通知",
                recipients=[Recipient("13800138000", {"x": "1"}), Recipient("13900139000")],
            )
    body = json.loads(route.calls.last.request.content)
    assert json.loads(body["multi"]) == [{"to": "13800138000"}, {"to": "13900139000"}]
    assert "tag" not in body


@pytest.mark.parametrize(
    ("code", "error_class"), [(101, AuthenticationError), (108, SignatureError)]
)
@pytest.mark.asyncio
async def test_request_level_error_object(
    make_client: Callable[..., AsyncSubmail], code: int, error_class: type[Exception]
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(
                json={"status": "error", "code": code, "msg": "bad"}
            )
            with pytest.raises(error_class) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert info.value.code == str(code)  # type: ignore[attr-defined]
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_count_mismatch_is_a_parse_error(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(
                json=[{"status": "success", "send_id": "a", "fee": 1}]
            )
            with pytest.raises(ResponseParseError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    message = str(info.value)
    assert "1 results for 3 recipients" in message
    assert "send_id" in message  # the excerpt of what came back
    assert info.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
async def test_item_for_another_number_is_a_parse_error(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    answer = [
        {"status": "success", "to": "18600000002", "send_id": "a", "fee": 1},
        {"status": "success", "to": "15000000001", "send_id": "b", "fee": 1},
        {"status": "success", "to": "13900000003", "send_id": "c", "fee": 1},
    ]
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(json=answer)
            with pytest.raises(ResponseParseError, match="another number"):
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)


@pytest.mark.asyncio
async def test_to_with_country_code_still_matches(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/multisend.json").respond(
                json=[{"status": "success", "to": "+8615000000001", "send_id": "a", "fee": 1}]
            )
            result = await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS[:1])
    assert result.items[0].phone == "15000000001"


@pytest.mark.asyncio
async def test_server_error_is_not_retried(
    make_client: Callable[..., AsyncSubmail], sleeps: list[float]
) -> None:
    async with make_client() as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(502, text="Bad Gateway")
            with pytest.raises(HTTPStatusError) as info:
                await client.sms.multisend(content=CONTENT, recipients=RECIPIENTS)
    assert route.call_count == 1
    assert info.value.certainty is DeliveryCertainty.UNKNOWN
    assert sleeps == []
