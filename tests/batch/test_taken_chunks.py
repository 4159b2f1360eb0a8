"""A chunk another process claimed (``ChunkTakenError``) may be sent by that process. If
waiting for its outcomes raises (the claim store unreachable past its patience,
the campaign deleted, a limiter's release failing afterwards), the chunk must be reported
unknown, never failed/not_sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from crowdsms.batch import BatchOutcome, BatchSender, report_of
from crowdsms.batch._journal import ChunkTakenError
from crowdsms.limits import NumberLimiter, NumberPermit
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

from .fakes import FakeChunkSender, FakeTime, recipients


class TakenJournal:
    """A campaign-like journal: another worker holds chunk 0 (it is sending it)."""

    resumed = False
    recorded_chunks = 0

    def __init__(self, *, wait_fails: bool) -> None:
        self._wait_fails = wait_fails

    async def prepare(self, index: int, **_: object) -> None:
        return None

    async def mark_started(self, index: int) -> None:
        raise ChunkTakenError(f"chunk {index} was claimed by another worker first")

    async def mark_started_limited(self, index: int, kept_out: object) -> None:
        await self.mark_started(index)

    async def mark_pending(self, index: int) -> None:
        raise AssertionError("never reached")

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        raise AssertionError("never reached")

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        raise AssertionError("never reached")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        if self._wait_fails:
            # ClaimJournal: a store outage past STORE_PATIENCE re-raises ConnectionError
            raise ConnectionError("the claim store cannot be reached")
        return [  # the other worker sent each but the first, which it skipped
            RecipientOutcome(phone=p, status=OutcomeStatus.SKIPPED, code="x")
            if offset == 0
            else RecipientOutcome(phone=p, status=OutcomeStatus.SENT, message_id="other")
            for offset, p in enumerate(phones)
        ]

    async def finish(self, chunks_seen: int) -> None:
        return None

    async def aclose(self) -> None:
        return None


class ReleaseFails(NumberLimiter):
    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        raise ConnectionError("the limiter store cannot be reached")


async def outcomes_of(journal: TakenJournal, **options: object) -> list[BatchOutcome]:
    fake = FakeChunkSender(max_chunk_size=5)
    outcomes: list[BatchOutcome] = []
    sender = BatchSender(fake, chunk_size=5, concurrency=1, runtime=FakeTime().runtime(), **options)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError) as raised:
        await sender.send(recipients(5), sink=outcomes.append, journal=journal, job_id="j")
    assert report_of(raised.value) is not None
    assert fake.calls == []  # the other worker sends it, not this one
    return outcomes


@pytest.mark.anyio
async def test_a_taken_chunk_whose_wait_raised_is_unknown_not_failed() -> None:
    outcomes = await outcomes_of(TakenJournal(wait_fails=True))
    assert {o.status for o in outcomes} == {OutcomeStatus.UNKNOWN}


@pytest.mark.anyio
async def test_a_taken_chunk_the_other_worker_sent_keeps_its_outcomes_when_the_release_raises() -> (
    None
):
    from crowdsms.limits import NumberLimits

    fake = FakeChunkSender(max_chunk_size=5)
    outcomes: list[BatchOutcome] = []
    limiter = ReleaseFails(NumberLimits.parse("1/m"))
    sender = BatchSender(
        fake, chunk_size=5, concurrency=1, runtime=FakeTime().runtime(), number_limiter=limiter
    )
    await sender.send(
        recipients(5), sink=outcomes.append, journal=TakenJournal(wait_fails=False), job_id="j"
    )
    assert fake.calls == []  # the other worker sent it
    # Its outcomes, as it recorded them: giving back the skipped one's permit failed, which
    # costs that number its count only.
    assert [o.status for o in outcomes] == [OutcomeStatus.SKIPPED] + [OutcomeStatus.SENT] * 4


@pytest.mark.anyio
async def test_a_taken_chunk_whose_every_number_is_limited_here_is_unknown_if_the_wait_raised() -> (
    None
):
    from crowdsms.limits import NumberLimits

    limiter = NumberLimiter(NumberLimits.parse("1/m"))
    limiter.acquire_many_nowait(r.phone for r in recipients(5))  # every number at its limit
    outcomes = await outcomes_of(TakenJournal(wait_fails=True), number_limiter=limiter)
    # This process sends none of them, but the one that took the chunk may have.
    assert {o.status for o in outcomes} == {OutcomeStatus.UNKNOWN}
