"""A chunk retried after an attempt that may have reached the provider is never sent twice.

A keyed chunk whose answer was lost is retried with its key (the provider drops the copy).
Until an answer comes, its recipients may have the message: a later refusal says nothing
about the earlier attempt, a job stopped while it waits must not send it again under
another key, and with per-number limits (where the request may have carried part of the
chunk only) it is not sent again at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from crowdsms import RetryPolicy
from crowdsms.batch import INTERRUPTED, NUMBER_LIMITED, BatchOutcome, BatchReport, send_batch
from crowdsms.batch._journal import Journal
from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    ProviderError,
    RequestTimeoutError,
)
from crowdsms.limits import NumberLimiter
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, phone_at, recipients, sent
from .test_journal import states

JOB = "keyed-retries"
TWO_ATTEMPTS = RetryPolicy(max_attempts=2, initial_delay=1.0, jitter=0.0)


def lost_answer() -> RequestTimeoutError:
    return RequestTimeoutError("read timeout", certainty=DeliveryCertainty.UNKNOWN)


def refused() -> ConnectionFailedError:
    return ConnectionFailedError("connection refused", certainty=DeliveryCertainty.NOT_SENT)


async def retried_twice(
    fake: FakeChunkSender, path: Path
) -> tuple[BatchReport, list[BatchOutcome]]:
    """Run the job of five recipients through ``fake``, each chunk tried twice at most."""
    got: list[BatchOutcome] = []
    report = await send_batch(
        fake,
        list(recipients(5)),
        sink=got.append,
        journal=path,
        job_id=JOB,
        chunk_retry=TWO_ATTEMPTS,
        runtime=FakeTime().runtime(),
    )
    return report, got


class KeyedProvider:
    """A provider that drops a request whose key it has processed; ``had`` is every
    message it sent, one phone per message."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.had: list[str] = []
        self.answers: list[str] = []  # what each next new request gets: "lose", "refuse_all"

    async def answer(self, call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        assert call.key is not None
        how = self.answers.pop(0) if self.answers else "send"
        if how == "refuse_all":  # nothing sent: every chunk would be refused alike
            raise ProviderError(
                provider="fake",
                code="40",
                provider_message="balance too low",
                explanation="the balance is used up",
                job_wide=True,
                certainty=DeliveryCertainty.NOT_SENT,
            )
        if call.key not in self.keys:
            self.keys.add(call.key)
            self.had += [recipient.phone for recipient in given]
        if how == "lose":
            raise lost_answer()
        return [sent(recipient) for recipient in given]


async def stopped_while_waiting(
    fake: FakeChunkSender, count: int, path: Path, **options: Any
) -> Counter[str]:
    """Run a job of ``count`` recipients and stop it (as Ctrl-C does) at its first wait to
    retry a chunk; return the journal's chunk states during that wait."""
    seen: list[Counter[str]] = []
    time = FakeTime()
    with anyio.CancelScope() as scope:

        async def sleep(delay: float) -> None:
            seen.append(states(path, JOB))
            scope.cancel()
            await time.sleep(delay)

        runtime = attrs.evolve(time.runtime(), sleep=sleep)
        await send_batch(
            fake, list(recipients(count)), journal=path, job_id=JOB, runtime=runtime, **options
        )
    assert scope.cancelled_caught
    assert len(seen) == 1
    return seen[0]


@pytest.mark.asyncio
async def test_a_refusal_after_a_lost_answer_leaves_the_chunk_unknown(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"

    async def script(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise lost_answer() if call.number == 0 else refused()

    fake = FakeChunkSender(max_chunk_size=5, keyed=True, script=script)
    report, got = await retried_twice(fake, path)
    assert len(fake.calls) == 2
    assert (report.unknown, report.failed) == (5, 0)
    assert {item.outcome.code for item in got} == {"RequestTimeoutError"}
    assert not any(item.outcome.retryable for item in got)
    # Resuming (which sends chunks that failed as a whole again) sends nothing.
    again = FakeChunkSender(max_chunk_size=5, keyed=True)
    resumed = await send_batch(again, list(recipients(5)), journal=path, job_id=JOB)
    assert again.calls == []
    assert resumed.unknown == 5


@pytest.mark.asyncio
async def test_a_keyed_chunk_that_may_have_been_sent_stays_started_while_it_waits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    provider.answers = ["lose"]
    during_wait = await stopped_while_waiting(
        FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer), 5, path
    )
    assert during_wait == Counter({"started": 1})
    # Resumed, it goes again with the key it had: the provider drops the copy.
    again = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    report = await send_batch(again, list(recipients(5)), journal=path, job_id=JOB)
    assert report.sent == 5
    assert len(again.calls) == 1
    assert sorted(provider.had) == [phone_at(i) for i in range(5)]


@pytest.mark.asyncio
async def test_a_reopened_chunk_is_resumed_with_the_key_it_was_sent_with(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    provider.answers = ["refuse_all"]
    first = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    report = await send_batch(first, list(recipients(5)), journal=path, job_id=JOB)
    assert report.failed == 5
    assert provider.had == []

    # Reopened under a fresh key (the provider may remember the refused one); the next try
    # is refused before it is sent, and the job stops while the chunk waits (pending).
    calls = 0

    async def refused_once(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise refused()
        return await provider.answer(call, given)

    second = FakeChunkSender(max_chunk_size=5, keyed=True, script=refused_once)
    assert await stopped_while_waiting(second, 5, path) == Counter({"pending": 1})
    fresh = second.calls[0].key
    assert fresh is not None
    assert fresh != first.calls[0].key

    third = FakeChunkSender(max_chunk_size=5, keyed=True, script=refused_once)
    report = await send_batch(third, list(recipients(5)), journal=path, job_id=JOB)
    assert [call.key for call in third.calls] == [fresh]
    assert report.sent == 5


@pytest.mark.asyncio
async def test_with_number_limits_a_keyed_chunk_stopped_while_waiting_is_not_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    now = [5000.0]
    limiter = NumberLimiter(clock=lambda: now[0])  # kept across runs, as Redis keeps it
    limiter.acquire_nowait(phone_at(1))  # had a message this minute: left out of the request
    provider = KeyedProvider()
    provider.answers = ["lose"]
    first = FakeChunkSender(max_chunk_size=3, keyed=True, script=provider.answer)
    await stopped_while_waiting(first, 3, path, number_limiter=limiter)
    assert sorted(provider.had) == [phone_at(0), phone_at(2)]

    now[0] += 120  # phone 1 is allowed again
    again = FakeChunkSender(max_chunk_size=3, keyed=True, script=provider.answer)
    got: list[BatchOutcome] = []
    report = await send_batch(
        again,
        list(recipients(3)),
        sink=got.append,
        journal=path,
        job_id=JOB,
        number_limiter=limiter,
    )
    # The request carried part of the chunk only: nobody is sent again, and no recipient
    # is reported sent on the strength of the key; phone 1, left out of it, stays skipped.
    assert again.calls == []
    assert report.unknown == 2
    assert [item.outcome.code for item in got] == [INTERRUPTED, NUMBER_LIMITED, INTERRUPTED]
    assert OutcomeStatus.SENT not in {item.outcome.status for item in got}


@pytest.mark.asyncio
async def test_a_keyed_chunk_waiting_when_the_job_stops_is_unknown_not_failed() -> None:
    another_refused = anyio.Event()

    async def script(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if given[0].phone == phone_at(0):
            raise lost_answer()  # chunk 0: may have been sent; waits to be retried
        another_refused.set()
        raise ProviderError(
            provider="fake",
            code="40",
            provider_message="balance too low",
            explanation="the balance is used up",
            job_wide=True,
            certainty=DeliveryCertainty.NOT_SENT,
        )

    time = FakeTime()

    async def sleep(delay: float) -> None:
        await another_refused.wait()  # the job stops while chunk 0 waits
        await time.sleep(delay)

    fake = FakeChunkSender(max_chunk_size=5, keyed=True, script=script)
    got: list[BatchOutcome] = []
    report = await send_batch(
        fake,
        list(recipients(10)),
        sink=got.append,
        concurrency=2,
        runtime=attrs.evolve(time.runtime(), sleep=sleep),
    )
    assert report.stopped is not None
    by_phone = {item.outcome.phone: item.outcome for item in got}
    assert {by_phone[phone_at(i)].status for i in range(5)} == {OutcomeStatus.UNKNOWN}
    assert {by_phone[phone_at(i)].status for i in range(5, 10)} == {OutcomeStatus.FAILED}


@pytest.mark.asyncio
async def test_a_pending_chunk_of_a_keyed_run_resumed_without_keys_is_sent_without_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"

    async def refuse(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise refused()

    keyed = FakeChunkSender(max_chunk_size=5, keyed=True, script=refuse)
    assert await stopped_while_waiting(keyed, 5, path) == Counter({"pending": 1})

    # Resumed with a sender that takes no keys (SUBMAIL): a key would make its lost answer
    # look safe to retry, and a provider that drops no copies would send twice.
    async def lose(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise lost_answer()

    unkeyed = FakeChunkSender(max_chunk_size=5, keyed=False, script=lose)
    report = await send_batch(
        unkeyed,
        list(recipients(5)),
        journal=path,
        job_id=JOB,
        chunk_retry=TWO_ATTEMPTS,
        runtime=FakeTime().runtime(),
    )
    assert [call.key for call in unkeyed.calls] == [None]
    assert report.unknown == 5


async def interrupted_mid_request(
    fake_keyed: bool, provider: KeyedProvider, path: Path, count: int = 5, **options: Any
) -> None:
    """Run the job until its first request has reached ``provider``, then stop it (Ctrl-C)."""
    with anyio.CancelScope() as scope:

        async def processed_then_interrupted(
            call: Call, given: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            provider.had += [recipient.phone for recipient in given]
            if call.key is not None:
                provider.keys.add(call.key)
            scope.cancel()
            await anyio.sleep(1)
            raise AssertionError("not cancelled")

        fake = FakeChunkSender(
            max_chunk_size=5, keyed=fake_keyed, script=processed_then_interrupted
        )
        await send_batch(fake, list(recipients(count)), journal=path, job_id=JOB, **options)
    assert scope.cancelled_caught
    assert states(path, JOB)["started"] == 1


@pytest.mark.asyncio
async def test_a_chunk_resumed_in_flight_and_refused_is_unknown_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    await interrupted_mid_request(True, provider, path)

    # Resumed: sent again with its key, and refused before the provider acts. That says
    # nothing of the first request, which the provider has.
    async def refuse(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise refused()

    again = FakeChunkSender(max_chunk_size=5, keyed=True, script=refuse)
    report, got = await retried_twice(again, path)
    assert len(again.calls) == 2
    assert (report.unknown, report.failed) == (5, 0)
    assert {item.outcome.code for item in got} == {INTERRUPTED}
    # Still in flight in the journal: resumed once more, it goes with its key again, and
    # the provider drops the copy.
    assert states(path, JOB) == Counter({"started": 1})
    last = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    assert (await send_batch(last, list(recipients(5)), journal=path, job_id=JOB)).sent == 5
    assert [call.key for call in last.calls] == [again.calls[0].key]
    assert sorted(provider.had) == [phone_at(i) for i in range(5)]


@pytest.mark.asyncio
async def test_a_chunk_resumed_in_flight_in_a_job_that_stops_first_is_unknown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    with anyio.CancelScope() as scope:
        # Chunk 0 is refused before the provider acts; chunk 1 reaches it, then Ctrl-C.
        async def first_run(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
            if call.number == 0:
                raise refused()
            provider.had += [recipient.phone for recipient in given]
            assert call.key is not None
            provider.keys.add(call.key)
            scope.cancel()
            await anyio.sleep(1)
            raise AssertionError("not cancelled")

        fake = FakeChunkSender(max_chunk_size=5, keyed=True, script=first_run)
        await send_batch(
            fake,
            list(recipients(10)),
            journal=path,
            job_id=JOB,
            concurrency=1,
            chunk_retry=RetryPolicy(max_attempts=1),
        )
    assert states(path, JOB) == Counter({"done": 1, "started": 1})

    # Resumed: chunk 0 goes again first, and the balance is gone: the job stops before
    # chunk 1 goes again, which the provider has.
    provider.answers = ["refuse_all"]
    stopping = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    got: list[BatchOutcome] = []
    report = await send_batch(
        stopping, list(recipients(10)), sink=got.append, journal=path, job_id=JOB, concurrency=1
    )
    assert report.stopped is not None
    assert len(stopping.calls) == 1
    assert {got[i].outcome.status for i in range(5, 10)} == {OutcomeStatus.UNKNOWN}
    # Still in flight in the journal: the next run sends it with its key, and the provider
    # drops the copy.
    assert states(path, JOB) == Counter({"done": 1, "started": 1})
    final = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    report = await send_batch(final, list(recipients(10)), journal=path, job_id=JOB)
    assert report.sent == 10
    assert sorted(provider.had) == [phone_at(i) for i in range(10)]


@pytest.mark.asyncio
async def test_a_keyed_runs_chunk_sent_without_a_key_is_not_resent_with_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    provider.answers = ["refuse_all"]
    first = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    await send_batch(first, list(recipients(10)), journal=path, job_id=JOB, concurrency=1)
    assert states(path, JOB) == Counter({"done": 1, "pending": 1})  # chunk 1 never sent

    # Chunk 1 (recorded with the keyed run's key) goes out without a key, and the run
    # stops mid-request: the provider has it, and no key will make it drop a copy.
    await interrupted_mid_request(False, provider, path, count=10, resend_failed_chunks=False)
    assert provider.had == [phone_at(i) for i in range(5, 10)]

    resumed = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    got: list[BatchOutcome] = []
    await send_batch(
        resumed,
        list(recipients(10)),
        sink=got.append,
        journal=path,
        job_id=JOB,
        resend_failed_chunks=False,
    )
    assert resumed.calls == []
    assert provider.had == [phone_at(i) for i in range(5, 10)]
    assert {got[i].outcome.code for i in range(5, 10)} == {INTERRUPTED}


@pytest.mark.asyncio
async def test_a_chunk_resumed_in_flight_is_not_marked_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its earlier run's send time stays (the reports of that send are dated after it), and
    no Ctrl-C during that write can turn it back into pending, which a run without keys
    would send again."""
    path = tmp_path / "job.sqlite"
    provider = KeyedProvider()
    await interrupted_mid_request(True, provider, path)
    marked: list[int] = []
    original = Journal.mark_started

    async def mark_started(self: Journal, index: int) -> None:
        marked.append(index)
        await original(self, index)

    monkeypatch.setattr(Journal, "mark_started", mark_started)
    again = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    report = await send_batch(again, list(recipients(5)), journal=path, job_id=JOB)
    assert marked == []
    assert report.sent == 5
    assert sorted(provider.had) == [phone_at(i) for i in range(5)]


@pytest.mark.asyncio
async def test_a_pending_chunk_of_a_run_without_keys_goes_with_a_recorded_key(
    tmp_path: Path,
) -> None:
    """So that when the keyed run is stopped mid-request, the next resends it with the key
    it carried (and the provider drops the copy) instead of reporting it unknown."""
    path = tmp_path / "job.sqlite"

    async def refuse(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise refused()

    unkeyed = FakeChunkSender(max_chunk_size=5, keyed=False, script=refuse)
    assert await stopped_while_waiting(unkeyed, 5, path) == Counter({"pending": 1})
    provider = KeyedProvider()
    await interrupted_mid_request(True, provider, path)
    last = FakeChunkSender(max_chunk_size=5, keyed=True, script=provider.answer)
    report = await send_batch(last, list(recipients(5)), journal=path, job_id=JOB)
    assert report.sent == 5
    assert sorted(provider.had) == [phone_at(i) for i in range(5)]
