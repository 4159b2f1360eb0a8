"""How a job's workers share the work: one reads at a time, each emits what is done."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import anyio
import anyio.lowlevel
import pytest

from crowdsms.batch import BatchOutcome, send_batch
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
