"""A resumed job's use of delivery reports: confirm ``unknown`` recipients, resend on request.

When a job resumes, the reports its journal file holds (recorded by the webhook app or
pulled by ``reconcile``) are matched with every recorded chunk (see
:class:`~crowdsms.deliveries.Matcher`): an ``unknown`` recipient with a report becomes
``sent`` (confirmed) and every sent one gets its delivery state; the journal keeps the
result.

With ``resend_unconfirmed_after``, a recorded chunk whose recipients are still ``unknown``
that long after it was last sent is sent again, for those recipients only. That is
at-least-once delivery: a message whose report was lost, or is merely late, arrives twice.
It is never automatic, and every resend is logged as a warning and counted in the report.
The resend goes through the job's flow control like any chunk. The journal records it
before the request (:meth:`~crowdsms.batch.Journal.mark_resending`), keeping the chunk's
other outcomes, so a crash during a resend leaves its recipients ``unknown`` and never
touches the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from crowdsms.batch._chunking import Block
from crowdsms.deliveries._match import Matcher
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = [
    "JobReports",
    "Resend",
    "ResendStates",
    "ResendingJournal",
    "merge_resent",
    "unconfirmed_block",
]

logger = logging.getLogger("crowdsms.batch")

RESENT_MESSAGE = (
    "sent again: no report confirmed the first send within {after:g} s "
    "(at-least-once: the recipient may get the message twice)"
)
RESEND_FAILED_MESSAGE = (
    "a resend {after:g} s later without a confirming report did not go out ({code}): "
    "still unknown, since the first send may have reached the provider"
)


def unconfirmed_block(
    block: Block, outcomes: Sequence[RecipientOutcome]
) -> tuple[Block, list[int]]:
    """A block of the chunk's ``unknown`` recipients, and their offsets in the chunk."""
    offsets = [i for i, outcome in enumerate(outcomes) if outcome.status is OutcomeStatus.UNKNOWN]
    sub = Block(
        start=block.start,
        end=block.end,
        chunk_index=block.chunk_index,
        positions=[block.positions[i] for i in offsets],
        input_phones=[block.input_phones[i] for i in offsets],
        recipients=[block.recipients[i] for i in offsets],
    )
    return sub, offsets


def merge_resent(
    previous: Sequence[RecipientOutcome],
    offsets: Sequence[int],
    results: Sequence[RecipientOutcome],
    *,
    after: float,
) -> list[RecipientOutcome]:
    """``previous`` with the resent recipients' new outcomes at ``offsets``.

    A resend that was sent, or may have been (``unknown``), gives the new outcome. One that
    failed or was skipped keeps the ``unknown`` outcome, with a note: the first send may
    still have reached the provider, so the recipient is not ``failed`` (which a later
    resume would take as safe to send again).
    """
    merged = list(previous)
    note = RESENT_MESSAGE.format(after=after)
    for offset, result in zip(offsets, results, strict=True):
        if result.status is OutcomeStatus.SENT:
            result = attrs.evolve(result, message=note)
        elif result.status is not OutcomeStatus.UNKNOWN:
            earlier = previous[offset]
            failed = RESEND_FAILED_MESSAGE.format(after=after, code=result.code or result.status)
            message = f"{earlier.message}; {failed}" if earlier.message else failed
            result = attrs.evolve(earlier, message=message)
        merged[offset] = result
    return merged


class ResendingJournal(Protocol):
    """A journal that can record resends (the SQLite journal, a campaign's claims)."""

    async def mark_resending(self, index: int) -> None:
        """Record that the chunk's unconfirmed recipients are about to be resent."""
        ...

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the chunk's outcomes."""
        ...

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The outcomes of a chunk another process took."""
        ...


class ResendStates:
    """The journal states of one resend: started is ``mark_resending``, done merges."""

    def __init__(
        self,
        journal: ResendingJournal,
        *,
        previous: Sequence[RecipientOutcome],
        offsets: Sequence[int],
        after: float,
    ) -> None:
        self._journal = journal
        self.previous = list(previous)
        """The chunk's outcomes before the resend."""
        self._offsets = list(offsets)
        self._after = after
        self.merged: list[RecipientOutcome] | None = None
        self.resent_here = False
        """Whether this run resent the recipients (not another process)."""

    async def mark_started(self, index: int) -> None:
        """Record the resend before its request (the chunk's outcomes are kept)."""
        await self._journal.mark_resending(index)

    async def mark_pending(self, index: int) -> None:
        """The resend was provably not sent (cancelled, or refused before processing).

        The chunk's outcomes are recorded again as they were, which also ends a campaign's
        claim on the resend, so another worker (or a later try) need not wait out its lease.
        """
        await self._journal.mark_done(index, self.previous)

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the chunk's outcomes with the resent recipients' new ones."""
        self.merged = merge_resent(self.previous, self._offsets, outcomes, after=self._after)
        self.resent_here = True
        await self._journal.mark_done(index, self.merged)

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """Another process resent these recipients: take the chunk's merged outcomes."""
        phones = [outcome.phone for outcome in self.previous]
        outcomes = await self._journal.wait_outcomes(index, phones)
        self.merged = outcomes
        return [outcomes[offset] for offset in self._offsets]


@attrs.frozen
class Resend:
    """A chunk whose unconfirmed recipients are being sent again."""

    block: Block
    """The whole chunk, finished with the merged outcomes."""
    sub: Block
    """The recipients sent again."""
    states: ResendStates
    number: int
    """Which resend of the chunk this is (1 for the first)."""


class JobReports:
    """What a resumed job knows from reports: a matcher, and the resend deadline."""

    def __init__(
        self,
        journal: object,
        *,
        job_id: str,
        resend_after: float | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._journal = journal
        self.job_id = job_id
        self.resend_after = resend_after
        self._clock = clock
        self._matcher: Matcher | None = None

    async def load(self) -> None:
        """Read the reports the journal holds (journals without reports have none)."""
        read = getattr(self._journal, "reports", None)
        resends = hasattr(self._journal, "mark_resending")
        if read is None or not resends:
            if self.resend_after is not None:
                raise ConfigurationError(
                    "resend_unconfirmed_after needs a journal that keeps delivery reports "
                    "and records resends",
                    received=type(self._journal).__name__,
                    action="Use the SQLite journal (journal='path') or a campaign's journal",
                )
            if read is None:
                return
        started = getattr(self._journal, "created", None) or None  # when the job began
        self._matcher = Matcher.of(self.job_id, await read(), started=started)

    async def settle(
        self,
        index: int,
        started_at: float | None,
        outcomes: list[RecipientOutcome],
        *,
        resent: bool = False,
    ) -> list[RecipientOutcome]:
        """The chunk's outcomes with the reports applied; the journal keeps any change."""
        if self._matcher is None:
            return outcomes
        settled = self._matcher.apply(index, started_at, outcomes, resent=resent)
        if settled != outcomes:
            update = getattr(self._journal, "update_outcomes", None)
            if update is not None:
                await update(index, settled)
        return settled

    def due(self, started_at: float | None, outcomes: Sequence[RecipientOutcome]) -> bool:
        """Whether the chunk's ``unknown`` recipients are to be sent again now."""
        if self.resend_after is None:
            return False
        if not any(outcome.status is OutcomeStatus.UNKNOWN for outcome in outcomes):
            return False
        if started_at is None:
            return True  # sent before the journal kept times: long ago
        return self._clock() - started_at >= self.resend_after
