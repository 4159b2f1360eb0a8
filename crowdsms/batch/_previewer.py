"""Making a :class:`~crowdsms.batch.Preview`: the job's screening and chunking, no requests.

Each input item goes through the same :class:`~crowdsms.batch._screen.Screener` (the chunk
sender's ``validate`` or its promise, the duplicate check, the suppression list) and the same
:class:`~crowdsms.batch._chunking.Chunker` as in a job, so the counts and the number of
requests are the job's. Each recipient to send is rendered by the chunk sender's optional
``render`` and counted with :func:`~crowdsms.segments.count_segments`. Only counts, a
histogram and the few longest messages are kept: memory stays flat, apart from the set of
numbers seen (about 9.5 bytes per distinct number, as in a job).

A journal is only read (the suppression list, as the job would load it): a preview never
creates, locks or changes one.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterable, Callable, Collection, Iterable
from decimal import Decimal

import anyio
import anyio.lowlevel
import anyio.to_thread

from crowdsms.batch._chunking import Chunker
from crowdsms.batch._input import RecipientSource, check_source
from crowdsms.batch._journal import JobJournal, JournalError, load_job_opt_outs
from crowdsms.batch._preview import LongMessage, Preview, mask_phone
from crowdsms.batch._report import BatchOutcome
from crowdsms.batch._screen import (
    SKIPPED_DUPLICATE,
    SKIPPED_INVALID,
    SKIPPED_OPTED_OUT,
    Screener,
    input_phone_of,
)
from crowdsms.deliveries._store import load_opt_outs
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import ChunkSender, Recipient
from crowdsms.segments import count_segments

__all__ = ["DEFAULT_LONGEST", "run_preview"]

DEFAULT_LONGEST = 5
"""How many of the longest messages a preview lists."""
_MAX_REASONS = 20
_OTHER_REASONS = "other reasons"
_INDEX = re.compile(r"\[\d+\]")
_YIELD_EVERY = 4096
_NO_RENDER = (
    "the chunk sender cannot give the messages' text (it has no render method), so "
    "segments and cost are unknown"
)


def _reason(screener: Screener, message: str | None) -> str:
    """Why a recipient is invalid, without its position (so that reasons can be counted)."""
    error = screener.last_error
    text = error.what if error is not None else (message or "invalid")
    return _INDEX.sub("[]", text)


async def _journal_opt_outs(path: str, job_id: str | None) -> frozenset[str]:
    """The suppression list a job ``job_id`` would load from the journal at ``path``.

    Read-only: a missing file has none. A job in the journal skips the list copied when it
    was created (one an earlier version created, the numbers recorded by then); a new one,
    every number on the list (the copy it would make).
    """

    def work() -> frozenset[str]:
        if not os.path.isfile(path):
            return frozenset()
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
                found = None
                if job_id is not None and "jobs" in tables:
                    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
                    query = (
                        "SELECT created, opt_outs_copied FROM jobs WHERE job_id = ?"
                        if "opt_outs_copied" in columns
                        else "SELECT created, NULL FROM jobs WHERE job_id = ?"
                    )
                    found = db.execute(query, (job_id,)).fetchone()
                if found is not None and job_id is not None:
                    copied_list = found[1] is not None and "job_opt_outs" in tables
                    if copied_list or "opt_outs" in tables:
                        return load_job_opt_outs(
                            db, job_id, created=float(found[0]), copied=copied_list
                        )
                    return frozenset()
                if "opt_outs" not in tables:
                    return frozenset()
                return load_opt_outs(db)
        except sqlite3.Error as exc:
            raise JournalError(
                f"the journal cannot be read ({exc})",
                received=repr(path),
                action="Give the path of a crowdsms journal (SQLite), or leave journal out",
            ) from exc

    return await anyio.to_thread.run_sync(work)


async def _suppressed(
    journal: str | os.PathLike[str] | JobJournal | None,
    job_id: str | None,
    opted_out: Collection[str],
    honour_opt_outs: bool,
) -> frozenset[str]:
    if not honour_opt_outs:
        return frozenset()
    numbers = frozenset(opted_out)
    listed: frozenset[str] = frozenset()
    if isinstance(journal, (str, os.PathLike)):
        listed = await _journal_opt_outs(os.fspath(journal), job_id)
    elif journal is not None:
        read = getattr(journal, "opted_out", None)
        if read is not None:
            listed = frozenset(await read())
    # The journal's list (100k numbers or more) is used as read, not copied, when it is all.
    return numbers | listed if numbers else listed


class _Counts:
    """The running counts of a preview (one per recipient; nothing per recipient kept)."""

    def __init__(self, chunk_sender: ChunkSender, *, longest: int) -> None:
        self.screener = Screener.for_chunk_sender(chunk_sender)
        self.render: Callable[[Recipient], str | None] | None = getattr(
            chunk_sender, "render", None
        )
        self.note: str | None = (
            getattr(chunk_sender, "segments_note", None) if self.render else _NO_RENDER
        )
        self.known = self.render is not None
        self.read = self.valid = self.duplicates = self.opted_out = self.segments = 0
        self.invalid: Counter[str] = Counter()
        self.other: Counter[str] = Counter()
        self.histogram: Counter[int] = Counter()
        self.longest = longest
        self.heap: list[tuple[int, int, LongMessage]] = []

    def take(self, item: object, position: int, chunker: Chunker) -> None:
        screener = self.screener
        input_phone = input_phone_of(item)
        screener.last_error = None
        screened = screener.screen(item, position, input_phone)
        chunker.add(position, screened, input_phone)
        self.read += 1
        if isinstance(screened, BatchOutcome):
            self._skipped(screened)
        else:
            self.valid += 1
            if self.known:
                self._count(screened, position)

    def _skipped(self, outcome: BatchOutcome) -> None:
        code = outcome.outcome.code or ""
        if code == SKIPPED_INVALID:
            reason = _reason(self.screener, outcome.outcome.message)
            if reason not in self.invalid and len(self.invalid) >= _MAX_REASONS:
                reason = _OTHER_REASONS
            self.invalid[reason] += 1
        elif code == SKIPPED_DUPLICATE:
            self.duplicates += 1
        elif code == SKIPPED_OPTED_OUT:
            self.opted_out += 1
        else:
            self.other[code] += 1

    def _count(self, recipient: Recipient, position: int) -> None:
        assert self.render is not None
        text = self.render(recipient)
        if text is None:
            self.known = False
            if self.note is None:
                self.note = "the chunk sender gave no text for some recipients"
            return
        segments = count_segments(text)
        self.segments += segments
        self.histogram[segments] += 1
        if self.longest <= 0:
            return
        key = (len(text), -position)
        heap = self.heap
        if len(heap) < self.longest or key > heap[0][:2]:
            entry = LongMessage(
                position=position,
                phone=mask_phone(recipient.phone),
                characters=len(text),
                segments=segments,
                text=text,
            )
            if len(heap) < self.longest:
                heapq.heappush(heap, (*key, entry))
            else:
                heapq.heapreplace(heap, (*key, entry))

    def preview(self, chunker: Chunker, price: Decimal | None) -> Preview:
        longest = tuple(entry for *_, entry in sorted(self.heap, reverse=True))
        return Preview(
            recipients=self.read,
            valid=self.valid,
            invalid=sum(self.invalid.values()),
            invalid_reasons=dict(self.invalid.most_common()),
            duplicates=self.duplicates,
            opted_out=self.opted_out,
            other_skipped=dict(self.other),
            requests=chunker.chunks,
            chunk_size=chunker.chunk_size,
            segments=self.segments if self.known else None,
            histogram=dict(sorted(self.histogram.items())) if self.known else {},
            longest=longest if self.known else (),
            price_per_segment=price,
            segments_note=None if self.known else self.note,
        )


async def run_preview(
    chunk_sender: ChunkSender,
    source: RecipientSource,
    *,
    chunk_size: int,
    price: Decimal | None,
    journal: str | os.PathLike[str] | JobJournal | None = None,
    job_id: str | None = None,
    opted_out: Collection[str] = (),
    honour_opt_outs: bool = True,
    longest: int = DEFAULT_LONGEST,
) -> Preview:
    """Read all of ``source`` and return its :class:`Preview`; nothing is sent.

    ``opted_out`` are numbers (normalized) to skip besides the journal's suppression list.
    An input that cannot be read raises its :class:`InvalidInputError`, as the job would
    stop there.
    """
    check_source(source)
    if isinstance(longest, bool) or not isinstance(longest, int) or longest < 0:
        raise InvalidInputError(
            "must be a whole number >= 0",
            field="longest",
            received=repr(longest)[:40],
            action="Pass how many of the longest messages to list, e.g. longest=5",
        )
    counts = _Counts(chunk_sender, longest=longest)
    counts.screener.suppressed = await _suppressed(journal, job_id, opted_out, honour_opt_outs)
    chunker = Chunker(chunk_size)
    position = 0
    if isinstance(source, AsyncIterable):
        async for item in source:
            counts.take(item, position, chunker)
            position += 1
    else:
        assert isinstance(source, Iterable)
        for item in source:
            counts.take(item, position, chunker)
            position += 1
            if position % _YIELD_EVERY == 0:
                await anyio.lowlevel.checkpoint()  # let other tasks (a progress bar) run
    chunker.flush(position)
    return counts.preview(chunker, price)
