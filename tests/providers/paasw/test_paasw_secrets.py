"""The secret and the tokens never show in reprs, logs or error messages; client settings."""

from __future__ import annotations

import traceback
import urllib.parse
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms._secret import Secret
from crowdsms.errors import (
    AuthenticationError,
    ConfigurationError,
    CrowdSMSError,
    HTTPStatusError,
    ProviderError,
    ResponseParseError,
)
from crowdsms.providers.paasw import DEFAULT_BASE_URL, AsyncPaasw

from .conftest import (
    APP_ID,
    BASE_URL,
    PHONE_1,
    SECRET,
    TOKEN,
    TOKEN_2,
    answer,
    raw,
    send_ok,
    token_answer,
)

SEND = {"phones": [PHONE_1], "sign": "圆通快递", "content": "【圆通快递】您好"}
SENSITIVE = [
    spelling
    for value in (SECRET, TOKEN, TOKEN_2)
    for spelling in (value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value))
]


def assert_clean(text: str) -> None:
    for value in SENSITIVE:
        assert value not in text


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "the flow should have logged something"
    for record in caplog.records:
        assert_clean(record.getMessage())
        assert_clean(repr(record.args))
    assert_clean(caplog.text)


@pytest.mark.asyncio
async def test_a_whole_flow_leaks_nothing(
    make_client: Callable[..., AsyncPaasw], caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[CrowdSMSError] = []
    async with make_client() as client:
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
            mock.get("/api/token").mock(side_effect=[token_answer(TOKEN), token_answer(TOKEN_2)])
            mock.post("/sms/send").mock(
                side_effect=[answer("40001", "token invalid"), send_ok("B1"), answer("1", "x")]
            )
            mock.get("/sms/balance").mock(return_value=answer(balance="9"))
            result = await client.sms.send(**SEND)
            balance = await client.account.balance()
            try:
                await client.sms.send(**SEND)
            except ProviderError as error:
                errors.append(error)
        texts = [
            repr(client),
            str(client),
            repr(client._signer),
            repr(client._signer.tokens),
            repr(client.sms),
            repr(client.reports),
            repr(client.account),
            repr(client._transport),
            repr(result),
            repr(balance),
            repr(client.sms.send_chunks(sign="圆通快递", content="【圆通快递】x")),
        ]
    assert len(errors) == 1
    for text in [*texts, *(str(error) for error in errors), *(repr(e) for e in errors)]:
        assert_clean(text)
    assert "Secret('********')" in repr(client._signer.tokens._current)
    assert_logs_clean(caplog)


@pytest.mark.asyncio
async def test_an_error_page_echoing_the_url_is_masked(
    client: AsyncPaasw, caplog: pytest.LogCaptureFixture
) -> None:
    encoded = urllib.parse.quote(TOKEN, safe="")
    page = f"<html><h1>404</h1><p>No route for GET /sms/balance?token={encoded}</p></html>"
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        mock.get("/sms/balance").mock(return_value=raw(page, 404, "text/html"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.account.balance()
    assert "token=********" in str(caught.value)
    assert_clean(str(caught.value))
    assert_logs_clean(caplog)


def echo(request: httpx.Request) -> httpx.Response:
    """A gateway's 503 page quoting the request's URL (its query too)."""
    return httpx.Response(503, text=f"Service Unavailable: GET {request.url}")


def logged_traceback(error: BaseException) -> str:
    """What ``logger.exception`` (or Sentry) shows of ``error``: its whole chain."""
    return "".join(traceback.format_exception(error))


@pytest.mark.asyncio
async def test_a_token_failure_chained_to_pages_echoing_the_url_leaks_nothing(
    client: AsyncPaasw,
) -> None:
    # The first attempt gets a 500; the retries get 503 pages quoting the request's URL
    # (the secret in its query): the error raised is chained to them.
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(side_effect=[raw("internal error", 500), echo, echo, echo])
        with pytest.raises(CrowdSMSError) as caught:
            await client.account.balance()
    chain = logged_traceback(caught.value)
    assert "Service Unavailable" in chain  # the pages are in the chain, masked
    assert_clean(chain)


@pytest.mark.asyncio
async def test_a_call_chained_to_pages_echoing_the_token_leaks_nothing(
    client: AsyncPaasw,
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        mock.get("/sms/balance").mock(side_effect=[raw("internal error", 500), echo, echo, echo])
        with pytest.raises(CrowdSMSError) as caught:
            await client.account.balance()
    chain = logged_traceback(caught.value)
    assert "Service Unavailable" in chain
    assert_clean(chain)


@pytest.mark.asyncio
async def test_a_server_error_page_echoing_the_token_is_masked(client: AsyncPaasw) -> None:
    page = f"java.lang.IllegalStateException: token {TOKEN} at com.paasw.Gateway"
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        mock.post("/sms/send").mock(return_value=raw(page, 500, "text/plain"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.sms.send(**SEND)
    assert "token ********" in str(caught.value)
    assert_clean(str(caught.value))
    assert_clean(str(caught.value.received))


@pytest.mark.asyncio
async def test_an_answer_echoing_the_token_is_masked_in_errors(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        mock.post("/sms/send").mock(
            side_effect=[
                answer("30003", f"bad request: {TOKEN}"),  # no "token" word: not a refusal
                raw(f"<html>token: {TOKEN}</html>"),
            ]
        )
        with pytest.raises(ProviderError) as refused:
            await client.sms.send(**SEND)
        with pytest.raises(ResponseParseError) as unreadable:
            await client.sms.send(**SEND)
    assert refused.value.provider_message == "bad request: ********"
    for error in (refused.value, unreadable.value):
        assert_clean(str(error))
        assert "********" in str(error)


@pytest.mark.asyncio
async def test_refused_secret_is_masked_in_error_and_logs(
    client: AsyncPaasw, caplog: pytest.LogCaptureFixture
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(
            return_value=answer("20001", f"appId {APP_ID} secret {SECRET} 不匹配")
        )
        with pytest.raises(AuthenticationError) as caught:
            await client.account.balance()
    assert caught.value.provider_message == f"appId {APP_ID} secret ******** 不匹配"
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
    assert_logs_clean(caplog)


@pytest.mark.asyncio
async def test_secret_may_be_given_as_a_secret_object(
    make_client: Callable[..., AsyncPaasw],
) -> None:
    async with AsyncPaasw(app_id=APP_ID, secret=Secret(SECRET)) as client:
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
            token_route = mock.get("/api/token").mock(return_value=token_answer())
            mock.get("/sms/balance").mock(return_value=answer(balance="1"))
            await client.account.balance()
    assert token_route.calls.last.request.url.params["secret"] == SECRET


def test_default_base_url_is_https() -> None:
    assert DEFAULT_BASE_URL == "https://openapi.gateway.paasw.com"
    client = AsyncPaasw(app_id=APP_ID, secret=SECRET)
    assert client.base_url == "https://openapi.gateway.paasw.com"


def test_plain_http_to_the_gateway_needs_consent() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncPaasw(app_id=APP_ID, secret=SECRET, base_url="http://openapi.gateway.paasw.com")
    assert "plain http" in str(caught.value)
    client = AsyncPaasw(
        app_id=APP_ID,
        secret=SECRET,
        base_url="http://openapi.gateway.paasw.com/",
        allow_insecure_http=True,
    )
    assert client.base_url == "http://openapi.gateway.paasw.com"


@pytest.mark.parametrize(
    ("app_id", "secret", "codes", "field"),
    [
        ("", SECRET, frozenset({"1"}), "app_id"),
        (APP_ID, "", frozenset({"1"}), "secret"),
        (APP_ID, SECRET, "40001", "token_rejected_codes"),
        (APP_ID, SECRET, frozenset({40001}), "token_rejected_codes"),
    ],
)
def test_bad_settings_are_refused(
    app_id: str, secret: str, codes: frozenset[str], field: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncPaasw(app_id=app_id, secret=secret, token_rejected_codes=codes)
    assert field in str(caught.value)
    assert_clean(str(caught.value))
