"""Input order under concurrency, and memory proportional to the concurrency, not the job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import anyio.lowlevel
import pytest

from crowdsms.batch import BatchOutcome, BatchSender, send_batch
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, phone_at, sent


@pytest.mark.anyio
async def test_outcomes_keep_input_order_when_chunks_finish_out_of_order() -> None:
    fake = FakeChunkSender(max_chunk_size=10, jitter=30, seed=3)
    received: list[BatchOutcome] = []
    items = [Recipient(phone_at(i), {"i": str(i)}) for i in range(3_000)]

    report = await send_batch(fake, items, sink=received.append, concurrency=16)

    assert fake.completed != sorted(fake.completed), "chunks must finish out of order"
    assert 1 < fake.max_in_flight <= 16
    assert [item.position for item in received] == list(range(3_000))
    assert [item.outcome.message_id for item in received] == [
        f"id-{phone_at(i)}" for i in range(3_000)
    ]
    # Each chunk carried consecutive recipients, with their variables.
    assert [call.phones for call in sorted(fake.calls, key=lambda c: c.phones[0])] == [
        [phone_at(i) for i in range(start, start + 10)] for start in range(0, 3_000, 10)
    ]
    assert report.sent == 3_000


@pytest.mark.anyio
async def test_a_fixed_pool_fills_the_concurrency_and_never_exceeds_it() -> None:
    concurrency = 6
    reached: list[int] = []

    async def script(call: Call, recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
        # Hold every call until all workers are busy (bounded, so a failure cannot hang).
        for _ in range(2_000):
            if fake.in_flight >= concurrency:
                reached.append(call.number)
                break
            await anyio.lowlevel.checkpoint()
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(max_chunk_size=5, script=script)
    report = await send_batch(
        fake, [Recipient(phone_at(i)) for i in range(300)], concurrency=concurrency
    )
    assert report.sent == 300
    assert fake.max_in_flight == concurrency
    assert len(reached) >= len(fake.calls) // 2  # most calls ran with every worker busy


class Instrumented:
    """A recipient source and a sink counting recipients read but not yet emitted."""

    def __init__(self) -> None:
        self.read = 0
        self.emitted = 0
        self.max_held = 0

    def _count(self) -> None:
        self.read += 1
        self.max_held = max(self.max_held, self.read - self.emitted)

    def source(self, count: int, *, duplicate_every: int = 0) -> Iterator[Recipient]:
        for position in range(count):
            self._count()
            if duplicate_every and position % duplicate_every:
                yield Recipient(phone_at(position - position % duplicate_every))
            else:
                yield Recipient(phone_at(position))

    async def async_source(self, count: int) -> AsyncIterator[Recipient]:
        for recipient in self.source(count):
            await anyio.lowlevel.checkpoint()
            yield recipient

    def sink(self, item: BatchOutcome) -> None:
        self.emitted += 1


@pytest.mark.slow
@pytest.mark.asyncio
async def test_memory_stays_proportional_to_concurrency_for_200k_recipients() -> None:
    concurrency, chunk = 8, 50
    counter = Instrumented()

    async def script(call: Call, recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
        # Every 100th chunk is very slow: the chunks after it finish and wait in the reorder
        # buffer, which fills up to its bound.
        for _ in range(3_000 if call.number % 100 == 1 else call.number % 7):
            await anyio.lowlevel.checkpoint()
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(max_chunk_size=chunk, strict=False, script=script)

    report = await send_batch(
        fake,
        counter.source(200_000),
        sink=counter.sink,
        concurrency=concurrency,
        runtime=FakeTime().runtime(),
    )

    assert report.sent == 200_000
    assert counter.emitted == 200_000
    # The order buffer holds 4 x concurrency blocks, plus the one being emitted, the one
    # being built and the one being handed over.
    assert counter.max_held <= (4 * concurrency + 4) * chunk
    assert counter.max_held >= 4 * concurrency * chunk  # the buffer did fill up
    assert fake.max_in_flight <= concurrency


@pytest.mark.asyncio
async def test_memory_bound_holds_with_a_slow_async_source_and_many_duplicates() -> None:
    concurrency, chunk = 4, 20
    counter = Instrumented()
    fake = FakeChunkSender(max_chunk_size=chunk, strict=False, jitter=3)

    report = await send_batch(
        fake,
        counter.source(20_000, duplicate_every=10),  # 9 of every 10 are duplicates
        sink=counter.sink,
        concurrency=concurrency,
    )
    assert report.skipped == 18_000
    assert report.sent == 2_000
    # Blocks then span at most 4 x chunk_size positions.
    assert counter.max_held <= (4 * concurrency + 4) * 4 * chunk
    # A block closes at its span limit, so some chunks are not full.
    assert min(len(call.phones) for call in fake.calls) < chunk

    counter = Instrumented()
    report = await send_batch(
        fake, counter.async_source(5_000), sink=counter.sink, concurrency=concurrency
    )
    assert report.sent == 5_000
    assert counter.max_held <= (4 * concurrency + 4) * chunk


@pytest.mark.asyncio
async def test_a_slow_stream_consumer_holds_back_the_reader() -> None:
    counter = Instrumented()
    fake = FakeChunkSender(max_chunk_size=10, strict=False)
    async with BatchSender(fake, concurrency=2) as sender:
        stream = sender.stream(counter.source(2_000))
        async for item in stream:
            counter.sink(item)
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            assert item.status is OutcomeStatus.SENT
    assert counter.emitted == 2_000
    assert stream.report.sent == 2_000
    # Blocks in the pipeline plus the stream's buffer of one chunk.
    assert counter.max_held <= (4 * 2 + 4) * 10 + 10
