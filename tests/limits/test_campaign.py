"""A campaign with per-number limits, on a real Redis against the sandbox.

A verification-code service sharing the campaign's keys sent to some numbers just before:
the campaign skips them, and every shard run twice at once still sends each other number once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import attrs
import pytest
import redis.asyncio

from crowdsms.batch import NUMBER_LIMITED
from crowdsms.campaign import Campaign
from crowdsms.campaign._campaign import Manifest
from crowdsms.campaign._plan import CampaignPlan
from crowdsms.limits import NumberLimits, RedisNumberLimiter
from crowdsms.providers._spec import MessageOptions
from crowdsms.sandbox import Sandbox, serve_in_thread

CONTENT = "【测试】@var(name)，新品到货"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread() as running:
        yield running


@pytest.mark.asyncio
async def test_a_campaign_skips_numbers_another_sender_just_used(
    redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "input.csv"
    phones = [f"1380{i:07d}" for i in range(300)]
    path.write_text(
        "phone,name\n" + "".join(f"{p},n{i}\n" for i, p in enumerate(phones)), encoding="utf-8"
    )
    campaign = await Campaign.create(
        redis,
        campaign_id="limited",
        provider="submail",
        message=MessageOptions(content=CONTENT, columns=("name",)),
        path=path,
        shard_rows=100,
        chunk_size=20,
        per_number=NumberLimits(),
    )
    manifest = await campaign.manifest()
    assert manifest.per_number == "1/m,5/h,10/d"
    credentials = sandbox.credentials("submail")
    limiter = campaign.number_limiter(manifest, credentials)
    assert isinstance(limiter, RedisNumberLimiter)
    assert limiter.prefix == f"crowdsms:numbers:submail:{credentials['app_id']}"

    # the verification-code service, on the same keys, sent to 30 of the numbers (and to
    # every number of one whole chunk: 20 to 39)
    busy = set(range(20, 40)) | {5, 77, 150, 151, 160, 299, 250, 101, 102, 203}
    codes = RedisNumberLimiter(redis, NumberLimits(), prefix=limiter.prefix)
    await codes.acquire_many(phones[i] for i in busy)

    base_url = sandbox.base_url("submail")
    async with anyio.create_task_group() as group:
        for shard in manifest.plan.shards:
            for _ in range(2):  # every shard delivered twice, both runs at once
                group.start_soon(
                    lambda index=shard.index: campaign.run_shard(
                        index, credentials=credentials, base_url=base_url
                    )
                )
    outcomes = [item async for item in campaign.outcomes()]
    limited = {item.position for item in outcomes if item.outcome.code == NUMBER_LIMITED}
    assert limited == busy
    ledger = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert Counter(ledger) == Counter(p for i, p in enumerate(phones) if i not in busy)
    # every number is now counted once in the shared store, whoever sent to it
    for phone in phones[:3]:
        assert await redis.zcard(limiter.key(phone)) == 1


def test_a_manifest_keeps_its_limits_and_older_manifests_have_none() -> None:
    plan = CampaignPlan(
        path="input.csv",
        encoding="utf-8",
        header=("phone",),
        phone_column="phone",
        var_columns={},
        rows=0,
        shards=(),
    )
    manifest = Manifest(
        campaign_id="c",
        provider="submail",
        message=MessageOptions(content=CONTENT),
        chunk_size=None,
        concurrency=4,
        rate=None,
        plan=plan,
        per_number="2/30s,3/10m",
    )
    again = Manifest.from_json(manifest.to_json())
    assert again.per_number == "2/30s,3/10m"
    assert NumberLimits.parse(again.per_number) == NumberLimits.of([(2, 30), (3, 600)])
    older = json.loads(attrs.evolve(manifest, per_number=None).to_json())
    assert "per_number" not in older  # what an earlier version wrote, and reads
    assert Manifest.from_json(json.dumps(older)).per_number is None
