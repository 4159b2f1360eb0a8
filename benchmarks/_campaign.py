"""7. Campaigns: 1, 2 and 4 worker processes on one campaign, and what the Redis store costs.

Throughput: a campaign of SUBMAIL ``sms/multisend`` chunks of 50 (concurrency 4 per worker,
no rate limit) with the sandbox answering after 100 ms, run by plain worker processes
(``python -m benchmarks._campaign``), each taking shard numbers from a Redis list the parent
filled and calling ``Campaign(redis, id).run_shard(shard, ...)`` until the list is empty.
Each worker count gets the same work per worker (``--campaign-recipients`` each, in shards
of 1,000 rows), so every run lasts about as long; each run has a fresh campaign id on a
flushed database. Rounds run every worker count in alternating order; figures are medians
over the rounds, ratios medians of the ratios within each round. The clock starts when the
workers, started, connected and with the transport loaded, are told to go, and stops when
the last one has finished its last shard. Every run is checked: each shard done, every row
``sent``, and the sandbox charged one segment per recipient. "ms per chunk per request slot"
is the run's wall time x workers x concurrency / chunks: 100 ms if every slot always had a
request in flight; what is above is the client's own time per chunk (its CPU, the claim
before the request and the finish after it, waiting for the next chunk). The section's
processes (workers, Redis, the sandbox) are not pinned to CPUs, even when the other sections'
are: pinned on a 2-CPU machine, the four workers and Redis would share one CPU while the
sandbox, about a quarter busy, kept the other to itself, and the 4-worker run would measure
that one CPU rather than how the campaign scales across workers.

The store, on a Redis server started for the section (AOF with ``appendfsync always``, as
``crowdsms.campaign.durability`` wants it, files in a temporary directory):

* round trips per chunk: ``INFO commandstats`` before and after a run. The server counts the
  commands a Lua script runs (``TIME``, ``HMGET``, ``HSET``...) as calls too, so those are
  counted apart: what the clients sent is the scripts (``EVALSHA``) and the other commands;
  ``HSET`` is both, and the clients' share is the one per finished shard that
  ``run_shard`` writes. The benchmark's own queue (``LPOP``) and connection set-up are left
  out;
* client CPU per chunk: ``time.process_time`` around ``ClaimStore.claim`` and
  ``ClaimStore.finish`` (50 real ``sent`` outcomes) over many chunks, one call at a time,
  in one process; their wall time is the latency of a durable write, compared with a
  server that does not fsync;
* memory: ``used_memory`` before the campaign is created and after it finished, per
  recipient, and ``MEMORY USAGE`` of one finished 50-recipient chunk.

A paper extrapolation to a 10,000,000-recipient campaign is printed under the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks._latency import LATENCY
from benchmarks._measure import process_cpu
from benchmarks._memory import write_csv
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK, CONTENT, BenchmarkError
from benchmarks._table import Row, rate, ratio, us
from crowdsms.campaign import (
    Campaign,
    CampaignStatus,
    ClaimStore,
    Durability,
    connect,
    durability,
)
from crowdsms.campaign._campaign import load_transport
from crowdsms.outcomes import RecipientOutcome
from crowdsms.providers._spec import MessageOptions
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY
from tests.redis_server import RedisServer

__all__ = ["CampaignResult", "measure_campaign"]

_ROOT = Path(__file__).resolve().parent.parent

SHARD_ROWS = 1_000
CONCURRENCY = 4
PAPER_RECIPIENTS = 10_000_000
PAPER_RATE = 500
PAPER_SHARD_ROWS = 5_000  # crowdsms.campaign's default shard size
FOUR_TO_ONE_TARGET = 3.5

_CREDENTIALS = {"app_id": SUBMAIL_APPID, "app_key": SUBMAIL_APPKEY}
_MESSAGE = MessageOptions(content=CONTENT, columns=("name", "code"))

# Commands that crowdsms.campaign's claim scripts (claim, finish, the read-ahead, peek,
# release) run inside Redis: counted by INFO commandstats, but no round trip. HSET is also
# sent by run_shard (one per finished shard), which _round_trips accounts for.
_IN_SCRIPTS = frozenset({"time", "hmget", "hset", "hincrby", "hdel", "pexpire", "del", "hlen"})
# The benchmark's own commands: the shard queue, connection set-up, the parent's INFO.
_HARNESS = frozenset({"lpop", "rpush", "ping", "client|setinfo", "hello", "info", "select"})


@dataclass(frozen=True)
class CampaignRun:
    """One campaign run by ``workers`` processes, and what it left in Redis."""

    round: int
    workers: int
    recipients: int
    shards: int
    wall: float
    worker_cpu: float
    """CPU seconds of all the workers together, from the go to their last shard."""
    redis_cpu: float
    sandbox_cpu: float | None
    commands: Mapping[str, int]
    """``INFO commandstats`` calls during the run, by command."""
    used_memory: int
    """``used_memory`` after the campaign finished minus before it was created."""
    aof_bytes: int
    chunk_bytes: int
    """``MEMORY USAGE`` of one finished chunk of 50."""
    manifest_bytes: int
    status_seconds: float
    """One ``Campaign.status()`` call once the campaign is done."""

    @property
    def chunks(self) -> int:
        """Chunks of 50 sent (each shard's rows cut in chunks)."""
        whole, rest = divmod(SHARD_ROWS, CHUNK)
        per_shard = whole + (1 if rest else 0)
        last = self.recipients - (self.shards - 1) * SHARD_ROWS
        return (self.shards - 1) * per_shard + math.ceil(last / CHUNK)

    @property
    def throughput(self) -> float:
        """Recipients per second."""
        return self.recipients / self.wall

    @property
    def slot_cycle(self) -> float:
        """Seconds each request slot spent per chunk (100 ms of it the sandbox's latency)."""
        return self.wall * self.workers * CONCURRENCY / self.chunks

    @property
    def ideal(self) -> float:
        """Recipients per second with every worker's request slots always busy."""
        return self.workers * CONCURRENCY * CHUNK / LATENCY

    def round_trips(self) -> tuple[float, float, dict[str, float]]:
        """Per chunk: scripts sent, other commands sent, and the others by command."""
        scripts = self.commands.get("evalsha", 0) + self.commands.get("eval", 0)
        others: dict[str, float] = {}
        for name, calls in self.commands.items():
            if name in ("evalsha", "eval") or name in _HARNESS:
                continue
            if name == "hset":
                calls = min(calls, self.shards)  # run_shard's one per shard; the rest: scripts
            elif name in _IN_SCRIPTS:
                continue
            if calls:
                others[name] = calls / self.chunks
        return scripts / self.chunks, sum(others.values()), others

    @property
    def server_commands(self) -> float:
        """Commands the server ran per chunk, those inside scripts included."""
        calls = sum(count for name, count in self.commands.items() if name not in _HARNESS)
        return calls / self.chunks


@dataclass(frozen=True)
class StoreCost:
    """``ClaimStore`` calls one at a time in one process: CPU and latency."""

    chunks: int
    peek_cpu: float
    claim_cpu: float
    finish_cpu: float
    peek_wall: list[float]
    claim_wall: list[float]
    finish_wall: list[float]
    script_usec: float
    """The server's own time per claim or finish script (``usec_per_call``, no fsync)."""
    claim_wall_no_fsync: list[float]
    finish_wall_no_fsync: list[float]


@dataclass
class CampaignResult:
    """Section 7's figures."""

    runs: list[CampaignRun]
    store: StoreCost

    def _runs(self, workers: int) -> list[CampaignRun]:
        return [run for run in self.runs if run.workers == workers]

    def _ratios(self, workers: int) -> list[float]:
        """Throughput of ``workers`` over that of one worker, within each round."""
        ratios = []
        for number in sorted({run.round for run in self.runs}):
            in_round = {run.workers: run for run in self.runs if run.round == number}
            if 1 in in_round and workers in in_round:
                ratios.append(in_round[workers].throughput / in_round[1].throughput)
        return ratios

    def per_worker(self) -> float:
        """One worker's median throughput (the fewest workers run, per worker)."""
        fewest = min(run.workers for run in self.runs)
        runs = self._runs(fewest)
        return statistics.median(run.throughput for run in runs) / fewest

    def rows(self) -> list[Row]:
        """Section 7 of the table."""
        rows: list[Row] = []
        rounds = len({run.round for run in self.runs})
        for workers in sorted({run.workers for run in self.runs}):
            runs = self._runs(workers)
            first = runs[0]
            throughput = statistics.median(run.throughput for run in runs)
            low, high = min(run.throughput for run in runs), max(r.throughput for r in runs)
            spread = f", {rate(low)} to {rate(high)}" if len(runs) > 1 else ""
            cpu = statistics.median(run.worker_cpu / run.recipients for run in runs)
            cycle = statistics.median(run.slot_cycle for run in runs)
            rows.append(
                Row(
                    "7",
                    f"campaign, {workers} worker process(es): {first.recipients:,} recipients "
                    f"in {first.shards} shards of {SHARD_ROWS:,}, chunks of {CHUNK}, "
                    f"c={CONCURRENCY} per worker, no rate limit, 100 ms latency "
                    f"({len(runs)} round(s))",
                    f"{rate(throughput)} ({throughput / first.ideal:.0%} of "
                    f"{rate(first.ideal)}{spread}); {cycle * 1000:.0f} ms per chunk per "
                    f"request slot; workers' CPU {us(cpu * 1e6)}/recipient; busy CPUs: "
                    f"workers {_busy_median(runs, 'worker_cpu')}, Redis "
                    f"{_busy_median(runs, 'redis_cpu')}, sandbox "
                    f"{_busy_median(runs, 'sandbox_cpu')}",
                )
            )
        for workers, target in ((2, None), (4, FOUR_TO_ONE_TARGET)):
            ratios = self._ratios(workers)
            if not ratios:
                continue
            value = statistics.median(ratios)
            each = f" (rounds: {', '.join(ratio(r) for r in ratios)})" if rounds > 1 else ""
            rows.append(
                Row(
                    "7",
                    f"campaign throughput, {workers} workers / 1 worker",
                    ratio(value) + each,
                    f">= {target}x" if target else "",
                    value >= target if target else None,
                )
            )
        largest = self.largest()
        scripts, others, by_command = largest.round_trips()
        detail = ", ".join(
            f"{name.upper()} {count:.2f}" for name, count in sorted(by_command.items())
        )
        rows.append(
            Row(
                "7",
                f"Redis round trips per chunk ({largest.workers}-worker run, {largest.chunks:,} "
                "chunks, `INFO commandstats`)",
                f"{scripts + others:.2f}: scripts (EVALSHA) {scripts:.2f} + other commands "
                f"{others:.2f} ({detail}); {largest.server_commands:.1f} commands run by the "
                f"server, those inside the scripts included; Redis CPU "
                f"{us(largest.redis_cpu / largest.chunks * 1e6)}/chunk",
            )
        )
        store = self.store
        claim_finish = (store.claim_cpu + store.finish_cpu) / store.chunks * 1e6
        rows.append(
            Row(
                "7",
                f"client CPU per chunk in `ClaimStore.claim` + `finish` ({store.chunks:,} "
                "chunks of 50 `sent` outcomes, one call at a time)",
                f"{us(claim_finish)} (claim {us(store.claim_cpu / store.chunks * 1e6)}, "
                f"finish {us(store.finish_cpu / store.chunks * 1e6)}); a `peek` (a shard reads "
                f"its chunks' claims 32 at a time, and one by one only those recorded "
                f"already): {us(store.peek_cpu / store.chunks * 1e6)}",
            )
        )
        rows.append(
            Row(
                "7",
                "latency of one claim / finish, appendfsync always (median, p99)",
                f"claim {_ms(store.claim_wall)}, finish {_ms(store.finish_wall)}, peek "
                f"{_ms(store.peek_wall)}; the server's own time per script "
                f"{us(store.script_usec)}",
            )
        )
        rows.append(
            Row(
                "7",
                "the same on a server with appendfsync no (not durable: for comparison)",
                f"claim {_ms(store.claim_wall_no_fsync)}, finish {_ms(store.finish_wall_no_fsync)}",
            )
        )
        rows.append(
            Row(
                "7",
                f"Redis memory per recipient (`used_memory` after the campaign - before it, "
                f"{largest.recipients:,} recipients, finished)",
                f"{largest.used_memory / largest.recipients:,.0f} B; AOF "
                f"{largest.aof_bytes / largest.recipients:,.0f} B/recipient",
            )
        )
        rows.append(
            Row(
                "7",
                "`MEMORY USAGE` of one finished 50-recipient chunk / 50",
                f"{largest.chunk_bytes / CHUNK:,.0f} B ({largest.chunk_bytes:,} B a chunk); "
                f"manifest {largest.manifest_bytes / 1024:,.1f} KB for {largest.shards} shards",
            )
        )
        rows.append(
            Row(
                "7",
                f"`Campaign.status()` of the finished {largest.shards}-shard campaign",
                f"{largest.status_seconds * 1000:,.1f} ms "
                f"({largest.status_seconds / largest.shards * 1e6:,.0f} us a shard)",
            )
        )
        return rows

    def largest(self) -> CampaignRun:
        """The last run of the most workers (the most recipients): its store's figures."""
        most = max(run.recipients for run in self.runs)
        return [run for run in self.runs if run.recipients == most][-1]

    def _manifest_bytes(self, shards: int) -> float:
        """The manifest's size for ``shards`` shards, from the runs' (linear in shards)."""
        runs = sorted(self.runs, key=lambda run: run.shards)
        small, large = runs[0], runs[-1]
        if large.shards == small.shards:
            return large.manifest_bytes / large.shards * shards
        per_shard = (large.manifest_bytes - small.manifest_bytes) / (large.shards - small.shards)
        return small.manifest_bytes + per_shard * (shards - small.shards)

    def notes(self) -> list[str]:
        """The paper extrapolation printed under the table."""
        largest = self.largest()
        per_recipient = largest.used_memory / largest.recipients
        shards = math.ceil(PAPER_RECIPIENTS / PAPER_SHARD_ROWS)
        manifest = self._manifest_bytes(shards)
        memory = per_recipient * PAPER_RECIPIENTS + manifest
        seconds = PAPER_RECIPIENTS / PAPER_RATE
        per_worker = self.per_worker()
        workers = math.ceil(PAPER_RATE / per_worker)
        chunks_per_second = PAPER_RATE / CHUNK
        scripts, others, _ = largest.round_trips()
        in_flight = PAPER_RATE * LATENCY / CHUNK
        return [
            f"Paper extrapolation (section 7): one campaign of {PAPER_RECIPIENTS:,} recipients "
            f"through one account limited to {PAPER_RATE} recipients/s, shards of "
            f"{PAPER_SHARD_ROWS:,} (the default: {shards:,} shards), chunks of {CHUNK}.",
            "",
            f"- Time: {PAPER_RECIPIENTS:,} / {PAPER_RATE} = {seconds:,.0f} s = "
            f"{seconds / 3600:.1f} h, set by the provider's limit, not by the workers.",
            f"- Redis memory: {per_recipient:,.0f} B/recipient x {PAPER_RECIPIENTS:,} = "
            f"{per_recipient * PAPER_RECIPIENTS / 2**30:.2f} GiB, plus the manifest "
            f"(~{manifest / 1024:,.0f} KB for {shards:,} shards without duplicates): "
            f"{memory / 2**30:.2f} GiB in all, kept after the campaign (finished chunks do not "
            f"expire: `Campaign` passes no retention). AOF on disk: "
            f"{largest.aof_bytes / largest.recipients * PAPER_RECIPIENTS / 2**30:.2f} GiB "
            "before any rewrite.",
            f"- Workers at 100 ms latency: one worker (c={CONCURRENCY}) did (median) "
            f"{rate(per_worker)}, so {workers} worker(s) keep up with {PAPER_RATE}/s "
            f"({PAPER_RATE / per_worker:.0%} of one worker's pace); the limit needs only "
            f"{in_flight:.1f} request(s) in flight. More workers buy nothing but redundancy.",
            f"- Redis load at that pace: {chunks_per_second:.0f} chunks/s x "
            f"{scripts + others:.2f} round trips = {chunks_per_second * (scripts + others):.0f} "
            "commands/s, plus one limiter permit per chunk with `rate=` set; each claim and "
            "finish waits for an fsync.",
            f"- `Campaign.status()` reads each shard's counts in a round trip of its own: "
            f"{largest.status_seconds / largest.shards * 1e6:,.0f} us a shard here, so about "
            f"{largest.status_seconds / largest.shards * shards:,.1f} s for {shards:,} shards.",
        ]


def _busy_median(runs: Sequence[CampaignRun], field: str) -> str:
    """The median share of one CPU that ``field`` (CPU seconds) kept busy during the runs."""
    shares = [getattr(run, field) / run.wall for run in runs if getattr(run, field) is not None]
    return f"{statistics.median(shares):.2f}" if shares else "unknown"


def _ms(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.99) - 1)]
    return f"{statistics.median(ordered) * 1000:.2f} / {p99 * 1000:.2f} ms"


def _commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """``{command: (calls, usec)}`` from ``INFO commandstats``."""
    stats: dict[str, Any] = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): (int(value["calls"]), int(value["usec"]))
        for name, value in stats.items()
    }


def _calls_between(
    before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
) -> dict[str, int]:
    return {
        name: calls - before.get(name, (0, 0))[0]
        for name, (calls, _) in after.items()
        if calls - before.get(name, (0, 0))[0]
    }


def _redis_cpu(client: redis.Redis) -> float:
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _memory(client: redis.Redis) -> tuple[int, int]:
    """``used_memory`` and the append-only file's size."""
    memory: dict[str, Any] = client.info("memory")
    persistence: dict[str, Any] = client.info("persistence")
    return int(memory["used_memory"]), int(persistence["aof_current_size"])


async def _create(url: str, campaign_id: str, path: Path) -> tuple[str, int]:
    """Plan the campaign and store its manifest: the manifest's key and the shard count."""
    client = connect(url)
    try:
        campaign = await Campaign.create(
            client,
            campaign_id=campaign_id,
            provider="submail",
            message=_MESSAGE,
            path=path,
            chunk_size=CHUNK,
            concurrency=CONCURRENCY,
            rate=None,
            shard_rows=SHARD_ROWS,
        )
        manifest = await campaign.manifest()
        return campaign.manifest_key, len(manifest.plan.shards)
    finally:
        await client.aclose()


async def _finished(
    url: str, campaign_id: str
) -> tuple[CampaignStatus, float, str, tuple[RecipientOutcome, ...] | None]:
    """The status (and how long it took), and the key and outcomes of the first chunk."""
    client = connect(url)
    try:
        campaign = Campaign(client, campaign_id)
        started = time.perf_counter()
        status = await campaign.status()
        elapsed = time.perf_counter() - started
        store = campaign.claims(0, Durability.VOLATILE)
        return status, elapsed, store.chunk_key(0), await store.outcomes(0)
    finally:
        await client.aclose()


def _start_workers(
    count: int, url: str, campaign_id: str, queue: str, base_url: str, directory: Path
) -> list[tuple[subprocess.Popen[str], Path]]:
    workers = []
    for number in range(count):
        log = directory / f"worker-{number}.log"
        command = [
            sys.executable,
            "-m",
            "benchmarks._campaign",
            "--redis",
            url,
            "--campaign",
            campaign_id,
            "--queue",
            queue,
            "--base-url",
            base_url,
        ]
        with log.open("w") as stderr:
            process = subprocess.Popen(
                command,
                cwd=_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        workers.append((process, log))
    return workers


def _worker_failed(log: Path, what: str) -> BenchmarkError:
    return BenchmarkError(f"a campaign worker {what}:\n{log.read_text()[-2000:]}")


def run_campaign(
    sandbox: SandboxProcess,
    server: RedisServer,
    *,
    workers: int,
    recipients: int,
    directory: Path,
    round_number: int = 0,
) -> tuple[CampaignRun, tuple[RecipientOutcome, ...]]:
    """Create a campaign of ``recipients`` and run it with ``workers`` processes.

    Also returns the outcomes of its first chunk (real ones, for :func:`measure_store`).
    """
    path = directory / f"campaign-{recipients}.csv"
    write_csv(path, recipients)
    campaign_id = f"bench-{workers}w-{uuid.uuid4().hex[:8]}"
    queue = f"bench:queue:{campaign_id}"
    sandbox.reset()
    balance = sandbox.submail_balance()
    with server.client() as client:
        client.flushall()
        memory_before, aof_before = _memory(client)
        manifest_key, shards = asyncio.run(_create(server.url, campaign_id, path))
        client.rpush(queue, *range(shards))
        processes = _start_workers(
            workers, server.url, campaign_id, queue, sandbox.submail_url, directory
        )
        try:
            for process, log in processes:
                assert process.stdout is not None
                if process.stdout.readline().strip() != "ready":
                    raise _worker_failed(log, "did not start")
            stats_before = _commandstats(client)
            redis_before = _redis_cpu(client)
            sandbox_before = process_cpu(sandbox.pid)
            started = time.time()
            for process, _ in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            reports = []
            for process, log in processes:
                assert process.stdout is not None
                output = process.stdout.read()
                if process.wait() != 0:
                    raise _worker_failed(log, f"exited with code {process.returncode}")
                reports.append(json.loads(output.strip().splitlines()[-1]))
        finally:
            for process, _ in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                for stream in (process.stdin, process.stdout):
                    if stream is not None:
                        stream.close()
        finished = max(report["finished"] for report in reports)
        sandbox_after = process_cpu(sandbox.pid)
        redis_cpu = _redis_cpu(client) - redis_before
        commands = _calls_between(stats_before, _commandstats(client))
        memory_after, aof_after = _memory(client)
        status, status_seconds, chunk_key, outcomes = asyncio.run(
            _finished(server.url, campaign_id)
        )
        chunk_bytes = int(client.memory_usage(chunk_key, samples=0) or 0)
        manifest_bytes = int(client.memory_usage(manifest_key, samples=0) or 0)
    path.unlink()
    sent = sum(report["sent"] for report in reports)
    outcomes_by_status = {name: count for name, count in status.by_status.items() if count}
    if not status.done or outcomes_by_status != {"sent": recipients} or sent != recipients:
        raise BenchmarkError(f"campaign {campaign_id}: {sent} sent of {recipients}: {status}")
    charged = balance - sandbox.submail_balance()
    if charged != recipients:  # every message is one segment
        raise BenchmarkError(f"the sandbox charged {charged} segments for {recipients} messages")
    if sum(report["shards"] for report in reports) != shards:
        raise BenchmarkError(f"the workers ran {reports} shards, not {shards}")
    if outcomes is None or len(outcomes) != CHUNK:
        raise BenchmarkError(f"the first chunk is not a finished chunk of {CHUNK}: {outcomes}")
    run = CampaignRun(
        round=round_number,
        workers=workers,
        recipients=recipients,
        shards=shards,
        wall=finished - started,
        worker_cpu=sum(report["cpu"] for report in reports),
        redis_cpu=redis_cpu,
        sandbox_cpu=(
            sandbox_after - sandbox_before
            if sandbox_before is not None and sandbox_after is not None
            else None
        ),
        commands=commands,
        used_memory=memory_after - memory_before,
        aof_bytes=aof_after - aof_before,
        chunk_bytes=chunk_bytes,
        manifest_bytes=manifest_bytes,
        status_seconds=status_seconds,
    )
    return run, outcomes


async def _claims(
    url: str, mode: Durability | None, chunks: int, outcomes: Sequence[RecipientOutcome]
) -> dict[str, Any]:
    """Peek, then claim, then finish ``chunks`` chunks, one call at a time: CPU and walls."""
    client = connect(url)
    try:
        if mode is None:
            mode = await durability(client)
        store = ClaimStore(client, f"bench-claims-{uuid.uuid4().hex[:8]}", mode)
        token = f"{uuid.uuid4().hex}/0"
        await store.claim(chunks, token, 300)  # the scripts are loaded, the connection open
        await store.finish(chunks, token, outcomes)
        await store.peek(chunks)
        result: dict[str, Any] = {}
        for name in ("peek", "claim", "finish"):
            walls = []
            cpu = time.process_time()
            for index in range(chunks):
                started = time.perf_counter()
                if name == "peek":
                    await store.peek(index)
                elif name == "claim":
                    await store.claim(index, token, 300)
                else:
                    await store.finish(index, token, outcomes)
                walls.append(time.perf_counter() - started)
            result[name] = (time.process_time() - cpu, walls)
        counts = await store.counts()
        if counts.done != chunks + 1 or counts.started:
            raise BenchmarkError(f"the claims loop left {counts}")
        return result
    finally:
        await client.aclose()


def measure_store(
    server: RedisServer, *, chunks: int, outcomes: Sequence[RecipientOutcome], directory: Path
) -> StoreCost:
    """Claims and finishes one at a time, on the durable server and on one that is not."""
    with server.client() as client:
        client.flushall()
        before = _commandstats(client)
        durable = asyncio.run(_claims(server.url, None, chunks, outcomes))
        after = _commandstats(client)
    calls = after["evalsha"][0] - before.get("evalsha", (0, 0))[0]
    usec = after["evalsha"][1] - before.get("evalsha", (0, 0))[1]
    with RedisServer(directory / "redis-no-fsync", appendfsync="no") as fast:
        volatile = asyncio.run(_claims(fast.url, Durability.VOLATILE, chunks, outcomes))
    return StoreCost(
        chunks=chunks,
        peek_cpu=durable["peek"][0],
        claim_cpu=durable["claim"][0],
        finish_cpu=durable["finish"][0],
        peek_wall=durable["peek"][1],
        claim_wall=durable["claim"][1],
        finish_wall=durable["finish"][1],
        script_usec=usec / calls,
        claim_wall_no_fsync=volatile["claim"][1],
        finish_wall_no_fsync=volatile["finish"][1],
    )


def measure_campaign(
    sandbox: SandboxProcess,
    *,
    recipients_per_worker: int,
    workers: Sequence[int],
    rounds: int,
    store_chunks: int,
) -> CampaignResult:
    """Section 7: the runs, then the store's costs, on a Redis server of its own.

    Each round runs every worker count, in alternating order (1 2 4, then 4 2 1, ...).
    """
    with tempfile.TemporaryDirectory(prefix="crowdsms-bench-campaign-") as name:
        directory = Path(name)
        with RedisServer(directory / "redis") as server:
            sandbox.set_latency(LATENCY)
            runs = []
            outcomes: tuple[RecipientOutcome, ...] = ()
            try:
                for number in range(rounds):
                    order = list(workers) if number % 2 == 0 else list(reversed(workers))
                    for count in order:
                        run, sample = run_campaign(
                            sandbox,
                            server,
                            workers=count,
                            recipients=recipients_per_worker * count,
                            directory=directory,
                            round_number=number,
                        )
                        runs.append(run)
                        outcomes = outcomes or sample
                        print(
                            f"  [7] round {number + 1}/{rounds} {count} worker(s): "
                            f"{run.throughput:8,.0f} recipients/s "
                            f"({run.recipients:,} in {run.wall:.1f} s)",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                sandbox.set_latency(0.0)
            store = measure_store(
                server, chunks=store_chunks, outcomes=outcomes, directory=directory
            )
            print(
                f"  [7] claim + finish: "
                f"{(store.claim_cpu + store.finish_cpu) / store_chunks * 1e6:,.0f} us CPU/chunk",
                file=sys.stderr,
                flush=True,
            )
    return CampaignResult(runs, store)


# -- the worker process ------------------------------------------------------------------


async def _work(url: str, campaign_id: str, queue: str, base_url: str) -> dict[str, Any]:
    """Wait for the go on stdin, then run shards from the queue until it is empty."""
    client = connect(url)
    try:
        campaign = Campaign(client, campaign_id)
        await client.ping()
        load_transport()  # as the Celery integration does when a worker starts
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        cpu = time.process_time()
        shards = sent = 0
        while (item := await client.lpop(queue)) is not None:
            assert isinstance(item, bytes)
            report = await campaign.run_shard(
                int(item), credentials=_CREDENTIALS, base_url=base_url
            )
            shards += 1
            sent += report.sent
        return {
            "shards": shards,
            "sent": sent,
            "cpu": time.process_time() - cpu,
            "finished": time.time(),
        }
    finally:
        await client.aclose()


def main() -> None:
    """One worker: run shards of a campaign from a Redis list; print its figures as JSON."""
    cli = argparse.ArgumentParser(description="a campaign worker for the benchmarks")
    cli.add_argument("--redis", required=True)
    cli.add_argument("--campaign", required=True)
    cli.add_argument("--queue", required=True)
    cli.add_argument("--base-url", required=True)
    args = cli.parse_args()
    print(json.dumps(asyncio.run(_work(args.redis, args.campaign, args.queue, args.base_url))))


if __name__ == "__main__":
    main()
