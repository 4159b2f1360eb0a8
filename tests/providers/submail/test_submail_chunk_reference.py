"""The multisend chunk sender's ``reference``: sent as the unsigned ``tag``, repeated by SUBHOOK."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
import pytest_asyncio
import respx

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.submail import (
    AsyncSubmail,
    SubmailDelivered,
    SubmailDropped,
    SubmailWebhook,
)
from crowdsms.sandbox import Sandbox, SandboxSettings, serve, serve_asgi
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY, SUBMAIL_SUBHOOK_KEY
from crowdsms.webhooks import DeliveryEvent, WebhookApp

BASE = "https://api-v4.mysubmail.com"
APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"
CONTENT = "【SUBMAIL】@var(name)，您的取货码为 @var(code)"
RECIPIENTS = [
    Recipient("13800138001", {"name": "a", "code": "1"}),
    Recipient("13800138002", {"name": "b", "code": "2"}),
]
ANSWER = [
    {"status": "success", "to": "13800138001", "send_id": "s1", "fee": 1},
    {"status": "success", "to": "13800138002", "send_id": "s2", "fee": 1},
]


def sent_body(route: respx.Route) -> dict[str, str]:
    body: dict[str, str] = json.loads(route.calls.last.request.content)
    return body


@pytest.mark.asyncio
async def test_the_sender_declares_it_supports_a_reference(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
    assert sender.supports_reference is True
    assert getattr(sender, "supports_reference", False) is True


@pytest.mark.asyncio
async def test_the_reference_is_sent_as_the_tag_in_place_of_the_configured_one(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT, tag="configured")
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(json=ANSWER)
            outcomes = await sender.send_chunk(RECIPIENTS, reference="job-7:chunk-3")
            with_reference = sent_body(route)
            await sender.send_chunk(RECIPIENTS)
            without_reference = sent_body(route)
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 2
    assert with_reference["tag"] == "job-7:chunk-3"
    assert "configured" not in route.calls[0].request.content.decode()
    assert [item["to"] for item in json.loads(with_reference["multi"])] == [
        "13800138001",
        "13800138002",
    ]
    # Without a reference, the configured tag goes out as before.
    assert without_reference["tag"] == "configured"


@pytest.mark.asyncio
async def test_without_a_reference_or_a_configured_tag_no_tag_is_sent(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(json=ANSWER)
            await sender.send_chunk(RECIPIENTS, reference=None)
    assert "tag" not in sent_body(route)


@pytest.mark.asyncio
async def test_the_reference_is_not_signed(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(sign_type="md5") as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json").respond(json=ANSWER)
            await sender.send_chunk(RECIPIENTS, reference="first")
            first = sent_body(route)
            await sender.send_chunk(RECIPIENTS, reference="second")
            second = sent_body(route)
    assert (first["tag"], second["tag"]) == ("first", "second")
    assert first["timestamp"] == second["timestamp"]  # the clock stands still
    # sign_version 2 leaves out tag, content and multi: only the auth fields are signed.
    signed = f"appid={APP_ID}&sign_type=md5&sign_version=2&timestamp={first['timestamp']}".encode()
    secret = f"{APP_ID}{APP_KEY}".encode()
    expected = hashlib.md5(secret + signed + secret).hexdigest()
    assert first["signature"] == second["signature"] == expected


@pytest.mark.asyncio
async def test_a_reference_longer_than_32_characters_is_refused_before_sending(
    make_client: Callable[..., AsyncSubmail],
) -> None:
    async with make_client() as client:
        sender = client.sms.multisend_chunks(content=CONTENT)
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            route = mock.post("/sms/multisend.json").respond(json=ANSWER)
            with pytest.raises(InvalidInputError) as info:
                await sender.send_chunk(RECIPIENTS, reference="r" * 33)
            await sender.send_chunk(RECIPIENTS, reference="r" * 32)
    assert info.value.field == "reference"
    assert "33 characters" in str(info.value)
    assert route.call_count == 1
    assert sent_body(route)["tag"] == "r" * 32


# -- through the sandbox: SUBHOOK repeats the reference in every report -----------------------


class Reports:
    """Collects pushed delivery events; ``wait_for(n)`` returns once ``n`` arrived."""

    def __init__(self) -> None:
        self.events: list[DeliveryEvent] = []
        self._arrived = anyio.Event()

    async def __call__(self, event: DeliveryEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, count: int) -> list[DeliveryEvent]:
        with anyio.fail_after(10):
            while len(self.events) < count:
                self._arrived = anyio.Event()
                await self._arrived.wait()
        return self.events


@pytest_asyncio.fixture
async def pushed() -> AsyncIterator[tuple[Sandbox, Reports]]:
    reports = Reports()
    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_SUBHOOK_KEY), handlers={DeliveryEvent: reports}
    )
    async with serve_asgi(app, host="127.0.0.1", port=0) as url:
        settings = SandboxSettings(webhooks={"submail": url + "/submail"})
        async with serve(settings) as sandbox:
            yield sandbox, reports


@pytest.mark.asyncio
async def test_every_pushed_report_of_the_chunk_carries_its_reference(
    pushed: tuple[Sandbox, Reports],
) -> None:
    sandbox, reports = pushed
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=sandbox.base_url("submail")
    ) as client:
        sender = client.sms.multisend_chunks(content="【沙箱】@var(name) @var(code)", tag="job")
        outcomes = await sender.send_chunk(RECIPIENTS, reference="job-7:chunk-3")
        events = await reports.wait_for(len(RECIPIENTS))
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 2
    assert sorted(e.phone for e in events) == [r.phone for r in RECIPIENTS]
    assert {e.message_id for e in events} == {o.message_id for o in outcomes}
    tags = [e.tag for e in events if isinstance(e, (SubmailDelivered, SubmailDropped))]
    assert tags == ["job-7:chunk-3"] * len(RECIPIENTS)
