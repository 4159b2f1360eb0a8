"""The /_sandbox admin endpoints change the same state the Python controls do."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from . import signing


def multisend(*phones: str) -> dict[str, str]:
    multi = json.dumps([{"to": phone} for phone in phones])
    content = "【沙箱】你好"
    return signing.submail_request(SUBMAIL_APPID, SUBMAIL_APPKEY, content=content, multi=multi)


@pytest.mark.asyncio
async def test_ledger_over_http_matches_python(sandbox: Sandbox, client: httpx.AsyncClient):
    answer = (await client.post("/submail/sms/multisend", data=multisend("13800138000"))).json()
    ledger = (await client.get("/_sandbox/ledger")).json()
    assert ledger["count"] == 1
    [entry] = ledger["entries"]
    assert entry == sandbox.ledger.entries()[0].to_json()
    assert (entry["provider"], entry["phone"], entry["message_id"], entry["fee"]) == (
        "submail",
        "13800138000",
        answer[0]["send_id"],
        1,
    )
    assert (await client.get("/_sandbox/ledger", params={"provider": "paasw"})).json()["count"] == 0
    await client.delete("/_sandbox/ledger")
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_faults_over_http(sandbox: Sandbox, client: httpx.AsyncClient):
    put = await client.put("/_sandbox/faults", json={"rates": {"reject": 1.0}, "seed": 3})
    assert put.json()["rates"] == {"reject": 1.0}
    assert (await client.get("/submail/service/timestamp")).status_code == 503
    await client.put("/_sandbox/faults", json={})
    force = {"kind": "rate_limit", "count": 2, "provider": "submail"}
    assert (await client.post("/_sandbox/faults/force", json=force)).json() == {"pending": 2}
    statuses = [(await client.get("/submail/service/timestamp")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    bad = await client.put("/_sandbox/faults", json={"rates": {"explode": 1.0}})
    assert bad.status_code == 400


@pytest.mark.asyncio
async def test_clock_over_http(client: httpx.AsyncClient):
    moved = (await client.post("/_sandbox/clock", json={"offset": 100})).json()
    assert moved["offset"] == 100
    advanced = (await client.post("/_sandbox/clock", json={"advance": 20})).json()
    assert advanced["offset"] == 120
    served = (await client.get("/submail/service/timestamp")).json()["timestamp"]
    assert abs(served - (time.time() + 120)) < 2


@pytest.mark.asyncio
async def test_secret_reset_and_balance_over_http(sandbox: Sandbox, client: httpx.AsyncClient):
    params = {"appId": PAASW_APP_ID, "secret": PAASW_SECRET}
    old = (await client.get("/paasw/api/token", params=params)).json()["token"]
    reset = (await client.post("/_sandbox/paasw/reset-secret", json={})).json()
    assert reset["account"] == PAASW_APP_ID
    assert reset["secret"] != PAASW_SECRET
    killed = (await client.get("/paasw/sms/balance", params={"token": old})).json()
    assert killed["code"] != "10000"
    new_params = {"appId": PAASW_APP_ID, "secret": reset["secret"]}
    new = (await client.get("/paasw/api/token", params=new_params)).json()["token"]

    topped = await client.post("/_sandbox/balance", json={"provider": "paasw", "amount": 5})
    assert topped.json()["balance"] == sandbox.settings.initial_balance + 5
    balance = (await client.get("/paasw/sms/balance", params={"token": new})).json()
    assert balance["balance"] == sandbox.settings.initial_balance + 5
    got = await client.get("/_sandbox/balance", params={"provider": "paasw"})
    assert got.json()["balance"] == sandbox.settings.initial_balance + 5


@pytest.mark.asyncio
async def test_settings_and_replies_over_http(sandbox: Sandbox, client: httpx.AsyncClient):
    patched = await client.patch(
        "/_sandbox/settings", json={"blocked_numbers": ["13800138000"], "latency": 0.0}
    )
    assert patched.json()["blocked_numbers"] == ["13800138000"]
    answer = (await client.post("/submail/sms/multisend", data=multisend("13800138000"))).json()
    assert answer[0]["code"] == 114
    refused = await client.patch("/_sandbox/settings", json={"submail": {}})
    assert refused.status_code == 400
    settings = (await client.get("/_sandbox/settings")).json()
    assert "apps" not in json.dumps(settings)
    assert SUBMAIL_APPKEY not in json.dumps(settings)

    reply = {"provider": "paasw", "phone": "13800138000", "content": "TD", "sign": "沙箱"}
    assert (await client.post("/_sandbox/replies", json=reply)).status_code == 200
    tok = (
        await client.get("/paasw/api/token", params={"appId": PAASW_APP_ID, "secret": PAASW_SECRET})
    ).json()["token"]
    pulled = await client.get("/paasw/sms/smsUp", params={"token": tok, "sign": "沙箱"})
    assert [item["content"] for item in pulled.json()] == ["TD"]
    unsupported = await client.post("/_sandbox/replies", json={**reply, "provider": "crowdtask"})
    assert unsupported.status_code == 400
