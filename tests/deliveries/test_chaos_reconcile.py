"""The loop closed end to end: a chaos batch against the sandbox, reports pushed to the SDK's
webhook app (served here with uvicorn) and recorded into the job's journal, reconciled.

After reconciliation, ``unknown`` is exactly the recipients of requests the sandbox never
processed (its fault log and ledger say which), every recipient of a request processed and
then dropped is ``sent`` and confirmed, and the delivered/undelivered counts are those of
the sandbox's pushed reports. With the explicit resend option every recipient ends ``sent``
and the ledger holds each number once. A reply 退订 makes the next job skip its number.
Nothing here depends on how fast the machine is. The sandbox pushes the reports of the first
job long after the job ends (one at a time, each written to the journal file), so the test
waits, with no fixed deadline, until the sandbox has pushed a report for every number it
processed and the journal holds them all; only then does it compare and reconcile. Each push
is recorded by the sandbox only after the webhook app answered, which is after the report was
committed, so a recorded push is a stored report: the order is the one the test waits for, not
one it assumes. The reply test likewise waits until both replies are recorded before the next
job starts.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import pytest_asyncio

from crowdsms.batch import SKIPPED_OPTED_OUT, BatchOutcome, BatchSender, reconcile
from crowdsms.deliveries import ReportRecorder, SQLiteDeliveryStore
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.paasw import PaaswWebhook
from crowdsms.providers.submail import SubmailWebhook
from crowdsms.sandbox import (
    FaultKind,
    FaultSettings,
    PushRecord,
    Sandbox,
    SandboxSettings,
    serve,
    serve_asgi,
)
from crowdsms.sandbox.emulators.submail import SUBMAIL_SUBHOOK_KEY
from crowdsms.webhooks import WebhookApp
from tests.waiting import scaled, wait_until

COUNT = 1200
CHUNK = 20
JOB = "chaos"


def phones() -> list[str]:
    return [f"1391{i:07d}" for i in range(COUNT)]


class Hooks:
    def __init__(self, url: str, journal: Path) -> None:
        self.url = url
        self.journal = journal


@pytest_asyncio.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    journal = tmp_path / "job.sqlite"
    store = await SQLiteDeliveryStore.open(journal)
    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_SUBHOOK_KEY),
        paasw=PaaswWebhook(),
        on_event=ReportRecorder(store),
    )
    try:
        async with serve_asgi(app) as url:
            yield Hooks(url, journal)
    finally:
        await store.aclose()


def settings(hooks: Hooks, faults: dict[str, float]) -> SandboxSettings:
    return SandboxSettings(
        webhooks={"submail": hooks.url + "/submail", "paasw": hooks.url + "/paasw/deliver"},
        delivery_failure_rate=0.25,
        faults=FaultSettings(rates=faults, seed=11),
        seed=5,
        # A push attempt that a loaded machine makes slow must not be given up (the sandbox's
        # default is 5 s): this test is about reconciliation, and checks that every push
        # was delivered.
        webhook_timeout=scaled(120),
    )


def chunk_sender(provider: str, client: Any) -> Any:
    if provider == "submail":
        return client.sms.multisend_chunks(content="【测试】您好 @var(n)")
    return client.sms.send_chunks(sign="测试", content="【测试】您好", kind=2)


def recipients(provider: str) -> list[Recipient]:
    return [
        Recipient(phone, {"n": str(i)} if provider == "submail" else {})
        for i, phone in enumerate(phones())
    ]


def report_pushes(sandbox: Sandbox) -> dict[str, bool]:
    """phone -> delivered, for every delivery report the sandbox pushed so far (its own
    account), whether or not the push was delivered; not SUBMAIL's ``request`` events."""
    found: dict[str, bool] = {}
    for record in sandbox.webhook_records:
        body = record.push.body.decode()
        if record.push.provider == "submail":
            fields = {key: values[0] for key, values in parse_qs(body).items()}
            if fields["events"] in ("delivered", "dropped"):
                found[fields["address"]] = fields["events"] == "delivered"
        else:
            for item in json.loads(body):
                found[item["phoneNumber"]] = item["code"] == "10000"
    return found


def pushed_reports(sandbox: Sandbox) -> dict[str, bool]:
    """:func:`report_pushes`, every push of which was delivered."""
    for record in sandbox.webhook_records:
        assert record.delivered, record
    return report_pushes(sandbox)


def stored_reports(journal: Path) -> int:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM reports").fetchone()
    return int(count)


async def all_reports_stored(
    sandbox: Sandbox, journal: Path, processed: set[str], expected: int
) -> None:
    """Wait until the sandbox pushed a report for each of ``processed`` and the journal holds
    ``expected`` reports. Fails at once if the sandbox gave a push up, and if the pushes
    stall; never because they are slow."""

    def given_up() -> list[PushRecord]:
        return [record for record in sandbox.webhook_records if not record.delivered]

    def done() -> bool:
        assert not given_up(), f"the sandbox gave up pushes: {given_up()[:3]}"
        if stored_reports(journal) < expected or sandbox.state.webhooks.pending:
            return False  # (cheap checks first: the pushes share this event loop)
        return processed <= set(report_pushes(sandbox))

    def progress() -> tuple[int, int]:
        return len(sandbox.webhook_records), stored_reports(journal)

    def missing() -> str:
        unreported = sorted(processed - set(report_pushes(sandbox)))
        return (
            f"{len(unreported)} of {len(processed)} processed numbers have no report pushed "
            f"(e.g. {unreported[:3]}); the journal holds {stored_reports(journal)} of "
            f"{expected} reports; {sandbox.state.webhooks.pending} pushes queued, "
            f"{len(sandbox.webhook_records)} done"
        )

    await wait_until(done, missing=missing, progress=progress, poll=0.05)


async def replay(
    journal: Path, provider: str, client: Any, **options: Any
) -> tuple[Any, dict[str, BatchOutcome]]:
    received: list[BatchOutcome] = []
    sender = BatchSender(chunk_sender(provider, client), chunk_size=CHUNK, concurrency=4, **options)
    report = await sender.send(
        recipients(provider), journal=journal, job_id=JOB, sink=received.append
    )
    return report, {item.outcome.phone: item for item in received}


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["submail", "paasw"])
async def test_a_chaos_batch_reconciles_exactly_and_the_asked_resend_completes_it(
    hooks: Hooks, provider: str
) -> None:
    journal = hooks.journal
    faults = {FaultKind.DROP_AFTER.value: 0.08, FaultKind.DROP.value: 0.08}
    async with (
        serve(settings(hooks, faults)) as sandbox,
        sandbox.client(provider, max_connections=4) as client,
    ):
        first, _ = await replay(journal, provider, client)
        sandbox.set_faults(FaultSettings())
        log = [r for r in sandbox.fault_log() if r.provider == provider and "send" in r.path]
        processed = {e.phone for e in sandbox.ledger.entries(provider=provider)}
        reports_per_message = 2 if provider == "submail" else 1  # SUBHOOK adds `request`
        expected_reports = reports_per_message * len(processed)
        await all_reports_stored(sandbox, journal, processed, expected_reports)
        # every report pushed was committed before the push was answered: all are stored
        assert stored_reports(journal) == expected_reports
        pushed = pushed_reports(sandbox)
        summary = await reconcile(journal, JOB, provider=provider)
        _, outcomes = await replay(journal, provider, client)

        dropped_before = [r for r in log if r.kind is FaultKind.DROP]
        dropped_after = [r for r in log if r.kind is FaultKind.DROP_AFTER]
        assert dropped_before, "the seed must give both kinds of fault"
        assert dropped_after, "the seed must give both kinds of fault"
        assert first.unknown == CHUNK * (len(dropped_before) + len(dropped_after))
        # unknown is exactly the recipients no processed request carried
        unknown = {p for p, o in outcomes.items() if o.status is OutcomeStatus.UNKNOWN}
        assert unknown == set(phones()) - processed
        assert len(unknown) == CHUNK * len(dropped_before)
        assert all(not r.processed and not r.phones for r in dropped_before)
        # every processed-then-dropped recipient is sent, confirmed by a report
        lost = {phone for r in dropped_after for phone in r.phones}
        assert len(lost) == CHUNK * len(dropped_after)
        assert all(
            outcomes[p].status is OutcomeStatus.SENT and outcomes[p].outcome.confirmed for p in lost
        )
        assert summary.confirmed == len(lost)
        # the delivery counts are the sandbox's reports
        assert set(pushed) == processed
        assert summary.delivered == sum(pushed.values())
        assert summary.undelivered == len(pushed) - sum(pushed.values())
        assert summary.undelivered > 0
        assert summary.awaiting == 0
        assert (summary.sent, summary.unknown) == (len(processed), len(unknown))

        # Resending, explicitly, completes the job without sending anyone twice.
        final, outcomes = await replay(journal, provider, client, resend_unconfirmed_after=0)
        assert final.complete
        assert final.resent == len(unknown)
        ledger = Counter(e.phone for e in sandbox.ledger.entries(provider=provider))
        assert set(ledger) == set(phones())
        assert set(ledger.values()) == {1}
        assert {o.status for o in outcomes.values()} == {OutcomeStatus.SENT}


@pytest.mark.asyncio
async def test_a_reply_to_opt_out_makes_the_next_job_skip_the_number(hooks: Hooks) -> None:
    async with serve(settings(hooks, {})) as sandbox:
        store = await SQLiteDeliveryStore.open(hooks.journal)
        try:
            async with sandbox.client("submail") as client:
                chunks = client.sms.multisend_chunks(content="【测试】您好 @var(n)")
                numbers = [Recipient(p, {"n": "x"}) for p in phones()[:5]]
                await BatchSender(chunks).send(numbers, journal=hooks.journal, job_id="first")
                sandbox.add_reply("submail", phones()[1], "退订")
                sandbox.add_reply("submail", phones()[2], "好的")
                replied = {phones()[1], phones()[2]}

                async def recorded() -> frozenset[str]:
                    return frozenset(reply.phone for reply in await store.replies())

                async def both_recorded() -> bool:
                    return replied <= await recorded()

                async def missing() -> str:
                    return f"replies of {sorted(replied - await recorded())} not recorded"

                # both replies, so that the second job provably ran after the one that is no
                # opt-out was recorded too
                await wait_until(both_recorded, missing=missing, progress=recorded)
                opted = await store.opted_out()
                assert phones()[1] in opted
                assert phones()[2] not in opted
                received: list[BatchOutcome] = []
                before = len(sandbox.ledger.entries(provider="submail"))
                await BatchSender(chunks).send(
                    numbers, journal=hooks.journal, job_id="second", sink=received.append
                )
        finally:
            await store.aclose()
        assert await_free(received, phones()[1]) == (OutcomeStatus.SKIPPED, SKIPPED_OPTED_OUT)
        assert await_free(received, phones()[2])[0] is OutcomeStatus.SENT
        assert len(sandbox.ledger.entries(provider="submail")) == before + 4


def await_free(received: list[BatchOutcome], phone: str) -> tuple[OutcomeStatus, str | None]:
    [outcome] = [item.outcome for item in received if item.phone == phone]
    return outcome.status, outcome.code
