"""How a job's workers share the work, and what its journal keeps of each chunk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence

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
