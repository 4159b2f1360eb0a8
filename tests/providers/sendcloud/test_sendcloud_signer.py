"""The signer the transport calls per attempt: fields added, 461 detected, the clock read."""

from __future__ import annotations

import json

import httpx
import pytest

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, RejectionKind
from crowdsms.errors import ClockSkewError, DeliveryCertainty, ProviderError, ResponseParseError
from crowdsms.providers.sendcloud import SendCloudSigner, SignType

from .sendcloud_support import SMS_KEY, SMS_USER, envelope, expected_signature


def signer(sign_type: SignType = "md5") -> SendCloudSigner:
    return SendCloudSigner(sms_user=SMS_USER, sms_key=Secret(SMS_KEY), sign_type=sign_type)


def response(body: object, status: int = 200) -> ApiResponse:
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode()
    assert isinstance(body, bytes)
    return ApiResponse(status_code=status, headers=httpx.Headers(), content=body, operation="op")


def request(**fields: str) -> ApiRequest:
    return ApiRequest(method="POST", path="send", operation="op", fields=fields)


@pytest.mark.asyncio
@pytest.mark.parametrize("sign_type", ["md5", "sha256"])
async def test_sign_adds_user_timestamp_and_signature(sign_type: SignType) -> None:
    signed = await signer(sign_type).sign(
        request(templateId="1", phone="13800138000"), now=1_700_000_000.1234
    )
    fields = dict(signed.fields)
    assert fields["smsUser"] == SMS_USER
    assert fields["timestamp"] == "1700000000123"
    assert fields["templateId"] == "1"
    assert fields["phone"] == "13800138000"
    assert set(fields) == {"smsUser", "timestamp", "templateId", "phone", "signature"}
    unsigned = {k: v for k, v in fields.items() if k != "signature"}
    assert fields["signature"] == expected_signature(unsigned, sign_type=sign_type)
    assert len(fields["signature"]) == (64 if sign_type == "sha256" else 32)


@pytest.mark.asyncio
async def test_sign_replaces_stale_fields() -> None:
    signed = await signer().sign(
        request(templateId="1", timestamp="1", signature="old", smsUser="other"), now=2.0
    )
    assert signed.fields["timestamp"] == "2000"
    assert signed.fields["smsUser"] == SMS_USER
    expected = expected_signature({"templateId": "1", "timestamp": "2000", "smsUser": SMS_USER})
    assert signed.fields["signature"] == expected


@pytest.mark.asyncio
async def test_unauthenticated_request_is_left_alone() -> None:
    original = ApiRequest(method="GET", path="timestamp/get", operation="op", authenticate=False)
    assert await signer().sign(original, now=5.0) == original


def test_461_is_a_clock_rejection() -> None:
    rejection = signer().detect_rejection(response(envelope(461, "时间戳无效", result=False)))
    assert rejection is not None
    assert rejection.kind is RejectionKind.CLOCK
    assert isinstance(rejection.error, ClockSkewError)
    assert rejection.error.code == "461"
    assert rejection.error.provider_message == "时间戳无效"
    assert rejection.error.certainty is DeliveryCertainty.NOT_SENT


@pytest.mark.parametrize(
    "body",
    [
        envelope(200, info={"smsIds": ["1$13800138461"]}),
        envelope(422, "签名错误", result=False),
        envelope(311, "部分成功 461", info={"items": []}),
        "<html>461 Gateway</html>",
        b"\xff461",
        "[461]",
        {"statusCode": "x461"},
    ],
)
def test_other_answers_are_not_rejections(body: object) -> None:
    assert signer().detect_rejection(response(body)) is None


def test_server_time_request_is_unsigned_and_idempotent() -> None:
    time_request = signer().server_time_request()
    assert time_request.method == "GET"
    assert time_request.path == "timestamp/get"
    assert time_request.authenticate is False
    assert time_request.idempotent is True
    assert time_request.encoding is BodyEncoding.QUERY
    assert dict(time_request.fields) == {}


def test_parse_server_time_reads_milliseconds() -> None:
    answer = response(envelope(200, info={"timestamp": 1440138088539}))
    assert signer().parse_server_time(answer) == pytest.approx(1440138088.539)


@pytest.mark.parametrize(
    "body",
    [
        envelope(200, info={}),
        envelope(200, info={"timestamp": "soon"}),
        envelope(200, info={"timestamp": True}),
        envelope(200, info={"timestamp": -5}),
        "<html><body>Bad gateway</body></html>",
        '{"result": true, "statusCode": 200, "info": {"timest',
    ],
)
def test_parse_server_time_refuses_malformed_answers(body: object) -> None:
    with pytest.raises(ResponseParseError) as caught:
        signer().parse_server_time(response(body))
    assert "Received: HTTP 200, body" in str(caught.value)


def test_parse_server_time_raises_provider_codes() -> None:
    with pytest.raises(ProviderError) as caught:
        signer().parse_server_time(response(envelope(501, "服务器异常", result=False)))
    assert caught.value.code == "501"


def test_repr_shows_no_key() -> None:
    text = repr(signer())
    assert SMS_USER in text
    assert SMS_KEY not in text
