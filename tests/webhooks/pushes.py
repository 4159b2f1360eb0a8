"""Hand-built, hand-signed pushes, signed here with hashlib/hmac (never by crowdsms)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import httpx

from crowdsms.deliveries import ReportRecorder
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.webhooks import WebhookApp

if TYPE_CHECKING:
    from crowdsms.campaign import RedisDeliveryStore
    from crowdsms.deliveries import SQLiteDeliveryStore

NOW = 1_700_000_000
"""The tests' fixed clock: 2023-11-14 22:13:20 UTC."""

SUBMAIL_KEY = "test-subhook-key-7f3a"
SENDCLOUD_KEY = "test-sendcloud-app-key-91c2"

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def clock() -> float:
    return float(NOW)


def submail_signature(token: str, key: str = SUBMAIL_KEY) -> str:
    return hashlib.md5((token + key).encode()).hexdigest()


def sendcloud_signature(timestamp: str, token: str, key: str = SENDCLOUD_KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def submail_fields(
    events: str = "delivered",
    *,
    token: str = "067ef7e2f286a9a56eabb07dc9657852",  # noqa: S107 (a random push token)
    timestamp: int | str | None = NOW,
    key: str = SUBMAIL_KEY,
    **extra: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"events": events, **extra}
    if timestamp is not None:
        fields["timestamp"] = timestamp
    fields["token"] = token
    fields["signature"] = submail_signature(token, key)
    return fields


def sendcloud_fields(
    event: str = "deliver",
    *,
    token: str = "Xk3lQ0v8b2TqLwRz5mNcYpA7sJd1FhGu9eKiO4tBy6VxWnE0aZ",  # noqa: S107
    timestamp: int | str = NOW * 1000,
    key: str = SENDCLOUD_KEY,
    **extra: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"event": event, **extra}
    fields["timestamp"] = timestamp
    fields["token"] = token
    fields["signature"] = sendcloud_signature(str(timestamp), token, key)
    return fields


def form(fields: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({k: str(v) for k, v in fields.items()}).encode()


def as_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def live_submail_push(token: str, **fields: str) -> bytes:
    """A SUBMAIL ``delivered`` push signed with :data:`SUBMAIL_KEY`, dated now (for an app on
    the real clock); ``fields`` change or add fields (a forged copy keeps the token)."""
    values: dict[str, Any] = {"events": "delivered", "address": "13800138000", "send_id": "s1"}
    values.update(fields)
    events = values.pop("events")
    timestamp = str(int(time.time()))
    return as_json(submail_fields(events, token=token, timestamp=timestamp, **values))


async def post_to_new_app(
    store: SQLiteDeliveryStore | RedisDeliveryStore, body: bytes
) -> httpx.Response:
    """One SUBMAIL push to a new WebhookApp (a restarted process, another worker) recording
    into ``store``, which is its replay store too."""
    receiver = SubmailWebhook(key=SUBMAIL_KEY)
    app = WebhookApp(submail=receiver, on_event=ReportRecorder(store), replay=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
        return await client.post("/submail", content=body, headers=JSON)


async def check_a_captured_push_is_not_handled_again(
    restarted: SQLiteDeliveryStore | RedisDeliveryStore,
    worker: SQLiteDeliveryStore | RedisDeliveryStore,
) -> None:
    """After push ``tok-1`` was handled on a store: its copy to ``restarted`` is only
    acknowledged, and a forged copy (same token, a ``mo`` "T" from another number) to
    ``worker`` is never handled: no opt-out, no reply, one report."""
    again = await post_to_new_app(restarted, live_submail_push("tok-1"))
    forged = live_submail_push("tok-1", events="mo", address="13900009999", content="T")
    replayed = await post_to_new_app(worker, forged)
    assert (again.status_code, again.text) == (200, "success")  # acknowledged, not handled
    assert replayed.status_code == 200
    assert await worker.opted_out() == frozenset()  # the forged "T" was never handled
    assert await worker.replies() == []
    assert [report.phone for report in await worker.reports(since=0)] == ["13800138000"]
