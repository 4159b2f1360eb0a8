"""The SUBMAIL signer: the fields it adds, clock rejections, the timestamp endpoint."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, RejectionKind
from crowdsms.errors import ClockSkewError, ResponseParseError
from crowdsms.providers.submail._signer import SubmailSigner

APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"


def signer(sign_type: str = "md5") -> SubmailSigner:
    return SubmailSigner(
        app_id=APP_ID,
        app_key=Secret(APP_KEY),
        sign_type=sign_type,  # type: ignore[arg-type]
    )


def answer(body: bytes, status: int = 200, operation: str = "submail.sms.multisend") -> ApiResponse:
    return ApiResponse(
        status_code=status, headers=httpx.Headers(), content=body, operation=operation
    )


def multisend_request() -> ApiRequest:
    return ApiRequest(
        method="POST",
        path="sms/multisend.json",
        operation="submail.sms.multisend",
        fields={"content": "【SUBMAIL】您好", "multi": '[{"to":"13800138000"}]', "tag": "t1"},
        encoding=BodyEncoding.JSON,
    )


@pytest.mark.asyncio
async def test_sign_md5_adds_auth_fields_for_the_corrected_time() -> None:
    signed = await signer().sign(multisend_request(), now=1_700_000_123.9)
    expected = hashlib.md5(
        b"10000TopSecretAppKey0123456789abcdef"
        b"appid=10000&sign_type=md5&sign_version=2&timestamp=1700000123"
        b"10000TopSecretAppKey0123456789abcdef"
    ).hexdigest()
    assert dict(signed.fields) == {
        "content": "【SUBMAIL】您好",
        "multi": '[{"to":"13800138000"}]',
        "tag": "t1",
        "appid": "10000",
        "sign_type": "md5",
        "sign_version": "2",
        "timestamp": "1700000123",
        "signature": expected,
    }
    assert signed.path == "sms/multisend.json"
    assert signed.encoding is BodyEncoding.JSON


@pytest.mark.asyncio
async def test_sign_sha1_signs_send_to() -> None:
    request = ApiRequest(
        method="POST",
        path="sms/send.json",
        operation="submail.sms.send",
        fields={"to": "13800138000", "content": "【SUBMAIL】hi"},
    )
    signed = await signer("sha1").sign(request, now=1414253462.0)
    expected = hashlib.sha1(
        b"10000TopSecretAppKey0123456789abcdef"
        b"appid=10000&sign_type=sha1&sign_version=2&timestamp=1414253462&to=13800138000"
        b"10000TopSecretAppKey0123456789abcdef"
    ).hexdigest()
    assert signed.fields["signature"] == expected


@pytest.mark.asyncio
async def test_each_attempt_is_re_signed_with_its_own_time() -> None:
    s = signer()
    first = await s.sign(multisend_request(), now=1000.0)
    second = await s.sign(first, now=1010.0)
    assert second.fields["timestamp"] == "1010"
    assert second.fields["signature"] != first.fields["signature"]


@pytest.mark.asyncio
async def test_sign_normal_sends_the_key_and_no_timestamp() -> None:
    signed = await signer("normal").sign(multisend_request(), now=1000.0)
    assert "timestamp" not in signed.fields
    assert signed.fields["signature"] == APP_KEY
    assert signed.fields["sign_type"] == "normal"
    assert signed.fields["appid"] == APP_ID


@pytest.mark.asyncio
async def test_unauthenticated_requests_are_left_alone() -> None:
    s = signer()
    request = s.server_time_request()
    assert await s.sign(request, now=1000.0) is request


def test_signer_repr_hides_the_key() -> None:
    assert APP_KEY not in repr(signer())
    assert APP_ID in repr(signer())


@pytest.mark.parametrize("code", [151, 152, "151"])
def test_clock_codes_are_clock_rejections(code: object) -> None:
    body = (
        b'{"status":"error","code":'
        + (f'"{code}"' if isinstance(code, str) else str(code)).encode()
        + b',"msg":"timestamp"}'
    )
    rejection = signer().detect_rejection(answer(body))
    assert rejection is not None
    assert rejection.kind is RejectionKind.CLOCK
    assert isinstance(rejection.error, ClockSkewError)
    assert rejection.error.code == str(code)
    assert rejection.error.operation == "submail.sms.multisend"


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"error","code":108,"msg":"signature 151"}',
        b'[{"status":"error","code":151,"msg":"x"}]',
        b'{"status":"success","send_id":"151","fee":1}',
        b"<html>151</html>",
        b'{"status":"error","code":1',
        b'{"status":"error","code":101,"msg":"x"}',
    ],
)
def test_other_answers_are_not_rejections(body: bytes) -> None:
    assert signer().detect_rejection(answer(body)) is None


def test_server_time_request_is_an_unsigned_idempotent_get() -> None:
    request = signer().server_time_request()
    assert request.method == "GET"
    assert request.path == "service/timestamp.json"
    assert dict(request.headers) == {"accept": "application/json"}
    assert request.idempotent is True
    assert request.authenticate is False
    assert dict(request.fields) == {}
    assert request.encoding is BodyEncoding.QUERY


@pytest.mark.parametrize("body", [b'{"timestamp": 1414253462}', b'{"timestamp": "1414253462"}'])
def test_parse_server_time(body: bytes) -> None:
    s = signer()
    assert s.parse_server_time(answer(body, operation="submail.service.timestamp")) == 1414253462.0


@pytest.mark.parametrize(
    "body",
    [b'{"timestamp": "soon"}', b'{"time": 1}', b"[1414253462]", b"<html></html>", b'{"timestamp"'],
)
def test_parse_server_time_refuses_malformed_answers(body: bytes) -> None:
    with pytest.raises(ResponseParseError) as info:
        signer().parse_server_time(answer(body, operation="submail.service.timestamp"))
    assert "Received: HTTP 200, body" in str(info.value)
