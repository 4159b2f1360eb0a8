"""A push handled once is never handled again by another worker or after a restart.

SUBMAIL signs only ``md5(token + key)``: a captured push's token and signature can carry any
fields and a fresh timestamp. Only the replay memory stops that, so it must be shared and
survive restarts: the SQLite delivery store keeps it in the journal file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import httpx
import pytest

from crowdsms.deliveries import SQLiteDeliveryStore
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.webhooks import WebhookApp
from tests.webhooks.pushes import (
    JSON,
    SUBMAIL_KEY,
    check_a_captured_push_is_not_handled_again,
    live_submail_push,
    post_to_new_app,
    submail_signature,
)


@pytest.mark.asyncio
async def test_a_captured_push_is_not_handled_after_a_restart_or_by_another_worker(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    first = await SQLiteDeliveryStore.open(path)
    try:
        assert (await post_to_new_app(first, live_submail_push("tok-1"))).status_code == 200
    finally:
        await first.aclose()  # the process stops

    restarted, worker = await SQLiteDeliveryStore.open(path), await SQLiteDeliveryStore.open(path)
    try:
        await check_a_captured_push_is_not_handled_again(restarted, worker)
    finally:
        await restarted.aclose()
        await worker.aclose()


@pytest.mark.asyncio
async def test_a_push_whose_handling_failed_is_handled_on_retry_by_another_worker(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    store = await SQLiteDeliveryStore.open(path)
    try:

        async def broken(event: object) -> None:
            raise RuntimeError("disk full")

        app = WebhookApp(submail=SubmailWebhook(key=SUBMAIL_KEY), on_event=broken, replay=store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
            failed = await client.post("/submail", content=live_submail_push("tok-2"), headers=JSON)
        assert failed.status_code == 500
        retried = await post_to_new_app(store, live_submail_push("tok-2"))
        assert retried.status_code == 200
        assert [r.phone for r in await store.reports(since=0)] == ["13800138000"]
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_the_journal_keeps_a_hash_of_each_signature_not_the_signature(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    store = await SQLiteDeliveryStore.open(path)
    try:
        assert (await post_to_new_app(store, live_submail_push("tok-3"))).status_code == 200
    finally:
        await store.aclose()
    signature = submail_signature("tok-3")
    with contextlib.closing(sqlite3.connect(path)) as db:
        [(key, owner)] = db.execute("SELECT key, owner FROM webhook_pushes").fetchall()
    assert key.startswith("submail:")
    assert signature not in key
    assert owner is None  # handled
