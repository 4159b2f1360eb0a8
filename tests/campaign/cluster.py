"""The pieces of the campaign tests run by real Celery workers (not collected: no tests here).

:class:`Cluster` is one test's broker (the session's Redis server), campaign store (a Redis
server of the test's own, so that a test can restart it), sandbox (in the test's process; its
ledger is what was really sent) and ``celery worker`` processes (prefork, one pool process
each) built by :mod:`tests.campaign.celery_app`, which read the store's URL and the
provider's credentials from their environment, as in production. The ``cluster`` fixture is
in conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import attrs
import pytest
import redis
from celery import Celery

from crowdsms.batch import BatchOutcome
from crowdsms.campaign import Campaign, CampaignStatus, connect
from crowdsms.campaign.celery import start
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions
from crowdsms.sandbox import Sandbox
from tests.campaign.celery_app import (
    BROKER_ENV,
    PROBES_ENV,
    RETRIES,
    RUNNING,
    RUNS,
    VISIBILITY_ENV,
)
from tests.redis_server import RedisServer
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
CONTENT = "【测试】@var(name)，您的验证码是 @var(code)"
MESSAGE = MessageOptions(content=CONTENT, columns=("name", "code"))
CAMPAIGN = "promo"

T = TypeVar("T")


# --- the input -----------------------------------------------------------------------------


def phone_of(position: int) -> str:
    return f"1380{position:07d}"


@attrs.frozen
class Input:
    """A campaign's input file: each row's number, and the rows to be skipped."""

    path: Path
    phones: list[str]
    skips: dict[int, str]
    """Position -> ``invalid`` or ``duplicate``."""


def write_input(path: Path, rows: int) -> Input:
    """``rows`` recipients, 1% invalid and 1% duplicates.

    Half the duplicates repeat a number 97 rows earlier (mostly in the same shard), the other
    half one from half-way up the file (in an earlier shard, once there are a few shards).
    """
    phones: list[str] = []
    skips: dict[int, str] = {}
    for position in range(rows):
        if position % 100 == 7:
            phone, skips[position] = "12345", "invalid"
        elif position % 100 == 42 and position > 100:
            earlier = position - 97 if (position // 100) % 2 else position // 2
            phone, skips[position] = phone_of(earlier), "duplicate"
        else:
            phone = phone_of(position)
        phones.append(phone)
    lines = [f"{phone},n{i},{i % 10000}" for i, phone in enumerate(phones)]
    path.write_text("\n".join(["phone,name,code", *lines]) + "\n", encoding="utf-8")
    return Input(path, phones, skips)


# --- the pieces ----------------------------------------------------------------------------


class Workers:
    """``celery worker`` processes, each the leader of its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.killed: set[int] = set()

    def start(self, count: int, *, visibility_timeout: float) -> None:
        for _ in range(count):
            number = len(self.processes) + 1
            env = {**self.env, VISIBILITY_ENV: repr(float(visibility_timeout))}
            with open(self.logs / f"w{number}.log", "wb") as log:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "tests.campaign.celery_app",
                        "worker",
                        "--pool",
                        "prefork",
                        "--concurrency",
                        "1",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel",
                        "INFO",
                        "-n",
                        f"w{number}@%h",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.processes.append(process)

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until every worker has logged that it is ready to take tasks."""
        deadline = time.monotonic() + timeout
        for number in range(1, len(self.processes) + 1):
            while " ready." not in (self.logs / f"w{number}.log").read_text(errors="replace"):
                self.check_alive()
                if time.monotonic() > deadline:
                    pytest.fail(f"worker w{number} not ready:\n{self.log(number)}", pytrace=False)
                time.sleep(0.1)

    def check_alive(self) -> None:
        """Fail the test when a worker it did not kill has exited."""
        for number, process in enumerate(self.processes, 1):
            if process.pid not in self.killed and process.poll() is not None:
                pytest.fail(
                    f"worker w{number} exited with {process.returncode}:\n{self.log(number)}",
                    pytrace=False,
                )

    def log(self, number: int, lines: int = 40) -> str:
        text = (self.logs / f"w{number}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def group_of(self, pid: int) -> subprocess.Popen[bytes] | None:
        """The worker whose process group ``pid`` (a pool process) belongs to."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((p for p in self.processes if p.pid == group), None)

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a whole worker, its pool process too (a machine that died)."""
        self.killed.add(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM every worker's group, SIGKILL what is left after a few seconds."""
        for process in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes:  # pool processes outlive a killed parent: the group
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


class Cluster:
    """The pieces of one test: broker, store, sandbox, workers, and a Celery client app."""

    def __init__(
        self, broker: RedisServer, store: RedisServer, sandbox: Sandbox, tmp_path: Path
    ) -> None:
        self.broker = broker
        self.store = store
        self.store_url = store.url
        self.probes_url = broker.url[: -len("/0")] + "/1"
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        spec = _registry.get("submail")
        credentials = sandbox.credentials("submail")
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("CROWDSMS_", "CELERY_"))
        }
        env.update(
            {field.env_var("submail"): credentials[field.name] for field in spec.credentials}
        )
        env.update(
            {
                "CROWDSMS_SUBMAIL_BASE_URL": sandbox.base_url("submail"),
                "CROWDSMS_CAMPAIGN_STORE": self.store_url,
                BROKER_ENV: broker.url,
                PROBES_ENV: self.probes_url,
                "PYTHONPATH": os.pathsep.join(
                    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
        )
        self.workers = Workers(env, tmp_path)
        self.app = Celery("crowdsms-tests-client", broker=broker.url)
        self.probes = redis.Redis.from_url(self.probes_url, decode_responses=True)

    def start(self, data: Input, **options: Any) -> None:
        """Plan the campaign and queue its shards (``crowdsms.campaign.celery.start``)."""
        start(
            self.app,
            campaign_id=CAMPAIGN,
            provider="submail",
            message=MESSAGE,
            path=data.path,
            store=self.store_url,
            **options,
        )

    def call(self, use: Callable[[Campaign], Awaitable[T]]) -> T:
        """``use(campaign)`` on a fresh connection to the store."""

        async def run() -> T:
            client = connect(self.store_url)
            try:
                return await use(Campaign(client, CAMPAIGN))
            finally:
                await client.aclose()

        return anyio.run(run)

    def status(self) -> CampaignStatus:
        return self.call(lambda campaign: campaign.status())

    def outcomes(self) -> list[BatchOutcome]:
        async def read(campaign: Campaign) -> list[BatchOutcome]:
            return [item async for item in campaign.outcomes()]

        return self.call(read)

    def running(self) -> dict[int, str]:
        """Pool process pid -> the shard it runs now (``promo/3``)."""
        return {int(pid): shard for pid, shard in self.probes.hgetall(RUNNING).items()}

    def retries(self) -> list[str]:
        """Every run that failed and was retried: ``promo/3 <reason>``."""
        return list(self.probes.lrange(RETRIES, 0, -1))

    def runs(self) -> list[tuple[str, int]]:
        """Every run of a shard so far: (shard, pid), in the order they started."""
        return [(shard, int(pid)) for shard, pid in map(str.split, self.probes.lrange(RUNS, 0, -1))]

    def wait_for(
        self,
        condition: Callable[[], T],
        *,
        timeout: float,
        what: str,
        interval: float = 0.2,
        progress: Callable[[], Hashable] | None = None,
    ) -> T:
        """Poll ``condition`` until it is true; fail after ``timeout`` seconds (scaled, see
        :mod:`tests.waiting`), counted from the last change of ``progress()`` if given."""
        deadline = time.monotonic() + scaled(timeout)
        last = progress() if progress is not None else None
        while True:
            self.workers.check_alive()
            value = condition()
            if value:
                return value
            if progress is not None and (current := progress()) != last:
                last, deadline = current, time.monotonic() + scaled(timeout)
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- w{number}:\n{self.workers.log(number, 15)}"
                    for number in range(1, len(self.workers.processes) + 1)
                )
                stalled = f" of no progress ({last})" if progress is not None else ""
                pytest.fail(
                    f"not {what} after {scaled(timeout):.0f} s{stalled}\n{logs}", pytrace=False
                )
            time.sleep(interval)

    def wait_done(self, timeout: float) -> CampaignStatus:
        """The campaign's status once it is done; fails after ``timeout`` seconds in which
        no chunk was finished (a loaded machine is slow, not stuck)."""
        return self.wait_for(
            lambda: (status := self.status()).done and status,
            timeout=timeout,
            what="done",
            progress=lambda: f"{self.status().chunks_done} chunks done",
        )

    def close(self) -> None:
        self.workers.stop()
        self.app.close()
        self.probes.close()


# --- checks --------------------------------------------------------------------------------


def check_outcomes(cluster: Cluster, data: Input) -> tuple[list[BatchOutcome], list[str]]:
    """One outcome per row, in input order; skipped exactly the invalid and duplicate rows;
    no phone sent twice; every ``sent`` phone in the ledger, and no other phone there than
    an ``unknown`` one (a chunk in flight when its worker or the store went away).

    Returns the outcomes and the phones of the ledger.
    """
    outcomes = cluster.outcomes()
    assert [item.position for item in outcomes] == list(range(len(data.phones)))
    assert [item.input_phone for item in outcomes] == data.phones
    skipped = {
        item.position: item.outcome.code for item in outcomes if item.status.value == "skipped"
    }
    assert skipped == data.skips
    phones = [entry.phone or "" for entry in cluster.sandbox.ledger.entries(provider="submail")]
    assert [phone for phone, count in Counter(phones).items() if count > 1] == []
    sent = {item.phone for item in outcomes if item.status.value == "sent"}
    unknown = {item.phone for item in outcomes if item.status.value == "unknown"}
    assert sent <= set(phones)
    assert set(phones) - sent <= unknown
    assert len(sent) + len(unknown) == len(data.phones) - len(data.skips)
    return outcomes, phones


def count(outcomes: list[BatchOutcome], status: str) -> int:
    return sum(1 for item in outcomes if item.status.value == status)


def shard_of(name: str) -> int:
    """``promo/3`` -> 3."""
    return int(name.rsplit("/", 1)[1])


def claim_states(server: RedisServer) -> dict[str, str]:
    """Every chunk claim in the store: key -> state (started, done, expired)."""
    with server.client() as client:
        keys = list(client.scan_iter(match="crowdsms:campaign:*:chunk:*", count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "state")
        # a claim given up before its send (released) is deleted: if that happens between
        # the scan and the read, the key is simply no claim any more
        return {
            key.decode(): state.decode()
            for key, state in zip(keys, pipe.execute(), strict=True)
            if state is not None
        }
