"""The providers' published worked examples, by hand, through the sandbox's verifiers and HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from crowdsms.sandbox import SandboxSettings, serve
from crowdsms.sandbox.emulators.crowdtask import CrowdTaskSettings
from crowdsms.sandbox.emulators.crowdtask._emulator import crowdtask_signature
from crowdsms.sandbox.emulators.sendcloud import SendCloudSettings
from crowdsms.sandbox.emulators.sendcloud._emulator import sendcloud_signature
from crowdsms.sandbox.emulators.submail import SubmailSettings
from crowdsms.sandbox.emulators.submail._emulator import submail_signature

from . import signing

SUBMAIL_TEXT = "10000abc123appid=10000&sign_type=md5&sign_version=2&timestamp=141425346210000abc123"
SUBMAIL_MD5 = "de95295c01cf130c014ec718baa06021"
SUBMAIL_SHA1 = "56d592d04c52fcbacf02d049d3e338c469732cc7"
SUBMAIL_PARAMS = {
    "appid": "10000",
    "sign_type": "md5",
    "sign_version": "2",
    "timestamp": "1414253462",
}

SENDCLOUD_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SENDCLOUD_PARAMS = {"phone": "18888888888", "smsUser": "testuser", "templateId": "1", "vars": "{}"}
SENDCLOUD_MD5 = "31eda13789be63afca40a32e37880d6d"
SENDCLOUD_SHA256 = "473959199cbb4bcac74310296ba880b1394ff73fd0953f3661c5d5eb999d43d3"

CROWDTASK_MD5 = "6c52e7babb792123c66424d36c7805ba"


def test_submail_example_by_hand_and_by_the_sandbox():
    assert hashlib.md5(SUBMAIL_TEXT.encode()).hexdigest() == SUBMAIL_MD5
    assert hashlib.sha1(SUBMAIL_TEXT.encode()).hexdigest() == SUBMAIL_SHA1
    assert signing.submail(SUBMAIL_PARAMS, "10000", "abc123") == SUBMAIL_MD5
    exclude = frozenset({"signature", "tag"})
    for sign_type, digest in (("md5", SUBMAIL_MD5), ("sha1", SUBMAIL_SHA1)):
        ours = submail_signature(
            SUBMAIL_PARAMS, appid="10000", appkey="abc123", sign_type=sign_type, exclude=exclude
        )
        assert ours == digest


def test_sendcloud_example_by_hand_and_by_the_sandbox():
    text = (
        f"{SENDCLOUD_KEY}&phone=18888888888&smsUser=testuser&templateId=1&vars={{}}&{SENDCLOUD_KEY}"
    )
    assert hashlib.md5(text.encode()).hexdigest() == SENDCLOUD_MD5
    assert hashlib.sha256(text.encode()).hexdigest() == SENDCLOUD_SHA256
    assert sendcloud_signature(SENDCLOUD_PARAMS, SENDCLOUD_KEY, "md5") == SENDCLOUD_MD5
    assert sendcloud_signature(SENDCLOUD_PARAMS, SENDCLOUD_KEY, "sha256") == SENDCLOUD_SHA256


def test_crowdtask_example_by_hand_and_by_the_sandbox():
    by_hand = hmac.new(b"0987654321", b"/api/task/batch&1435132361000", hashlib.md5).hexdigest()
    assert by_hand == CROWDTASK_MD5
    assert crowdtask_signature("/api/task/batch", "1435132361000", "0987654321") == CROWDTASK_MD5


@pytest.mark.asyncio
async def test_submail_example_signature_is_accepted_over_http():
    settings = SandboxSettings(providers={"submail": SubmailSettings(apps={"10000": "abc123"})})
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        sandbox.set_clock_offset(1414253462 - time.time())
        form = {
            **SUBMAIL_PARAMS,
            "signature": SUBMAIL_MD5,
            "content": "【示例】你好",
            "multi": json.dumps([{"to": "13800138000", "vars": {}}]),
        }
        answer = (await client.post("/submail/sms/multisend", data=form)).json()
        assert [item["status"] for item in answer] == ["success"]
        tampered = {**form, "signature": SUBMAIL_SHA1[:32]}
        rejected = (await client.post("/submail/sms/multisend", data=tampered)).json()
        assert rejected == {"status": "error", "code": 108, "msg": "Invalid signature"}
        assert sandbox.ledger.phones() == ["13800138000"]


@pytest.mark.asyncio
async def test_sendcloud_example_signatures_are_accepted_over_http():
    settings = SandboxSettings(
        providers={"sendcloud": SendCloudSettings(users={"testuser": SENDCLOUD_KEY})}
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        for digest in (SENDCLOUD_MD5, SENDCLOUD_SHA256):
            form = {**SENDCLOUD_PARAMS, "signature": digest}
            answer = (await client.post("/sendcloud/smsapi/send", data=form)).json()
            assert (answer["result"], answer["statusCode"]) == (True, 200)
        assert sandbox.ledger.phones() == ["18888888888", "18888888888"]


@pytest.mark.asyncio
async def test_crowdtask_example_signature_is_accepted_over_http():
    settings = SandboxSettings(
        providers={"crowdtask": CrowdTaskSettings(keys={"example": "0987654321"})}
    )
    async with serve(settings) as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
        sandbox.set_clock_offset(1435132361 - time.time())
        fields = {
            "accessid": "example",
            "localtime": "1435132361000",
            "signature": CROWDTASK_MD5,
            "projectid": "7",
        }
        files = {"inputCVS": ("tasks.cvs", b"name\nlucy\n", "text/plain")}
        response = await client.post("/crowdtask/api/task/batch", data=fields, files=files)
        assert response.status_code == 200
        assert response.json()["result"]["tasknum"] == 1
