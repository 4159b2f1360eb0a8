"""``client.account.balance``."""

from __future__ import annotations

from decimal import Decimal

import pytest
import respx

from crowdsms.errors import ProviderError, ResponseParseError
from crowdsms.providers.paasw import AsyncPaasw, Balance

from .conftest import BASE_URL, TOKEN, Sleeps, answer, query, raw, token_answer


def gateway() -> respx.MockRouter:
    router = respx.mock(base_url=BASE_URL, assert_all_called=False)
    router.get("/api/token").mock(return_value=token_answer())
    return router


@pytest.mark.asyncio
async def test_balance_makes_the_exact_request(client: AsyncPaasw) -> None:
    with gateway() as mock:
        route = mock.get("/sms/balance").mock(
            return_value=raw('{"code":"10000","message":"请求成功","balance":100.00}')
        )
        balance = await client.account.balance()
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/sms/balance"
    assert query(request) == {"token": TOKEN}
    assert balance == Balance(balance=Decimal("100.00"), provider_message="请求成功")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("json_value", "expected"),
    [("0.1", "0.1"), ('"12.34"', "12.34"), ("7", "7"), ("1234567.89", "1234567.89")],
)
async def test_balance_is_an_exact_decimal(
    client: AsyncPaasw, json_value: str, expected: str
) -> None:
    with gateway() as mock:
        mock.get("/sms/balance").mock(
            return_value=raw('{"code":"10000","balance":' + json_value + "}")
        )
        balance = await client.account.balance()
    assert balance.balance == Decimal(expected)
    assert str(balance.balance) == expected


@pytest.mark.asyncio
async def test_balance_error_raises_provider_error(client: AsyncPaasw) -> None:
    with gateway() as mock:
        mock.get("/sms/balance").mock(return_value=answer("30009", "账户已冻结"))
        with pytest.raises(ProviderError) as caught:
            await client.account.balance()
    assert caught.value.code == "30009"
    assert caught.value.provider_message == "账户已冻结"
    assert caught.value.operation == "paasw.account.balance"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html>maintenance</html>", "HTML page"),
        ('{"code":"10000","balance":10', "not valid JSON"),
        ('{"code":"10000","balance":[1]}', "expected shape"),
        ('{"code":"10000","balance":"lots"}', "expected shape"),
        ('{"code":"10000","balance":true}', "expected shape"),
        ('{"code":"10000"}', "expected shape"),
    ],
)
async def test_malformed_balance_raises_parse_error(
    client: AsyncPaasw, body: str, expected: str
) -> None:
    with gateway() as mock:
        mock.get("/sms/balance").mock(return_value=raw(body))
        with pytest.raises(ResponseParseError) as caught:
            await client.account.balance()
    assert expected in str(caught.value)
    assert body[:10] in str(caught.value)


@pytest.mark.asyncio
async def test_balance_is_retried_after_an_ambiguous_failure(
    client: AsyncPaasw, sleeps: Sleeps
) -> None:
    with gateway() as mock:
        route = mock.get("/sms/balance").mock(
            side_effect=[raw("err", 500, "text/plain"), answer(balance=3)]
        )
        balance = await client.account.balance()
    assert balance.balance == Decimal(3)
    assert route.call_count == 2  # a read: safe to repeat
    assert len(sleeps.delays) == 1
