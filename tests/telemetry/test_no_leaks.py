"""Nothing a test sends ends up in telemetry: no number, variable, text or credential.

Every provider sends a batch through a sandbox that refuses, drops and rate-limits some
requests, with a credential refused and a token expiring on the way; then every exported
span (attributes, events, status), every metric data point, every hook record and every
telemetry log record is searched for each phone number, variable value, message text,
credential and token the run used, and for any query string.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import httpx
import pytest

from crowdsms import RetryPolicy, telemetry
from crowdsms.batch import BatchSender
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import ChunkSender, Recipient
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.paasw import AsyncPaasw, SmsKind
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import FaultKind, Sandbox

from .conftest import Otel, Recorded

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
FAST_CHUNKS = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
WRONG_SECRET = "WRONG-secret-0123456789abcdef"
SUBMAIL_TEXT = "【测试】@var(name)，机密正文甲"
PAASW_TEXT = "【测试】机密正文乙"
PROVIDERS = ("submail", "sendcloud", "crowdtask", "paasw")


def phone(provider: int, index: int) -> str:
    return f"13{provider + 5}{index:08d}"


def recipients(provider: str, count: int) -> list[Recipient]:
    number = PROVIDERS.index(provider)
    made = []
    for i in range(count):
        if provider == "submail":
            variables = {"name": f"机密变量{number}x{i}"}
        elif provider == "sendcloud":
            variables = {"code": f"{900_000 + 97 * i}"}
        elif provider == "crowdtask":
            variables = {"img": f"secret-image-{i}.jpg"}
        else:
            variables = {}
        made.append(Recipient(phone(number, i), variables))
    return made


def chunk_sender(client: Any) -> ChunkSender:
    if isinstance(client, AsyncSubmail):
        return client.sms.multisend_chunks(content=SUBMAIL_TEXT)
    if isinstance(client, AsyncSendCloud):
        return client.sms.sendn_chunks(template_id=1)
    if isinstance(client, AsyncCrowdTask):
        return client.tasks.batch_chunks(project_id=7, columns=["img"])
    assert isinstance(client, AsyncPaasw)
    return client.sms.send_chunks(sign="测试", content=PAASW_TEXT, kind=SmsKind.NOTICE)


def wrong_credentials(sandbox: Sandbox, provider: str) -> dict[str, str]:
    credentials = sandbox.credentials(provider)
    secret = next(key for key in credentials if "key" in key or "secret" in key)
    return {**credentials, secret: WRONG_SECRET}


async def send_everything(sandbox: Sandbox, provider: str) -> list[Recipient]:
    """Batches with faults, a refused credential, an expired token; the recipients used."""
    used = recipients(provider, 12)
    for fault in (FaultKind.REJECT, FaultKind.RATE_LIMIT, FaultKind.DROP_AFTER):
        sandbox.force_fault(fault, provider=provider)
    sandbox.set_faults(retry_after=0)
    async with sandbox.client(provider, retry_policy=FAST) as client:
        sender = BatchSender(
            chunk_sender(client), chunk_size=3, concurrency=2, rate=500, chunk_retry=FAST_CHUNKS
        )
        await sender.send(used, job_id=f"leaks-{provider}")
        sandbox.advance_clock(3 * 3600)  # tokens expire: refreshed within the next call
        await sender.send(used[:3], job_id=f"leaks-{provider}-again")
    spec = sandbox.emulator(provider)
    assert spec is not None
    wrong = sandbox.client(provider, retry_policy=FAST)
    async with wrong.__class__(
        **wrong_credentials(sandbox, provider), base_url=sandbox.base_url(provider)
    ) as refused:
        report = await BatchSender(chunk_sender(refused), chunk_size=3).send(used[:6])
        assert report.sent == 0
    await wrong.aclose()
    return used


def texts_of(value: Any) -> list[str]:
    """Every string in an attribute value (sequences included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in texts_of(item)]
    return []


@pytest.mark.asyncio
async def test_nothing_sent_reaches_telemetry(
    sandbox: Sandbox, otel: Otel, recorded: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(details: object) -> None:
        raise RuntimeError("a broken hook")

    used: list[Recipient] = []
    with telemetry.add_hook(on_attempt=broken, on_call=broken, on_chunk=broken):
        for provider in PROVIDERS:
            used += await send_everything(sandbox, provider)
            async with sandbox.client(provider, retry_policy=RetryPolicy.no_retries()) as client:
                sandbox.force_fault(FaultKind.DROP_AFTER, provider=provider)
                with pytest.raises(CrowdSMSError):
                    await chunk_sender(client).send_chunk(recipients(provider, 2))

    # What the run sent, and with what: numbers, variables, texts, credentials, tokens.
    ledger = {entry.phone for entry in sandbox.ledger.entries()}
    assert {recipient.phone for recipient in used} & ledger  # really sent
    forbidden = {WRONG_SECRET, SUBMAIL_TEXT, PAASW_TEXT, "机密正文"}
    for recipient in used:
        forbidden |= {recipient.phone, "+86" + recipient.phone, recipient.phone[3:]}
        forbidden |= set(recipient.vars.values())
    for provider in PROVIDERS:
        forbidden |= set(sandbox.credentials(provider).values())
    tokens = set(getattr(sandbox.emulator("paasw"), "_tokens", {}))
    assert tokens  # tokens were issued
    forbidden |= tokens

    # Everything telemetry produced.
    strings: list[str] = []
    numbers: list[int] = []
    spans = otel.spans()
    assert len(spans) > 50
    for span in spans:
        strings.append(span.name)
        strings.append(span.status.description or "")
        values = list((span.attributes or {}).values())
        for event in span.events:
            strings.append(event.name)
            values += list((event.attributes or {}).values())
        for value in values:
            strings += texts_of(value)
            numbers += [value] if isinstance(value, int) else []
    for metric in (
        "http.client.request.duration",
        "crowdsms.client.call.duration",
        "crowdsms.retries",
        "crowdsms.recipients",
        "crowdsms.batch.pace.duration",
    ):
        points = otel.points(metric)
        assert points, metric
        for point in points:
            for value in point.attributes.values():
                strings += texts_of(value)
    records = recorded.all()
    assert recorded.attempts
    assert recorded.calls
    assert recorded.chunks
    for record in records:
        strings += [text for value in attrs.asdict(record).values() for text in texts_of(value)]
    logs = [record for record in caplog.records if record.name.startswith("crowdsms.telemetry")]
    assert logs
    for log in logs:
        strings.append(log.getMessage())
        strings.append(logging.Formatter().formatException(log.exc_info) if log.exc_info else "")

    leaks = sorted({secret for secret in forbidden for text in strings if secret in text})
    assert leaks == []
    assert [
        text for text in strings if "?" in text or ("=" in text and "Details(" not in text)
    ] == []
    assert not {int(recipient.phone) for recipient in used} & set(numbers)
    # The attributes that could carry a provider's words carry codes only.
    codes = {
        text
        for span in spans
        for text in texts_of((span.attributes or {}).get("crowdsms.provider.code"))
    }
    assert codes
    assert all(len(code) <= 32 and " " not in code for code in codes)


ECHO_KEY = "echoed-APP-key-4f7c2a9e"
ECHO_PHONES = ["13912345678", "13987654321"]
ECHO_VARS = ["echoed-variable-甲", "echoed-variable-乙"]
ECHO_TEXT = "【测试】@var(name)，回显正文"


def echo(request: httpx.Request) -> httpx.Response:
    """A provider that fails and quotes the whole request back, in turn: 500, 400, junk."""
    echo.calls += 1  # type: ignore[attr-defined]
    body = request.content + b" " + str(request.url).encode()
    status = (500, 400, 200)[echo.calls % 3]  # type: ignore[attr-defined]
    return httpx.Response(status, content=b"<html>" + body)


@pytest.mark.asyncio
async def test_answers_quoting_the_request_stay_out_of_telemetry(
    otel: Otel, recorded: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    # Error messages quote the provider's answer, and this one quotes the request with its
    # numbers, variables, text and (sign_type="normal") the key: telemetry records none of
    # it, since it records errors by type and code only.
    echo.calls = 0  # type: ignore[attr-defined]
    async with AsyncSubmail(
        app_id="10001",
        app_key=ECHO_KEY,
        sign_type="normal",
        base_url="https://api.example.test",
        transport=httpx.MockTransport(echo),
        retry_policy=FAST,
    ) as client:
        people = [Recipient(p, {"name": v}) for p, v in zip(ECHO_PHONES, ECHO_VARS, strict=True)]
        for _ in range(3):
            with pytest.raises(CrowdSMSError) as raised:
                await client.sms.multisend(content=ECHO_TEXT, recipients=people)
            assert ECHO_PHONES[0] in str(raised.value) or ECHO_KEY in str(raised.value)
        report = await BatchSender(
            client.sms.multisend_chunks(content=ECHO_TEXT), chunk_size=1, chunk_retry=FAST_CHUNKS
        ).send(people)
        assert report.sent == 0

    strings: list[str] = []
    for span in otel.spans():
        strings.append(span.status.description or "")
        for value in (span.attributes or {}).values():
            strings += texts_of(value)
        for event in span.events:
            for value in (event.attributes or {}).values():
                strings += texts_of(value)
    for record in recorded.all():
        strings += [text for value in attrs.asdict(record).values() for text in texts_of(value)]
    strings += [r.getMessage() for r in caplog.records if r.name.startswith("crowdsms.telemetry")]
    assert any(text.startswith("crowdsms.errors.") for text in strings)  # errors were recorded
    forbidden = [ECHO_KEY, *ECHO_PHONES, *ECHO_VARS, "回显正文", "<html>", "example.test/"]
    assert sorted({secret for secret in forbidden for text in strings if secret in text}) == []
