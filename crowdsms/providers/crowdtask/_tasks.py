"""``client.tasks``: uploading task rows to a CrowdTask project as a CVS file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from crowdsms._transport import ApiRequest, BodyEncoding, FilePart, Transport
from crowdsms.errors import InvalidInputError
from crowdsms.providers.crowdtask._answers import parse_batch_answer
from crowdsms.providers.crowdtask._chunks import TaskBatchSender
from crowdsms.providers.crowdtask._models import TaskBatchResult
from crowdsms.providers.crowdtask._cvs import validate_columns, write_cvs

__all__ = ["Tasks"]

CVS_FIELD: Final = "inputCVS"
CVS_FILENAME: Final = "tasks.cvs"
CVS_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
OPERATION: Final = "crowdtask.tasks.batch"


def check_project_id(project_id: object) -> int:
    """Return ``project_id`` if it is a positive int, else raise :class:`InvalidInputError`."""
    if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id < 1:
        raise InvalidInputError(
            "the project id must be a positive integer",
            field="project_id",
            received=repr(project_id)[:40],
            action="Pass the id of the CrowdTask project, e.g. project_id=1024",
        )
    return project_id


class Tasks:
    """CrowdTask's task endpoints (``client.tasks``)."""

    def __init__(self, transport: Transport, *, batch_path: str, max_rows_per_batch: int) -> None:
        self._transport = transport
        self._batch_path = batch_path
        self._max_rows = max_rows_per_batch

    def __repr__(self) -> str:
        return f"<Tasks batch_path={self._batch_path!r} max_rows_per_batch={self._max_rows}>"

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

        The rows are written as a CVS file (see :mod:`crowdsms.providers.crowdtask.cvs`)
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
        if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
            raise InvalidInputError(
                "rows must be a list of rows, each a dict from variable name to value",
                field="rows",
                received=repr(rows)[:60],
                action="Pass rows=[{'img_url': '...'}, ...]",
            )
        if not rows:
            raise InvalidInputError(
                "there are no rows to upload",
                field="rows",
                received="an empty list",
                action="Pass at least one row",
            )
        if len(rows) > self._max_rows:
            raise InvalidInputError(
                f"{len(rows)} rows given, but one upload takes at most {self._max_rows} "
                "(CrowdTask silently drops the rows beyond its limit)",
                field="rows",
                position=self._max_rows,
                received=f"{len(rows)} rows",
                action=(
                    f"Upload at most {self._max_rows} rows per call, or pass "
                    "client.tasks.batch_chunks(project_id=..., columns=...) to crowdsms's "
                    "batch sender, which cuts the rows into uploads for you"
                ),
            )
        for position, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInputError(
                    f"a row must be a dict from variable name to value, not {type(row).__name__}",
                    field=f"rows[{position}]",
                    position=position,
                    received=repr(row)[:60],
                    action="Pass each row as a dict, e.g. {'img_url': '...'}",
                )
        names = validate_columns(list(rows[0]) if columns is None else columns)
        text = write_cvs(names, rows)
        return await self._upload(project_id, text, len(rows))

    async def _upload(self, project_id: int, text: str, row_count: int) -> TaskBatchResult:
        request = ApiRequest(
            method="POST",
            path=self._batch_path,
            operation=OPERATION,
            fields={"projectid": str(project_id)},
            encoding=BodyEncoding.MULTIPART,
            files={
                CVS_FIELD: FilePart(
                    filename=CVS_FILENAME,
                    content=text.encode("utf-8"),
                    content_type=CVS_CONTENT_TYPE,
                )
            },
            idempotent=False,
        )
        response = await self._transport.request(request)
        return parse_batch_answer(response, rows_sent=row_count)

    def batch_chunks(self, *, project_id: int, columns: Sequence[str]) -> TaskBatchSender:
        """A :class:`~crowdsms.outcomes.ChunkSender` that uploads rows to ``project_id``.

        For the batch sender: each :class:`~crowdsms.outcomes.Recipient`'s ``vars`` is one
        task row with exactly ``columns`` as keys, and its ``phone`` is only the row's
        identifier, reported back in the outcomes (it is not checked as a phone number).
        """
        return TaskBatchSender(
            self,
            project_id=check_project_id(project_id),
            columns=validate_columns(columns),
        )
