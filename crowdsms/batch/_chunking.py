"""Cutting the screened input into blocks: one chunk request each, in input order.

A *block* covers a contiguous range of input positions: the recipients to send in one
request (at most ``chunk_size``) and the skipped ones among them. Blocks are what the
reorder buffer holds, so outcomes come out in input order. A block closes when its chunk is
full or when it spans ``max_span`` positions (a long run of invalid numbers must not make a
block, and so memory, grow without bound).

Cutting is a pure function of the input and of ``(chunk_size, max_span)``, so a resumed job
cuts the same chunks with the same indexes; the journal checks that with a fingerprint of
each chunk's recipients.
"""

from __future__ import annotations

import hashlib
import json

import attrs

from crowdsms.batch._report import BatchOutcome
from crowdsms.outcomes import Recipient, RecipientOutcome

__all__ = ["SPAN_FACTOR", "Block", "Chunker", "fingerprint", "idempotency_key"]

SPAN_FACTOR = 4
"""A block spans at most ``SPAN_FACTOR * chunk_size`` input positions."""


@attrs.define(eq=False)
class Block:
    """Positions ``start`` to ``end`` (exclusive) of the input and what became of them."""

    start: int
    end: int = 0
    chunk_index: int | None = None
    positions: list[int] = attrs.Factory(list)
    input_phones: list[str] = attrs.Factory(list)
    recipients: list[Recipient] = attrs.Factory(list)
    skipped: dict[int, BatchOutcome] = attrs.Factory(dict)
    results: list[RecipientOutcome] | None = None
    replayed: bool = False
    done: bool = False
    """Whether :meth:`finish` was called."""
    left_in_flight: bool = False
    """Whether this run left the chunk started in the journal without outcomes (a request
    may have reached the provider, and no answer came): a later run resends it with its
    idempotency key, or reports it ``unknown``."""
    earlier: list[RecipientOutcome] | None = None
    """For a chunk an earlier run's request may have sent (the journal had it started),
    which this run sends again with its idempotency key: each recipient's outcome if this
    run cannot send it, ``unknown``, or ``sent`` where a delivery report confirmed it."""

    def finish(self, results: list[RecipientOutcome], *, replayed: bool = False) -> None:
        """Store the chunk's outcomes (one per recipient, in order); it can be emitted now."""
        self.results = results
        self.replayed = replayed
        self.done = True

    def outcomes(self) -> list[BatchOutcome]:
        """Every position's outcome, in input order (after :meth:`finish`)."""
        results = self.results or []
        if not self.skipped:  # the usual block: every position was sent
            return [
                BatchOutcome(position, input_phone, outcome)
                for position, input_phone, outcome in zip(
                    self.positions, self.input_phones, results, strict=True
                )
            ]
        sent = iter(zip(self.positions, self.input_phones, results, strict=True))
        merged = []
        for position in range(self.start, self.end):
            skipped = self.skipped.get(position)
            if skipped is not None:
                merged.append(skipped)
            else:
                at, input_phone, outcome = next(sent)
                assert at == position
                merged.append(BatchOutcome(position, input_phone, outcome))
        return merged


class Chunker:
    """Groups screened items into blocks; numbers the blocks that carry a chunk."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.max_span = SPAN_FACTOR * chunk_size
        self.chunks = 0
        self._block: Block | None = None

    def add(self, position: int, item: Recipient | BatchOutcome, input_phone: str) -> Block | None:
        """Add the item at ``position``; return the block it closed, if any."""
        block = self._block
        if block is None:
            block = self._block = Block(start=position)
        if isinstance(item, BatchOutcome):
            block.skipped[position] = item
        else:
            block.positions.append(position)
            block.input_phones.append(input_phone)
            block.recipients.append(item)
        if len(block.recipients) >= self.chunk_size or position + 1 - block.start >= self.max_span:
            return self._close(position + 1)
        return None

    def flush(self, end: int) -> Block | None:
        """Close the last, partial block at the end of the input."""
        if self._block is None:
            return None
        return self._close(end)

    def _close(self, end: int) -> Block:
        block = self._block
        assert block is not None
        self._block = None
        block.end = end
        if block.recipients:
            block.chunk_index = self.chunks
            self.chunks += 1
        else:
            block.finish([])
        return block


_SORTED_JSON = json.JSONEncoder(sort_keys=True)
"""``json.dumps(..., sort_keys=True)``'s encoder, made once (``dumps`` makes one a call)."""


def fingerprint(block: Block) -> str:
    """A hash of a chunk's recipients: positions, normalized numbers and variables.

    The SHA-256 of, for each recipient, ``f"{position}\\x1f{phone}\\x1f"``, its variables as
    JSON with sorted keys, and ``"\\x1e"``. A journal keeps it to check that a resumed job
    cut the same chunk, so this text must never change.
    """
    encode = _SORTED_JSON.encode
    text = "".join(
        [
            f"{position}\x1f{recipient.phone}\x1f{encode(dict(recipient.vars))}\x1e"
            for position, recipient in zip(block.positions, block.recipients, strict=True)
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(job_id: str, chunk_index: int) -> str:
    """The key for chunk ``chunk_index`` of ``job_id``: stable across runs, <= 128 chars.

    The job id is hashed, so any job id gives a short key of safe characters.
    """
    job_hash = hashlib.sha256(job_id.encode()).hexdigest()[:32]
    return f"crowdsms-{job_hash}-{chunk_index}"
