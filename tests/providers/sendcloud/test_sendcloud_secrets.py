"""The SMS key never shows: not in reprs, errors, logs, nor on the wire."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms._secret import Secret
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import Recipient
from crowdsms.providers.sendcloud import AsyncSendCloud

from .sendcloud_support import NOW, SMS_KEY, answer


def assert_no_key(text: str) -> None:
    assert SMS_KEY not in text
    assert SMS_KEY[:12] not in text


@pytest.mark.asyncio
async def test_reprs(client: AsyncSendCloud, make_client: Callable[..., AsyncSendCloud]) -> None:
    wrapped = make_client(sms_key=Secret(SMS_KEY))
    for value in (
        client,
        wrapped,
        client.sms,
        client.timestamp,
        client.contact_tasks,
        client.sms.sendn_chunks(template_id=1),
        client._signer,
        client._transport,
    ):
        assert_no_key(repr(value))
        assert_no_key(str(value))
    assert "crowd-user" in repr(client)


@pytest.mark.asyncio
async def test_key_never_on_the_wire_or_in_logs_or_errors(
    client: AsyncSendCloud, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get("/timestamp/get").mock(return_value=answer(200, info={"timestamp": int(NOW * 1000)}))
    send = api.post("/send").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            answer(461, "时间戳无效", result=False),
            answer(200, info={"smsIds": ["x$13800138000"]}),
        ]
    )
    result = await client.sms.send(template_id=1, phones=["13800138000"], vars={"a": "b"})
    assert_no_key(repr(result))
    sendn = api.post("/sendn").mock(
        side_effect=[
            answer(422, "签名错误", result=False),
            httpx.Response(200, text="<html>bad</html>"),
            httpx.ReadTimeout("slow"),
        ]
    )
    errors: list[CrowdSMSError] = []
    for _ in range(3):
        with pytest.raises(CrowdSMSError) as caught:
            await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000")])
        errors.append(caught.value)
    with pytest.raises(CrowdSMSError) as caught:
        await client.sms.send(template_id=1, phones=["bad"])
    errors.append(caught.value)
    for error in errors:
        assert_no_key(str(error))
        assert_no_key(repr(error))
        assert_no_key(repr(error.__dict__))
    assert caplog.records, "the transport logs at DEBUG; the check below must see records"
    for record in caplog.records:
        assert_no_key(record.getMessage())
        assert_no_key(repr(record.args))
    for call in [*send.calls, *sendn.calls]:
        wire = call.request
        assert_no_key(str(wire.url))
        assert_no_key(wire.content.decode())
        assert_no_key(repr(dict(wire.headers)))
