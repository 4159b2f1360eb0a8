"""``client.tasks``: uploading task rows to a CrowdTask project as a CVS file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms._transport import Transport
from crowdsms.providers.crowdtask._chunks import CrowdTaskChunkSender
from crowdsms.providers.crowdtask._converter import batch_request, parse_batch_answer
from crowdsms.providers.crowdtask._cvs import validate_columns, write_cvs
from crowdsms.providers.crowdtask._models import TaskBatchResult
from crowdsms.providers.crowdtask._validation import check_project_id, check_rows

__all__ = ["TaskEndpoints"]


class TaskEndpoints:
    """CrowdTask's task endpoints (``client.tasks``)."""

    def __init__(
        self,
        transport: Transport,
        *,
        batch_path: str,
        max_rows_per_batch: int,
        max_connections: int | None,
    ) -> None:
        self._transport = transport
        self._batch_path = batch_path
        self._max_rows = max_rows_per_batch
        self._max_connections = max_connections

    def __repr__(self) -> str:
        return (
            f"<TaskEndpoints batch_path={self._batch_path!r} max_rows_per_batch={self._max_rows}>"
        )

    @property
    def batch_path(self) -> str:
        """The path of the task upload endpoint, relative to the base URL."""
        return self._batch_path

    @property
    def max_rows_per_batch(self) -> int:
        """The most rows one upload may carry."""
        return self._max_rows

    async def batch(
        self,
        *,
        project_id: int,
        rows: Sequence[Mapping[str, str]],
        columns: Sequence[str] | None = None,
    ) -> TaskBatchResult:
        """Create one task per row in project ``project_id`` (``POST task/batch``).

        The rows are written as a CVS file (see :func:`~crowdsms.providers.crowdtask.write_cvs`)
        and uploaded as the multipart file ``inputCVS``. ``columns`` are the task
        template's variable names; by default the first row's keys, in order. Every row
        must have exactly those keys, with string values.

        At most ``max_rows_per_batch`` rows (100 by default; CrowdTask silently drops the
        rest, so crowdsms refuses more): use :meth:`batch_chunks` with the batch sender for
        more. Uploads are not idempotent: a failure that may have reached CrowdTask is not
        retried, and raises with ``certainty`` ``UNKNOWN``.

        Raises :class:`~crowdsms.errors.InvalidInputError` before any request for bad
        input, a :class:`~crowdsms.errors.ProviderError` (``code`` = the HTTP status,
        :class:`~crowdsms.errors.AuthenticationError` for 401 and 403) when CrowdTask
        refuses the upload, and :class:`~crowdsms.errors.ResponseParseError` when the
        answer cannot be understood or does not account for every row.
        """
        check_project_id(project_id)
        rows = check_rows(rows, max_rows=self._max_rows)
        names = validate_columns(list(rows[0]) if columns is None else columns)
        text = write_cvs(names, rows)
        request = batch_request(batch_path=self._batch_path, project_id=project_id, cvs_text=text)
        response = await self._transport.request(request)
        return parse_batch_answer(response, rows_sent=len(rows))

    def batch_chunks(self, *, project_id: int, columns: Sequence[str]) -> CrowdTaskChunkSender:
        """A :class:`~crowdsms.outcomes.ChunkSender` that uploads rows to ``project_id``.

        For the batch sender: each :class:`~crowdsms.outcomes.Recipient`'s ``vars`` is one
        task row with exactly ``columns`` as keys, and its ``phone`` is only the row's
        identifier, reported back in the outcomes (it is not checked as a phone number; the
        batch sender skips a row whose identifier an earlier row already has, as a
        duplicate).
        """
        return CrowdTaskChunkSender(
            self._transport,
            batch_path=self._batch_path,
            project_id=project_id,
            columns=columns,
            max_rows_per_batch=self._max_rows,
            max_connections=self._max_connections,
        )
