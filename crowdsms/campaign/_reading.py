"""Reading a campaign's recorded outcomes back: each shard's chunks cut again, nothing sent.

A shard's chunks are numbered as its batch job cut them, so reading them back runs the same
batch job over the same rows (the same chunk size, duplicates and opted-out numbers) with a
chunk sender that refuses to send (:class:`Reader`) and a journal that only replays what the
claims recorded (:class:`ReadOnlyJournal`, or the reconciling journal of ``_reconcile``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.batch._journal import JobJournal, RecordedChunk
from crowdsms.campaign._claims import ClaimStore, Done
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import ChunkSender, PreSkipped, Recipient, RecipientOutcome

__all__ = ["ReadOnlyJournal", "Reader", "ReplayJournal", "read_shard", "reader_of"]


class Reader:
    """A chunk sender that refuses to send: reading outcomes back must never send.

    It looks like the provider's chunk sender (``supports_reference`` included), so that
    the batch job cuts the same chunks; shards send with the provider's own chunk sender.
    """

    def __init__(self, inner: ChunkSender) -> None:
        self._inner = inner
        self.max_chunk_size = inner.max_chunk_size
        self.supports_idempotency_key = False
        self.supports_reference = bool(getattr(inner, "supports_reference", False))
        self.valid_as_given_with_vars = getattr(inner, "valid_as_given_with_vars", None)
        """The provider's promise about :meth:`validate`, which is the provider's own."""

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """The provider's validation: the same recipients are screened out."""
        return self._inner.validate(recipient, position=position)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Never sends: a chunk that is not recorded as finished cannot be read back."""
        raise CrowdSMSError(
            "a chunk of the campaign is not finished yet",
            action="Wait until the campaign's status says every shard is done",
        )


def reader_of(spec: Any, message: Any) -> Reader:
    """A :class:`Reader` of ``spec``'s chunk sender for ``message`` (no credentials needed)."""
    client = spec.make_client({field.name: "x" for field in spec.credentials})
    return Reader(spec.chunk_sender(client, message))


class ReplayJournal:
    """A journal whose chunks are all replayed (:meth:`prepare` answers for each)."""

    resumed = True
    recorded_chunks = 0

    def __init__(self, store: ClaimStore, opted_out: Iterable[str] = ()) -> None:
        self._store = store
        self._opted_out = frozenset(opted_out)

    async def opted_out(self) -> frozenset[str]:
        """The shard's opted-out numbers, so that its chunks are cut as they were sent."""
        return self._opted_out

    async def prepare(
        self, index: int, *, phones: Sequence[str] = (), **_: Any
    ) -> RecordedChunk | None:
        """What to replay of chunk ``index`` (whose recipients are ``phones``)."""
        raise NotImplementedError

    async def mark_started(self, index: int) -> None:
        """Never reached: every chunk is replayed."""
        raise AssertionError("never reached: every chunk is replayed")

    async def mark_pending(self, index: int) -> None:
        """Never reached."""
        raise AssertionError("never reached")

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Never reached."""
        raise AssertionError("never reached")

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        """Never reached."""
        raise AssertionError("never reached")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """Never reached."""
        raise AssertionError("never reached")

    async def finish(self, chunks_seen: int) -> None:
        """Nothing to record."""

    async def aclose(self) -> None:
        """Nothing to release."""


class ReadOnlyJournal(ReplayJournal):
    """Replays finished chunks; any other chunk is an error (see :class:`Reader`)."""

    async def prepare(
        self, index: int, *, phones: Sequence[str] = (), **_: Any
    ) -> RecordedChunk | None:
        """The recorded outcomes of chunk ``index``; an error if it is not finished."""
        state = await self._store.peek(index)
        if isinstance(state, Done):
            return RecordedChunk(state="done", idempotency_key=None, outcomes=list(state.outcomes))
        raise CrowdSMSError(
            f"chunk {index} of the campaign is not finished yet",
            action="Wait until the campaign's status says every shard is done",
        )


async def read_shard(
    reader: Reader,
    rows: AsyncIterator[Recipient | PreSkipped],
    *,
    journal: JobJournal,
    job_id: str,
    chunk_size: int | None,
    honour_opt_outs: bool,
) -> list[BatchOutcome]:
    """Every row's outcome of one shard (positions from 0), as ``journal`` replays them."""
    collected: list[BatchOutcome] = []
    await BatchSender(
        reader,
        chunk_size=chunk_size,
        resend_failed_chunks=False,
        honour_opt_outs=honour_opt_outs,
    ).send(rows, sink=collected.append, journal=journal, job_id=job_id)
    return collected
