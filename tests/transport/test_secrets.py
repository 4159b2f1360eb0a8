"""No secret leaks: not in log records, error messages, reprs, whatever the call's fate."""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import pytest
import respx

from crowdsms._secret import Secret
from crowdsms._transport import (
    ApiRequest,
    ApiResponse,
    BodyEncoding,
    Rejection,
    RejectionKind,
    RetryPolicy,
)
from crowdsms.errors import AuthenticationError, CrowdSMSError

from .fakes import BASE_URL, DemoClient, FakeTime, send_request

pytestmark = pytest.mark.anyio

SECRET_VALUE = "s3cr3t-VALUE-0f-the-app-key"


class SecretSigner:
    """Signs with a key held in a ``Secret``: an HMAC of the fields, or the key itself.

    ``in_clear`` mimics SUBMAIL's ``sign_type=normal``, where the signature *is* the key.
    """

    def __init__(self, *, in_clear: bool = False) -> None:
        self.key = Secret(SECRET_VALUE)
        self.in_clear = in_clear

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        if self.in_clear:
            return request.with_fields({"appid": "10001", "signature": self.key.reveal()})
        canonical = "&".join(f"{k}={v}" for k, v in sorted(request.fields.items()))
        digest = hmac.new(self.key.reveal().encode(), canonical.encode(), hashlib.sha256)
        return request.with_fields({"appid": "10001", "signature": digest.hexdigest()})

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        if response.status_code == 401:
            return Rejection(
                kind=RejectionKind.CREDENTIALS,
                error=AuthenticationError(
                    provider="demo",
                    code="401",
                    provider_message="bad key",
                    explanation="the key was refused",
                    operation=response.operation,
                ),
            )
        return None

    async def refresh_credentials(self) -> None:
        pass

    def server_time_request(self) -> ApiRequest | None:
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        raise AssertionError("no time endpoint")


def _assert_nowhere(caplog: pytest.LogCaptureFixture, *objects: object) -> None:
    assert caplog.records, "the calls should have logged something at DEBUG"
    for record in caplog.records:
        assert SECRET_VALUE not in record.getMessage(), record.getMessage()
        assert SECRET_VALUE not in repr(record.args)
    for thing in objects:
        assert SECRET_VALUE not in repr(thing)
        assert SECRET_VALUE not in str(thing)
        if isinstance(thing, BaseException):
            assert SECRET_VALUE not in repr(thing.args)
            cause = thing.__cause__
            if cause is not None:
                assert SECRET_VALUE not in str(cause)


def _requests() -> list[ApiRequest]:
    return [
        send_request(),
        send_request(encoding=BodyEncoding.JSON),
        send_request(method="GET", path="/query", encoding=BodyEncoding.QUERY, idempotent=True),
    ]


FAILURES: list[httpx.Response | Exception] = [
    httpx.Response(503, text="busy"),
    httpx.Response(500, text="oops"),
    httpx.Response(401, json={"error": "bad key"}),
    httpx.ReadTimeout("timed out"),
    httpx.ConnectError("refused"),
    httpx.Response(429, headers={"Retry-After": "9999"}),
]


@pytest.mark.parametrize("in_clear", [False, True], ids=["hmac", "key-in-clear"])
async def test_no_secret_in_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture, in_clear: bool
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: crowdsms, httpx, httpcore
    signer = SecretSigner(in_clear=in_clear)
    client = DemoClient(
        signer=signer,
        runtime=FakeTime().runtime,
        retry_policy=RetryPolicy(max_attempts=2, jitter=0.0),
    )
    seen: list[object] = [client, client._transport, signer.key, client._transport.signer]
    with respx.mock(base_url=BASE_URL) as mock:
        route = mock.route()
        for request in _requests():
            route.mock(return_value=httpx.Response(200, json={"ok": True}))
            seen.append(await client.call(request))
            for failure in FAILURES:
                route.mock(side_effect=[failure, failure])
                with pytest.raises(CrowdSMSError) as caught:
                    await client.call(request)
                seen.append(caught.value)
        sent = [call.request for call in route.calls]
    await client.aclose()
    _assert_nowhere(caplog, *seen)
    # The check is not vacuous: the secret, or what was derived from it, did go out.
    if in_clear:
        assert any(SECRET_VALUE.encode() in r.content or SECRET_VALUE in str(r.url) for r in sent)
    else:
        assert all(b"signature" in r.content or "signature" in str(r.url) for r in sent)


async def test_no_secret_in_logs_through_a_users_http_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    signer = SecretSigner(in_clear=True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if b"text" in request.content else 503, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http_client:
        client = DemoClient(signer=signer, runtime=FakeTime().runtime, http_client=http_client)
        ok = await client.call(send_request())
        with pytest.raises(CrowdSMSError) as caught:
            await client.call(send_request(fields={}))
        await client.aclose()
    _assert_nowhere(caplog, client, client._transport, ok, caught.value)


def test_api_request_repr_shows_keys_never_values() -> None:
    from crowdsms._transport import ApiRequest, BodyEncoding, FilePart

    secret = "query-secret-value-42"
    request = ApiRequest(
        "GET",
        "/api/token",
        "paasw.token",
        fields={"appId": "app", "secret": secret},
        encoding=BodyEncoding.QUERY,
        query={"token": secret},
        headers={"authorization": secret},
        files={"f": FilePart("a.txt", secret.encode())},
    )
    text = repr(request)
    assert secret not in text
    assert "'secret'" in text
    assert "'token'" in text
