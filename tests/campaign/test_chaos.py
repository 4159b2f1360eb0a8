"""Chaos: a campaign run by Celery workers against a sandbox that loses answers and requests,
closed by delivery reports, then resent at-least-once without sending anyone twice.

The sandbox drops 10% of requests before processing them (nothing sent) and 10% after (sent,
the answer lost), and pushes a delivery report for every message it sent (a fifth of them
undelivered) to a WebhookApp served here, which records them in the campaign store. After
the campaign, reconciling must leave ``unknown`` exactly the numbers the sandbox never
processed; resending those (faults off) must reach every number exactly once.

The workers, broker, store and sandbox are those of test_celery.py (cluster.py).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import anyio.from_thread
import pytest

from crowdsms.campaign import RedisDeliveryStore
from crowdsms.campaign.celery import resume
from crowdsms.deliveries import DeliverySummary, ReportRecorder, job_hash, parse_reference
from crowdsms.outcomes import DeliveryState
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.sandbox import FaultKind, Sandbox, serve_asgi
from crowdsms.webhooks import WebhookApp
from tests.campaign.cluster import CAMPAIGN, Cluster, check_outcomes, write_input
from tests.campaign.reports import all_reports_pushed, delivery_reports, reports_still_missing

ROWS = 2000


@contextlib.contextmanager
def webhook_app(store_url: str, sandbox: Sandbox) -> Iterator[str]:
    """A WebhookApp recording into the campaign store, served on a thread of its own."""
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        store = portal.call(partial(RedisDeliveryStore.connect, store_url))
        options = sandbox.emulator("submail").webhook_options()
        app = WebhookApp(submail=SubmailWebhook(**options), on_event=ReportRecorder(store))
        try:
            with portal.wrap_async_context_manager(serve_asgi(app)) as url:
                yield url + "/submail"
        finally:
            portal.call(store.aclose)


def reports_pushed(cluster: Cluster) -> list[dict[str, str]]:
    """The report of every message the sandbox sent, once all of them were pushed."""
    sandbox = cluster.sandbox
    cluster.wait_for(
        lambda: all_reports_pushed(sandbox),
        timeout=120,
        what="reports pushed",
        progress=lambda: reports_still_missing(sandbox),
    )
    return delivery_reports(sandbox)


@pytest.mark.slow
def test_reports_confirm_lost_answers_and_a_resend_reaches_everyone_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = write_input(tmp_path / "input.csv", ROWS)
    sandbox = cluster.sandbox
    with webhook_app(cluster.store_url, sandbox) as url:
        sandbox.configure(webhooks={"submail": url}, delivery_failure_rate=0.2)
        sandbox.set_faults(rates={"drop": 0.1, "drop_after": 0.1}, seed=11)
        cluster.workers.start(3, visibility_timeout=600)
        cluster.start(data, shard_rows=500, chunk_size=10, concurrency=2)
        cluster.wait_done(timeout=120)
        assert sandbox.faults.injected[FaultKind.DROP] > 0
        assert sandbox.faults.injected[FaultKind.DROP_AFTER] > 0

        before, ledger = check_outcomes(cluster, data)
        sendable = {item.outcome.phone for item in before if item.status.value != "skipped"}
        was_unknown = {item.outcome.phone for item in before if item.status.value == "unknown"}
        assert set(ledger) < sendable
        assert set(ledger) & was_unknown  # answers lost after the sandbox sent them
        reports = reports_pushed(cluster)
        assert sorted(report["address"] for report in reports) == sorted(ledger)

        stored = cluster.call(lambda campaign: campaign.deliveries.reports(since=0))
        jobs = {job_hash(f"{CAMPAIGN}/{shard}") for shard in range(ROWS // 500)}
        named = [parse_reference(report.reference) for report in stored]
        assert {(ref.job, ref.resend) if ref else None for ref in named} <= {(j, 0) for j in jobs}
        assert len(stored) == 2 * len(ledger)  # a request event and a delivery report each

        summary: DeliverySummary = cluster.call(lambda campaign: campaign.reconcile())
        after, _ = check_outcomes(cluster, data)
        by_status = {
            status: {item.outcome.phone for item in after if item.status.value == status}
            for status in ("sent", "unknown")
        }
        assert by_status["unknown"] == sendable - set(ledger)  # never processed
        assert by_status["sent"] == set(ledger)
        confirmed = {item.outcome.phone for item in after if item.outcome.confirmed}
        assert confirmed == was_unknown & set(ledger)
        events = Counter(report["events"] for report in reports)
        assert (summary.delivered, summary.undelivered) == (events["delivered"], events["dropped"])
        assert events["dropped"] > 0
        assert (summary.awaiting, summary.in_flight, summary.unmatched_reports) == (0, 0, 0)
        assert summary.reports == 2 * len(ledger)  # a request event and a delivery report
        assert (summary.sent, summary.unknown) == (len(ledger), len(sendable - set(ledger)))
        assert summary.confirmed == len(confirmed)
        undelivered = {
            item.outcome.phone
            for item in after
            if item.outcome.delivery and item.outcome.delivery.state is DeliveryState.UNDELIVERED
        }
        assert undelivered == {r["address"] for r in reports if r["events"] == "dropped"}
        assert cluster.status().deliveries == summary

        sandbox.set_faults()  # faults off: every resend arrives
        shards = resume(
            cluster.app, campaign_id=CAMPAIGN, store=cluster.store_url, resend_unconfirmed_after=0
        )
        assert shards  # the shards with unknown recipients
        assert not cluster.status().done
        status = cluster.wait_done(timeout=120)
        assert status.chunks_started == 0
        final, ledger = check_outcomes(cluster, data)
        assert {item.outcome.phone for item in final if item.status.value == "sent"} == sendable
        assert sorted(ledger) == sorted(sendable)  # each number exactly once
        resent = {i.outcome.phone for i in final if "sent again" in (i.outcome.message or "")}
        assert resent == by_status["unknown"]

        reports_pushed(cluster)
        again = cluster.call(lambda campaign: campaign.reconcile())
        assert (again.sent, again.unknown, again.awaiting) == (len(sendable), 0, 0)
