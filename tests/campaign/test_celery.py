"""Campaigns run by real Celery workers: worker processes, a real broker, a real store.

Each test starts its own pieces and stops them afterwards: the broker (the session's Redis
server), the campaign store (a Redis server of the test's own, so that a test can restart
it), the sandbox (in this process; its ledger is what was really sent), and 3 or 4
``celery worker`` processes (prefork, one pool process each) built by
:mod:`tests.campaign.celery_app`, which read the store's URL and the provider's credentials
from their environment, as in production. Conditions are waited for by polling Redis and
the ledger against deadlines; a worker that dies unasked fails the test with its log. The
pieces are in cluster.py, the ``cluster`` fixture in conftest.py.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from crowdsms.campaign import Durability
from tests.campaign.celery_app import RUNNING
from tests.campaign.cluster import (
    Cluster,
    check_outcomes,
    claim_states,
    count,
    shard_of,
    write_input,
)

# --- tests ---------------------------------------------------------------------------------

ROWS = 200_000
"""Rows of the big campaign: about 15 s of sending on two cores, 25 s with the checks."""


@pytest.mark.slow
def test_a_campaign_run_by_three_workers_sends_every_row_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = write_input(tmp_path / "input.csv", ROWS)
    cluster.workers.start(3, visibility_timeout=600)
    cluster.workers.wait_ready()
    cluster.start(data, shard_rows=ROWS // 10, chunk_size=50, concurrency=4)
    status = cluster.wait_done(timeout=180)
    assert status.shards == 10
    assert (status.chunks_started, status.chunks_expired) == (0, 0)
    outcomes, phones = check_outcomes(cluster, data)
    sent = [item.phone for item in outcomes if item.status.value == "sent"]
    assert len(sent) == ROWS - len(data.skips)
    assert sorted(phones) == sorted(sent)
    assert len({pid for _, pid in cluster.runs()}) == 3  # every worker took shards


@pytest.mark.slow
def test_workers_killed_mid_shard_lose_nothing_and_send_nothing_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    chunk_size, concurrency = 20, 4
    data = write_input(tmp_path / "input.csv", 8000)
    cluster.sandbox.configure(latency=0.05)  # shards long enough to be killed in the middle
    cluster.workers.start(3, visibility_timeout=5)
    cluster.start(data, shard_rows=1000, chunk_size=chunk_size, concurrency=concurrency, lease=3)

    def busy_pool_process() -> tuple[int, str] | None:
        """A live worker's pool process holding claims of its shard right now."""
        for pid, shard in cluster.running().items():
            worker = cluster.workers.group_of(pid)
            if worker is None or worker.pid in cluster.workers.killed:
                continue
            counts = cluster.call(
                lambda campaign, s=shard: campaign.claims(shard_of(s), Durability.VOLATILE).counts()
            )
            if counts.started > 0:
                return pid, shard
        return None

    def kill_when(chunks_done: int) -> tuple[int, str]:
        cluster.wait_for(
            lambda: cluster.status().chunks_done >= chunks_done, timeout=60, what="sending"
        )
        found = cluster.wait_for(
            busy_pool_process, timeout=30, what="a pool process in a shard", interval=0.02
        )
        cluster.probes.hdel(RUNNING, str(found[0]))
        return found

    # 1. SIGKILL a pool process: its worker sees it lost, requeues the shard at once
    # (reject_on_worker_lost) and starts a new pool process.
    first = kill_when(40)
    os.kill(first[0], signal.SIGKILL)
    # 2. SIGKILL a whole worker (its machine died): its shard comes back when the broker's
    # visibility timeout runs out, to the others or to the replacement that joins.
    second = kill_when(160)
    worker = cluster.workers.group_of(second[0])
    assert worker is not None
    cluster.workers.kill_worker(worker)
    cluster.workers.start(1, visibility_timeout=5)

    status = cluster.wait_done(timeout=120)
    assert status.chunks_started == 0
    runs = cluster.runs()
    for pid, shard in (first, second):  # each killed shard ran again, in another process
        later = runs[runs.index((shard, pid)) + 1 :]
        assert any(name == shard and other != pid for name, other in later), (shard, runs)
    outcomes, _ = check_outcomes(cluster, data)
    # unknown: at most the chunks the killed processes held (concurrency each)
    assert status.chunks_expired <= 2 * concurrency
    assert count(outcomes, "unknown") <= 2 * concurrency * chunk_size


@pytest.mark.slow
def test_a_shard_delivered_again_while_its_first_worker_runs_sends_nothing_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = write_input(tmp_path / "input.csv", 3000)
    cluster.sandbox.configure(latency=0.1)  # a shard lasts longer than the visibility timeout
    cluster.workers.start(4, visibility_timeout=2)
    cluster.start(data, shard_rows=1500, chunk_size=20, concurrency=2)

    def run_twice_at_once() -> str | None:
        shards = Counter(cluster.running().values())
        return next((shard for shard, runs in shards.items() if runs > 1), None)

    cluster.wait_for(run_twice_at_once, timeout=60, what="a shard run twice at once")
    status = cluster.wait_done(timeout=60)
    assert (status.chunks_started, status.chunks_expired) == (0, 0)
    outcomes, phones = check_outcomes(cluster, data)
    sent = [item.phone for item in outcomes if item.status.value == "sent"]
    assert len(sent) == len(data.phones) - len(data.skips)  # the live holder was waited for
    assert sorted(phones) == sorted(sent)


@pytest.mark.slow
def test_the_store_restarted_mid_campaign_loses_no_claim(cluster: Cluster, tmp_path: Path) -> None:
    workers, concurrency = 3, 4
    data = write_input(tmp_path / "input.csv", 8000)
    cluster.sandbox.configure(latency=0.02)
    cluster.workers.start(workers, visibility_timeout=30)
    cluster.start(data, shard_rows=1000, chunk_size=20, concurrency=concurrency, lease=3)
    cluster.wait_for(lambda: cluster.status().chunks_done >= 100, timeout=60, what="sending")

    claims = claim_states(cluster.store)
    cluster.store.stop(kill=True)  # a crash: what comes back is what the AOF holds
    # down until shards fail for want of their store (longer than the clients' own retries)
    cluster.wait_for(cluster.retries, timeout=30, what="a shard retried")
    cluster.store.start()
    after = claim_states(cluster.store)
    assert {key: state for key, state in claims.items() if key not in after} == {}
    finished_then = {key: state for key, state in claims.items() if state != "started"}
    assert {key: after[key] for key in finished_then} == finished_then

    status = cluster.wait_done(timeout=120)
    assert status.chunks_started == 0
    # unknown: at most the chunks in flight when the store went away
    assert status.chunks_expired <= workers * concurrency
    check_outcomes(cluster, data)


@pytest.mark.slow
def test_four_workers_share_one_rate_limit(cluster: Cluster, tmp_path: Path) -> None:
    rate, chunk_size = 200, 10
    data = write_input(tmp_path / "input.csv", 1600)
    cluster.workers.start(4, visibility_timeout=600)
    cluster.workers.wait_ready()
    cluster.start(data, shard_rows=400, chunk_size=chunk_size, concurrency=4, rate=rate)
    cluster.wait_done(timeout=60)
    check_outcomes(cluster, data)
    assert len({pid for _, pid in cluster.runs()}) == 4  # one shard each, all at once
    times = sorted(entry.time for entry in cluster.sandbox.ledger.entries(provider="submail"))
    windows = Counter(int(t) for t in times)  # whole seconds of the sandbox's clock
    # SharedRateLimiter's default burst is 1 permit (one recipient), and a chunk takes its
    # permits at once, when the last of them is due: a second may hold one chunk more than
    # the rate, R + chunk_size recipients.
    assert max(windows.values()) <= rate + chunk_size, sorted(windows.items())
    # and the limit was in force (the sandbox alone takes these in well under a second)
    assert times[-1] - times[0] >= 0.8 * len(times) / rate
