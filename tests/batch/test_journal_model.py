"""A job's runs against a model of the provider: random answers, stops and resumes.

Each example is one job over one journal: a few runs, each with its own answers to its
chunk requests (sent, refused before the provider acted, throttled with a 429, an answer
lost before or after the provider acted, a refusal of the chunk or of the whole job, the
owner's stop, Ctrl-C with a request in flight or as its answer comes), its own
concurrency, retries and ``resend_failed_chunks``, a sender with or without idempotency
keys, and with or without a rate limit shared with other processes (told of each answer);
per-number limits (some numbers had a message just before the job; a run may go without
them) and a spend cap may hold for the whole job. A last run answers everything. The
provider's ledger is what it really sent; the properties are the SDK's promises, checked
after every run:

- no number is ever sent twice (a keyed request the provider has processed is answered
  again, not sent again, as providers with keys do);
- a run that ends gives every recipient exactly one outcome;
- ``sent`` means the ledger has it; ``failed`` and ``skipped`` mean it does not, and
  (unless the provider refuses the number) that no request that may have reached the
  provider carried it;
- ``unknown`` only ever follows a request that may have reached the provider with that
  recipient in it (with per-number limits too: the journal records which of a chunk's
  numbers the limits kept out of its request);
- the provider never sends more messages than the spend cap allows (one segment each);
- with per-number limits in every run, no number gets a second message within the
  minute;
- at the end, every recipient the provider would take is ``sent`` or ``unknown`` (or held
  back by a limit or the cap).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crowdsms import RetryPolicy
from crowdsms.batch import (
    NUMBER_LIMITED,
    SPEND_CAP,
    BatchOutcome,
    BatchReport,
    BatchSender,
)
from crowdsms.batch._journal import Journal
from crowdsms.deliveries import OptOutWords, ProviderReport, ReportKind, SQLiteDeliveryStore
from crowdsms.limits import NumberLimiter
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, CheckpointPace, FakeChunkSender, FakeTime, phone_at
from .ledger import Answer, Owner, Provider, assert_true_to_ledger, examples, never_twice

JOB = "modelled"
WRITES = (
    "mark_started",
    "mark_started_limited",
    "mark_pending",
    "mark_done",
    "reopen",
    "record_key",
    "mark_resending",
)
"""The journal's writes of a chunk's state."""

UNSENT_STATUSES = (OutcomeStatus.FAILED, OutcomeStatus.SKIPPED)
"""What a recipient is only if no request that may have reached the provider carried it."""


@attrs.define
class RunPlan:
    answers: list[Answer]
    keyed: bool
    concurrency: int
    attempts: int
    jitter: int = 0  # yields to the event loop in each request: chunks end out of order
    resend_failed_chunks: bool = True
    later: float = 0.0  # seconds from the previous run's start to this one's
    resend_unconfirmed: bool = False  # resend_unconfirmed_after=0: at-least-once
    reports: int = 0  # before the run, the reports recorded: 0 none, 1 every other one, 2 all
    ctrl_c_at_write: int | None = None  # Ctrl-C during this journal write of the run (0: first)
    shared_pace: bool = False  # a rate limit shared with other processes, told of each answer
    ctrl_c_with_answer: int | None = None  # Ctrl-C as the answer to this request comes
    limits: bool = True  # the run applies the job's per-number limits, if it has them


class OneSegmentEach(FakeChunkSender):
    """A fake chunk sender whose every message is one segment (for the spend cap)."""

    segments_note = None
    price_per_segment = 0.05

    def render(self, recipient: Recipient) -> str:
        return "one segment"


@attrs.define
class Run:
    """One run of the job: its sender, what it reported, and which requests were ambiguous."""

    provider: Provider
    plan: RunPlan
    ambiguous: set[str]  # every number of every request that may have reached the provider
    limiter: NumberLimiter | None
    chunk_size: int  # every run of a job cuts the same chunks
    cap: int | None  # the spend cap, in segments (one a message), the same in every run
    owner: Owner = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.owner = Owner(
            self.provider, self.ambiguous, ctrl_c_with_answer=self.plan.ctrl_c_with_answer
        )

    async def answer(self, call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return await self.owner.play(self.plan.answers, call, given, jitter=self.plan.jitter)

    def ctrl_c_at_write(self, patch: pytest.MonkeyPatch, number: int) -> None:
        """Have Ctrl-C come during the journal's write ``number`` of the run: the write is
        done (it is shielded) and the cancellation is delivered at the next checkpoint."""
        writes = 0

        def interrupting(name: str) -> Callable[..., Awaitable[None]]:
            original = getattr(Journal, name)

            async def write(journal: Journal, *args: Any, **kwargs: Any) -> None:
                nonlocal writes
                await original(journal, *args, **kwargs)
                writes += 1
                if writes == number + 1:
                    event(f"Ctrl-C during {name}")
                    self.owner.scope.cancel()

            return write

        for name in WRITES:
            patch.setattr(Journal, name, interrupting(name))

    async def go(self, people: list[Recipient], journal: Path) -> list[BatchOutcome] | None:
        """Run the job; its outcomes, or ``None`` if Ctrl-C ended it."""
        plan = self.plan
        self.provider.now[0] += plan.later
        fake = OneSegmentEach(
            max_chunk_size=50, keyed=plan.keyed, references=True, script=self.answer
        )
        self.owner.sender = sender = BatchSender(
            fake,
            concurrency=plan.concurrency,
            chunk_size=self.chunk_size,
            chunk_retry=RetryPolicy(max_attempts=plan.attempts, jitter=0.0),
            resend_failed_chunks=plan.resend_failed_chunks,
            number_limiter=self.limiter if self.plan.limits else None,
            max_segments=self.cap,
            resend_unconfirmed_after=0.0 if plan.resend_unconfirmed else None,
            shared_pace=CheckpointPace() if plan.shared_pace else None,
            runtime=FakeTime().runtime(),
        )
        got: list[BatchOutcome] = []
        report: BatchReport | None = None
        with self.owner.scope, pytest.MonkeyPatch.context() as patch:
            if plan.ctrl_c_at_write is not None:
                self.ctrl_c_at_write(patch, plan.ctrl_c_at_write)
            report = await sender.send(people, sink=got.append, journal=journal, job_id=JOB)
        if report is None:
            return None
        assert report.total == len(got) == sum(report.by_status.values())
        if report.stopped is None:  # a stopped job leaves the input it had not read
            assert len(got) == len(people)
        return got


answers = st.lists(st.sampled_from(Answer), max_size=8)
RUN = {  # what varies in every run
    "answers": answers,
    "keyed": st.booleans(),
    "concurrency": st.integers(1, 3),
    "attempts": st.integers(1, 3),
    "jitter": st.integers(0, 3),
    "ctrl_c_at_write": st.none() | st.integers(0, 6),
    "shared_pace": st.booleans(),
    "ctrl_c_with_answer": st.none() | st.integers(0, 6),
    "limits": st.booleans(),
}
plans = st.builds(
    RunPlan,
    **RUN,
    resend_failed_chunks=st.booleans(),
    later=st.sampled_from([0.0, 30.0, 120.0]),
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 10),
    chunk_size=st.integers(1, 4),
    runs=st.lists(plans, min_size=1, max_size=4),
    last_keyed=st.booleans(),
    refused=st.sets(st.integers(0, 9), max_size=2),
    limited=st.none() | st.sets(st.integers(0, 9), max_size=3),
    cap=st.none() | st.integers(1, 10),
)
def test_runs_with_random_answers_never_send_twice_and_lose_nothing(
    count: int,
    chunk_size: int,
    runs: list[RunPlan],
    last_keyed: bool,
    refused: set[int],
    limited: set[int] | None,
    cap: int | None,
) -> None:
    people = [Recipient(phone_at(position)) for position in range(count)]
    provider = Provider(refuses=frozenset(phone_at(position) for position in refused))
    limiter = None
    if limited is not None:  # per-number limits; these numbers had a message just now
        limiter = NumberLimiter(clock=lambda: provider.now[0])  # kept across runs
        for position in limited:
            limiter.acquire_nowait(phone_at(position))
    ambiguous: set[str] = set()
    final = RunPlan(answers=[], keyed=last_keyed, concurrency=2, attempts=3, later=120.0)

    async def job(journal: Path) -> list[BatchOutcome]:
        outcomes = None
        for plan in [*runs, final]:
            run = Run(provider, plan, ambiguous, limiter, chunk_size, cap)
            outcomes = await run.go(people, journal)
            never_twice(provider)
            assert cap is None or len(provider.ledger) <= cap, "past the spend cap"
            if outcomes is not None:
                assert_true_to_ledger(outcomes, people, provider)
                for item in outcomes:
                    phone, status = item.outcome.phone, item.outcome.status
                    if status is OutcomeStatus.UNKNOWN:
                        assert phone in ambiguous, f"{item.outcome} was never in a request"
                    elif status in UNSENT_STATUSES and phone not in provider.refuses:
                        assert phone not in ambiguous, f"{item.outcome}, but it may have been"
        assert outcomes is not None  # the last run has no Ctrl-C, no stop
        assert len(outcomes) == len(people)
        return outcomes

    with tempfile.TemporaryDirectory() as directory:
        outcomes = anyio.run(job, Path(directory) / "job.sqlite")
    if limited and all(plan.limits for plan in runs):  # none within a minute of the last
        for position in limited:
            assert provider.sent_at.get(phone_at(position), 60.0) >= 60.0
    for item in outcomes:
        outcome = item.outcome
        if outcome.phone in provider.refuses or outcome.code in (NUMBER_LIMITED, SPEND_CAP):
            continue
        assert outcome.status in (OutcomeStatus.SENT, OutcomeStatus.UNKNOWN), outcome


resending = st.builds(RunPlan, **RUN, resend_unconfirmed=st.booleans(), reports=st.integers(0, 2))


async def record_reports(journal: Path, provider: Provider, reported: set[str], how: int) -> None:
    """Record the provider's reports of the messages it sent that ``reported`` lacks: none
    (``how`` 0), every other one (1) or all (2); add their numbers to ``reported``."""
    due = [(phone, reference) for phone, reference in provider.sent_with if phone not in reported]
    chosen = due[::2] if how == 1 else due if how == 2 else []
    if not chosen:
        return
    store = await SQLiteDeliveryStore.open(journal)
    try:
        reports = [
            ProviderReport(provider="fake", kind=ReportKind.DELIVERED, phone=phone, reference=ref)
            for phone, ref in chosen
        ]
        await store.record(reports, words=OptOutWords())
    finally:
        await store.aclose()
    reported.update(phone for phone, _ in chosen)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 8),
    chunk_size=st.integers(1, 3),
    runs=st.lists(resending, min_size=1, max_size=4),
)
def test_resends_of_unconfirmed_recipients_go_only_to_those_no_report_confirmed(
    count: int, chunk_size: int, runs: list[RunPlan]
) -> None:
    """With ``resend_unconfirmed_after``, a number gets a second message only in a run that
    asked for resends, only while no report of it had come, and once per run at most."""
    people = [Recipient(phone_at(position)) for position in range(count)]
    provider = Provider(refuses=frozenset())
    ambiguous: set[str] = set()
    reported: set[str] = set()

    async def job(journal: Path) -> None:
        for plan in runs:
            await record_reports(journal, provider, reported, plan.reports)
            confirmed = set(reported)
            before = Counter(provider.ledger)
            outcomes = await Run(provider, plan, ambiguous, None, chunk_size, None).go(
                people, journal
            )
            for phone, times in (Counter(provider.ledger) - before).items():
                again = times if before[phone] else times - 1  # beyond its first message
                if again:
                    assert plan.resend_unconfirmed, f"{phone} sent again without asking"
                    assert phone not in confirmed, f"{phone} sent again after its report"
                    assert again == 1, f"{phone} sent again {again} times in one run"
                    event("a number was sent again")
            if outcomes is not None:
                assert_true_to_ledger(outcomes, people, provider)
                for item in outcomes:
                    if item.outcome.status is OutcomeStatus.UNKNOWN:
                        assert item.outcome.phone in ambiguous, item.outcome
                    if item.outcome.phone in confirmed:
                        assert item.outcome.status is OutcomeStatus.SENT, item.outcome
                        if item.outcome.confirmed:
                            event("an unknown recipient was confirmed by a report")

    with tempfile.TemporaryDirectory() as directory:
        anyio.run(job, Path(directory) / "job.sqlite")
