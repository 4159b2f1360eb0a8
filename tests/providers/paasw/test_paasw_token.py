"""Access tokens: the exact fetch, caching, expiry, one fetch for concurrent callers,
refresh after a refused token, and failed fetches."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import attrs
import httpx
import pytest
import respx

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, RetryBudget, Runtime
from crowdsms._transport.signer import Rejection, RejectionAwareSigner
from crowdsms.errors import AuthenticationError, DeliveryCertainty, ProviderError
from crowdsms.providers.paasw import AsyncPaasw, TokenFetchError
from crowdsms.providers.paasw._signer import PaaswSigner

from .conftest import (
    APP_ID,
    BASE_URL,
    PHONE_1,
    SECRET,
    TOKEN,
    TOKEN_2,
    FakeClock,
    answer,
    form,
    query,
    raw,
    send_ok,
    token_answer,
)

SEND = {"phones": [PHONE_1], "sign": "圆通快递", "content": "【圆通快递】您的快件已签收"}


@pytest.mark.asyncio
async def test_token_fetch_is_an_unsigned_get_with_app_id_and_secret(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(return_value=token_answer())
        mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        await client.account.balance()
    request = token_route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/api/token"
    assert query(request) == {"appId": APP_ID, "secret": SECRET}
    assert request.content == b""


@pytest.mark.asyncio
async def test_token_is_url_encoded_in_a_query_string(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        await client.account.balance()
    request = balance.calls.last.request
    # TOKEN is "k67j+wkqzSqN/6gtGHjo8KwrQ==": + / = percent-encoded by hand.
    assert request.url.query == b"token=k67j%2BwkqzSqN%2F6gtGHjo8KwrQ%3D%3D"
    assert query(request) == {"token": TOKEN}


@pytest.mark.asyncio
async def test_token_is_url_encoded_in_a_form_body(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=token_answer())
        send = mock.post("/sms/send").mock(return_value=send_ok())
        await client.sms.send(**SEND)
    request = send.calls.last.request
    assert b"token=k67j%2BwkqzSqN%2F6gtGHjo8KwrQ%3D%3D" in request.content.split(b"&")
    assert form(request)["token"] == TOKEN
    assert request.url.query == b""  # a POST carries the token in its body only


@pytest.mark.asyncio
async def test_token_is_cached_between_calls(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(return_value=token_answer())
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        for _ in range(3):
            await client.account.balance()
    assert token_route.call_count == 1
    assert balance.call_count == 3


@pytest.mark.asyncio
async def test_token_near_expiry_is_refreshed_before_use(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    # 7200 s lifetime: refreshed 300 s before expiry (5 minutes < 10% of 7200 s).
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN, 7200), token_answer(TOKEN_2, 7200)]
        )
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        await client.account.balance()
        clock.advance(6899.0)
        await client.account.balance()
        assert token_route.call_count == 1
        clock.advance(2.0)  # 6901 s: inside the last five minutes
        await client.account.balance()
    assert token_route.call_count == 2
    used = [query(call.request)["token"] for call in balance.calls]
    assert used == [TOKEN, TOKEN, TOKEN_2]


@pytest.mark.asyncio
async def test_short_lived_token_is_refreshed_ten_percent_before_expiry(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    # 60 s lifetime: 10% (6 s) is less than 5 minutes, so refresh at 54 s.
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN, 60), token_answer(TOKEN_2, 60)]
        )
        mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        await client.account.balance()
        clock.advance(53.5)
        await client.account.balance()
        assert token_route.call_count == 1
        clock.advance(1.0)
        await client.account.balance()
    assert token_route.call_count == 2


@pytest.mark.asyncio
async def test_missing_expires_in_means_the_documented_7200_seconds(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[answer(token=TOKEN), answer(token=TOKEN_2)]
        )
        mock.get("/sms/balance").mock(return_value=answer(balance="1.00"))
        await client.account.balance()
        clock.advance(6899.0)
        await client.account.balance()
        assert token_route.call_count == 1
        clock.advance(2.0)
        await client.account.balance()
    assert token_route.call_count == 2


@pytest.mark.asyncio
async def test_fifty_concurrent_calls_make_one_token_request(client: AsyncPaasw) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await anyio.wait_all_tasks_blocked()  # every other caller is waiting by now
        return token_answer()

    results: list[str] = []

    async def one_call() -> None:
        balance = await client.account.balance()
        results.append(str(balance.balance))

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(side_effect=slow_token)
        balance_route = mock.get("/sms/balance").mock(return_value=answer(balance="7.50"))
        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(one_call)
    assert token_route.call_count == 1
    assert balance_route.call_count == 50
    assert results == ["7.50"] * 50
    assert {query(call.request)["token"] for call in balance_route.calls} == {TOKEN}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_one_token_request_for_concurrent_calls_on_every_backend(
    runtime: Runtime,
) -> None:
    token_requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token":
            token_requests.append(request)
            await anyio.wait_all_tasks_blocked()
            return token_answer()
        assert request.url.params["token"] == TOKEN
        return answer(balance="3")

    transport = httpx.MockTransport(handler)
    async with (
        AsyncPaasw(app_id=APP_ID, secret=SECRET, transport=transport, runtime=runtime) as client,
        anyio.create_task_group() as group,
    ):
        for _ in range(20):
            group.start_soon(client.account.balance)
    assert len(token_requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("40001", "invalid credential"),  # in the default token_rejected_codes
        ("42001", "expired"),
        ("99999", "token已失效"),  # unknown code, message mentions the token
        ("99998", "令牌无效"),
    ],
)
async def test_refused_token_is_refreshed_once_and_the_call_retried(
    client: AsyncPaasw, code: str, message: str
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), token_answer(TOKEN_2)]
        )
        send = mock.post("/sms/send").mock(side_effect=[answer(code, message), send_ok("B-2")])
        result = await client.sms.send(**SEND)
    assert result.biz_id == "B-2"
    assert token_route.call_count == 2
    assert [form(call.request)["token"] for call in send.calls] == [TOKEN, TOKEN_2]


@pytest.mark.asyncio
async def test_http_401_counts_as_a_refused_token(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), token_answer(TOKEN_2)]
        )
        balance = mock.get("/sms/balance").mock(
            side_effect=[raw("Unauthorized", 401, "text/plain"), answer(balance="5")]
        )
        result = await client.account.balance()
    assert str(result.balance) == "5"
    assert token_route.call_count == 2
    assert [query(call.request)["token"] for call in balance.calls] == [TOKEN, TOKEN_2]


@pytest.mark.asyncio
async def test_token_refused_again_after_refresh_raises_authentication_error(
    client: AsyncPaasw,
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), token_answer(TOKEN_2)]
        )
        send = mock.post("/sms/send").mock(return_value=answer("42001", "token expired"))
        with pytest.raises(AuthenticationError) as caught:
            await client.sms.send(**SEND)
    error = caught.value
    assert error.code == "42001"
    assert error.provider_message == "token expired"
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert error.operation == "paasw.sms.send"
    assert token_route.call_count == 2
    assert send.call_count == 2


@pytest.mark.asyncio
async def test_token_rejected_codes_is_a_setting(make_client: Callable[..., AsyncPaasw]) -> None:
    async with make_client(token_rejected_codes=frozenset({"20001"})) as client:
        assert client.token_rejected_codes == frozenset({"20001"})
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
            token_route = mock.get("/api/token").mock(
                side_effect=[token_answer(TOKEN), token_answer(TOKEN_2)]
            )
            mock.post("/sms/send").mock(
                side_effect=[answer("20001", "expired"), send_ok("OK"), answer("40001", "x")]
            )
            assert (await client.sms.send(**SEND)).biz_id == "OK"
            assert token_route.call_count == 2
            # 40001 is no longer a refused token with this setting: a plain provider error.
            with pytest.raises(ProviderError) as caught:
                await client.sms.send(**SEND)
    assert type(caught.value) is ProviderError
    assert caught.value.code == "40001"
    assert token_route.call_count == 2


@pytest.mark.asyncio
async def test_late_rejection_of_an_old_token_does_not_fetch_twice(client: AsyncPaasw) -> None:
    """A rejection that arrives after another call already refreshed keeps the new token."""
    first_arrived = anyio.Event()
    release_first = anyio.Event()
    old_token_calls = 0

    async def send_handler(request: httpx.Request) -> httpx.Response:
        nonlocal old_token_calls
        if form(request)["token"] == TOKEN:
            old_token_calls += 1
            if old_token_calls == 1:
                first_arrived.set()
                await release_first.wait()
            return answer("40001", "token invalid")
        return send_ok("NEW")

    results: list[str] = []

    async def slow_call() -> None:
        results.append((await client.sms.send(**SEND)).biz_id)

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), token_answer(TOKEN_2), token_answer("third")]
        )
        send = mock.post("/sms/send").mock(side_effect=send_handler)
        async with anyio.create_task_group() as group:
            group.start_soon(slow_call)
            await first_arrived.wait()
            # A second call is refused, refreshes the token and succeeds with TOKEN_2...
            results.append((await client.sms.send(**SEND)).biz_id)
            assert token_route.call_count == 2
            # ...then the first call's refusal (of TOKEN) arrives.
            release_first.set()
    assert results == ["NEW", "NEW"]
    assert token_route.call_count == 2  # TOKEN_2 was kept, not dropped for a third token
    # respx records a call when its answer is ready: B, B's retry, A, A's retry.
    assert [form(call.request)["token"] for call in send.calls] == [TOKEN, TOKEN_2, TOKEN, TOKEN_2]


@pytest.mark.asyncio
async def test_many_calls_refused_together_cause_one_refresh(client: AsyncPaasw) -> None:
    in_flight = 0
    all_in = anyio.Event()

    async def send_handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        if form(request)["token"] == TOKEN:
            in_flight += 1
            if in_flight == 10:
                all_in.set()
            await all_in.wait()
            return answer("40014", "invalid token")
        return send_ok("OK")

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), token_answer(TOKEN_2), token_answer("third")]
        )
        send = mock.post("/sms/send").mock(side_effect=send_handler)
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(lambda: client.sms.send(**SEND))
    assert token_route.call_count == 2
    tokens = [form(call.request)["token"] for call in send.calls]
    assert tokens.count(TOKEN) == 10
    assert tokens.count(TOKEN_2) == 10


@pytest.mark.asyncio
async def test_refused_credentials_raise_authentication_error_without_sending(
    client: AsyncPaasw,
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=answer("20002", f"secret {SECRET} 错误"))
        send = mock.post("/sms/send").mock(return_value=send_ok())
        with pytest.raises(AuthenticationError) as caught:
            await client.sms.send(**SEND)
    error = caught.value
    assert error.code == "20002"
    assert error.provider_message == "secret ******** 错误"
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert SECRET not in str(error)
    assert send.call_count == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "HTML page"),
        ('{"code":"10000","token":"k67j+wkqz', "not valid JSON"),
        ('{"code":"10000","token":"k67j+wkqz","expires_in":"soon"}', "expected shape"),
        ('{"code":"10000","token":["k67j+wkqz"]}', "expected shape"),
        ('{"code":"10000","token":""}', "empty token"),
        ('{"code":"10000","token":"k67j+wkqz","expires_in":0}', "not positive"),
        ("[1, 2]", "not a JSON object"),
    ],
)
async def test_unreadable_token_answer_raises_token_fetch_error(
    client: AsyncPaasw, body: str, expected: str
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(return_value=raw(body))
        send = mock.post("/sms/send").mock(return_value=send_ok())
        with pytest.raises(TokenFetchError) as caught:
            await client.sms.send(**SEND)
    error = caught.value
    assert error.certainty is DeliveryCertainty.NOT_SENT  # the send itself never left
    assert error.operation == "paasw.sms.send"
    assert expected in str(error)
    assert "k67j+wkqz" not in str(error)  # the token's value is masked in the excerpt
    assert send.call_count == 0


@pytest.mark.asyncio
async def test_token_endpoint_outage_is_retried_then_raises_not_sent(
    make_client: Callable[..., AsyncPaasw], sleeps: object
) -> None:
    async with make_client(retry_budget=RetryBudget.unlimited()) as client:
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
            token_route = mock.get("/api/token").mock(
                return_value=raw("upstream error", 502, "text/plain")
            )
            send = mock.post("/sms/send").mock(return_value=send_ok())
            with pytest.raises(TokenFetchError) as caught:
                await client.sms.send(**SEND)
    assert token_route.call_count == 3  # an idempotent GET: retried on an ambiguous 502
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert "HTTP 502" in str(caught.value)
    assert send.call_count == 0


@pytest.mark.asyncio
async def test_a_failed_token_fetch_is_not_cached(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[answer("20002", "bad secret"), token_answer()]
        )
        mock.get("/sms/balance").mock(return_value=answer(balance="1"))
        with pytest.raises(AuthenticationError):
            await client.account.balance()
        await client.account.balance()
    assert token_route.call_count == 2


@pytest.mark.asyncio
async def test_failed_early_refresh_keeps_the_still_valid_token(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    outage = raw("upstream down", 502, "text/plain")
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        token_route = mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), outage, outage, outage, token_answer(TOKEN_2)]
        )
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1"))
        await client.account.balance()
        clock.advance(6950.0)  # in the last five minutes, but 250 s before expiry
        await client.account.balance()  # the refresh fails (3 attempts): the old token is used
        assert token_route.call_count == 4
        clock.advance(29.0)  # the refresh is not tried again within 30 s
        await client.account.balance()
        assert token_route.call_count == 4
        clock.advance(2.0)
        await client.account.balance()
    assert token_route.call_count == 5
    used = [query(call.request)["token"] for call in balance.calls]
    assert used == [TOKEN, TOKEN, TOKEN, TOKEN_2]


@pytest.mark.asyncio
async def test_failed_refresh_of_an_expired_token_raises(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    outage = raw("upstream down", 502, "text/plain")
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(side_effect=[token_answer(TOKEN), outage, outage, outage])
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1"))
        await client.account.balance()
        clock.advance(7200.0)  # expired
        with pytest.raises(TokenFetchError):
            await client.account.balance()
    assert balance.call_count == 1


@pytest.mark.asyncio
async def test_refused_secret_on_refresh_is_not_papered_over(
    client: AsyncPaasw, clock: FakeClock
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        mock.get("/api/token").mock(
            side_effect=[token_answer(TOKEN), answer("20002", "secret error")]
        )
        balance = mock.get("/sms/balance").mock(return_value=answer(balance="1"))
        await client.account.balance()
        clock.advance(6950.0)
        with pytest.raises(AuthenticationError):
            await client.account.balance()
    assert balance.call_count == 1


def _signer_fetching(*tokens: str) -> PaaswSigner:
    """A signer whose token fetches answer ``tokens`` in turn (no transport)."""
    answers = iter(tokens)

    async def send(request: ApiRequest) -> ApiResponse:
        body = {"code": "10000", "token": next(answers), "expires_in": 7200}
        return ApiResponse(
            status_code=200,
            headers=httpx.Headers(),
            content=json.dumps(body).encode(),
            operation=request.operation,
        )

    signer = PaaswSigner(
        app_id=APP_ID, secret=Secret(SECRET), token_rejected_codes=frozenset({"40001"})
    )
    signer.tokens.bind(send=send, monotonic=lambda: 1000.0)
    return signer


async def _signed(signer: PaaswSigner) -> ApiRequest:
    return await signer.sign(ApiRequest("POST", "/sms/send", operation="paasw.sms.send"), now=0.0)


def _refusal(signer: PaaswSigner, request: ApiRequest | None) -> Rejection:
    refused = ApiResponse(
        status_code=200,
        headers=httpx.Headers(),
        content=b'{"code": "40001", "message": "token invalid"}',
        operation="paasw.sms.send",
    )
    rejection = signer.detect_rejection(refused)
    assert rejection is not None
    assert rejection.request is None  # the transport attaches the refused request
    return attrs.evolve(rejection, request=request)


@pytest.mark.asyncio
async def test_the_transport_hands_the_signer_the_refused_request() -> None:
    signer = _signer_fetching(TOKEN, TOKEN_2, "third")
    assert isinstance(signer, RejectionAwareSigner)
    old = await _signed(signer)
    await signer.refresh_rejected_credentials(_refusal(signer, old))
    assert (await _signed(signer)).fields["token"] == TOKEN_2
    # A late refusal of the old token keeps TOKEN_2, whatever task or context it comes from.
    await signer.refresh_rejected_credentials(_refusal(signer, old))
    assert (await _signed(signer)).fields["token"] == TOKEN_2
    assert signer.tokens.generation == 2


@pytest.mark.asyncio
async def test_a_rejection_without_its_request_drops_the_current_token() -> None:
    signer = _signer_fetching(TOKEN, TOKEN_2)
    await _signed(signer)
    await signer.refresh_rejected_credentials(_refusal(signer, None))
    assert (await _signed(signer)).fields["token"] == TOKEN_2
    await signer.refresh_credentials()  # the plain Signer method drops it as well
    assert signer.tokens.invalidate() is False  # nothing cached any more
