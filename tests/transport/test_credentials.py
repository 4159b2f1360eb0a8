"""Credential rejection: refresh once, re-sign, retry once; a second rejection raises."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms._transport import RetryBudget, RetryPolicy
from crowdsms.errors import AuthenticationError, DeliveryCertainty

from .fakes import BASE_URL, DemoClient, FakeTime, TokenSigner, send_request

pytestmark = pytest.mark.anyio


def _token_server(valid: set[str], log: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"]
        log.append(token)
        if token in valid:
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json={"error": "token expired"})

    return handler


async def test_a_refused_token_is_refreshed_once_and_the_call_resigned() -> None:
    signer = TokenSigner()
    log: list[str] = []
    budget = RetryBudget(capacity=10)
    client = DemoClient(
        signer=signer,
        runtime=FakeTime().runtime,
        retry_budget=budget,
        retry_policy=RetryPolicy(max_attempts=1),
    )
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(side_effect=_token_server({"Bearer token-1"}, log))
        response = await client.call(send_request())
    await client.aclose()
    assert response.status_code == 200
    assert response.attempts == 2
    assert signer.refreshes == 1
    assert log == ["Bearer token-0", "Bearer token-1"]
    assert budget.available == 10


async def test_a_second_credential_rejection_raises() -> None:
    signer = TokenSigner()
    log: list[str] = []
    client = DemoClient(signer=signer, runtime=FakeTime().runtime)
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(side_effect=_token_server(set(), log))
        with pytest.raises(AuthenticationError) as caught:
            await client.call(send_request())
    await client.aclose()
    assert signer.refreshes == 1
    assert log == ["Bearer token-0", "Bearer token-1"]
    assert caught.value.attempts == 2
    assert caught.value.code == "token_expired"
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


async def test_each_call_may_repair_its_own_rejection() -> None:
    # The repair is once per call, not once per client: a token that expires again later
    # is refreshed again.
    signer = TokenSigner()
    log: list[str] = []
    client = DemoClient(signer=signer, runtime=FakeTime().runtime)
    valid = {"Bearer token-1"}
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(side_effect=_token_server(valid, log))
        await client.call(send_request())
        valid.clear()
        valid.add("Bearer token-2")
        await client.call(send_request())
    await client.aclose()
    assert signer.refreshes == 2
    assert log == ["Bearer token-0", "Bearer token-1", "Bearer token-1", "Bearer token-2"]
