"""SUBMAIL over HTTP: signatures, timestamp window, per-recipient results, formats, fees."""

from __future__ import annotations

import email.utils
import json
import time
import xml.etree.ElementTree as ElementTree

import httpx
import pytest
import yaml

from crowdsms.sandbox import Sandbox, SandboxSettings, serve
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY, SubmailSettings

from . import signing

MULTISEND = "/submail/sms/multisend"


def multisend_form(
    multi: list[dict[str, object]], *, content: str = "【沙箱】你好 @var(name)", **extra: str
):
    return signing.submail_request(
        SUBMAIL_APPID, SUBMAIL_APPKEY, content=content, multi=json.dumps(multi), **extra
    )


@pytest.mark.asyncio
async def test_wrong_signature_is_108_in_submails_shape(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    form = signing.submail_request(
        SUBMAIL_APPID, "not-the-key", content="【沙箱】你好", multi='[{"to":"13800138000"}]'
    )
    response = await client.post(MULTISEND, data=form)
    assert response.status_code == 200
    assert response.json() == {"status": "error", "code": 108, "msg": "Invalid signature"}
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_correct_signature_sends_and_signs_everything_but_content_and_multi(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    form = multisend_form([{"to": "13800138000", "vars": {"name": "王"}}])
    answer = (await client.post(MULTISEND, data=form)).json()
    assert answer == [
        {"status": "success", "to": "13800138000", "send_id": answer[0]["send_id"], "fee": 1}
    ]
    # Changing a signed parameter (appid is signed) breaks the signature; content is unsigned.
    unsigned_change = {**form, "content": "【沙箱】另一条 @var(name)"}
    assert (await client.post(MULTISEND, data=unsigned_change)).json()[0]["status"] == "success"
    [first, second] = sandbox.ledger.entries()
    assert (first.content, first.message_id) == ("【沙箱】你好 王", answer[0]["send_id"])
    assert second.content == "【沙箱】另一条 王"


@pytest.mark.asyncio
async def test_unknown_appid_and_empty_signature(client: httpx.AsyncClient):
    form = signing.submail_request(
        "no-such-app", SUBMAIL_APPKEY, content="【沙箱】你好", multi="[]"
    )
    assert (await client.post(MULTISEND, data=form)).json()["code"] == 101
    form = {**multisend_form([{"to": "13800138000"}]), "signature": ""}
    assert (await client.post(MULTISEND, data=form)).json()["code"] == 111


@pytest.mark.asyncio
async def test_normal_mode_sends_the_appkey_in_clear(client: httpx.AsyncClient):
    form = {
        "appid": SUBMAIL_APPID,
        "signature": SUBMAIL_APPKEY,
        "content": "【沙箱】你好",
        "multi": '[{"to":"13800138000"}]',
    }
    assert (await client.post(MULTISEND, data=form)).json()[0]["status"] == "success"
    wrong = {**form, "signature": "guess"}
    assert (await client.post(MULTISEND, data=wrong)).json()["code"] == 109


@pytest.mark.asyncio
async def test_timestamp_window_follows_the_server_clock(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    form = multisend_form([{"to": "13800138000"}])
    sandbox.set_clock_offset(10)
    assert (await client.post(MULTISEND, data=form)).json() == {
        "status": "error",
        "code": 152,
        "msg": "Invalid timestamp",
    }
    sandbox.set_clock_offset(-10)
    assert (await client.post(MULTISEND, data=form)).json()["code"] == 152
    sandbox.set_clock_offset(3)
    assert (await client.post(MULTISEND, data=form)).json()[0]["status"] == "success"
    missing = {key: value for key, value in form.items() if key != "timestamp"}
    assert (await client.post(MULTISEND, data=missing)).json()["code"] == 151
    assert len(sandbox.ledger) == 1


@pytest.mark.asyncio
async def test_timestamp_endpoint_and_date_header_show_the_offset(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.set_clock_offset(3600)
    before = time.time()
    response = await client.get("/submail/service/timestamp.json")
    after = time.time()
    served = response.json()["timestamp"]
    assert before + 3600 - 1 <= served <= after + 3600 + 1
    date = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
    assert before + 3600 - 2 <= date <= after + 3600 + 1
    assert (await client.get("/submail/service/timestamp")).json().keys() == {"timestamp"}


@pytest.mark.asyncio
async def test_multisend_answers_one_item_per_recipient_in_order(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    long_name = "长" * 70  # pushes the message past 70 characters: 2 segments
    multi = [
        {"to": "13800138000", "vars": {"name": "甲"}},
        {"to": "12345", "vars": {"name": "乙"}},
        {"to": "+86 138 0013 8001", "vars": {"name": "丙"}},
        {"to": "13800138002", "vars": {"name": long_name}},
    ]
    answer = (await client.post(MULTISEND, data=multisend_form(multi))).json()
    assert [item["status"] for item in answer] == ["success", "error", "error", "success"]
    assert answer[1] == {
        "status": "error",
        "code": 251,
        "msg": "Incorrect recipient message address",
    }
    assert "to" not in answer[2]
    assert [answer[0]["fee"], answer[3]["fee"]] == [1, 2]
    assert [answer[0]["to"], answer[3]["to"]] == ["13800138000", "13800138002"]
    assert sandbox.ledger.phones() == ["13800138000", "13800138002"]
    assert [entry.fee for entry in sandbox.ledger.entries()] == [1, 2]
    assert sandbox.balance("submail") == sandbox.settings.initial_balance - 3


@pytest.mark.asyncio
async def test_json_body_with_multi_as_an_array(client: httpx.AsyncClient):
    params = signing.submail_request(SUBMAIL_APPID, SUBMAIL_APPKEY)
    body = {
        **params,
        "timestamp": int(params["timestamp"]),
        "content": "【沙箱】你好 @var(name)",
        "multi": [{"to": "13800138000", "vars": {"name": "甲"}}],
    }
    answer = (await client.post(MULTISEND, json=body)).json()
    assert answer[0]["status"] == "success"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"multi": "[{"}, 307),
        ({"multi": "[]"}, 410),
        ({"multi": ""}, 410),
        ({"content": "没有签名的短信"}, 411),
        ({"content": "【这个签名实在是太长了超过十个字】你好"}, 412),
        ({"content": "【甲】你好"}, 413),
        ({"content": ""}, 403),
        ({"content": "【沙箱】" + "字" * 1000}, 404),
        ({"tag": "t" * 33}, 310),
    ],
)
async def test_request_level_errors_are_one_error_object(
    sandbox: Sandbox, client: httpx.AsyncClient, change: dict[str, str], code: int
):
    form = {**multisend_form([{"to": "13800138000"}]), **change}
    if "tag" in change:  # tag is unsigned, multi and content too: the signature stays valid
        assert "tag" not in signing.joined(form, {"signature", "tag"})
    answer = (await client.post(MULTISEND, data=form)).json()
    assert answer["status"] == "error"
    assert answer["code"] == code
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_multi_limit():
    settings = SandboxSettings(providers={"submail": SubmailSettings(multi_limit=2)})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        multi = [{"to": f"1380013800{i}"} for i in range(3)]
        assert (await client.post(MULTISEND, data=multisend_form(multi))).json()["code"] == 410
        answer = (await client.post(MULTISEND, data=multisend_form(multi[:2]))).json()
        assert len(answer) == 2


@pytest.mark.asyncio
async def test_xml_and_yaml_suffixes_answer_in_those_formats(client: httpx.AsyncClient):
    multi = [{"to": "13800138000", "vars": {"name": "甲"}}, {"to": "1"}]
    xml_response = await client.post(MULTISEND + ".xml", data=multisend_form(multi))
    root = ElementTree.fromstring(xml_response.content)  # noqa: S314 (our own server)
    assert root.tag == "results"
    items = [{child.tag: child.text for child in item} for item in root]
    assert items[0]["status"] == "success"
    assert items[0]["to"] == "13800138000"
    assert items[1] == {
        "status": "error",
        "code": "251",
        "msg": "Incorrect recipient message address",
    }

    yaml_response = await client.post(MULTISEND + ".yaml", data=multisend_form(multi))
    decoded = yaml.safe_load(yaml_response.text)
    assert decoded[0]["status"] == "success"
    assert decoded[1] == {
        "status": "error",
        "code": 251,
        "msg": "Incorrect recipient message address",
    }

    error = await client.post(MULTISEND + ".yaml", data={"appid": "nobody"})
    assert yaml.safe_load(error.text) == {"status": "error", "code": 101, "msg": "Incorrect APP ID"}
    stamp_response = await client.get("/submail/service/timestamp.xml")
    stamp = ElementTree.fromstring(stamp_response.content)  # noqa: S314 (our own server)
    assert stamp.tag == "root"
    assert stamp.find("timestamp") is not None
    assert (await client.post(MULTISEND + ".txt", data={})).status_code == 404


@pytest.mark.asyncio
async def test_send_answers_one_object_with_credits(sandbox: Sandbox, client: httpx.AsyncClient):
    form = signing.submail_request(
        SUBMAIL_APPID, SUBMAIL_APPKEY, to="13800138000", content="【沙箱】验证码 1234"
    )
    form["signature"] = signing.submail(form, SUBMAIL_APPID, SUBMAIL_APPKEY, leave_out={"content"})
    answer = (await client.post("/submail/sms/send.json", data=form)).json()
    assert answer["status"] == "success"
    assert answer["fee"] == 1
    assert int(answer["sms_credits"]) == sandbox.settings.initial_balance - 1
    bad = {**form, "to": "110"}
    bad["signature"] = signing.submail(bad, SUBMAIL_APPID, SUBMAIL_APPKEY, leave_out={"content"})
    assert (await client.post("/submail/sms/send", data=bad)).json()["code"] == 251
    assert sandbox.ledger.phones() == ["13800138000"]


@pytest.mark.asyncio
async def test_blocked_numbers_and_exhausted_balance_fail_per_recipient():
    settings = SandboxSettings(blocked_numbers={"13800138001"})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        sandbox.top_up("submail", -(settings.initial_balance - 1))
        multi = [{"to": "13800138000"}, {"to": "13800138001"}, {"to": "13800138002"}]
        answer = (await client.post(MULTISEND, data=multisend_form(multi))).json()
        assert [item.get("code") for item in answer] == [None, 114, 903]
        assert sandbox.ledger.phones() == ["13800138000"]
        assert sandbox.balance("submail") == 0


@pytest.mark.asyncio
async def test_long_messages_are_billed_per_67_characters(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    prefix = "【沙箱】你好 "  # 7 characters, then the name
    lengths = [70, 71, 134, 135, 201, 202]
    multi = [
        {"to": f"1380013800{index}", "vars": {"name": "名" * (length - len(prefix))}}
        for index, length in enumerate(lengths)
    ]
    answer = (await client.post(MULTISEND, data=multisend_form(multi))).json()
    assert [len(entry.content or "") for entry in sandbox.ledger.entries()] == lengths
    assert [item["fee"] for item in answer] == [1, 2, 2, 3, 3, 4]
    assert [entry.fee for entry in sandbox.ledger.entries()] == [1, 2, 2, 3, 3, 4]
