"""No key shows up in logs, errors or reprs, even when the provider refuses the key."""

from __future__ import annotations

import logging

import anyio
import pytest

from crowdsms import Recipient
from crowdsms.errors import ProviderError
from crowdsms.providers.paasw import SmsKind
from crowdsms.sandbox import Sandbox

from .support import (
    SECRETS,
    TIME_LIMIT,
    assert_no_secret,
    assert_no_secret_logged,
    crowdtask,
    paasw,
    sendcloud,
    submail,
)

WRONG = "wrong-key-0123456789abcdef"


@pytest.mark.asyncio
async def test_successful_calls_log_at_debug_without_secrets(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
):
    with anyio.fail_after(TIME_LIMIT):
        async with (
            submail(sandbox, sign_type="normal") as sub,  # the key itself is the signature
            sendcloud(sandbox) as cloud,
            crowdtask(sandbox, auth_location="headers") as crowd,
            paasw(sandbox) as gateway,
        ):
            await sub.sms.multisend(content="【沙箱】你好。", recipients=[Recipient("13800138000")])
            await cloud.sms.send(template_id=3, phones=["13800138001"])
            await crowd.tasks.batch(project_id=1, rows=[{"a": "b"}])
            await gateway.sms.send(
                phones=["13800138002"], sign="沙箱", content="【沙箱】你好。", kind=SmsKind.NOTICE
            )
            groups = [sub.sms, sub.service, cloud.sms, cloud.contact_tasks, crowd.tasks]
            groups += [gateway.sms, gateway.reports, gateway.account]
            assert_no_secret(sub, cloud, crowd, gateway, *groups)
    debug = [
        r for r in caplog.records if r.levelno == logging.DEBUG and r.name.startswith("crowdsms")
    ]
    assert len(debug) >= 5  # each call logged its attempt (the token fetch too)
    assert_no_secret_logged(caplog.records)
    assert len(sandbox.ledger) == 4


@pytest.mark.asyncio
async def test_refused_keys_raise_errors_without_them(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
):
    secrets = (*SECRETS, WRONG)
    errors: list[ProviderError] = []
    with anyio.fail_after(TIME_LIMIT):
        for sign_type in ("md5", "normal"):
            async with submail(sandbox, sign_type=sign_type, app_key=WRONG) as client:
                with pytest.raises(ProviderError) as caught:
                    await client.sms.send(to="13800138000", content="【沙箱】你好。")
                errors.append(caught.value)
        async with sendcloud(sandbox, sms_key=WRONG) as client:
            with pytest.raises(ProviderError) as caught:
                await client.sms.send(template_id=3, phones=["13800138000"])
            errors.append(caught.value)
        async with crowdtask(sandbox, access_secret_key=WRONG) as client:
            with pytest.raises(ProviderError) as caught:
                await client.tasks.batch(project_id=1, rows=[{"a": "b"}])
            errors.append(caught.value)
        async with paasw(sandbox, secret=WRONG) as client:
            with pytest.raises(ProviderError) as caught:
                await client.account.balance()
            errors.append(caught.value)
    assert [(e.provider, e.code) for e in errors] == [
        ("submail", "108"),
        ("submail", "109"),
        ("sendcloud", "422"),
        ("crowdtask", "401"),
        ("paasw", "40125"),
    ]
    assert_no_secret(*errors, secrets=secrets)
    assert_no_secret_logged(caplog.records, secrets=secrets)
    assert len(sandbox.ledger) == 0
