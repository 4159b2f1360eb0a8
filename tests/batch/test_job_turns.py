"""How a job's workers share the work, and what its journal keeps of each chunk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence

import anyio
import anyio.lowlevel
import attrs
import pytest

from crowdsms.batch import BatchOutcome, send_batch
from crowdsms.batch._chunking import Block, Chunker, fingerprint
from crowdsms.outcomes import Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, phone_at, sent


@pytest.mark.anyio
async def test_a_chunk_sender_that_never_waits_still_lets_other_tasks_run() -> None:
    fake = FakeChunkSender(max_chunk_size=10)  # returns without ever waiting
    ticks: list[int] = []
    finished = False

    async def ticker() -> None:
        while not finished:
            ticks.append(len(fake.calls))
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        report = await send_batch(
            fake, [Recipient(phone_at(i)) for i in range(4_000)], concurrency=2
        )
        finished = True

    assert report.sent == 4_000
    # The other task ran again and again while the 400 chunks were being sent (a worker
    # lets others run at least every 16 chunks), not only before and after.
    assert len({count for count in ticks if 0 < count < 400}) >= 5


@pytest.mark.anyio
async def test_the_input_is_read_only_as_fast_as_workers_take_blocks() -> None:
    concurrency, chunk = 3, 10
    read: list[int] = []
    release = anyio.Event()
    seen_when_busy: list[int] = []

    def source() -> Iterator[Recipient]:
        for position in range(200):
            read.append(position)
            yield Recipient(phone_at(position))

    async def script(call: Call, recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
        if fake.in_flight == concurrency and not release.is_set():
            seen_when_busy.append(len(read))
            release.set()
        await release.wait()
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(max_chunk_size=chunk, script=script)
    received: list[BatchOutcome] = []
    report = await send_batch(fake, source(), sink=received.append, concurrency=concurrency)

    assert report.sent == 200
    # With every worker busy, exactly one block per worker had been read: no reader runs
    # ahead of the workers (the journal records a chunk just before it is sent).
    assert seen_when_busy == [concurrency * chunk]
    assert [outcome.position for outcome in received] == list(range(200))


def _fingerprint_as_first_written(block: Block) -> str:
    """The fingerprint as journals of earlier releases computed it (one update per part)."""
    digest = hashlib.sha256()
    for position, recipient in zip(block.positions, block.recipients, strict=True):
        digest.update(f"{position}\x1f{recipient.phone}\x1f".encode())
        digest.update(json.dumps(dict(recipient.vars), sort_keys=True).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def test_a_chunk_fingerprint_is_what_earlier_journals_recorded() -> None:
    chunker = Chunker(4)
    items = [
        Recipient(phone_at(0), {"name": "张三", "code": "1234"}),
        Recipient(phone_at(1), {"b": "x\x1fy", "a": "\u00e9"}),
        Recipient(phone_at(2)),
        Recipient(phone_at(3), {"z": "1", "y": "2", "x": "3"}),
    ]
    blocks = [chunker.add(position, item, item.phone) for position, item in enumerate(items)]
    block = blocks[-1]
    assert block is not None
    assert fingerprint(block) == _fingerprint_as_first_written(block)
    # Any change to a recipient changes it.
    block.recipients[1] = Recipient(phone_at(1), {"b": "x\x1fy", "a": "e"})
    assert fingerprint(block) != _fingerprint_as_first_written(
        attrs.evolve(block, recipients=list(items))
    )


@pytest.mark.anyio
async def test_an_async_source_is_read_and_closed_by_one_task() -> None:
    # An async generator holding a cancel scope across its yields must be iterated, and
    # closed, by one task: reading it from whichever worker reads next breaks the scope.
    fake = FakeChunkSender(max_chunk_size=10, jitter=3)
    closed: list[bool] = []

    async def rows() -> AsyncIterator[Recipient]:
        try:
            with anyio.move_on_after(1_000):
                for position in range(200):
                    yield Recipient(phone_at(position))
        finally:
            closed.append(True)

    report = await send_batch(fake, rows(), concurrency=4)

    assert report.sent == 200
    assert closed == [True]


@pytest.mark.anyio
async def test_a_long_run_of_blocks_without_a_request_can_be_cancelled() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    rows = (Recipient("not a number") for _ in range(200_000))  # every one skipped

    with anyio.move_on_after(0.05) as scope:
        await send_batch(fake, rows, concurrency=2)

    assert scope.cancelled_caught
    assert next(rows, None) is not None  # it stopped long before the end of the input


class _NextOnly:
    """An iterator with ``__next__`` and no ``__iter__``, as some hand-written cursors are."""

    def __init__(self, count: int) -> None:
        self._left = iter(range(count))

    def __next__(self) -> Recipient:
        return Recipient(phone_at(next(self._left)))


class _NextOnlySource:
    def __init__(self, count: int) -> None:
        self._count = count

    def __iter__(self) -> _NextOnly:
        return _NextOnly(self._count)


@pytest.mark.anyio
async def test_a_source_whose_iterator_has_only_next_is_read() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    report = await send_batch(fake, _NextOnlySource(25))  # type: ignore[arg-type]
    assert report.sent == 25


@pytest.mark.anyio
async def test_a_plain_source_that_fails_ends_the_input_for_every_worker() -> None:
    fake = FakeChunkSender(max_chunk_size=10, jitter=2)
    received: list[BatchOutcome] = []

    def rows() -> Iterator[Recipient]:
        for position in range(15):
            yield Recipient(phone_at(position))
        raise OSError("connection lost")

    with pytest.raises(OSError, match="connection lost"):
        await send_batch(fake, rows(), sink=received.append, concurrency=3)
    # The 5 rows read after the first, full block are not flushed as a block of their own
    # by another worker: nothing of them is sent or emitted.
    assert all(outcome.position < 10 for outcome in received)
    assert set(fake.phones_received()) <= {phone_at(position) for position in range(10)}
    assert len(fake.calls) <= 1


@pytest.mark.anyio
async def test_a_worker_waiting_for_the_readers_turn_is_woken_only_to_take_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waking every waiting worker each time the turn is given up costs O(concurrency)
    task switches per block: the turn is handed to one waiting worker at a time."""
    real_event = anyio.Event
    wakeups: list[int] = []

    class CountedEvent:
        def __init__(self) -> None:
            self._event = real_event()

        def set(self) -> None:
            self._event.set()

        def is_set(self) -> bool:
            return self._event.is_set()

        async def wait(self) -> None:
            await self._event.wait()
            wakeups.append(1)

    monkeypatch.setattr(anyio, "Event", CountedEvent)
    fake = FakeChunkSender(max_chunk_size=10, jitter=6, seed=3)
    chunks, concurrency = 300, 64
    report = await send_batch(
        fake, [Recipient(phone_at(i)) for i in range(chunks * 10)], concurrency=concurrency
    )
    assert report.sent == chunks * 10
    assert len(wakeups) <= chunks + concurrency  # at most one per block, and one per worker
