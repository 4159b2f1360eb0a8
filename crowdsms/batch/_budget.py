"""The spend cap: a job never sends a chunk that could take it past ``max_segments``.

``BatchSender(max_segments=..., max_cost=...)`` sets a cap in SMS segments (a cost cap is
turned into segments with the price per segment: ``floor(max_cost / price)``; with both,
the smaller wins). What counts:

- Before a chunk's request, its segments are **reserved**: the sum over its recipients of
  :func:`~crowdsms.segments.count_segments` of the chunk sender's ``render(recipient)``. A
  chunk whose reservation would take *spent + reserved* past the cap is not sent: the job
  stops there, as after a job-wide error (requests in flight finish), and the recipients
  not sent get ``failed`` outcomes with code :data:`SPEND_CAP`. Reserving happens before a
  chunk waits for its turn, so however many requests are in flight, what they may cost
  together never exceeds the cap.
- After the answer the reservation is replaced by what the chunk **spent**, recipient by
  recipient: a ``sent`` recipient's ``fee`` where the provider reports one (taken as
  segments, the unit of the only built-in provider that reports fees; see its
  ``fee_unit``), else its rendered segments; an ``unknown`` one its rendered segments (the
  provider may have sent it); a ``failed`` one nothing. A chunk that failed ``NOT_SENT``
  as a whole so releases its reservation.
- With a journal, reservations and spends are recorded per chunk (see
  :mod:`crowdsms.batch._spend_store`), and a resumed job starts from their sum: its budget
  does not reset, and is known before the first chunk is sent. Chunks sent by an earlier run
  that had no cap have no record; they are counted as the resumed job replays them (their
  recorded outcomes' fee, else the rendered count), and recorded then. That is in input
  order: a chunk sent again before the replay reaches them (one that had failed) is checked
  against less than the job spent. Only a cap set from the job's first run is strict.

Resuming a job stopped by its cap with a higher cap sends the chunks not sent; with the same
cap it stops again before the first of them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import anyio
import attrs

from crowdsms.batch._chunking import Block
from crowdsms.batch._preview import check_price
from crowdsms.batch._spend_store import SpendStore
from crowdsms.batch._stop import JobStop, unsent_outcomes
from crowdsms.errors import ConfigurationError, CrowdSMSError, InvalidInputError
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.segments import count_segments

__all__ = ["SPEND_CAP", "Budget", "SpendCap", "SpendCapReached", "spend_cap"]

logger = logging.getLogger("crowdsms.batch")

SPEND_CAP = "spend_cap"
"""The ``code`` of the outcomes of recipients a job did not send because of its spend cap."""


class SpendCapReached(CrowdSMSError):
    """A job stopped before a chunk that could have taken it past its spend cap."""


@attrs.frozen(kw_only=True)
class SpendCap:
    """A job's spend cap, in SMS segments, and how it was given."""

    segments: int
    """The most segments the job may spend."""
    max_segments: int | None = None
    max_cost: Decimal | None = None
    price_per_segment: Decimal | None = None

    def describe(self) -> str:
        """The cap as it was given, e.g. ``100 segments`` or ``CNY 5.00 (100 segments at
        0.05)``."""
        if self.max_cost is not None and (
            self.max_segments is None or self.segments < self.max_segments
        ):
            return (
                f"CNY {self.max_cost} ({self.segments:,} segments at {self.price_per_segment} each)"
            )
        return f"{self.segments:,} segments"


def _render_problem(chunk_sender: ChunkSender) -> str | None:
    if getattr(chunk_sender, "render", None) is None:
        return "the chunk sender has no render method, so its messages cannot be counted"
    note = getattr(chunk_sender, "segments_note", None)
    return str(note) if note is not None else None


def spend_cap(
    chunk_sender: ChunkSender,
    *,
    max_segments: object,
    max_cost: object,
    price_per_segment: Decimal | None,
) -> SpendCap | None:
    """The cap of ``BatchSender(max_segments=..., max_cost=...)``, checked; ``None`` if none.

    ``price_per_segment`` is the price given, or ``None`` for the chunk sender's default.
    """
    if max_segments is None and max_cost is None:
        return None
    if max_segments is not None and (
        isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 1
    ):
        raise InvalidInputError(
            "must be a whole number of SMS segments >= 1, or None",
            field="max_segments",
            received=repr(max_segments)[:40],
            action="Pass e.g. max_segments=10000, or None for no cap",
        )
    cost = check_price(max_cost, "max_cost") if max_cost is not None else None
    if max_cost is not None and not cost:
        raise InvalidInputError(
            "must be an amount in CNY > 0, or None",
            field="max_cost",
            received=repr(max_cost)[:40],
            action="Pass e.g. max_cost=500, or None for no cap",
        )
    price = price_per_segment
    if price is None:
        price = check_price(getattr(chunk_sender, "price_per_segment", None))
    problem = _render_problem(chunk_sender)
    if problem is not None:
        raise ConfigurationError(
            f"a spend cap needs to count each message's segments, and {problem}",
            action="Leave max_segments and max_cost out, or give what the note asks for",
        )
    limits = [max_segments] if isinstance(max_segments, int) else []
    if cost is not None:
        if price is None:
            raise ConfigurationError(
                "max_cost needs a price per segment, and this chunk sender has no default",
                action="Pass price_per_segment= (CNY per SMS segment), or use max_segments",
            )
        if price <= 0:
            raise ConfigurationError(
                "max_cost needs a price per segment above 0: at a price of 0 no number of "
                "segments reaches the cap, so it would limit nothing",
                received=str(price),
                action="Pass price_per_segment= (CNY per SMS segment, the price you pay), "
                "or use max_segments to cap the segments themselves",
            )
        limits.append(int((cost / price).to_integral_value(rounding=ROUND_FLOOR)))
    return SpendCap(
        segments=min(limits),
        max_segments=max_segments if isinstance(max_segments, int) else None,
        max_cost=cost,
        price_per_segment=price if cost is not None else None,
    )


@attrs.define
class _Reservation:
    index: int
    segments: list[int]
    total: int


def _spent(outcomes: Sequence[RecipientOutcome], segments: Sequence[int]) -> int:
    """What a chunk's recipients cost: fee if reported, else rendered segments; failed: 0."""
    total = 0
    for outcome, rendered in zip(outcomes, segments, strict=False):
        if outcome.status is OutcomeStatus.SENT:
            fee = outcome.fee
            total += rendered if fee is None else math.ceil(fee)
        elif outcome.status is OutcomeStatus.UNKNOWN:
            total += rendered
    return total


class Budget:
    """One job's spend against its cap, shared by its workers."""

    def __init__(
        self, cap: SpendCap, chunk_sender: ChunkSender, *, stop: JobStop, job_id: str
    ) -> None:
        self.cap = cap
        self._render: Any = getattr(chunk_sender, "render")  # noqa: B009 (checked by spend_cap)
        self._stop = stop
        self._job_id = job_id
        self._store: SpendStore | None = None
        self._leftover: dict[int, int] = {}
        self.committed = 0
        """Segments spent (and reservations left by earlier runs)."""
        self.reserved = 0
        """Segments reserved by chunks in flight in this run."""
        self._resumable = False
        """Whether the job has a journal (a stopped job can then be resumed)."""

    async def load(self, journal: object) -> None:
        """Start from what the journal recorded for the job (nothing without a journal)."""
        self._resumable = journal is not None
        factory = getattr(journal, "spend_store", None)
        if factory is None:
            return
        self._store = factory()
        assert self._store is not None
        record = await self._store.load()
        self.committed = record.total
        self._leftover = dict(record.reserved)
        if record.total:
            logger.info(
                "batch: job %s: %d segments spent or reserved by earlier runs (cap %s)",
                self._job_id,
                record.total,
                self.cap.describe(),
            )

    def _segments(self, recipients: Sequence[Recipient]) -> list[int]:
        counts = []
        for recipient in recipients:
            text = self._render(recipient)
            if text is None:
                raise ConfigurationError(
                    f"the chunk sender gave no text for {recipient.phone[:3]}****, so the "
                    "spend cap cannot count its segments",
                    action="Use a chunk sender whose render() always gives the text, or no cap",
                )
            counts.append(count_segments(text))
        return counts

    def _reserve(self, block: Block) -> _Reservation | None:
        """Reserve the block's segments, or stop the job if they do not fit. Not a coroutine:
        workers reserve in the order they took the blocks."""
        assert block.chunk_index is not None
        index = block.chunk_index
        segments = self._segments(block.recipients)
        need = sum(segments)
        committed = self.committed - self._leftover.get(index, 0)  # replaced by this send
        used = committed + self.reserved
        if used + need > self.cap.segments:
            self._stop.fail(
                SpendCapReached(
                    f"the spend cap of {self.cap.describe()} would be exceeded: "
                    f"{used:,} segments are spent or reserved in job {self._job_id!r}, and "
                    f"chunk {index} needs {need:,} more",
                    action=(
                        "Resume the job with a higher cap (max_segments= or max_cost=; "
                        "--max-segments or --max-cost) to send the rest"
                        if self._resumable
                        else "This job has no journal, so it cannot be resumed: running it "
                        "again sends to every recipient again, those sent included. Send "
                        "the rest as a new job of only the recipients not sent (the ones "
                        "with code spend_cap), or give jobs a journal (journal=; --journal) "
                        "and resume them with a higher cap"
                    ),
                ),
                code=SPEND_CAP,
            )
            return None
        self.committed = committed
        self._leftover.pop(index, None)
        self.reserved += need
        return _Reservation(index=index, segments=segments, total=need)

    async def send(
        self, dispatcher: Any, block: Block, key: str | None, **options: Any
    ) -> list[RecipientOutcome]:
        """Reserve, send with ``dispatcher`` (a :class:`~crowdsms.batch._dispatch.Dispatcher`),
        then settle; a block that does not fit is not sent."""
        reservation = None if self._stop else self._reserve(block)
        if reservation is None:
            return unsent_outcomes(block, self._stop)
        store = self._store
        if store is not None:
            with anyio.CancelScope(shield=True):
                await store.reserve(reservation.index, reservation.total)
        results: list[RecipientOutcome] = await dispatcher.send(block, key, **options)
        self.reserved -= reservation.total
        if block.left_in_flight:
            # No answer, and the journal keeps the chunk started: its reservation stands,
            # as a run that stopped mid-request leaves it (a later resend replaces it).
            self.committed += reservation.total
            self._leftover[reservation.index] = reservation.total
            return results
        spent = _spent(results, reservation.segments)
        self.committed += spent
        if store is not None:
            with anyio.CancelScope(shield=True):
                await store.settle(reservation.index, spent)
        return results

    async def replayed(self, block: Block, outcomes: Sequence[RecipientOutcome]) -> None:
        """Count a chunk an earlier run sent (done, or in flight when it stopped), called
        before it is replayed or its unconfirmed recipients are resent.

        Without a spend record (that run had no cap, or the journal records no spend), it
        is counted from its recorded ``outcomes`` now.
        """
        assert block.chunk_index is not None
        index = block.chunk_index
        store = self._store
        if store is not None and await store.recorded(index):
            # Counted from the start. A reservation left by a run that stopped with the
            # chunk in flight is final now (its recipients are unknown: they may have been
            # sent), so a resend of them adds to it instead of replacing it.
            leftover = self._leftover.pop(index, 0)
            if leftover:
                with anyio.CancelScope(shield=True):
                    await store.settle(index, leftover)
            return
        spent = _spent(outcomes, self._segments(block.recipients))
        self.committed += spent
        if store is not None:
            with anyio.CancelScope(shield=True):
                await store.settle(index, spent)
