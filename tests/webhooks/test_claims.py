"""A push's claim outlives slow handlers and a store that fails for a moment; late copies.

SUBMAIL signs only a token: while a push is being handled, and once it is, a copy with other
fields must not be handled. These drive WebhookApp with a store on a clock of the test's.
"""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest

from crowdsms.providers.sendcloud import SendCloudWebhook
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.webhooks import Event, MemoryReplayStore, WebhookApp
from crowdsms.webhooks import _app as app_module

from .pushes import (
    FORM,
    JSON,
    NOW,
    SENDCLOUD_KEY,
    SUBMAIL_KEY,
    as_json,
    form,
    sendcloud_fields,
    submail_fields,
)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Store(MemoryReplayStore):
    """A memory store on the test's clock that says when a claim is extended, and whose
    ``complete_push`` fails for the keys in ``broken`` (``failures`` times each, or always)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.extended = anyio.Event()
        self.broken: dict[str, int] = {}

    async def extend_push(self, key: str, *, owner: str, lease: float) -> bool:
        held = await super().extend_push(key, owner=owner, lease=lease)
        self.extended.set()
        return held

    async def complete_push(self, key: str, *, keep: float) -> None:
        left = self.broken.get(key, 0)
        if left:
            self.broken[key] = left - 1
            raise ConnectionError("the store is unreachable for a moment")
        await super().complete_push(key, keep=keep)


def submail_app(store: Store, on_event, **options) -> WebhookApp:
    receiver = SubmailWebhook(key=SUBMAIL_KEY, clock=lambda: float(NOW))
    return WebhookApp(submail=receiver, on_event=on_event, replay=store, **options)


def client_for(app: WebhookApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks")


def key_of(fields: dict[str, object]) -> str:
    receiver = SubmailWebhook(key=SUBMAIL_KEY, clock=lambda: float(NOW))
    (push,) = receiver.verify(list(JSON.items()), as_json(fields))
    assert push.key is not None
    return push.key


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "COMPLETE_BACKOFF", (0.0, 0.0, 0.0), raising=False)


@pytest.mark.asyncio
async def test_a_copy_arriving_after_the_lease_while_the_first_still_runs_is_not_handled():
    clock = Clock()
    store = Store(clock)
    lease = 0.06  # the claim is extended every lease / 3 of real time
    started, go_on = anyio.Event(), anyio.Event()
    calls: list[Event] = []

    async def slow(event: Event) -> None:
        calls.append(event)
        started.set()
        await go_on.wait()

    genuine = submail_fields("delivered", send_id="s1")
    forged = submail_fields("mo", address="13900009999", content="T")  # the same token
    answers: list[int] = []
    with anyio.fail_after(10):
        async with client_for(submail_app(store, slow, handling_lease=lease)) as client:

            async def first() -> None:
                response = await client.post("/submail", content=as_json(genuine), headers=JSON)
                answers.append(response.status_code)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(first)
                await started.wait()
                for _ in range(3):  # 1.8 leases of the store's time: the first claim ran out
                    clock.now += lease * 0.6
                    store.extended = anyio.Event()
                    await store.extended.wait()
                copy = await client.post("/submail", content=as_json(forged), headers=JSON)
                go_on.set()
    assert copy.status_code == 503
    assert answers == [200]
    assert len(calls) == 1
    assert store.handled(key_of(genuine))


@pytest.mark.asyncio
async def test_a_complete_that_fails_once_is_tried_again_and_a_forged_copy_is_not_handled():
    clock = Clock()
    store = Store(clock)
    genuine = submail_fields("delivered", send_id="s1", token="tok-9")
    forged = submail_fields("mo", address="13900009999", content="T", token="tok-9")
    store.broken[key_of(genuine)] = 1
    calls: list[Event] = []

    async def handle(event: Event) -> None:
        calls.append(event)

    async with client_for(submail_app(store, handle, handling_lease=300)) as client:
        ok = await client.post("/submail", content=as_json(genuine), headers=JSON)
        clock.now += 301  # the lease runs out
        replay = await client.post("/submail", content=as_json(forged), headers=JSON)
    assert (ok.status_code, ok.text) == (200, "success")
    assert (replay.status_code, replay.text) == (200, "success")  # acknowledged, not handled
    assert [type(event).__name__ for event in calls] == ["SubmailDelivered"]


@pytest.mark.asyncio
async def test_a_push_that_cannot_be_marked_handled_is_503_and_every_key_is_tried(caplog):
    clock = Clock()
    store = Store(clock)
    one = submail_fields("delivered", send_id="s1", token="a" * 32)
    two = submail_fields("delivered", send_id="s2", token="b" * 32)
    store.broken[key_of(one)] = 10**6  # down for good
    calls: list[Event] = []

    async def handle(event: Event) -> None:
        calls.append(event)

    caplog.set_level(logging.INFO, logger="crowdsms.webhooks")
    async with client_for(submail_app(store, handle)) as client:
        response = await client.post("/submail", content=as_json([one, two]), headers=JSON)
    assert response.status_code == 503  # not the acknowledgement: the provider retries
    assert "retry-after" in response.headers
    assert store.handled(key_of(two))  # the other push of the request was marked handled
    assert len(calls) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("could not mark" in r.getMessage() for r in errors)
    logged = caplog.text
    for fields in (one, two):
        assert str(fields["signature"]) not in logged
        assert str(fields["token"]) not in logged


def sendcloud_app(clock: Clock, store: MemoryReplayStore, on_event) -> WebhookApp:
    receiver = SendCloudWebhook(key=SENDCLOUD_KEY, clock=clock)
    return WebhookApp(sendcloud=receiver, on_event=on_event, replay=store)


@pytest.mark.asyncio
async def test_a_late_retry_of_a_handled_sendcloud_push_is_acknowledged_not_handled():
    clock = Clock()
    calls: list[Event] = []

    async def handle(event: Event) -> None:
        calls.append(event)

    handled = sendcloud_fields("deliver", smsId="1$13800138000", phone="13800138000")
    never = sendcloud_fields("deliver", smsId="2$13800138001", token="other-token-" * 4)
    forged = {**handled, "signature": "0" * 64}
    async with client_for(sendcloud_app(clock, MemoryReplayStore(), handle)) as client:
        first = await client.post("/sendcloud", content=form(handled), headers=FORM)
        clock.now += 11 * 60  # the provider retries 11 minutes later (its 200 was lost)
        again = await client.post("/sendcloud", content=form(handled), headers=FORM)
        late = await client.post("/sendcloud", content=form(never), headers=FORM)
        bad = await client.post("/sendcloud", content=form(forged), headers=FORM)
        mixed = await client.post("/sendcloud", content=as_json([handled, never]), headers=JSON)
    assert first.status_code == 200
    assert (again.status_code, again.text) == (200, "success")
    assert len(calls) == 1
    assert late.status_code == 403  # a late push never handled is refused as before
    assert "old" in late.text
    assert bad.status_code == 403
    assert "signature" in bad.text  # the signature is checked before the timestamp
    assert mixed.status_code == 403  # one of its pushes was never handled
