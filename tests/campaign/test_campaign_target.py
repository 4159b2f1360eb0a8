"""A campaign records where its shards send; a shard run elsewhere is refused.

Claims recorded done are never sent again: a campaign whose shards ran against a sandbox,
then resumed against the real provider (here: a second sandbox standing for it), would
report every recipient of those chunks sent while the real provider never got them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio

from crowdsms.batch import JournalMismatchError
from crowdsms.sandbox import serve_in_thread
from tests.campaign.test_campaign import create, write_input


@pytest.mark.asyncio
async def test_a_shard_run_against_another_base_url_is_refused(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 200)
    campaign = await create(redis, path, shard_rows=100, chunk_size=20)
    with serve_in_thread() as rehearsal, serve_in_thread() as real:
        credentials = rehearsal.credentials("submail")
        await campaign.run_shard(0, credentials=credentials, base_url=rehearsal.base_url("submail"))
        sent = len(rehearsal.ledger.entries())
        assert sent > 0

        for shard in (0, 1):  # the shard it ran, and one it did not
            with pytest.raises(JournalMismatchError, match="sending elsewhere") as info:
                await campaign.run_shard(
                    shard,
                    credentials=real.credentials("submail"),
                    base_url=real.base_url("submail"),
                )
            message = str(info.value)
            assert rehearsal.base_url("submail") in message
            assert real.base_url("submail") in message
            assert "every recipient again" in message
            assert "sandbox-appkey" not in message
        assert real.ledger.entries() == []

        # The same target goes on; a deleted campaign forgets it.
        await campaign.run_shard(1, credentials=credentials, base_url=rehearsal.base_url("submail"))
        assert (await campaign.status()).done
        await campaign.delete()
        assert not await redis.exists(campaign.target_key)


@pytest.mark.asyncio
async def test_a_first_worker_that_sent_nothing_is_named_and_deleting_the_campaign_is_safe(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 200)
    campaign = await create(redis, path, shard_rows=100, chunk_size=20)
    with serve_in_thread() as provider:
        right = provider.credentials("submail")
        mistyped = {**right, "app_id": right["app_id"] + "9"}
        base_url = provider.base_url("submail")
        # The first worker's account does not exist: the provider refuses its first chunk,
        # which stops the shard (an error every chunk would get); nothing was sent.
        report = await campaign.run_shard(0, credentials=mistyped, base_url=base_url)
        assert (report.sent, report.unknown, report.stopped is not None) == (0, 0, True)

        with pytest.raises(JournalMismatchError, match="sending elsewhere") as info:
            await campaign.run_shard(0, credentials=right, base_url=base_url)
        message = str(info.value)
        assert "Nothing this campaign sent may have reached a provider" in message
        assert "crowdsms campaign delete promo" in message
        assert right["app_key"] not in message

        await campaign.delete()
        campaign = await create(redis, path, shard_rows=100, chunk_size=20)
        for shard in (0, 1):
            await campaign.run_shard(shard, credentials=right, base_url=base_url)
        assert (await campaign.status()).done
        phones = [entry.phone for entry in provider.ledger.entries()]
        assert len(phones) == len(set(phones)) > 0


@pytest.mark.asyncio
async def test_a_first_worker_that_sent_something_is_not_called_harmless(
    redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    path, _ = write_input(tmp_path / "input.csv", 100)
    campaign = await create(redis, path, shard_rows=100, chunk_size=20)
    with serve_in_thread() as provider:
        first = provider.credentials("submail")
        await campaign.run_shard(0, credentials=first, base_url=provider.base_url("submail"))
        other = {**first, "app_id": first["app_id"] + "9"}
        with pytest.raises(JournalMismatchError) as info:
            await campaign.run_shard(0, credentials=other, base_url=provider.base_url("submail"))
        assert "Nothing this campaign sent" not in str(info.value)
        assert "every recipient again" in str(info.value)
