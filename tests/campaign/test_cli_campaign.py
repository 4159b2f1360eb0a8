"""``crowdsms campaign``: start, status, report, cancel and resume, as subprocesses.

The shards are run here, in the test, standing in for Celery workers (tests/campaign's Celery
tests run real workers); the command line plans, queues, reports and cancels.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
import redis.asyncio

from crowdsms.campaign import Campaign, Durability, connect
from crowdsms.sandbox import Sandbox, serve_in_thread


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread() as running:
        yield running


def crowdsms(*args: str, cwd: Path, store: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    env["CROWDSMS_CONFIG"] = str(cwd / "none.toml")
    (cwd / "none.toml").write_text("")
    env["CROWDSMS_CAMPAIGN_STORE"] = store
    env["CROWDSMS_CAMPAIGN_BROKER"] = store.rsplit("/", 1)[0] + "/5"
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "crowdsms", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.asyncio
async def test_start_status_report_cancel_resume(
    redis_url: str, redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    # the short row (no name) is skipped, as `send` skips it, not sent with a blank name
    rows = ["phone,name"] + [f"1380{i:07d},n{i}" for i in range(250)] + ["13900000000", "12345,bad"]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    typo = crowdsms(
        "campaign",
        "start",
        str(path),
        "--id",
        "c1",
        "--content",
        "【小店】@var(nmae)",
        cwd=tmp_path,
        store=redis_url,
    )
    assert typo.returncode == 2
    assert "did you mean 'name'" in typo.stderr
    started = crowdsms(
        "campaign",
        "start",
        str(path),
        "--id",
        "c1",
        "--content",
        "【小店】@var(name)",
        "--shard-rows",
        "100",
        "--chunk-size",
        "20",
        cwd=tmp_path,
        store=redis_url,
    )
    assert started.returncode == 0, started.stderr
    campaign = Campaign(redis, "c1")
    manifest = await campaign.manifest()
    assert len(manifest.plan.shards) == 3
    credentials, base = sandbox.credentials("submail"), sandbox.base_url("submail")
    await campaign.run_shard(0, credentials=credentials, base_url=base)

    status = crowdsms("campaign", "status", "c1", cwd=tmp_path, store=redis_url)
    assert status.returncode == 0, status.stderr
    assert "100 of 252 rows done" in status.stdout
    assert "1 done, 2 left" in status.stdout

    cancelled = crowdsms("campaign", "cancel", "c1", cwd=tmp_path, store=redis_url)
    assert cancelled.returncode == 0
    report = await campaign.run_shard(1, credentials=credentials, base_url=base)
    assert report.interrupted
    assert report.sent == 0
    resumed = crowdsms("campaign", "resume", "c1", cwd=tmp_path, store=redis_url)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 shards queued again" in resumed.stdout
    for shard in (1, 2):
        await campaign.run_shard(shard, credentials=credentials, base_url=base)

    out = tmp_path / "outcomes.jsonl"
    written = crowdsms(
        "campaign", "report", "c1", "--output", str(out), cwd=tmp_path, store=redis_url
    )
    assert written.returncode == 0, written.stderr
    outcomes = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["position"] for o in outcomes] == list(range(252))
    assert [o["status"] for o in outcomes].count("sent") == 250
    assert outcomes[-1]["code"] == "invalid"
    assert (outcomes[-2]["status"], outcomes[-2]["code"]) == ("skipped", "short_row")
    assert len(sandbox.ledger.entries(provider="submail")) == 250

    await Campaign.create(  # another campaign, which deleting c1 must leave alone
        redis,
        campaign_id="c10",
        provider="submail",
        message=manifest.message,
        path=path,
    )
    deleted = crowdsms("campaign", "delete", "c1", cwd=tmp_path, store=redis_url)
    assert deleted.returncode == 0, deleted.stderr
    left = [key.decode() for key in await redis.keys("*")]
    assert [key for key in left if "{c1}" in key or "{c1/" in key] == []
    assert any("{c10}" in key for key in left)


@pytest.mark.asyncio
async def test_the_celery_example_queues_a_campaign_that_shards_finish(
    redis_url: str, redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    import importlib.util

    from crowdsms.campaign.celery import SHARD_TASK

    rows = ["phone,name"] + [f"1380{i:07d},n{i}" for i in range(30)]
    (tmp_path / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.environ["CROWDSMS_CAMPAIGN_STORE"] = redis_url
    os.environ["CELERY_BROKER"] = redis_url.rsplit("/", 1)[0] + "/6"
    try:
        path = Path(__file__).parents[2] / "examples" / "celery_campaign.py"
        spec = importlib.util.spec_from_file_location("example_celery_campaign", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert SHARD_TASK in module.app.tasks
        sent: list[tuple[str, object]] = []
        module.app.send_task = lambda name, args: sent.append((name, args))
        await anyio.to_thread.run_sync(module.main, str(tmp_path / "contacts.csv"))
    finally:
        os.environ.pop("CROWDSMS_CAMPAIGN_STORE")
        os.environ.pop("CELERY_BROKER")
    assert sent == [(SHARD_TASK, ("promo-2026-12", 0))]
    campaign = Campaign(redis, "promo-2026-12")
    await campaign.run_shard(
        0, credentials=sandbox.credentials("submail"), base_url=sandbox.base_url("submail")
    )
    assert (await campaign.status()).done
    assert len(sandbox.ledger.entries()) == 30


@pytest.mark.asyncio
async def test_reconcile_status_and_an_at_least_once_resume(
    redis_url: str, redis: redis.asyncio.Redis, sandbox: Sandbox, tmp_path: Path
) -> None:
    from crowdsms.campaign import RedisDeliveryStore
    from crowdsms.deliveries import ReportRecorder
    from crowdsms.providers.submail import SubmailWebhook
    from crowdsms.sandbox import serve_asgi
    from crowdsms.webhooks import WebhookApp
    from tests.campaign.reports import reports_pushed

    rows = ["phone,name"] + [f"1380{i:07d},n{i}" for i in range(40)]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    deliveries = RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS)
    await deliveries.opt_out(["13800000003"])
    options = sandbox.emulator("submail").webhook_options()
    app = WebhookApp(submail=SubmailWebhook(**options), on_event=ReportRecorder(deliveries))
    common = ("--content", "【小店】@var(name)", "--chunk-size", "10", "--shard-rows", "20",
              "--concurrency", "1")  # fmt: skip
    codes = crowdsms("campaign", "start", str(path), "--id", "codes", "--ignore-opt-outs",
                     *common, cwd=tmp_path, store=redis_url)  # fmt: skip
    assert codes.returncode == 0, codes.stderr
    assert not (await Campaign(redis, "codes").manifest()).honour_opt_outs
    started = crowdsms(
        "campaign", "start", str(path), "--id", "c2", *common, cwd=tmp_path, store=redis_url
    )
    assert started.returncode == 0, started.stderr
    campaign = Campaign(redis, "c2")
    credentials, base = sandbox.credentials("submail"), sandbox.base_url("submail")
    async with serve_asgi(app) as url:
        sandbox.configure(webhooks={"submail": url + "/submail"})
        # the first chunk (10 recipients) is sent but its answer is lost; the second (9:
        # one opted out) never arrives
        sandbox.force_fault("drop_after", provider="submail")
        sandbox.force_fault("drop", provider="submail")
        for shard in (0, 1):
            await campaign.run_shard(shard, credentials=credentials, base_url=base)
        await reports_pushed(sandbox)
        assert len(sandbox.ledger.entries()) == 30  # 39 to send, 9 never arrived

        reconciled = crowdsms("campaign", "reconcile", "c2", cwd=tmp_path, store=redis_url)
        assert reconciled.returncode == 1, reconciled.stderr  # some are still unknown
        counts = {
            row.split("│")[1].strip(): row.split("│")[2].strip()
            for row in reconciled.stdout.splitlines()
            if row.count("│") >= 3
        }
        assert counts["recipients"] == "40"  # the opted-out one included
        assert (counts["sent"], counts["confirmed"], counts["unknown"]) == ("30", "10", "9")
        assert counts["skipped"] == "1"
        assert "crowdsms campaign resume c2 --resend-unconfirmed-after" in reconciled.stderr
        status = crowdsms("campaign", "status", "c2", cwd=tmp_path, store=redis_url)
        assert status.returncode == 0, status.stderr
        assert "awaiting a report; 10 confirmed by reports, 9 still unknown" in status.stdout

        bad = crowdsms("campaign", "resume", "c2", "--resend-unconfirmed-after", "soon",
                       cwd=tmp_path, store=redis_url)  # fmt: skip
        assert bad.returncode == 2
        assert "not a duration" in bad.stderr
        resumed = crowdsms("campaign", "resume", "c2", "--resend-unconfirmed-after", "0s",
                           cwd=tmp_path, store=redis_url)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert "1 shards queued again" in resumed.stdout
        assert "at-least-once" in resumed.stderr
        broker = redis_url.rsplit("/", 1)[0] + "/5"
        client = connect(broker)
        try:
            messages = await client.lrange("celery", 0, -1)
        finally:
            await client.aclose()
        bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in messages]
        queued = [body for body in bodies if body[1]]  # start's shards carry no keywords
        assert queued == [[["c2", 0], {"resend_unconfirmed_after": 0.0}, queued[0][2]]]
        body = queued[0]
        await campaign.run_shard(0, credentials=credentials, base_url=base, **body[1])
    outcomes = [item async for item in campaign.outcomes()]
    assert [item.status.value for item in outcomes].count("sent") == 39
    phones = [entry.phone for entry in sandbox.ledger.entries()]
    assert len(phones) == len(set(phones)) == 39


async def create_campaign(redis: redis.asyncio.Redis, tmp_path: Path, campaign_id: str) -> None:
    from crowdsms.providers._spec import MessageOptions

    path = tmp_path / "contacts.csv"
    path.write_text("phone,name\n13800000001,n1\n", encoding="utf-8")
    message = MessageOptions(content="【小店】@var(name)", columns=("name",))
    await Campaign.create(
        redis, campaign_id=campaign_id, provider="submail", message=message, path=path
    )


@pytest.mark.asyncio
async def test_an_unknown_campaign_id_is_refused_by_every_command(
    redis_url: str, redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    await create_campaign(redis, tmp_path, "promo-12")
    for command in ("cancel", "delete", "status", "reconcile", "resume"):
        typo = crowdsms("campaign", command, "promo-l2", cwd=tmp_path, store=redis_url)
        assert typo.returncode == 2, (command, typo.stdout, typo.stderr)
        assert "no campaign 'promo-l2'" in typo.stderr
        assert "did you mean 'promo-12'?" in typo.stderr
        assert "Traceback" not in typo.stderr
    assert not await Campaign(redis, "promo-12").cancelled()
    assert not await redis.exists(Campaign(redis, "promo-l2").cancel_key)
    # the typo's id stays free: a campaign created under it is not cancelled
    await create_campaign(redis, tmp_path, "promo-l2")
    assert not await Campaign(redis, "promo-l2").cancelled()


@pytest.mark.asyncio
async def test_a_report_that_fails_leaves_the_existing_file_as_it_was(
    redis_url: str, redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    await create_campaign(redis, tmp_path, "promo")
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "outcomes.jsonl"
    existing.write_text('{"precious": 1}\n')
    for campaign_id in ("prom0", "promo"):  # unknown; not done (its shard never ran)
        failed = crowdsms(
            "campaign", "report", campaign_id, "--output", str(existing),
            cwd=tmp_path, store=redis_url,
        )  # fmt: skip
        assert failed.returncode == 2, failed.stderr
        assert existing.read_text() == '{"precious": 1}\n'
        assert [path.name for path in out.iterdir()] == ["outcomes.jsonl"]  # no temporary
    nowhere = crowdsms("campaign", "report", "promo", "--output", "no/such/dir/r.jsonl",
                       cwd=tmp_path, store=redis_url)  # fmt: skip
    assert nowhere.returncode == 2
    assert "cannot write in" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def refused_url() -> str:
    """A Redis URL with a password (s3cret), of a port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://crowdsms:s3cret@127.0.0.1:{port}/0"


def test_a_store_that_refuses_the_connection_is_one_line_with_its_password_masked(
    tmp_path: Path,
) -> None:
    store = refused_url()
    (tmp_path / "outcomes.jsonl").write_text('{"precious": 1}\n')
    (tmp_path / "contacts.csv").write_text("phone,name\n13800000001,n1\n")
    broker = "--broker=redis://127.0.0.1:1/5"
    commands = [
        ("status", "promo"),
        ("cancel", "promo"),
        ("delete", "promo"),
        ("reconcile", "promo"),
        ("report", "promo", "--output", "outcomes.jsonl"),
        ("resume", "promo", broker),
        ("start", "contacts.csv", "--id", "promo", "--content", "【小店】@var(name)", broker),
    ]
    for command in commands:
        result = crowdsms("campaign", *command, cwd=tmp_path, store=store)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("crowdsms: error: cannot use the campaign store "), (
            command,
            result.stderr,
        )
        assert "'redis://***@127.0.0.1:" in result.stderr
        assert "nothing was done" in result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "s3cret" not in result.stdout + result.stderr
    assert (tmp_path / "outcomes.jsonl").read_text() == '{"precious": 1}\n'


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis://crowdsms:s3cret@127.0.0.1:6379/0?foo=bar", "unexpected keyword argument 'foo'"),
        ("redis://crowdsms:s3cret@[::zz]:6379/0", "'::zz' does not appear to be an IPv4"),
        ("redis://127.0.0.1:99999/0?password=s3cret", "Port out of range"),
        ("redis://127.0.0.1:6379/0?password=s3cret&socket_timeout=x", "socket_timeout"),
    ],
)
def test_a_store_url_redis_py_cannot_use_is_one_line(tmp_path: Path, url: str, why: str) -> None:
    result = crowdsms("campaign", "status", "promo", cwd=tmp_path, store=url)
    assert result.returncode == 2
    assert result.stderr.startswith("crowdsms: error: the Redis URL"), result.stderr
    assert why in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.asyncio
async def test_a_store_that_fails_after_answering_is_one_line(
    redis_url: str, redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    await create_campaign(redis, tmp_path, "promo")
    # a user that may PING and read, not run scripts: the cancel fails after the PING
    await redis.execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "crowdsms-readonly", "reset", "on", ">s3cret", "~*", "+@read", "+ping"
    )
    scheme, _, rest = redis_url.partition("://")
    store = f"{scheme}://crowdsms-readonly:s3cret@{rest}"
    try:
        status = crowdsms("campaign", "status", "promo", cwd=tmp_path, store=store)
        cancel = crowdsms("campaign", "cancel", "promo", cwd=tmp_path, store=store)
    finally:
        await redis.execute_command("ACL", "DELUSER", "crowdsms-readonly")  # type: ignore[no-untyped-call]
    assert status.returncode == 0, status.stderr
    assert cancel.returncode == 1
    assert cancel.stderr.startswith("crowdsms: error: the campaign store 'redis://***@")
    assert "no permissions to run the 'evalsha' command" in cancel.stderr
    assert "may be partly done" in cancel.stderr
    assert len(cancel.stderr.splitlines()) == 1, cancel.stderr
    assert "s3cret" not in cancel.stdout + cancel.stderr
    assert not await Campaign(redis, "promo").cancelled()


@pytest.mark.asyncio
async def test_a_broker_that_cannot_be_reached_leaves_the_campaign_unplanned(
    redis_url: str, redis: redis.asyncio.Redis, tmp_path: Path
) -> None:
    (tmp_path / "contacts.csv").write_text("phone,name\n13800000001,n1\n")
    broker = refused_url()
    content = "【小店】@var(name)"
    started = crowdsms("campaign", "start", "contacts.csv", "--id", "promo", "--content",
                       content, "--broker", broker, cwd=tmp_path, store=redis_url)  # fmt: skip
    assert started.returncode == 2
    assert started.stderr.startswith("crowdsms: error: cannot reach the Celery broker ")
    assert "'redis://***@127.0.0.1:" in started.stderr
    assert len(started.stderr.splitlines()) == 1, started.stderr
    assert "s3cret" not in started.stdout + started.stderr
    assert await Campaign.ids(redis) == []
