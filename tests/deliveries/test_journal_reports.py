"""A job's journal keeps reports: a resumed job confirms ``unknown`` recipients, skips
opted-out numbers, and resends the unconfirmed only when asked; ``reconcile`` counts."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import anyio
import attrs
import pytest

from crowdsms import RetryPolicy
from crowdsms.batch import (
    SKIPPED_OPTED_OUT,
    BatchOutcome,
    BatchSender,
    JobNotFoundError,
    JournalError,
    reconcile,
)
from crowdsms.deliveries import (
    InboundReply,
    OptOutWords,
    ProviderReport,
    ReportKind,
    ReportRecorder,
    SQLiteDeliveryStore,
    chunk_reference,
)
from crowdsms.errors import ConnectionFailedError, DeliveryCertainty, RequestTimeoutError
from crowdsms.outcomes import DeliveryState, OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.webhooks import ReplyEvent
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, Script, phone_at, recipients, sent

JOB = "reports-job"
CHUNK = 10


class ReferencedSender(FakeChunkSender):
    """A fake whose provider repeats the chunk's reference in its reports.

    ``lost`` chunks (by the order of their first call) time out after the provider took
    them; ``dropped`` ones time out before it did. ``had`` lists every phone the provider
    took, once per time it took it.
    """

    def __init__(self, *, lost: Sequence[int] = (), dropped: Sequence[int] = ()) -> None:
        super().__init__(max_chunk_size=CHUNK, script=self._answer, references=True)
        self._lost = set(lost)
        self._dropped = set(dropped)
        self.had: list[str] = []
        self.references: dict[int, str | None] = {}

    async def _answer(self, call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        self.references[call.number] = call.reference
        timeout = RequestTimeoutError(
            "read timeout", certainty=DeliveryCertainty.UNKNOWN, operation="send"
        )
        if call.number in self._dropped:
            raise timeout
        self.had += [recipient.phone for recipient in given]
        if call.number in self._lost:
            raise timeout
        return [sent(recipient) for recipient in given]


def accepted(
    phones: Sequence[str], reference: str | None, kind: ReportKind
) -> list[ProviderReport]:
    return [
        ProviderReport(provider="fake", kind=kind, phone=phone, reference=reference, code="E1")
        for phone in phones
    ]


async def record(journal: Path, records: Sequence[ProviderReport | InboundReply]) -> None:
    store = await SQLiteDeliveryStore.open(journal)
    try:
        await store.record(records, words=OptOutWords())
    finally:
        await store.aclose()


def by_phone(outcomes: list[BatchOutcome]) -> dict[str, RecipientOutcome]:
    return {item.outcome.phone: item.outcome for item in outcomes}


@pytest.mark.asyncio
async def test_reports_confirm_lost_answers_and_only_the_asked_resend_sends_the_rest(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    sender = ReferencedSender(lost=[1], dropped=[3])
    first = await BatchSender(sender, concurrency=1).send(
        recipients(50), journal=journal, job_id=JOB
    )
    assert first.unknown == 2 * CHUNK
    assert sender.references[1] == chunk_reference(JOB, 1)
    lost_phones = [phone_at(position) for position in range(CHUNK, 2 * CHUNK)]
    # The provider reports what it had, naming the chunk: accepted for all, delivered for
    # some, undelivered for others.
    await record(
        journal,
        accepted(lost_phones, chunk_reference(JOB, 1), ReportKind.ACCEPTED)
        + accepted(lost_phones[:6], chunk_reference(JOB, 1), ReportKind.DELIVERED)
        + accepted(lost_phones[6:], chunk_reference(JOB, 1), ReportKind.UNDELIVERED),
    )
    summary = await reconcile(journal, JOB)
    assert (summary.sent, summary.confirmed, summary.unknown) == (40, CHUNK, CHUNK)
    assert (summary.delivered, summary.undelivered, summary.awaiting) == (6, 4, 30)
    assert summary.undelivered_codes == {"E1": 4}
    assert summary.reports == 2 * CHUNK

    # Resuming without the option sends nobody again.
    replay = ReferencedSender()
    report = await BatchSender(replay, concurrency=1).send(
        recipients(50), journal=journal, job_id=JOB
    )
    assert replay.calls == []
    assert (report.unknown, report.confirmed, report.resent) == (CHUNK, CHUNK, 0)

    # With it, only the recipients no report confirmed are sent again.
    resend = ReferencedSender()
    received: list[BatchOutcome] = []
    report = await BatchSender(resend, concurrency=1, resend_unconfirmed_after=0).send(
        recipients(50), journal=journal, job_id=JOB, sink=received.append
    )
    dropped_phones = {phone_at(position) for position in range(3 * CHUNK, 4 * CHUNK)}
    assert set(resend.had) == dropped_phones
    assert resend.references[0] == chunk_reference(JOB, 3, 1)
    assert report.complete
    assert (report.resent, report.unknown) == (CHUNK, 0)
    outcomes = by_phone(received)
    assert "at-least-once" in (outcomes[phone_at(35)].message or "")
    assert outcomes[phone_at(15)].confirmed
    # Every phone reached the provider exactly once over the three runs.
    had = sender.had + replay.had + resend.had
    assert sorted(had) == sorted(phone_at(position) for position in range(50))

    # Once all are sent, resending again finds nothing to resend.
    again = ReferencedSender()
    report = await BatchSender(again, concurrency=1, resend_unconfirmed_after=0).send(
        recipients(50), journal=journal, job_id=JOB
    )
    assert again.calls == []
    assert report.complete


@pytest.mark.asyncio
async def test_recipients_are_resent_only_after_the_deadline(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    await BatchSender(ReferencedSender(dropped=[0]), concurrency=1).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    patient = ReferencedSender()
    report = await BatchSender(patient, resend_unconfirmed_after=3600).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert patient.calls == []
    assert report.unknown == CHUNK


async def _refused(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
    raise ConnectionFailedError("connection refused", certainty=DeliveryCertainty.NOT_SENT)


async def _refused_each(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
    return [
        RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code="E42", message="no")
        for r in given
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("resend", [_refused, _refused_each], ids=["request", "recipients"])
async def test_a_failed_resend_leaves_the_recipients_unknown_and_unsent_again(
    tmp_path: Path, resend: Script
) -> None:
    journal = tmp_path / "job.sqlite"
    await BatchSender(ReferencedSender(lost=[0]), concurrency=1).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    got: list[BatchOutcome] = []
    report = await BatchSender(
        FakeChunkSender(max_chunk_size=CHUNK, script=resend), resend_unconfirmed_after=0
    ).send(recipients(CHUNK), journal=journal, job_id=JOB, sink=got.append)
    # The first send may have reached the provider: the resend failing proves nothing.
    assert report.unknown == CHUNK
    assert report.failed == 0
    assert {item.outcome.status for item in got} == {OutcomeStatus.UNKNOWN}
    assert all("did not go out" in (item.outcome.message or "") for item in got)
    # A plain resume (no at-least-once asked) sends nobody.
    plain = FakeChunkSender(max_chunk_size=CHUNK)
    again = await BatchSender(plain).send(recipients(CHUNK), journal=journal, job_id=JOB)
    assert plain.calls == []
    assert again.unknown == CHUNK


@pytest.mark.asyncio
async def test_a_reply_that_opts_out_makes_later_jobs_skip_the_number(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    await BatchSender(ReferencedSender()).send(recipients(5), journal=journal, job_id="first")
    await record(
        journal,
        [
            InboundReply(provider="fake", phone=phone_at(2), content=" 退订 "),
            InboundReply(provider="fake", phone=phone_at(3), content="谢谢"),
        ],
    )
    later = ReferencedSender()
    received: list[BatchOutcome] = []
    report = await BatchSender(later).send(
        recipients(5), journal=journal, job_id="second", sink=received.append
    )
    skipped = by_phone(received)[phone_at(2)]
    assert (skipped.status, skipped.code) == (OutcomeStatus.SKIPPED, SKIPPED_OPTED_OUT)
    assert "honour_opt_outs=False" in (skipped.message or "")
    assert phone_at(2) not in later.had
    assert phone_at(3) in later.had
    assert report.skipped == 1

    transactional = ReferencedSender()
    await BatchSender(transactional, honour_opt_outs=False).send(
        recipients(5), journal=journal, job_id="verification codes"
    )
    assert phone_at(2) in transactional.had


@pytest.mark.asyncio
async def test_a_job_skips_the_numbers_it_is_given_without_a_journal() -> None:
    sender = ReferencedSender()
    report = await BatchSender(sender, opted_out=["+86 " + phone_at(1)]).send(recipients(3))
    assert phone_at(1) not in sender.had
    assert report.by_code == {SKIPPED_OPTED_OUT: 1}


@pytest.mark.asyncio
async def test_an_opt_out_during_a_job_does_not_change_its_resumption(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    await record(journal, [InboundReply(provider="fake", phone=phone_at(1), content="T")])
    # The job's chunks were cut before the opt-out: resuming it replays them unchanged
    # (no mismatch), while a new job skips the number.
    report = await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert report.unknown == CHUNK


async def reply(journal: Path, phone: str, *, dated: float) -> None:
    """Record a "T" from ``phone`` whose provider dates it ``dated`` (Unix seconds)."""
    store = await SQLiteDeliveryStore.open(journal)
    try:
        event = ReplyEvent(
            provider="fake",
            kind="reply",
            phone=phone,
            content="T",
            occurred_at=datetime.fromtimestamp(dated, timezone.utc),
        )
        await ReportRecorder(store)(event)
    finally:
        await store.aclose()


def skipped_phones(outcomes: list[BatchOutcome]) -> set[str]:
    return {item.outcome.phone for item in outcomes if item.outcome.code == SKIPPED_OPTED_OUT}


@pytest.mark.asyncio
async def test_a_reply_dated_before_the_job_but_recorded_during_it_does_not_change_its_resumption(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    began = time.time()
    await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    # Sent a minute before the job began, recorded only now (a reconcile's pull, a late push).
    await reply(journal, phone_at(1), dated=began - 60)
    preview = await BatchSender(ReferencedSender()).preview(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert preview.opted_out == 0
    report = await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert report.unknown == CHUNK
    received: list[BatchOutcome] = []
    await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id="next", sink=received.append
    )
    assert skipped_phones(received) == {phone_at(1)}


@pytest.mark.asyncio
async def test_a_reply_dated_ahead_by_the_provider_opts_out_of_the_next_jobs(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    await reply(journal, phone_at(2), dated=time.time() + 365 * 86400)  # a clock or parsing error
    received: list[BatchOutcome] = []
    await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id=JOB, sink=received.append
    )
    assert skipped_phones(received) == {phone_at(2)}


@pytest.mark.asyncio
async def test_a_journal_of_an_earlier_version_keeps_its_jobs_opt_outs_and_gets_the_time_recorded(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    began = time.time()
    await reply(journal, phone_at(3), dated=began - 3600)
    first = await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert (first.unknown, first.skipped) == (CHUNK - 1, 1)
    # As an earlier version left the file: its opt_outs table (no recorded_at), and a reply
    # (recorded after the job began) that its provider dates a year ahead.
    with contextlib.closing(sqlite3.connect(journal, isolation_level=None)) as db:
        db.executescript(
            """
            ALTER TABLE opt_outs RENAME TO newer;
            CREATE TABLE opt_outs (
                phone TEXT PRIMARY KEY, provider TEXT, reply TEXT, at REAL NOT NULL
            );
            INSERT INTO opt_outs SELECT phone, provider, reply, at FROM newer;
            DROP TABLE newer;
            """
        )
        db.execute(
            "INSERT INTO opt_outs (phone, provider, reply, at) VALUES (?, 'fake', 'T', ?)",
            (phone_at(2), began + 365 * 86400),
        )
    # Read as it is (a preview changes nothing): the job's list is the one it started with.
    preview = await BatchSender(ReferencedSender()).preview(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert preview.opted_out == 1
    resumed = await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert (resumed.unknown, resumed.skipped) == (CHUNK - 1, 1)
    received: list[BatchOutcome] = []
    await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id="next", sink=received.append
    )
    assert skipped_phones(received) == {phone_at(2), phone_at(3)}


@pytest.mark.asyncio
async def test_another_process_records_reports_while_the_job_runs(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    started = anyio.Event()
    proceed = anyio.Event()

    async def slow(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 1:
            started.set()
            await proceed.wait()
        return [sent(recipient) for recipient in given]

    sender = FakeChunkSender(max_chunk_size=CHUNK, script=slow)
    script = textwrap.dedent(
        f"""
        import anyio
        from crowdsms.deliveries import (
            OptOutWords, ProviderReport, ReportKind, SQLiteDeliveryStore,
        )

        async def main():
            store = await SQLiteDeliveryStore.open({str(journal)!r})
            result = await store.record(
                [ProviderReport(provider="fake", kind=ReportKind.DELIVERED,
                                phone={phone_at(0)!r}, message_id="id-{phone_at(0)}")],
                words=OptOutWords(),
            )
            await store.aclose()
            print(result.reports)

        anyio.run(main)
        """
    )
    async with anyio.create_task_group() as group:
        outcome: dict[str, object] = {}

        async def job() -> None:
            outcome["report"] = await BatchSender(sender, concurrency=1).send(
                recipients(3 * CHUNK), journal=journal, job_id=JOB
            )

        group.start_soon(job)
        await started.wait()
        # The job holds its lock and is mid-chunk; a webhook process records a report.
        done = await anyio.run_process(
            [sys.executable, "-c", script], cwd=Path(__file__).parents[2], check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().strip() == "1"
        summary = await reconcile(journal, JOB)
        assert summary.in_flight == CHUNK
        assert summary.delivered == 1
        proceed.set()
    summary = await reconcile(journal, JOB)
    assert (summary.sent, summary.delivered, summary.awaiting) == (30, 1, 29)


@pytest.mark.asyncio
async def test_reconcile_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="does not exist"):
        await reconcile(tmp_path / "nothing.sqlite", JOB)
    journal = tmp_path / "job.sqlite"
    await BatchSender(ReferencedSender()).send(recipients(2), journal=journal, job_id=JOB)
    with pytest.raises(JobNotFoundError, match=r"no job 'other'.*reports-job"):
        await reconcile(journal, "other")


@pytest.mark.asyncio
async def test_reconcile_of_a_file_that_is_no_journal_says_so_and_leaves_it_alone(
    tmp_path: Path,
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a journal " * 20, encoding="utf-8")
    with pytest.raises(JournalError, match="cannot be opened as a crowdsms journal"):
        await reconcile(text, JOB)
    assert text.read_text(encoding="utf-8") == "not a journal " * 20
    database = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("CREATE TABLE users (id)")
        db.commit()
    with pytest.raises(JournalError, match="cannot be opened as a crowdsms journal"):
        await reconcile(database, JOB)
    with contextlib.closing(sqlite3.connect(database)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == ["users"]
    assert mode != "wal"


@pytest.mark.asyncio
async def test_a_job_interrupted_mid_chunk_is_counted_with_its_reports(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"

    async def hang(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 1:
            scope.cancel()
            await anyio.sleep_forever()
        return [sent(recipient) for recipient in given]

    with anyio.CancelScope() as scope:
        await BatchSender(FakeChunkSender(max_chunk_size=CHUNK, script=hang), concurrency=1).send(
            recipients(2 * CHUNK), journal=journal, job_id=JOB
        )
    await record(
        journal, accepted([phone_at(CHUNK)], chunk_reference(JOB, 1), ReportKind.DELIVERED)
    )
    summary = await reconcile(journal, JOB)
    assert (summary.sent, summary.confirmed, summary.unknown) == (CHUNK + 1, 1, CHUNK - 1)
    assert summary.delivered == 1


def test_a_journal_of_an_earlier_version_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    journal = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(journal)) as db:
        db.executescript(
            """
            CREATE TABLE jobs (job_id TEXT PRIMARY KEY, settings TEXT NOT NULL,
                               created REAL NOT NULL, finished REAL);
            CREATE TABLE chunks (job_id TEXT NOT NULL, idx INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'started', 'done')),
                positions TEXT NOT NULL, phones TEXT NOT NULL, fingerprint TEXT NOT NULL,
                idempotency_key TEXT, outcomes TEXT, updated REAL NOT NULL,
                PRIMARY KEY (job_id, idx));
            """
        )

    async def main() -> None:
        report = await BatchSender(ReferencedSender()).send(
            recipients(3), journal=journal, job_id=JOB
        )
        assert report.sent == 3
        summary = await reconcile(journal, JOB)
        assert summary.awaiting == 3

    anyio.run(main)
    with contextlib.closing(sqlite3.connect(journal)) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
    assert {"started_at", "resends"} <= columns


def test_delivery_states_survive_the_journal() -> None:
    from crowdsms.batch._journal import decode_outcomes, encode_outcomes
    from crowdsms.outcomes import Delivery

    outcome = RecipientOutcome(
        phone="13800000001",
        status=OutcomeStatus.SENT,
        confirmed=True,
        delivery=Delivery(state=DeliveryState.UNDELIVERED, code="MK:0001", at=12.5),
    )
    assert decode_outcomes(encode_outcomes([outcome])) == [outcome]


async def interrupted_in_flight(journal: Path) -> None:
    """A keyed run whose only chunk reaches the provider, then Ctrl-C before the answer."""
    with anyio.CancelScope() as scope:

        async def taken_then_interrupted(
            call: Call, given: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            scope.cancel()
            await anyio.sleep(1)
            raise AssertionError("not cancelled")

        sender = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, script=taken_then_interrupted)
        await BatchSender(sender).send(recipients(CHUNK), journal=journal, job_id=JOB)
    assert scope.cancelled_caught


@pytest.mark.asyncio
async def test_a_keyed_chunk_left_in_flight_that_reports_confirm_is_not_sent_again(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    await interrupted_in_flight(journal)
    phones = [phone_at(position) for position in range(CHUNK)]
    await record(journal, accepted(phones, chunk_reference(JOB, 0), ReportKind.DELIVERED))
    again = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, references=True)
    got: list[BatchOutcome] = []
    report = await BatchSender(again).send(
        recipients(CHUNK), journal=journal, job_id=JOB, sink=got.append
    )
    assert again.calls == []
    assert (report.sent, report.confirmed) == (CHUNK, CHUNK)
    assert all(item.outcome.confirmed for item in got)


@pytest.mark.asyncio
async def test_a_keyed_chunk_left_in_flight_and_refused_again_keeps_what_reports_confirm(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    await interrupted_in_flight(journal)
    confirmed = [phone_at(position) for position in range(4)]
    await record(journal, accepted(confirmed, chunk_reference(JOB, 0), ReportKind.DELIVERED))
    refusing = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, references=True, script=_refused)
    got: list[BatchOutcome] = []
    report = await BatchSender(refusing, chunk_retry=RetryPolicy(max_attempts=1)).send(
        recipients(CHUNK), journal=journal, job_id=JOB, sink=got.append
    )
    assert len(refusing.calls) == 1  # the rest went again with the chunk's key, refused
    outcomes = by_phone(got)
    assert [outcomes[phone].status for phone in confirmed] == [OutcomeStatus.SENT] * 4
    assert (report.sent, report.unknown, report.failed) == (4, CHUNK - 4, 0)


async def _sender_bug(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
    raise RuntimeError("a bug in the chunk sender")


async def _lost(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
    raise RequestTimeoutError("read timeout", certainty=DeliveryCertainty.UNKNOWN)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("resend", "stop_while_waiting"),
    [(_sender_bug, False), (_lost, True)],
    ids=["the sender raises", "stopped after a lost answer"],
)
async def test_what_reports_confirmed_stays_sent_whatever_the_keyed_resend_meets(
    tmp_path: Path, resend: Script, stop_while_waiting: bool
) -> None:
    journal = tmp_path / "job.sqlite"
    await interrupted_in_flight(journal)
    confirmed = [phone_at(position) for position in range(4)]
    await record(journal, accepted(confirmed, chunk_reference(JOB, 0), ReportKind.DELIVERED))
    time = FakeTime()
    senders: list[BatchSender] = []

    async def sleep(delay: float) -> None:
        if stop_while_waiting:
            senders[0].stop()
        await time.sleep(delay)

    fake = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, references=True, script=resend)
    senders.append(
        BatchSender(
            fake,
            chunk_retry=RetryPolicy(max_attempts=2, jitter=0.0),
            runtime=attrs.evolve(time.runtime(), sleep=sleep),
        )
    )
    got: list[BatchOutcome] = []
    report = await senders[0].send(recipients(CHUNK), journal=journal, job_id=JOB, sink=got.append)
    outcomes = by_phone(got)
    assert [outcomes[phone].status for phone in confirmed] == [OutcomeStatus.SENT] * 4
    assert (report.sent, report.unknown) == (4, CHUNK - 4)


@pytest.mark.asyncio
async def test_a_resend_of_the_unconfirmed_waits_from_a_keyed_resends_request(
    tmp_path: Path,
) -> None:
    """Run 1 left the chunk in flight two hours ago; run 2 sent it again with its key, and
    the answer was lost. The provider may have acted on run 2's request only, so an hour
    counts from then, not from run 1's."""
    journal = tmp_path / "job.sqlite"
    await interrupted_in_flight(journal)
    with contextlib.closing(sqlite3.connect(journal)) as connection:
        connection.execute("UPDATE chunks SET started_at = started_at - 7200")
        connection.commit()
    lost = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, references=True, script=_lost)
    report = await BatchSender(lost, chunk_retry=RetryPolicy(max_attempts=1)).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert report.unknown == CHUNK
    patient = FakeChunkSender(max_chunk_size=CHUNK, references=True)
    report = await BatchSender(patient, resend_unconfirmed_after=3600).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert patient.calls == []
    assert report.unknown == CHUNK
    eager = FakeChunkSender(max_chunk_size=CHUNK, references=True)
    report = await BatchSender(eager, resend_unconfirmed_after=0).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert len(eager.calls) == 1
    assert report.resent == CHUNK


@pytest.mark.asyncio
async def test_a_resend_by_a_version_without_sent_at_is_waited_from(tmp_path: Path) -> None:
    """A keyed resend recorded ``sent_at`` two hours ago; then a version of crowdsms that
    knows no ``sent_at`` resent the unconfirmed recipients, moving only ``started_at`` to
    now. The hour counts from that later request."""
    journal = tmp_path / "job.sqlite"
    await interrupted_in_flight(journal)
    lost = FakeChunkSender(max_chunk_size=CHUNK, keyed=True, references=True, script=_lost)
    await BatchSender(lost, chunk_retry=RetryPolicy(max_attempts=1)).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    with contextlib.closing(sqlite3.connect(journal)) as connection:
        (sent_at,) = connection.execute("SELECT sent_at FROM chunks").fetchone()
        assert sent_at is not None
        connection.execute(
            "UPDATE chunks SET sent_at = ?, started_at = ?, resends = resends + 1",
            (sent_at - 7200, sent_at),
        )
        connection.commit()
    patient = FakeChunkSender(max_chunk_size=CHUNK, references=True)
    report = await BatchSender(patient, resend_unconfirmed_after=3600).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert patient.calls == []
    assert report.unknown == CHUNK
