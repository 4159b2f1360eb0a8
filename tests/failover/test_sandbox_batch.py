"""FailoverChunkSender in BatchSender against the sandbox: every number sent at most once.

The first provider meets each sandbox fault; the ledgers (what each emulator really sent)
show who sent what. Retries do not wait (the clients' and the batch sender's sleep is a
no-op); every wait is bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
import pytest_asyncio

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.failover import FailoverChunkSender
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.sandbox import FaultKind, Sandbox, SandboxSettings, serve

from .support import (
    BACKUP,
    PRIMARY,
    RUNTIME,
    TIME_LIMIT,
    assert_each_sent_once,
    assert_no_secret_logged,
    client,
    closed_port_client,
    failover_sender,
    ledger,
    numbers,
    recipients,
)

CHUNK = 10


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with serve() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert_no_secret_logged([*caplog.get_records("setup"), *caplog.get_records("call")])


async def run(sender: Any, count: int, **options: Any) -> list[BatchOutcome]:
    """Send ``count`` recipients with ``sender``; the outcomes in input order."""
    received: list[BatchOutcome] = []
    batch = BatchSender(sender, chunk_size=CHUNK, runtime=RUNTIME, **options)
    with anyio.fail_after(TIME_LIMIT):
        await batch.send(recipients(count), sink=received.append)
    return received


async def run_job(
    sender: Any, count: int, journal: Path, *, concurrency: int = 1
) -> list[BatchOutcome]:
    received: list[BatchOutcome] = []
    batch = BatchSender(sender, chunk_size=CHUNK, concurrency=concurrency, runtime=RUNTIME)
    with anyio.fail_after(TIME_LIMIT):
        await batch.send(recipients(count), sink=received.append, journal=journal, job_id="job")
    return received


def summary(outcomes: Sequence[BatchOutcome]) -> list[tuple[str, OutcomeStatus, str | None]]:
    return [(o.phone, o.status, o.outcome.provider) for o in outcomes]


@pytest.mark.asyncio
async def test_a_first_provider_answering_503_sends_everyone_with_the_second_once(
    sandbox: Sandbox,
) -> None:
    sandbox.force_fault(FaultKind.REJECT, provider=PRIMARY, count=10_000)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        outcomes = await run(failover_sender(primary, backup), 45)
    assert summary(outcomes) == [(p, OutcomeStatus.SENT, BACKUP) for p in numbers(45)]
    assert ledger(sandbox, PRIMARY) == []
    assert_each_sent_once(sandbox, numbers(45))
    # The first provider's client retried each chunk before the failover sender moved on.
    assert sandbox.requests(PRIMARY) > 5


@pytest.mark.asyncio
async def test_a_first_provider_refusing_connections_sends_everyone_with_the_second_once(
    sandbox: Sandbox,
) -> None:
    async with closed_port_client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        outcomes = await run(failover_sender(primary, backup), 25, concurrency=2)
    assert summary(outcomes) == [(p, OutcomeStatus.SENT, BACKUP) for p in numbers(25)]
    assert_each_sent_once(sandbox, numbers(25))


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", [FaultKind.DROP_AFTER, FaultKind.DROP])
async def test_a_dropped_request_is_never_sent_again_by_the_second_provider(
    sandbox: Sandbox, kind: FaultKind
) -> None:
    # DROP_AFTER: processed, then the connection closed unanswered. DROP: closed before
    # processing, but the client cannot tell the two apart (a connection lost while waiting
    # for the answer is UNKNOWN), so it must not fail over either.
    sandbox.force_fault(kind, provider=PRIMARY, path="sms/multisend", count=1)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        outcomes = await run(failover_sender(primary, backup), 30, concurrency=1)
    first_chunk = numbers(CHUNK)
    assert summary(outcomes)[:CHUNK] == [(p, OutcomeStatus.UNKNOWN, PRIMARY) for p in first_chunk]
    assert summary(outcomes)[CHUNK:] == [
        (p, OutcomeStatus.SENT, PRIMARY) for p in numbers(20, start=CHUNK)
    ]
    assert ledger(sandbox, BACKUP) == []
    assert sandbox.requests(BACKUP) == 0
    processed = first_chunk if kind is FaultKind.DROP_AFTER else []
    assert_each_sent_once(sandbox, processed + numbers(20, start=CHUNK))


@pytest.mark.asyncio
async def test_a_blocked_number_refused_by_the_first_provider_is_not_failed_over() -> None:
    blocked = numbers(5)[3]
    async with serve(SandboxSettings(blocked_numbers={blocked})) as sandbox:
        async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
            outcomes = await run(failover_sender(primary, backup), 5)
        assert sandbox.requests(BACKUP) == 0
        assert_each_sent_once(sandbox, [p for p in numbers(5) if p != blocked])
    refused = outcomes[3].outcome
    assert (refused.status, refused.code, refused.provider) == (
        OutcomeStatus.FAILED,
        "114",
        PRIMARY,
    )


@pytest.mark.asyncio
async def test_an_exhausted_balance_fails_over_its_recipients_and_stops_the_provider(
    sandbox: Sandbox,
) -> None:
    sandbox.top_up(PRIMARY, 12 - sandbox.balance(PRIMARY))  # 12 one-segment messages left
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        sender = failover_sender(primary, backup)
        outcomes = await run(sender, 30, concurrency=1)
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 30
    assert [o.outcome.provider for o in outcomes] == [PRIMARY] * 12 + [BACKUP] * 18
    assert ledger(sandbox, PRIMARY) == numbers(12)
    assert ledger(sandbox, BACKUP) == numbers(18, start=12)
    assert sender.circuit.is_open(PRIMARY)
    assert sandbox.requests(PRIMARY) == 2  # the third chunk went straight to the second


@pytest.mark.asyncio
async def test_a_journaled_job_resumes_without_sending_anyone_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "job.sqlite"
    sandbox.force_fault(FaultKind.REJECT, provider=PRIMARY, path="sms/multisend", count=3)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        first = await run_job(failover_sender(primary, backup), 30, journal)
        before = len(sandbox.ledger)
        again = await run_job(failover_sender(primary, backup), 30, journal)
    assert [o.outcome.provider for o in first] == [BACKUP] * CHUNK + [PRIMARY] * 20
    # Replayed from the journal, provider included (a resumed job adds the delivery state).
    assert [attrs.evolve(o.outcome, delivery=None) for o in again] == [o.outcome for o in first]
    assert len(sandbox.ledger) == before
    assert_each_sent_once(sandbox, numbers(30))


class HangsAfterSending:
    """A real chunk sender that never returns after its first request was processed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.processed = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def send_chunk(
        self, recipients: Sequence[Recipient], **options: Any
    ) -> Sequence[RecipientOutcome]:
        result = await self.inner.send_chunk(recipients, **options)
        if not self.processed.is_set():
            self.processed.set()
            await anyio.sleep_forever()  # the process "dies" here, the request processed
        return result


@pytest.mark.asyncio
async def test_a_job_killed_after_the_second_provider_sent_resumes_without_a_second_send(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "job.sqlite"
    sandbox.force_fault(FaultKind.REJECT, provider=PRIMARY, path="sms/multisend", count=3)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        normal = failover_sender(primary, backup)
        first_route, second_route = normal.routes
        hanging = HangsAfterSending(second_route.sender)
        crashing = FailoverChunkSender([first_route, attrs.evolve(second_route, sender=hanging)])
        with anyio.fail_after(TIME_LIMIT):
            async with anyio.create_task_group() as group:
                group.start_soon(run_job, crashing, 30, journal)
                await hanging.processed.wait()
                group.cancel_scope.cancel()
        assert ledger(sandbox, BACKUP) == numbers(CHUNK)
        resumed = await run_job(failover_sender(primary, backup), 30, journal)
    interrupted = [o.outcome for o in resumed[:CHUNK]]
    assert {(o.status, o.code) for o in interrupted} == {(OutcomeStatus.UNKNOWN, "interrupted")}
    assert [o.outcome.provider for o in resumed[CHUNK:]] == [PRIMARY] * 20
    assert ledger(sandbox, BACKUP) == numbers(CHUNK)  # not sent again, by either provider
    assert_each_sent_once(sandbox, numbers(30))
