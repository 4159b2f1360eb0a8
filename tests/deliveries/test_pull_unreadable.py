"""``pull_into`` neither counts nor silently drops the items a client could not read."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from crowdsms.deliveries import SQLiteDeliveryStore, UnreadablePulledError, pull_into
from crowdsms.webhooks import Event, ReplyEvent, UnknownEvent
from tests.batch.fakes import phone_at


@pytest.mark.asyncio
async def test_unreadable_pulled_items_are_raised_after_the_rest_is_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreadable = UnknownEvent(provider="paasw", kind="mo", raw={"mobile": phone_at(7)})
    batches: list[Sequence[Event]] = [
        [
            ReplyEvent(provider="paasw", kind="mo", phone=phone_at(1), content="hello"),
            unreadable,
        ],
        [ReplyEvent(provider="paasw", kind="mo", phone=phone_at(2), content="T")],
        [],
    ]

    async def pull(sign: str | None) -> Sequence[Event]:
        return batches.pop(0)

    store = await SQLiteDeliveryStore.open(tmp_path / "job.sqlite")
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(UnreadablePulledError) as raised:
            await pull_into(pull, store)
        assert raised.value.pulled == 2
        assert raised.value.events == (unreadable,)
        assert not batches  # every batch was pulled and stored before the error
        assert {reply.phone for reply in await store.replies()} == {phone_at(1), phone_at(2)}
        assert await store.opted_out() == {phone_at(2)}
    finally:
        await store.aclose()
    assert "1 pulled item(s) could not be read" in caplog.text
    assert phone_at(7) not in caplog.text
    assert phone_at(7) not in str(raised.value)
