"""The batch sender's chunk sender for CrowdTask: one chunk of task rows per ``task/batch``.

Made by ``client.tasks.batch_chunks(...)`` (:meth:`TaskEndpoints.batch_chunks`); this
module does not import the endpoint module. It shares the request and the reading of the
answer with ``client.tasks.batch`` through the converter module.
"""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms._transport import Transport
from crowdsms.outcomes import Recipient, RecipientOutcome, is_checked_by
from crowdsms.providers.crowdtask._converter import batch_request, parse_batch_answer
from crowdsms.providers.crowdtask._cvs import validate_columns, write_cvs
from crowdsms.providers.crowdtask._validation import (
    check_chunk,
    check_project_id,
    check_task_row,
)

__all__ = ["CrowdTaskChunkSender"]


class CrowdTaskChunkSender:
    """Uploads chunks of task rows to one CrowdTask project (a ``ChunkSender``).

    Get one from ``client.tasks.batch_chunks(project_id=..., columns=...)``.

    Each :class:`~crowdsms.outcomes.Recipient` is one task row: ``vars`` holds the row's
    values, with exactly the ``columns`` as keys, and ``phone`` is *not* a phone number but
    the row's identifier, copied into its outcome so you can tell the rows apart (use your
    own key or the row number). It is not validated or normalized. The batch sender
    deduplicates recipients by ``phone``, which for CrowdTask rows is this row identifier:
    a row whose identifier an earlier row already has is skipped (``skipped``, code
    ``duplicate``) and not uploaded, so give every row a different one.

    Each sent row's outcome carries the created task's id as ``message_id``. CrowdTask does
    not deduplicate uploads, so there is no idempotency key: a chunk whose upload may have
    reached CrowdTask ends as ``unknown``, never silently uploaded twice.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        batch_path: str,
        project_id: int,
        columns: Sequence[str],
        max_rows_per_batch: int,
        max_connections: int | None,
    ) -> None:
        self._transport = transport
        self._batch_path = batch_path
        self._max_rows = max_rows_per_batch
        self._max_connections = max_connections
        self.project_id = check_project_id(project_id)
        """The CrowdTask project every chunk is uploaded to."""
        self.columns = validate_columns(columns)
        """The task template's variable names: every row's ``vars`` has exactly these keys."""

    def __repr__(self) -> str:
        return f"<CrowdTaskChunkSender project_id={self.project_id} columns={list(self.columns)!r}>"

    @property
    def max_chunk_size(self) -> int:
        """The most rows one upload may carry (the client's ``max_rows_per_batch``)."""
        return self._max_rows

    @property
    def max_connections(self) -> int | None:
        """How many uploads the client keeps in flight at once (its ``max_connections``).

        ``None`` when the client was given its own ``http_client`` or ``transport``.
        """
        return self._max_connections

    @property
    def target(self) -> dict[str, str]:
        """Where the chunks go, with nothing secret (the provider, the base URL and the
        account): a batch job's journal records it, and a resume elsewhere is refused."""
        return self._transport.target

    @property
    def supports_idempotency_key(self) -> bool:
        """``False``: CrowdTask does not deduplicate uploads."""
        return False

    @property
    def supports_reference(self) -> bool:
        """``False``: CrowdTask sends no delivery reports, so there is nothing to match.

        A ``reference`` passed to :meth:`send_chunk` is ignored.
        """
        return False

    @property
    def segments_note(self) -> str:
        """Why :meth:`render` gives no text: these are tasks, not messages."""
        return (
            "CrowdTask publishes tasks, not SMS: segments and their cost do not apply "
            "(tasks are priced by the project)"
        )

    @property
    def price_per_segment(self) -> float | None:
        """``None``: tasks are not billed per SMS segment."""
        return None

    def render(self, recipient: Recipient) -> str | None:
        """``None``: a task row is not a message (see :attr:`segments_note`)."""
        return None

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """Return ``recipient`` unchanged if its ``vars`` make a valid row, else raise.

        Raises :class:`~crowdsms.errors.InvalidInputError` naming
        ``recipients[<position>].vars['<column>']`` for a missing or extra variable, or a
        value the CVS format cannot carry. ``phone`` (the row identifier) is not checked.
        """
        return check_task_row(recipient, columns=self.columns, position=position)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Upload ``recipients`` as one CVS file; one ``sent`` outcome per row, in order.

        A failure of the upload as a whole is raised (the batch sender turns it into
        per-row outcomes). ``reference`` is accepted so the batch sender may always pass it,
        and ignored (see :attr:`supports_reference`).

        Each row is checked as :meth:`validate` checks it, unless ``recipients`` are
        :class:`~crowdsms.outcomes.CheckedRecipients` this sender validated (the batch
        sender's chunks); the chunk's size is checked either way.
        """
        check_chunk(recipients, max_chunk_size=self._max_rows, idempotency_key=idempotency_key)
        if not recipients:
            return []
        if not is_checked_by(recipients, self):
            for position, recipient in enumerate(recipients):
                self.validate(recipient, position=position)
        text = write_cvs(self.columns, [recipient.vars for recipient in recipients])
        request = batch_request(
            batch_path=self._batch_path, project_id=self.project_id, cvs_text=text
        )
        response = await self._transport.request(request)
        result = parse_batch_answer(response, rows_sent=len(recipients))
        return [
            RecipientOutcome.sent(recipient.phone, task_id)
            for recipient, task_id in zip(recipients, result.task_ids, strict=True)
        ]
