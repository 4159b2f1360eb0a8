"""Faults as a client sees them: 503, dropped connections, 429, slow answers; the ledger."""

from __future__ import annotations

import httpx
import pytest

from crowdsms.sandbox import (
    DropUnsupportedError,
    FaultInjector,
    FaultKind,
    FaultSettings,
    Sandbox,
    create_app,
)
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from . import signing

MULTISEND = "/submail/sms/multisend"


def multisend(phone: str = "13800138000") -> dict[str, str]:
    multi = f'[{{"to":"{phone}"}}]'
    return signing.submail_request(
        SUBMAIL_APPID, SUBMAIL_APPKEY, content="【沙箱】你好", multi=multi
    )


@pytest.mark.asyncio
async def test_reject_is_503_before_processing(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.force_fault(FaultKind.REJECT)
    response = await client.post(MULTISEND, data=multisend())
    assert response.status_code == 503
    assert "503" in response.text
    assert len(sandbox.ledger) == 0
    assert (await client.post(MULTISEND, data=multisend())).json()[0]["status"] == "success"
    assert sandbox.faults.injected[FaultKind.REJECT] == 1


@pytest.mark.asyncio
async def test_drop_before_processing_loses_the_connection_and_sends_nothing(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.force_fault("drop", count=2)
    for _ in range(2):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post(MULTISEND, data=multisend())
    assert len(sandbox.ledger) == 0
    # The client's pool recovers: the next request gets a new connection and an answer.
    assert (await client.post(MULTISEND, data=multisend())).json()[0]["status"] == "success"
    assert len(sandbox.ledger) == 1


@pytest.mark.asyncio
async def test_drop_after_processing_is_ambiguous_but_the_ledger_knows(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.force_fault(FaultKind.DROP_AFTER)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await client.post(MULTISEND, data=multisend("13800138005"))
    [entry] = sandbox.ledger.entries()
    assert (entry.provider, entry.phone) == ("submail", "13800138005")
    assert sandbox.ledger.duplicates() == {}
    # A blind retry of the ambiguous request sends the message a second time: the ledger
    # is how a test proves that a client did not do this.
    await client.post(MULTISEND, data=multisend("13800138005"))
    assert sandbox.ledger.duplicates() == {("submail", "13800138005", "【沙箱】你好"): 2}


@pytest.mark.asyncio
async def test_rate_limit_is_429_with_retry_after(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.set_faults(retry_after=7)
    sandbox.force_fault(FaultKind.RATE_LIMIT)
    response = await client.post(MULTISEND, data=multisend())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_slow_answer_times_the_client_out_and_is_still_processed(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.set_faults(slow_seconds=0.5)
    sandbox.force_fault(FaultKind.SLOW)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(MULTISEND, data=multisend(), timeout=0.1)
    entries = await sandbox.wait_for_ledger(1, within=5)
    assert [entry.phone for entry in entries] == ["13800138000"]


@pytest.mark.asyncio
async def test_latency_applies_to_every_provider_request(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.configure(latency=0.5)
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/paasw/api/token", timeout=0.1)
    assert (await client.get("/_sandbox/health", timeout=0.4)).json() == {"status": "ok"}
    sandbox.configure(latency=0.0)
    assert (await client.get("/submail/service/timestamp", timeout=0.4)).status_code == 200


@pytest.mark.asyncio
async def test_forced_faults_can_target_a_provider_and_a_path(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.force_fault(FaultKind.REJECT, provider="submail", path="multisend")
    assert (await client.get("/submail/service/timestamp")).status_code == 200
    assert (await client.get("/sendcloud/smsapi/timestamp/get")).status_code == 200
    assert (await client.post(MULTISEND, data=multisend())).status_code == 503
    assert sandbox.faults.pending_forced() == 0


@pytest.mark.asyncio
async def test_random_faults_follow_their_rate(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.set_faults(rates={"reject": 1.0})
    statuses = {(await client.get("/submail/service/timestamp")).status_code for _ in range(5)}
    assert statuses == {503}
    assert (await client.get("/_sandbox/health")).status_code == 200  # admin is never faulted
    sandbox.set_faults(FaultSettings())
    assert (await client.get("/submail/service/timestamp")).status_code == 200


def test_fault_sequence_is_determined_by_the_seed():
    rates = {FaultKind.REJECT: 0.2, FaultKind.DROP: 0.1, "slow": 0.1}

    def sequence(seed: int) -> list[FaultKind | None]:
        injector = FaultInjector(FaultSettings(rates=rates, seed=seed))
        return [injector.next("paasw", "/paasw/sms/send") for _ in range(300)]

    first, again, other = sequence(1), sequence(1), sequence(2)
    assert first == again
    assert first != other
    kinds = set(first)
    assert {None, FaultKind.REJECT, FaultKind.DROP, FaultKind.SLOW} == kinds


def test_fault_settings_are_validated():
    with pytest.raises(ValueError, match="add up"):
        FaultSettings(rates={"reject": 0.7, "drop": 0.7})
    with pytest.raises(ValueError, match="within"):
        FaultSettings(rates={"reject": 1.5})
    with pytest.raises(ValueError, match="drop_sometimes"):
        FaultSettings(rates={"drop_sometimes": 0.1})


@pytest.mark.asyncio
async def test_drops_need_serve(sandbox: Sandbox):
    app = create_app()
    app.state.sandbox.force_fault("drop")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        with pytest.raises(DropUnsupportedError):
            await client.get("/submail/service/timestamp")
