"""Keys and secrets stay out of reprs and log records."""

from __future__ import annotations

import logging

import httpx
import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_SECRET
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_WEBHOOK_KEY
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY, SUBMAIL_SUBHOOK_KEY

from . import signing

KEYS = (
    SUBMAIL_APPKEY,
    SUBMAIL_SUBHOOK_KEY,
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_WEBHOOK_KEY,
    CROWDTASK_SECRET,
    PAASW_SECRET,
)


def test_keys_are_not_in_reprs():
    settings = SandboxSettings()
    text = repr(settings) + repr(Sandbox(settings)) + str(settings.provider("paasw"))
    for key in KEYS:
        assert key not in text
    assert "********" in repr(settings.provider("submail"))


@pytest.mark.asyncio
async def test_keys_are_not_in_log_records(
    sandbox: Sandbox, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="crowdsms")
    caplog.set_level(logging.DEBUG, logger="uvicorn")
    form = signing.submail_request(
        SUBMAIL_APPID, SUBMAIL_APPKEY, content="【沙箱】你好", multi='[{"to":"13800138000"}]'
    )
    await client.post("/submail/sms/multisend", data=form)
    await client.get("/paasw/api/token", params={"appId": PAASW_APP_ID, "secret": PAASW_SECRET})
    sandbox.reset_secret("paasw")
    # The test's own httpx client logs the token URL (paasw puts the secret in the query);
    # what matters here is what the sandbox and its server log.
    ours = [r for r in caplog.records if r.name.startswith(("crowdsms", "uvicorn"))]
    logged = "\n".join(record.getMessage() for record in ours)
    for key in KEYS:
        assert key not in logged
