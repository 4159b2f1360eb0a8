"""A paasw secret reset mid-run: old tokens die; one refresh, or a clear error."""

from __future__ import annotations

import anyio
import httpx
import pytest

from crowdsms import AsyncPaasw, DeliveryCertainty
from crowdsms.errors import AuthenticationError
from crowdsms.providers.paasw import SmsKind
from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET

from .support import (
    SECRETS,
    TIME_LIMIT,
    RecordingTransport,
    assert_no_secret,
    assert_no_secret_logged,
    paasw,
)


async def send(client: AsyncPaasw, phone: str) -> None:
    """Send a notice to ``phone``."""
    await client.sms.send(
        phones=[phone], sign="沙箱", content="【沙箱】您好。", kind=SmsKind.NOTICE
    )


async def current_token(sandbox: Sandbox, secret: str) -> str:
    """The app's live token, as the gateway hands it out (the same one while it lives)."""
    async with httpx.AsyncClient(base_url=sandbox.base_url("paasw")) as http:
        answer = await http.get("/api/token", params={"appId": PAASW_APP_ID, "secret": secret})
    token: str = answer.json()["token"]
    return token


@pytest.mark.asyncio
async def test_same_secret_the_next_call_refreshes_the_token_once(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
):
    with anyio.fail_after(TIME_LIMIT):
        async with RecordingTransport() as recorder, paasw(sandbox, transport=recorder) as client:
            await send(client, "13800138000")
            old_token = await current_token(sandbox, PAASW_SECRET)
            sandbox.reset_secret("paasw", secret=PAASW_SECRET)  # same secret, tokens killed
            await send(client, "13800138001")
            new_token = await current_token(sandbox, PAASW_SECRET)
    assert [path for _, path in recorder.requests] == [
        "/paasw/api/token",
        "/paasw/sms/send",
        "/paasw/sms/send",  # refused: the token died with the reset
        "/paasw/api/token",
        "/paasw/sms/send",
    ]
    assert new_token != old_token
    assert sandbox.ledger.phones() == ["13800138000", "13800138001"]
    assert_no_secret_logged(caplog.records, secrets=(*SECRETS, old_token, new_token))


@pytest.mark.asyncio
async def test_calls_refused_together_share_one_refresh(sandbox: Sandbox):
    with anyio.fail_after(TIME_LIMIT):
        async with RecordingTransport() as recorder, paasw(sandbox, transport=recorder) as client:
            before = await client.account.balance()
            sandbox.reset_secret("paasw", secret=PAASW_SECRET)
            balances = []

            async def balance() -> None:
                balances.append(await client.account.balance())

            async with anyio.create_task_group() as group:
                for _ in range(5):
                    group.start_soon(balance)
    paths = [path for _, path in recorder.requests]
    assert paths.count("/paasw/api/token") == 2  # the first token, then one refresh
    assert paths.count("/paasw/sms/balance") == 1 + 5 + 5  # five refused, five retried
    assert balances == [before] * 5


@pytest.mark.asyncio
async def test_new_secret_the_old_client_gets_a_clear_authentication_error(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
):
    new_secret = "sandbox-paasw-rotated-secret-7731"
    with anyio.fail_after(TIME_LIMIT):
        async with paasw(sandbox) as client:
            await send(client, "13800138000")
            sandbox.reset_secret("paasw", secret=new_secret)
            with pytest.raises(AuthenticationError) as caught:
                await send(client, "13800138001")
        async with paasw(sandbox, secret=new_secret) as rotated:
            await send(rotated, "13800138002")
    error = caught.value
    assert error.provider == "paasw"
    assert error.code == "40125"  # the sandbox's "wrong secret"
    assert "secret" in str(error).lower()
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert_no_secret(error, client, rotated, secrets=(*SECRETS, new_secret))
    assert_no_secret_logged(caplog.records, secrets=(*SECRETS, new_secret))
    # The refused send was not processed; the client with the new secret's was.
    assert sandbox.ledger.phones() == ["13800138000", "13800138002"]
