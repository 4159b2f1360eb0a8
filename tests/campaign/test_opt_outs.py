"""Opt-outs across campaigns: a "stop" reply pushed by the sandbox to a served WebhookApp is
recorded in the campaign store, and the next campaign skips the number (``opted_out``).

Shards run in this process (the Celery tests run them in worker processes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio

from crowdsms.batch import BatchOutcome
from crowdsms.campaign import Campaign, Durability, RedisDeliveryStore
from crowdsms.deliveries import ReportRecorder
from crowdsms.providers._spec import MessageOptions
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.sandbox import PushRecord, Sandbox, serve_asgi, serve_in_thread
from crowdsms.webhooks import WebhookApp
from tests.waiting import wait_until

MESSAGE = MessageOptions(content="【测试】@var(name)，新品到货", columns=("name",))
STOPPED = "13800000007"
LATER = "13800000011"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread() as running:
        yield running


@pytest_asyncio.fixture
async def store(redis: redis.asyncio.Redis, sandbox: Sandbox) -> AsyncIterator[RedisDeliveryStore]:
    """The campaign store's delivery records, fed by a WebhookApp the sandbox pushes to."""
    deliveries = RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS)
    options = sandbox.emulator("submail").webhook_options()
    app = WebhookApp(submail=SubmailWebhook(**options), on_event=ReportRecorder(deliveries))
    async with serve_asgi(app) as url:
        sandbox.configure(webhooks={"submail": url + "/submail"})
        yield deliveries


async def reply(sandbox: Sandbox, store: RedisDeliveryStore, phone: str, text: str) -> None:
    """A reply from ``phone``, pushed by the sandbox; returns once it is recorded."""
    pushed = len(sandbox.webhook_records)
    sandbox.add_reply("submail", phone, text)

    def replies() -> list[PushRecord]:
        return [r for r in sandbox.webhook_records[pushed:] if r.push.kind == "reply"]

    await wait_until(lambda: bool(replies()), missing=lambda: f"the push of {phone}'s reply")
    assert all(record.delivered for record in replies()), replies()


def write_input(path: Path) -> Path:
    phones = [f"138{i:08d}" for i in range(30)] + [STOPPED]  # the last one twice
    lines = ["phone,name", *(f"{phone},n{i}" for i, phone in enumerate(phones))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run(
    redis: redis.asyncio.Redis, sandbox: Sandbox, path: Path, campaign_id: str, **options: object
) -> list[BatchOutcome]:
    campaign = await Campaign.create(
        redis,
        campaign_id=campaign_id,
        provider="submail",
        message=MESSAGE,
        path=path,
        shard_rows=10,
        chunk_size=4,
        **options,  # type: ignore[arg-type]
    )
    return await finish(campaign, sandbox)


async def finish(campaign: Campaign, sandbox: Sandbox) -> list[BatchOutcome]:
    manifest = await campaign.manifest()
    for shard in manifest.plan.shards:
        await campaign.run_shard(
            shard.index,
            credentials=sandbox.credentials("submail"),
            base_url=sandbox.base_url("submail"),
        )
    return [item async for item in campaign.outcomes()]


def ledger(sandbox: Sandbox) -> list[str]:
    return [entry.phone or "" for entry in sandbox.ledger.entries(provider="submail")]


@pytest.mark.asyncio
async def test_a_stop_reply_makes_the_next_campaign_skip_the_number(
    redis: redis.asyncio.Redis, sandbox: Sandbox, store: RedisDeliveryStore, tmp_path: Path
) -> None:
    path = write_input(tmp_path / "input.csv")
    await reply(sandbox, store, STOPPED, "退订")
    await reply(sandbox, store, "13800000008", "T恤还有吗")  # a question, not a stop
    assert await store.opted_out() == {STOPPED}

    outcomes = await run(redis, sandbox, path, "next")
    skipped = {item.position: item.outcome.code for item in outcomes if item.outcome.code}
    assert skipped == {7: "opted_out", 30: "duplicate"}
    assert "honour_opt_outs=False" in (outcomes[7].outcome.message or "")
    assert STOPPED not in ledger(sandbox)
    assert len(ledger(sandbox)) == 29

    # a message the recipient expects regardless (a verification code) goes to them anyway
    codes = await run(redis, sandbox, path, "codes", honour_opt_outs=False)
    assert outcomes[7].outcome.code == "opted_out"
    assert codes[7].status.value == "sent"
    assert ledger(sandbox).count(STOPPED) == 1


@pytest.mark.asyncio
async def test_every_run_of_a_campaign_skips_the_numbers_opted_out_when_it_was_created(
    redis: redis.asyncio.Redis, sandbox: Sandbox, store: RedisDeliveryStore, tmp_path: Path
) -> None:
    path = write_input(tmp_path / "input.csv")
    await reply(sandbox, store, STOPPED, "TD")
    campaign = await Campaign.create(
        redis,
        campaign_id="fixed",
        provider="submail",
        message=MESSAGE,
        path=path,
        shard_rows=10,
        chunk_size=4,
    )
    # after the campaign was created: one opts in again, another opts out; neither changes
    # what this campaign skips (its chunks must stay as its first run cut them)
    assert await store.opt_in([STOPPED]) == 1
    await reply(sandbox, store, LATER, "R")
    outcomes = await finish(campaign, sandbox)
    by_phone = {item.input_phone: item.outcome.code for item in outcomes[:30]}
    assert by_phone[STOPPED] == "opted_out"
    assert by_phone[LATER] is None
    assert LATER in ledger(sandbox)
    assert STOPPED not in ledger(sandbox)
    # the next campaign sees the list as it is now
    later = await run(redis, sandbox, path, "after")
    assert {item.input_phone for item in later if item.outcome.code == "opted_out"} == {LATER}
