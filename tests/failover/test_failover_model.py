"""Failover in journaled batch jobs, against a model of two providers: random answers,
stops and resumes.

Each example is one job over one journal, sent through a :class:`FailoverChunkSender` with
two providers, ``a`` then ``b``, each with a ledger of what it really sent and its own
answers to each run's requests (sent, refused before it acted, throttled, an answer lost
before or after it acted, a refusal of the chunk or of the whole job, the owner's stop,
Ctrl-C mid-request or as an answer comes). ``a`` refuses some numbers for a reason of its
own (a template under review: they may go on to ``b``), ``b`` refuses some as blocklisted.
A last run answers everything. Checked after every run:

- no number is in the two ledgers more than once in all (never twice, across providers);
- a ``sent`` recipient is in the ledger of the provider its outcome names; ``failed`` and
  ``skipped`` ones are in neither;
- ``unknown`` only ever follows a request that may have reached a provider with that
  recipient in it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import anyio
import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdsms.batch import BatchOutcome, BatchReport, BatchSender
from crowdsms.failover import FailoverChunkSender, FailoverRoute
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, phone_at
from tests.batch.ledger import Answer, Owner, Provider, examples

from .fakes import CODES

JOB = "failover-modelled"
NAMES = ("a", "b")


@attrs.define
class RunPlan:
    answers: dict[str, list[Answer]]  # by provider
    concurrency: int
    jitter: int = 0
    ctrl_c_with_answer: dict[str, int | None] = attrs.Factory(dict)
    """By provider: Ctrl-C comes as the answer to this request (by number) does."""


@attrs.define
class Run:
    providers: dict[str, Provider]
    plan: RunPlan
    ambiguous: set[str]
    chunk_size: int

    def route(self, owner: Owner, name: str) -> FailoverRoute:
        async def script(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
            return await owner.play(self.plan.answers[name], call, given, jitter=self.plan.jitter)

        fake = FakeChunkSender(max_chunk_size=50, script=script)
        return FailoverRoute(name=name, sender=fake, codes=CODES)

    async def go(self, people: list[Recipient], journal: Path) -> list[BatchOutcome] | None:
        owners = {
            name: Owner(
                provider,
                self.ambiguous,
                ctrl_c_with_answer=self.plan.ctrl_c_with_answer.get(name),
            )
            for name, provider in self.providers.items()
        }
        scope = anyio.CancelScope()
        chunk_sender = FailoverChunkSender([self.route(owners[name], name) for name in NAMES])
        sender = BatchSender(
            chunk_sender,
            concurrency=self.plan.concurrency,
            chunk_size=self.chunk_size,
            runtime=FakeTime().runtime(),
        )
        for owner in owners.values():  # one run: one Ctrl-C, one stop
            owner.scope, owner.sender = scope, sender
        got: list[BatchOutcome] = []
        report: BatchReport | None = None
        with scope:
            report = await sender.send(people, sink=got.append, journal=journal, job_id=JOB)
        if report is None:
            return None
        assert report.total == len(got)
        if report.stopped is None:
            assert len(got) == len(people)
        return got


answers = st.lists(st.sampled_from(Answer), max_size=6)
plans = st.builds(
    RunPlan,
    answers=st.fixed_dictionaries(dict.fromkeys(NAMES, answers)),
    concurrency=st.integers(1, 3),
    jitter=st.integers(0, 3),
    ctrl_c_with_answer=st.fixed_dictionaries(dict.fromkeys(NAMES, st.none() | st.integers(0, 4))),
)


def check(
    outcomes: list[BatchOutcome], providers: dict[str, Provider], ambiguous: set[str]
) -> None:
    for item in outcomes:
        outcome = item.outcome
        if outcome.status is OutcomeStatus.SENT:
            assert outcome.provider in providers, outcome
            assert outcome.phone in providers[outcome.provider].ledger, f"{outcome} never sent"
        elif outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.SKIPPED):
            for name, provider in providers.items():
                assert outcome.phone not in provider.ledger, f"{outcome}, but {name} sent it"
        else:
            assert outcome.phone in ambiguous, f"{outcome} was never in a request"


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 8),
    chunk_size=st.integers(1, 3),
    runs=st.lists(plans, min_size=1, max_size=3),
    under_review=st.sets(st.integers(0, 7), max_size=3),
    blocked=st.sets(st.integers(0, 7), max_size=2),
)
def test_failover_runs_never_send_twice_across_providers(
    count: int,
    chunk_size: int,
    runs: list[RunPlan],
    under_review: set[int],
    blocked: set[int],
) -> None:
    people = [Recipient(phone_at(position)) for position in range(count)]
    providers = {
        "a": Provider(frozenset(map(phone_at, under_review)), refusal_code="review"),
        "b": Provider(frozenset(map(phone_at, blocked)), refusal_code="blocked"),
    }
    ambiguous: set[str] = set()
    last = RunPlan(answers={name: [] for name in NAMES}, concurrency=2)

    async def job(journal: Path) -> list[BatchOutcome]:
        outcomes = None
        for plan in [*runs, last]:
            outcomes = await Run(providers, plan, ambiguous, chunk_size).go(people, journal)
            everywhere = Counter(providers["a"].ledger + providers["b"].ledger)
            assert not [phone for phone, times in everywhere.items() if times > 1], everywhere
            if outcomes is not None:
                check(outcomes, providers, ambiguous)
        assert outcomes is not None
        return outcomes

    with tempfile.TemporaryDirectory() as directory:
        outcomes = anyio.run(job, Path(directory) / "job.sqlite")
    assert [item.outcome.phone for item in outcomes] == [person.phone for person in people]
