"""Webhook keys never show up in reprs, error messages, responses or log records."""

from __future__ import annotations

import logging
import pickle

import httpx
import pytest

from crowdsms._secret import Secret
from crowdsms.providers.paasw import PaaswWebhook
from crowdsms.providers.sendcloud import SendCloudWebhook
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.webhooks import WebhookApp, WebhookReplayError, WebhookSignatureError

from .pushes import FORM, NOW, clock, form, sendcloud_fields, submail_fields

SUBMAIL_SECRET = "submail-SECRET-key-0a1b2c"
SENDCLOUD_SECRET = "sendcloud-SECRET-key-3d4e5f"


def test_receivers_do_not_show_their_keys():
    for hook in (
        SubmailWebhook(key=SUBMAIL_SECRET),
        SendCloudWebhook(key=Secret(SENDCLOUD_SECRET)),
    ):
        assert "SECRET" not in repr(hook)
        assert "SECRET" not in str(hook)
        assert "********" in repr(hook)


def test_errors_do_not_show_keys_and_survive_pickling():
    hook = SubmailWebhook(key=SUBMAIL_SECRET, clock=clock)
    with pytest.raises(WebhookSignatureError) as forged:
        hook.parse(FORM, form(submail_fields(key="wrong")))
    stale = form(submail_fields(key=SUBMAIL_SECRET, timestamp=NOW - 10_000))
    with pytest.raises(WebhookReplayError) as replayed:
        hook.parse(FORM, stale)
    for error in (forged.value, replayed.value):
        assert "SECRET" not in str(error)
        assert "SECRET" not in repr(error)
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
        assert (type(copy), str(copy), copy.status_code) == (
            type(error),
            str(error),
            error.status_code,
        )


@pytest.mark.asyncio
async def test_nothing_secret_reaches_responses_or_logs(caplog):
    async def failing(event) -> None:
        raise RuntimeError("boom")

    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_SECRET, clock=clock),
        sendcloud=SendCloudWebhook(key=SENDCLOUD_SECRET, clock=clock),
        paasw=PaaswWebhook(),
        on_event=failing,
    )
    pushes = [
        ("/submail", form(submail_fields(key="wrong"))),
        ("/submail", form(submail_fields(key=SUBMAIL_SECRET))),
        ("/sendcloud", form(sendcloud_fields(key="wrong"))),
        ("/sendcloud", form(sendcloud_fields(key=SENDCLOUD_SECRET))),
        ("/sendcloud", b"not a push"),
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
        responses = [await client.post(path, content=body) for path, body in pushes]
    assert [r.status_code for r in responses] == [403, 500, 403, 500, 400]
    assert all("SECRET" not in r.text for r in responses)
    assert "SECRET" not in repr(app)
    records = [r for r in caplog.records if r.name.startswith("crowdsms")]
    assert len(records) == 5
    assert {r.levelno for r in records} == {logging.WARNING, logging.ERROR}
    for record in records:
        assert "SECRET" not in record.getMessage()
        assert "SECRET" not in caplog.text
