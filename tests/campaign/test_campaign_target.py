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
