"""CrowdTask's signature, localtime units, and the signer's rules."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, RejectionKind
from crowdsms.errors import ClockSkewError, DeliveryCertainty
from crowdsms.providers.crowdtask import (
    CrowdTaskSigner,
    compute_signature,
    format_localtime,
    is_clock_reason,
)


def hmac_md5(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.md5).hexdigest()


def test_the_providers_worked_example() -> None:
    signature = compute_signature(
        secret="0987654321", action_uri="/api/task/batch", localtime="1435132361000"
    )
    assert signature == "6c52e7babb792123c66424d36c7805ba"


@pytest.mark.parametrize(
    ("secret", "action_uri", "localtime", "expected"),
    [
        # Computed with `printf '%s' '<uri>&<time>' | openssl dgst -md5 -hmac '<key>'`.
        ("secret-key-1", "/task/batch", "1700000000123", "9f55abac863e7ee354c16a0e21a99fdd"),
        ("k", "/api/task/batch", "3908000000", "2c85bce0c1025f95b4a0cdd7c934403d"),
        ("密钥", "/task/batch", "1435132361", "c787fa88275b25515864fd99482b21bd"),
    ],
)
def test_signature_vectors(secret: str, action_uri: str, localtime: str, expected: str) -> None:
    assert compute_signature(secret=secret, action_uri=action_uri, localtime=localtime) == expected
    assert hmac_md5(secret, f"{action_uri}&{localtime}") == expected


@pytest.mark.parametrize(
    ("now", "unit", "expected"),
    [
        (1435132361.0, "unix_ms", "1435132361000"),
        (1435132361.2509, "unix_ms", "1435132361250"),
        (1435132361.999, "unix_s", "1435132361"),
        (1435132361.5, "ntp_s", "3644121161"),  # 1435132361 + 2208988800
        (0.0, "ntp_s", "2208988800"),
    ],
)
def test_localtime_units(now: float, unit: str, expected: str) -> None:
    assert format_localtime(now, unit) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "reason",
    [
        "localtime is out of range",
        "Invalid LOCALTIME",
        "timestamp expired",
        "local time differs from server time",
        "clock skew too large",
        "时间差超过5分钟",
        "本地时间无效",
    ],
)
def test_clock_reasons(reason: str) -> None:
    assert is_clock_reason(reason)


@pytest.mark.parametrize(
    "reason",
    ["signature error", "invalid accessid", "project not found", "项目不存在", "签名错误", ""],
)
def test_other_reasons(reason: str) -> None:
    assert not is_clock_reason(reason)


def _signer(**settings: str) -> CrowdTaskSigner:
    return CrowdTaskSigner(
        access_id="ak-1",
        access_secret_key=Secret("0987654321"),
        **settings,  # type: ignore[arg-type]
    )


def _request(path: str = "/api/task/batch", *, authenticate: bool = True) -> ApiRequest:
    return ApiRequest(
        method="POST",
        path=path,
        operation="crowdtask.tasks.batch",
        fields={"projectid": "7"},
        encoding=BodyEncoding.MULTIPART,
        authenticate=authenticate,
    )


@pytest.mark.asyncio
async def test_signer_adds_fields_for_the_worked_example() -> None:
    signed = await _signer().sign(_request(), now=1435132361.0)
    assert signed.fields == {
        "projectid": "7",
        "accessid": "ak-1",
        "localtime": "1435132361000",
        "signature": "6c52e7babb792123c66424d36c7805ba",
    }
    assert signed.headers == {}


@pytest.mark.asyncio
async def test_signer_can_use_headers_and_other_units() -> None:
    signed = await _signer(auth_location="headers", localtime_unit="ntp_s").sign(
        _request("/task/batch"), now=1435132361.7
    )
    assert signed.fields == {"projectid": "7"}
    assert signed.headers == {
        "accessid": "ak-1",
        "localtime": "3644121161",
        "signature": hmac_md5("0987654321", "/task/batch&3644121161"),
    }


@pytest.mark.asyncio
async def test_signer_signs_the_path_as_sent_with_the_base_path() -> None:
    signer = _signer(path_prefix="/api/")
    signed = await signer.sign(_request("task/batch"), now=1435132361.0)
    assert signer.action_uri("task/batch") == "/api/task/batch"
    assert signed.fields["signature"] == "6c52e7babb792123c66424d36c7805ba"


@pytest.mark.asyncio
async def test_signer_leaves_unauthenticated_requests_alone() -> None:
    request = _request(authenticate=False)
    assert await _signer().sign(request, now=1.0) == request


def _response(status: int, body: bytes) -> ApiResponse:
    return ApiResponse(
        status_code=status, headers=httpx.Headers(), content=body, operation="op.test"
    )


def test_clock_rejection_is_detected() -> None:
    body = '{"status":"error","reason":"localtime 超出允许的时间范围"}'.encode()
    rejection = _signer().detect_rejection(_response(401, body))
    assert rejection is not None
    assert rejection.kind is RejectionKind.CLOCK
    assert isinstance(rejection.error, ClockSkewError)
    assert rejection.error.code == "401"
    assert rejection.error.certainty is DeliveryCertainty.NOT_SENT
    assert rejection.error.provider_message == "localtime 超出允许的时间范围"
    assert "localtime_unit" in str(rejection.error)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"status":"error","reason":"signature error"}'),
        (400, b'{"status":"error","reason":"project not found"}'),
        (500, b'{"status":"error","reason":"timestamp error"}'),
        (400, b"<html>localtime</html>"),
        (400, b'{"status":"success","reason":"timestamp"}'),
        (200, b'{"status":"success","result":{}}'),
        (400, b"\xff\xfe"),
        (400, b"[1, 2]"),
    ],
)
def test_other_answers_are_not_clock_rejections(status: int, body: bytes) -> None:
    assert _signer().detect_rejection(_response(status, body)) is None


def test_no_timestamp_endpoint_and_no_secret_in_repr() -> None:
    signer = _signer()
    assert signer.server_time_request() is None
    assert "0987654321" not in repr(signer)
    assert "ak-1" in repr(signer)
    with pytest.raises(NotImplementedError):
        signer.parse_server_time(_response(200, b"{}"))
