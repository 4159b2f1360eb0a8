"""Reconciling a campaign with the delivery reports the sandbox pushes, then resending what no
report confirmed: shards run in this process (test_chaos.py runs them in Celery workers).

Faults are forced (the next requests fail so), so which chunks lose their answer is known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio

from crowdsms.batch import BatchOutcome
from crowdsms.campaign import Campaign, Claimed, Durability, RedisDeliveryStore
from crowdsms.deliveries import ReportRecorder, job_hash, parse_reference
from crowdsms.outcomes import DeliveryState, OutcomeStatus, RecipientOutcome
from crowdsms.providers._spec import MessageOptions
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.sandbox import Sandbox, SandboxSettings, serve_asgi, serve_in_thread
from crowdsms.webhooks import WebhookApp
from tests.campaign.reports import reports_pushed
from tests.waiting import wait_until

MESSAGE = MessageOptions(content="【测试】@var(name)，新品到货", columns=("name",))
ROWS = 120


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread(SandboxSettings(delivery_failure_rate=0.2)) as running:
        yield running


@pytest_asyncio.fixture
async def store(redis: redis.asyncio.Redis, sandbox: Sandbox) -> AsyncIterator[RedisDeliveryStore]:
    deliveries = RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS)
    options = sandbox.emulator("submail").webhook_options()
    app = WebhookApp(submail=SubmailWebhook(**options), on_event=ReportRecorder(deliveries))
    async with serve_asgi(app) as url:
        sandbox.configure(webhooks={"submail": url + "/submail"})
        yield deliveries


def write_input(path: Path) -> list[str]:
    phones = [f"138{i:08d}" for i in range(ROWS)]
    lines = ["phone,name", *(f"{phone},n{i}" for i, phone in enumerate(phones))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return phones


async def create(
    redis: redis.asyncio.Redis, tmp_path: Path, campaign_id: str, *, shard_rows: int
) -> tuple[list[str], Campaign]:
    """The input's numbers, and a campaign of it in chunks of 10 sent one at a time."""
    phones = write_input(tmp_path / "input.csv")
    campaign = await Campaign.create(
        redis,
        campaign_id=campaign_id,
        provider="submail",
        message=MESSAGE,
        path=tmp_path / "input.csv",
        shard_rows=shard_rows,
        chunk_size=10,
        concurrency=1,
    )
    return phones, campaign


async def pushed(sandbox: Sandbox) -> list[dict[str, str]]:
    """Every delivery report, once the sandbox has pushed one per message it sent."""
    return await reports_pushed(sandbox)


async def run_all(campaign: Campaign, sandbox: Sandbox, **options: object) -> None:
    for shard in (await campaign.manifest()).plan.shards:
        await campaign.run_shard(
            shard.index,
            credentials=sandbox.credentials("submail"),
            base_url=sandbox.base_url("submail"),
            **options,  # type: ignore[arg-type]
        )


async def outcomes(campaign: Campaign) -> list[BatchOutcome]:
    return [item async for item in campaign.outcomes()]


def statuses(items: list[BatchOutcome], status: str) -> set[str]:
    return {item.outcome.phone for item in items if item.status.value == status}


@pytest.mark.asyncio
async def test_reports_confirm_the_unknown_and_only_the_rest_is_resent(
    redis: redis.asyncio.Redis, sandbox: Sandbox, store: RedisDeliveryStore, tmp_path: Path
) -> None:
    phones, campaign = await create(redis, tmp_path, "promo", shard_rows=40)
    # the first request is processed but its answer lost; the second never arrives; the
    # third is processed and its answer lost again
    sandbox.force_fault("drop_after", provider="submail")
    sandbox.force_fault("drop", provider="submail")
    sandbox.force_fault("drop_after", provider="submail")
    await run_all(campaign, sandbox)
    before = await outcomes(campaign)
    unknown = statuses(before, "unknown")
    assert len(unknown) == 30
    ledger = [entry.phone or "" for entry in sandbox.ledger.entries(provider="submail")]
    assert len(ledger) == ROWS - 10
    reports = await pushed(sandbox)
    assert {r["address"] for r in reports} == set(ledger)

    stored = await store.reports(since=0)
    references = {parse_reference(report.reference) for report in stored}
    shards = {job_hash(campaign.job_id(shard)) for shard in range(3)}
    assert {(ref.job, ref.resend) for ref in references if ref} <= {(j, 0) for j in shards}
    assert None not in references  # every report names its shard's job and chunk

    summary = await campaign.reconcile()
    after = await outcomes(campaign)
    assert statuses(after, "unknown") == set(phones) - set(ledger)  # never processed
    assert statuses(after, "sent") == set(ledger)
    confirmed = {item.outcome.phone for item in after if item.outcome.confirmed}
    assert confirmed == unknown & set(ledger)
    events = Counter(r["events"] for r in reports)
    assert (summary.sent, summary.confirmed, summary.unknown) == (ROWS - 10, 20, 10)
    assert (summary.delivered, summary.undelivered) == (events["delivered"], events["dropped"])
    assert summary.awaiting == 0
    assert 0 < summary.undelivered < summary.delivered
    # a request event and a delivery report of each message
    assert (summary.reports, summary.unmatched_reports, summary.in_flight) == (
        2 * len(ledger),
        0,
        0,
    )
    undelivered = {
        item.outcome.phone
        for item in after
        if item.outcome.delivery is not None
        and item.outcome.delivery.state is DeliveryState.UNDELIVERED
    }
    assert undelivered == {r["address"] for r in reports if r["events"] == "dropped"}
    status = await campaign.status()
    assert status.deliveries == summary
    assert status.by_status == {"sent": ROWS - 10, "unknown": 10}
    assert await campaign.reconcile() == summary  # nothing more to change

    shards = await campaign.resume(resend_unconfirmed_after=0)
    assert shards == [0]  # the only shard with unknown recipients
    assert not (await campaign.status()).done
    await run_all(campaign, sandbox, resend_unconfirmed_after=0)
    final = await outcomes(campaign)
    assert statuses(final, "sent") == set(phones)
    resent = {item.outcome.phone for item in final if "sent again" in (item.outcome.message or "")}
    assert resent == set(phones) - set(ledger)  # the confirmed were not resent
    assert sorted(entry.phone for entry in sandbox.ledger.entries()) == sorted(phones)  # once
    assert (await campaign.status()).done
    await pushed(sandbox)
    again = await campaign.reconcile()
    assert (again.sent, again.unknown, again.awaiting) == (ROWS, 0, 0)
    resends = {
        report.phone: parse_reference(report.reference)
        for report in await store.reports(since=0)
        if report.phone in resent
    }
    assert {ref.resend if ref else None for ref in resends.values()} == {1}  # "cs1.<job>.0.1"
    assert again.delivered + again.undelivered == ROWS


@pytest.mark.asyncio
async def test_chunks_being_sent_or_resent_are_counted_in_flight_and_left_to_their_worker(
    redis: redis.asyncio.Redis, sandbox: Sandbox, store: RedisDeliveryStore, tmp_path: Path
) -> None:
    _, campaign = await create(redis, tmp_path, "busy", shard_rows=20)
    sandbox.force_fault("drop_after", provider="submail")  # shard 0's first chunk: unknown
    await run_all(campaign, sandbox)
    await pushed(sandbox)
    first = campaign.claims(0, Durability.FSYNC_ALWAYS)
    record = await first.chunk(0)
    assert record is not None
    # a worker is resending shard 0's first chunk; another sends shard 1's first chunk anew
    resend = await first.claim_resend(0, "resender", 0.5, expected=record.stored or b"")
    assert isinstance(resend, Claimed)
    second = campaign.claims(1, Durability.FSYNC_ALWAYS)
    await redis.delete(second.chunk_key(0))  # as if its first run were still sending it
    assert isinstance(await second.claim(0, "sender", 60), Claimed)

    busy = await campaign.reconcile()
    assert busy.in_flight == 20
    assert (busy.sent, busy.unknown, busy.recipients) == (ROWS - 20, 0, ROWS)
    after = await first.chunk(0)
    assert after is not None
    assert after.stored == record.stored  # left to the resender

    # the resender died: once its lease runs out, the reports confirm its recipients
    async def lease_ran_out() -> bool:
        return not (await first.chunk(0) or after).resending

    await wait_until(lease_ran_out, missing=lambda: "the resender's 0.5 s lease to run out")
    settled = await campaign.reconcile()
    assert (settled.in_flight, settled.confirmed, settled.unknown) == (10, 10, 0)


@pytest.mark.asyncio
async def test_a_live_or_dead_workers_chunk_counts_what_limits_kept_out_as_skipped(
    redis: redis.asyncio.Redis, sandbox: Sandbox, store: RedisDeliveryStore, tmp_path: Path
) -> None:
    phones, campaign = await create(redis, tmp_path, "kept", shard_rows=20)
    await run_all(campaign, sandbox)
    await pushed(sandbox)
    live = campaign.claims(0, Durability.FSYNC_ALWAYS)
    await redis.delete(live.chunk_key(0))  # as if a live worker were sending it
    held = RecipientOutcome(phone=phones[1], status=OutcomeStatus.SKIPPED, code="limited")
    assert isinstance(await live.claim(0, "live", 600, kept_out={1: held}), Claimed)
    busy = await campaign.reconcile()
    # the live worker's request carries 9 of its 10; the tenth is settled, skipped
    assert (busy.in_flight, busy.skipped, busy.unknown) == (9, 1, 0)

    claims = campaign.claims(1, Durability.FSYNC_ALWAYS)
    await redis.delete(claims.chunk_key(0))  # as if a worker that died had claimed it
    limited = RecipientOutcome(phone=phones[21], status=OutcomeStatus.SKIPPED, code="limited")
    assert isinstance(await claims.claim(0, "dead", 0.2, kept_out={1: limited}), Claimed)

    async def lease_ran_out() -> bool:
        record = await claims.chunk(0)
        return record is not None and (record.lease_left or 0) <= 0

    await wait_until(lease_ran_out, missing=lambda: "the dead worker's 0.2 s lease to run out")
    summary = await campaign.reconcile()
    # its other 9 were sent by the first run, whose reports confirm them
    assert (summary.sent, summary.skipped, summary.unknown, summary.in_flight) == (
        ROWS - 11,
        2,
        0,
        9,
    )
