"""paasw over HTTP: tokens, expiry, secret reset, limits, report and reply queues."""

from __future__ import annotations

import httpx
import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve
from crowdsms.sandbox.emulators.paasw import CODES, PAASW_APP_ID, PAASW_SECRET, PaaswSettings


async def token(client: httpx.AsyncClient, secret: str = PAASW_SECRET) -> dict:
    response = await client.get(
        "/paasw/api/token", params={"appId": PAASW_APP_ID, "secret": secret}
    )
    return response.json()


def message(numbers: str, **extra: str) -> dict[str, str]:
    return {
        "phoneNumbers": numbers,
        "sign": "沙箱",
        "content": "【沙箱】您好",
        "kind": "2",
        **extra,
    }


async def send(client: httpx.AsyncClient, tok: str, numbers: str, **extra: str) -> dict:
    response = await client.post(
        "/paasw/sms/send", data={"token": tok, **message(numbers, **extra)}
    )
    return response.json()


@pytest.mark.asyncio
async def test_token_is_the_same_while_it_lives(client: httpx.AsyncClient):
    first = await token(client)
    assert first["code"] == "10000"
    assert first["expires_in"] == 7200
    assert {"+", "/", "="} <= set(first["token"])
    assert (await token(client))["token"] == first["token"]
    assert (await token(client, "wrong"))["code"] == CODES["bad_secret"]
    stranger = await client.get("/paasw/api/token", params={"appId": "x", "secret": PAASW_SECRET})
    assert stranger.json()["code"] == CODES["bad_app_id"]


@pytest.mark.asyncio
async def test_token_in_query_or_form_and_it_must_be_url_encoded(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    tok = (await token(client))["token"]
    in_query = await client.post(
        "/paasw/sms/send", params={"token": tok}, data=message("13800138000")
    )
    assert in_query.json()["code"] == "10000"
    assert (await send(client, tok, "13800138001"))["code"] == "10000"
    raw = await client.post(f"/paasw/sms/send?token={tok}", data=message("13800138002"))
    assert raw.json()["code"] == CODES["token_invalid"]  # '+' arrived as a space
    assert sandbox.ledger.phones() == ["13800138000", "13800138001"]


@pytest.mark.asyncio
async def test_token_expires_after_7200_seconds(sandbox: Sandbox, client: httpx.AsyncClient):
    tok = (await token(client))["token"]
    sandbox.advance_clock(7199)
    assert (await send(client, tok, "13800138000"))["code"] == "10000"
    sandbox.advance_clock(2)
    expired = await send(client, tok, "13800138001")
    assert expired["code"] == CODES["token_expired"]
    assert "token" in expired["message"]
    fresh = (await token(client))["token"]
    assert fresh != tok
    assert (await send(client, fresh, "13800138001"))["code"] == "10000"
    assert sandbox.ledger.phones() == ["13800138000", "13800138001"]


@pytest.mark.asyncio
async def test_secret_reset_kills_tokens(sandbox: Sandbox, client: httpx.AsyncClient):
    tok = (await token(client))["token"]
    new_secret = sandbox.reset_secret("paasw")
    assert new_secret != PAASW_SECRET
    killed = await send(client, tok, "13800138000")
    assert killed["code"] == CODES["token_invalid"]
    assert "token" in killed["message"]
    assert (await token(client))["code"] == CODES["bad_secret"]
    fresh = await token(client, new_secret)
    assert fresh["code"] == "10000"
    assert fresh["token"] != tok
    assert (await send(client, fresh["token"], "13800138000"))["code"] == "10000"


@pytest.mark.asyncio
async def test_phone_numbers_limits_by_count_and_by_characters():
    settings = SandboxSettings(providers={"paasw": PaaswSettings(max_numbers=3)})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        tok = (await token(client))["token"]
        four = ",".join(f"1380013800{i}" for i in range(4))
        answer = await send(client, tok, four)
        assert answer["code"] == CODES["too_many_numbers"]
        assert len(sandbox.ledger) == 0
    async with serve() as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        tok = (await token(client))["token"]
        numbers = [f"138{i:08d}" for i in range(126)]
        assert len(",".join(numbers)) == 1511
        answer = await send(client, tok, ",".join(numbers))
        assert answer["code"] == CODES["too_many_numbers"]
        assert "1500" in answer["message"]
        assert (await send(client, tok, ",".join(numbers[:125])))["code"] == "10000"
        assert len(sandbox.ledger) == 125


@pytest.mark.asyncio
async def test_invalid_numbers_get_failed_reports_and_reports_are_pulled_once(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    tok = (await token(client))["token"]
    sent = await send(client, tok, "13800138000,123")
    assert sent["code"] == "10000"
    assert len(sent["bizId"]) == 20
    reports = (await client.get("/paasw/sms/deliver", params={"token": tok})).json()
    assert [(r["phoneNumber"], r["code"], r["success"]) for r in reports] == [
        ("13800138000", "10000", True),
        ("123", "1", False),
    ]
    assert {r["bizId"] for r in reports} == {sent["bizId"]}
    assert set(reports[0]) == {
        "phoneNumber",
        "sendTime",
        "reportTime",
        "success",
        "code",
        "message",
        "smsSize",
        "bizId",
    }
    assert (await client.get("/paasw/sms/deliver", params={"token": tok})).json() == []
    assert sandbox.ledger.phones() == ["13800138000"]
    assert (await send(client, tok, "123,456"))["code"] == CODES["no_valid_number"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "change",
    [
        {"sign": "【沙箱】"},
        {"sign": "签" * 21},
        {"content": "没有签名"},
        {"content": "【沙箱】" + "字" * 1000},
        {"kind": "9"},
    ],
)
async def test_parameter_errors(sandbox: Sandbox, client: httpx.AsyncClient, change: dict):
    tok = (await token(client))["token"]
    assert (await send(client, tok, "13800138000", **change))["code"] == CODES["bad_parameter"]
    data = {"token": tok, **message("13800138000")}
    del data["kind"]
    answer = (await client.post("/paasw/sms/send", data=data)).json()
    assert answer["code"] == CODES["bad_parameter"]
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_send_template_substitutes_param_json(sandbox: Sandbox, client: httpx.AsyncClient):
    tok = (await token(client))["token"]
    fields = message("13800138000", content="【沙箱】验证码${code}", templateId="1192360392260608")
    ok = await client.post(
        "/paasw/sms/sendTemplate", data={"token": tok, **fields, "paramJson": '{"code":"4321"}'}
    )
    assert ok.json()["code"] == "10000"
    [entry] = sandbox.ledger.entries()
    assert (entry.content, entry.template, dict(entry.vars)) == (
        "【沙箱】验证码4321",
        "1192360392260608",
        {"code": "4321"},
    )
    too_long = '{"code":"' + "1" * 100 + '"}'
    rejected = await client.post(
        "/paasw/sms/sendTemplate", data={"token": tok, **fields, "paramJson": too_long}
    )
    assert rejected.json()["code"] == CODES["bad_parameter"]


@pytest.mark.asyncio
async def test_replies_are_pulled_by_sign(sandbox: Sandbox, client: httpx.AsyncClient):
    tok = (await token(client))["token"]
    reply = sandbox.add_reply("paasw", "13800138000", "TD", sign="沙箱")
    missing_sign = (await client.get("/paasw/sms/smsUp", params={"token": tok})).json()
    assert missing_sign["code"] == CODES["bad_parameter"]
    other = await client.get("/paasw/sms/smsUp", params={"token": tok, "sign": "别的"})
    assert other.json() == []
    pulled = (await client.get("/paasw/sms/smsUp", params={"token": tok, "sign": "沙箱"})).json()
    assert [(r["phoneNumber"], r["content"], r["sequenceId"]) for r in pulled] == [
        ("13800138000", "TD", reply.sequence_id)
    ]


@pytest.mark.asyncio
async def test_balance_decreases_by_segments(sandbox: Sandbox, client: httpx.AsyncClient):
    tok = (await token(client))["token"]
    start = (await client.get("/paasw/sms/balance", params={"token": tok})).json()
    assert (start["code"], start["balance"]) == ("10000", float(sandbox.settings.initial_balance))
    long_content = "【沙箱】" + "字" * 80  # 84 characters: 2 segments each
    await send(client, tok, "13800138000,13800138001", content=long_content)
    after = (await client.get("/paasw/sms/balance", params={"token": tok})).json()
    assert after["balance"] == start["balance"] - 4
    sandbox.top_up("paasw", -int(after["balance"]))
    assert (await send(client, tok, "13800138000"))["code"] == CODES["balance"]
