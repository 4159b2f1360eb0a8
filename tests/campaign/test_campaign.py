"""A campaign on a real Redis against the sandbox: one outcome per row, nothing sent twice.

Shards run in this process here (the Celery tests run them in worker processes): several
runs of the same shard at once stand for a shard the engine delivered twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
import redis.asyncio

from crowdsms import Recipient
from crowdsms.campaign import Campaign, CampaignNotFoundError
from crowdsms.providers._spec import MessageOptions
from crowdsms.sandbox import Sandbox, serve_in_thread

CONTENT = "【测试】@var(name)，您的验证码是 @var(code)"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread() as running:
        yield running


def write_input(path: Path, rows: int) -> tuple[Path, dict[int, str]]:
    """``rows`` recipients with 1% invalid and 1% duplicates (of earlier rows, any shard)."""
    expected: dict[int, str] = {}
    lines = ["phone,name,code"]
    for position in range(rows):
        if position % 100 == 7:
            phone, expected[position] = "12345", "invalid"
        elif position % 100 == 42 and position > 100:
            phone, expected[position] = f"1380{position - 97:07d}", "duplicate"
        else:
            phone = f"1380{position:07d}"
        lines.append(f"{phone},n{position},{position % 10000}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, expected


async def create(redis: redis.asyncio.Redis, path: Path, **options: object) -> Campaign:
    return await Campaign.create(
        redis,
        campaign_id="promo",
        provider="submail",
        message=MessageOptions(content=CONTENT, columns=("name", "code")),
        path=path,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_every_row_gets_one_outcome_and_no_phone_is_sent_twice(
    redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    path, expected = write_input(tmp_path / "input.csv", 2000)
    campaign = await create(redis, path, shard_rows=300, chunk_size=20)
    manifest = await campaign.manifest()
    assert len(manifest.plan.shards) == 7
    credentials = sandbox.credentials("submail")
    base_url = sandbox.base_url("submail")
    async with anyio.create_task_group() as group:
        for shard in manifest.plan.shards:
            for _ in range(2):  # every shard delivered twice, both runs at once
                group.start_soon(
                    lambda index=shard.index: campaign.run_shard(
                        index, credentials=credentials, base_url=base_url
                    )
                )
    status = await campaign.status()
    assert status.done
    assert status.chunks_started == 0
    outcomes = [item async for item in campaign.outcomes()]
    assert [item.position for item in outcomes] == list(range(2000))
    skipped = {
        item.position: item.outcome.code for item in outcomes if item.status.value == "skipped"
    }
    assert skipped == expected
    phones = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert len(phones) == 2000 - len(expected)
    assert [phone for phone, count in Counter(phones).items() if count > 1] == []
    sent = {item.phone for item in outcomes if item.status.value == "sent"}
    assert sent == set(phones)


@pytest.mark.asyncio
async def test_submitting_the_same_campaign_again_sends_nothing_more(
    redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 300)
    credentials, base_url = sandbox.credentials("submail"), sandbox.base_url("submail")
    first = await create(redis, path, shard_rows=100)
    for shard in range(3):
        await first.run_shard(shard, credentials=credentials, base_url=base_url)
    sent = len(sandbox.ledger.entries())
    again = await create(redis, path, shard_rows=50)  # the first plan is kept
    assert len((await again.manifest()).plan.shards) == 3
    for shard in range(3):
        await again.run_shard(shard, credentials=credentials, base_url=base_url)
    assert len(sandbox.ledger.entries()) == sent


@pytest.mark.asyncio
async def test_recipients_pushed_by_the_coordinator(
    redis: redis.asyncio.Redis, sandbox: Sandbox
) -> None:
    from crowdsms import Recipient

    phones = [f"1390{i:07d}" for i in range(250)] + ["13900000003", "bad"]
    recipients = [Recipient(phone, {"name": "n", "code": "1"}) for phone in phones]
    campaign = await Campaign.create(
        redis,
        campaign_id="pushed",
        provider="submail",
        message=MessageOptions(content=CONTENT, columns=("name", "code")),
        recipients=recipients,
        shard_rows=100,
        chunk_size=25,
    )
    manifest = await campaign.manifest()
    assert [shard.rows for shard in manifest.plan.shards] == [100, 100, 52]
    for shard in manifest.plan.shards:
        await campaign.run_shard(
            shard.index,
            credentials=sandbox.credentials("submail"),
            base_url=sandbox.base_url("submail"),
        )
    outcomes = [item async for item in campaign.outcomes()]
    assert [item.position for item in outcomes] == list(range(252))
    assert [item.outcome.code for item in outcomes[250:]] == ["duplicate", "invalid"]
    assert len(sandbox.ledger.entries()) == 250
    with pytest.raises(Exception, match="not both"):
        await Campaign.create(
            redis,
            campaign_id="neither",
            provider="submail",
            message=MessageOptions(content=CONTENT),
        )


@pytest.mark.asyncio
async def test_two_coordinators_pushing_the_same_campaign_at_once_keep_their_rows_apart(
    redis: redis.asyncio.Redis, sandbox: Sandbox
) -> None:
    rows = 600
    both_pushing = anyio.Event()
    started = 0

    async def recipients() -> AsyncIterator[Recipient]:
        nonlocal started
        started += 1
        if started == 2:
            both_pushing.set()
        for position in range(rows):
            if position == rows // 2:
                await both_pushing.wait()  # the two plans' pages interleave from here
            if position % 50 == 0:
                await anyio.lowlevel.checkpoint()
            yield Recipient(f"1380{position:07d}", {"n": str(position)})

    async def create() -> None:
        await Campaign.create(
            redis,
            campaign_id="twice",
            provider="submail",
            message=MessageOptions(content="【测试】@var(n)", columns=("n",)),
            recipients=recipients(),
            shard_rows=rows,
            chunk_size=50,
        )

    async with anyio.create_task_group() as group:
        group.start_soon(create)
        group.start_soon(create)
    campaign = Campaign(redis, "twice")
    left = [key async for key in redis.scan_iter(f"{campaign._base}:rows:*")]
    assert len(left) == 1  # the winning plan's one shard; the other plan's rows are gone
    await campaign.run_shard(
        0, credentials=sandbox.credentials("submail"), base_url=sandbox.base_url("submail")
    )
    outcomes = [outcome async for outcome in campaign.outcomes()]
    assert [item.outcome.phone for item in outcomes] == [f"1380{p:07d}" for p in range(rows)]
    assert {item.status.value for item in outcomes} == {"sent"}
    assert sorted(entry.phone for entry in sandbox.ledger.entries()) == [
        f"1380{p:07d}" for p in range(rows)
    ]


@pytest.mark.asyncio
async def test_a_shard_stopped_by_a_job_wide_error_is_not_done_and_resumes(
    redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "input.csv"
    path.write_text("phone\n" + "".join(f"1380{i:07d}\n" for i in range(100)), encoding="utf-8")
    campaign = await Campaign.create(
        redis,
        campaign_id="stopped",
        provider="submail",
        message=MessageOptions(content="【测试】您好"),
        path=path,
        chunk_size=20,
        concurrency=1,
        shard_rows=100,
    )
    good = dict(sandbox.credentials("submail"))
    wrong = {**good, "app_key": "0" * len(str(good["app_key"]))}  # every chunk is refused
    base_url = sandbox.base_url("submail")
    report = await campaign.run_shard(0, credentials=wrong, base_url=base_url)
    assert report.stopped is not None
    status = await campaign.status()
    assert status.shards_done == 0
    assert list(status.stopped) == [0]
    assert sandbox.ledger.entries() == []

    assert await campaign.resume() == [0]
    assert (await campaign.status()).stopped == {}
    again = await campaign.run_shard(0, credentials=good, base_url=base_url)
    assert again.stopped is None
    status = await campaign.status()
    assert status.shards_done == 1
    # The refused chunk keeps its outcomes (a campaign does not reopen failed chunks); the
    # chunks the stop left unsent are sent, once each.
    assert status.by_status["sent"] == 80
    assert status.by_status["failed"] == 20
    assert len(sandbox.ledger.entries()) == 80
    assert len([outcome async for outcome in campaign.outcomes()]) == 100

    # A run stopped while another run of the shard finished it records its stop last: the
    # shard is done, not stopped.
    await redis.hset(campaign.stopped_key, "0", str(report.stopped))
    status = await campaign.status()
    assert status.stopped == {}
    assert status.shards_done == 1


@pytest.mark.asyncio
async def test_a_cancelled_campaigns_shards_send_nothing(
    redis: redis.asyncio.Redis,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 400)
    campaign = await create(redis, path, shard_rows=40, chunk_size=10)
    await campaign.cancel()
    original = Campaign.cancelled

    async def slow_answer(self: Campaign) -> bool:
        await anyio.sleep(0.3)  # the store answers late: the job must not start meanwhile
        return await original(self)

    monkeypatch.setattr(Campaign, "cancelled", slow_answer)
    credentials, base_url = sandbox.credentials("submail"), sandbox.base_url("submail")
    reports = []
    async with anyio.create_task_group() as group:
        for shard in range(10):

            async def run(index: int = shard) -> None:
                reports.append(
                    await campaign.run_shard(index, credentials=credentials, base_url=base_url)
                )

            group.start_soon(run)
    assert all(report.interrupted for report in reports)
    assert sum(report.sent for report in reports) == 0
    assert sandbox.ledger.entries() == []


@pytest.mark.asyncio
async def test_cancelling_an_unknown_campaign_is_refused_and_changes_nothing(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 10)
    campaign = await create(redis, path)
    typo = Campaign(redis, "pronio")
    with pytest.raises(CampaignNotFoundError, match="no campaign 'pronio'") as caught:
        await typo.cancel()
    assert caught.value.suggestion == "promo"
    assert not await redis.exists(typo.cancel_key)
    assert not await campaign.cancelled()
    assert await Campaign.ids(redis) == ["promo"]


@pytest.mark.asyncio
async def test_a_campaign_created_under_a_deleted_ones_id_starts_afresh(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 10)
    campaign = await create(redis, path)
    await campaign.delete()
    # what a cancel, a stopped run and a finished run of the deleted campaign could write
    # after its keys were deleted
    await redis.set(campaign.cancel_key, "1")
    await redis.hset(campaign.stopped_key, "0", "the key was wrong")
    await redis.hset(campaign.shards_key, "0", '{"sent": 10}')
    await redis.set(campaign.target_key, '{"account": "sandbox"}')  # where it sent
    campaign = await create(redis, path)
    status = await campaign.status()
    assert not status.cancelled
    assert status.stopped == {}
    assert status.shards_done == 0
    assert not await redis.exists(campaign.target_key)


@pytest.mark.asyncio
async def test_a_shard_run_stops_once_its_campaign_is_deleted_even_if_created_again(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    """A run of the deleted campaign must not claim the chunks of a new one of the same id
    (they would be replayed as done by the new campaign's runs, never sent)."""
    path, _ = write_input(tmp_path / "input.csv", 10)
    campaign = await create(redis, path)
    began_with = await redis.get(campaign.manifest_key)
    assert began_with is not None
    planned = campaign._planned_as(began_with)  # what each shard run checks
    assert await planned()
    await campaign.delete()
    assert not await planned()
    await create(redis, path)
    assert await redis.exists(campaign.manifest_key)
    assert not await planned()


@pytest.mark.asyncio
async def test_a_cancel_racing_a_delete_leaves_no_key_behind(
    redis: redis.asyncio.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 10)
    campaign = await create(redis, path)
    scan_iter = redis.scan_iter
    refused: list[bool] = []

    async def scan_then_cancel(*args: object, **kwargs: object) -> AsyncIterator[object]:
        async for key in scan_iter(*args, **kwargs):  # type: ignore[arg-type]
            yield key
        monkeypatch.setattr(redis, "scan_iter", scan_iter)  # once
        try:  # the cancel arrives once the delete has scanned its keys
            await Campaign(redis, "promo").cancel()
        except CampaignNotFoundError:
            refused.append(True)

    monkeypatch.setattr(redis, "scan_iter", scan_then_cancel)
    assert await campaign.delete() > 0
    assert refused
    assert [key async for key in redis.scan_iter("*promo*")] == []
