"""Task uploads for the batch sender: one chunk of rows per ``task/batch`` request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.providers.crowdtask._cvs import validate_row, write_cvs

if TYPE_CHECKING:
    from crowdsms.providers.crowdtask._tasks import Tasks

__all__ = ["TaskBatchSender"]


class TaskBatchSender:
    """Uploads chunks of task rows to one CrowdTask project (a ``ChunkSender``).

    Each :class:`~crowdsms.outcomes.Recipient` is one task row: ``vars`` holds the row's
    values, with exactly the ``columns`` as keys, and ``phone`` is *not* a phone number but
    the row's identifier, copied into its outcome so you can tell the rows apart (use your
    own key or the row number; give every row a different one, since the batch sender
    treats repeated identifiers as duplicates). It is not validated or normalized.

    Each sent row's outcome carries the created task's id as ``message_id``. CrowdTask does
    not deduplicate uploads, so there is no idempotency key: a chunk whose upload may have
    reached CrowdTask ends as ``unknown``, never silently uploaded twice.
    """

    def __init__(self, tasks: Tasks, *, project_id: int, columns: tuple[str, ...]) -> None:
        self._tasks = tasks
        self.project_id = project_id
        self.columns = columns

    def __repr__(self) -> str:
        return f"<TaskBatchSender project_id={self.project_id} columns={list(self.columns)!r}>"

    @property
    def max_chunk_size(self) -> int:
        """The most rows one upload may carry (the client's ``max_rows_per_batch``)."""
        return self._tasks.max_rows_per_batch

    @property
    def supports_idempotency_key(self) -> bool:
        """``False``: CrowdTask does not deduplicate uploads."""
        return False

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """Return ``recipient`` unchanged if its ``vars`` make a valid row, else raise.

        Raises :class:`~crowdsms.errors.InvalidInputError` naming
        ``recipients[<position>].vars['<column>']`` for a missing or extra variable, or a
        value the CVS format cannot carry.
        """
        validate_row(
            self.columns, recipient.vars, position=position, field=f"recipients[{position}].vars"
        )
        return recipient

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        """Upload ``recipients`` as one CVS file; one ``sent`` outcome per row, in order.

        A failure of the upload as a whole is raised (the batch sender turns it into
        per-row outcomes).
        """
        if idempotency_key is not None:
            raise InvalidInputError(
                "CrowdTask does not deduplicate uploads, so an idempotency key cannot be used",
                field="idempotency_key",
                received=repr(idempotency_key)[:60],
                action="Pass idempotency_key=None (supports_idempotency_key is False)",
            )
        if not recipients:
            return []
        if len(recipients) > self.max_chunk_size:
            raise InvalidInputError(
                f"{len(recipients)} rows in one chunk, but one upload takes at most "
                f"{self.max_chunk_size}",
                field="recipients",
                position=self.max_chunk_size,
                received=f"{len(recipients)} rows",
                action=f"Cut the rows into chunks of at most {self.max_chunk_size}",
            )
        for position, recipient in enumerate(recipients):
            self.validate(recipient, position=position)
        text = write_cvs(self.columns, [recipient.vars for recipient in recipients])
        result = await self._tasks._upload(self.project_id, text, len(recipients))
        return [
            RecipientOutcome(phone=recipient.phone, status=OutcomeStatus.SENT, message_id=task_id)
            for recipient, task_id in zip(recipients, result.task_ids, strict=True)
        ]
