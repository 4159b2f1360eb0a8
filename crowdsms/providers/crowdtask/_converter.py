"""CrowdTask's wire format: the ``task/batch`` request, and reading every answer to it.

The request is a multipart upload: the field ``projectid`` and the CVS file as the file part
``inputCVS`` (the signer adds ``accessid``, ``localtime`` and ``signature``). Success is
HTTP 2xx with ``{"status": "success", "result": {"tasknum": ..., "batchSN": ...,
"taskids": [...]}}``. Failures come with an HTTP 4xx status (5xx are handled by the
transport) and ``{"status": "error", "reason": ...}``. The answer is read with one cattrs
converter (:data:`converter`): strict about types, tolerant of extra keys.

Both ``client.tasks.batch`` and the batch sender's chunk sender build their request with
:func:`batch_request` and read the answer with :func:`parse_batch_answer`.
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, FilePart
from crowdsms.errors import (
    CrowdSMSError,
    DeliveryCertainty,
    HTTPStatusError,
    ResponseParseError,
    excerpt,
)
from crowdsms.providers.crowdtask._codes import error_for_code
from crowdsms.providers.crowdtask._models import TaskBatchResult

__all__ = [
    "BATCH_OPERATION",
    "CVS_CONTENT_TYPE",
    "CVS_FIELD",
    "CVS_FILENAME",
    "batch_request",
    "converter",
    "error_for_answer",
    "error_reason",
    "parse_batch_answer",
]

CVS_FIELD: Final = "inputCVS"
"""The multipart field the CVS file is uploaded as."""
CVS_FILENAME: Final = "tasks.cvs"
"""The file name sent with the CVS file."""
CVS_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
"""The content type sent with the CVS file."""
BATCH_OPERATION: Final = "crowdtask.tasks.batch"
"""The operation name of an upload, in errors and logs."""


# --- the request ------------------------------------------------------------------------


def batch_request(*, batch_path: str, project_id: int, cvs_text: str) -> ApiRequest:
    """The (unsigned) ``task/batch`` request uploading ``cvs_text`` to ``project_id``.

    Uploads are not idempotent (CrowdTask does not deduplicate them), so the transport
    retries one only when it surely did not reach CrowdTask.
    """
    return ApiRequest(
        method="POST",
        path=batch_path,
        operation=BATCH_OPERATION,
        fields={"projectid": str(project_id)},
        encoding=BodyEncoding.MULTIPART,
        files={
            CVS_FIELD: FilePart(
                filename=CVS_FILENAME,
                content=cvs_text.encode("utf-8"),
                content_type=CVS_CONTENT_TYPE,
            )
        },
        idempotent=False,
    )


# --- the converter ----------------------------------------------------------------------


@attrs.frozen
class _BatchAnswer:
    tasknum: int
    batch_sn: str
    taskids: tuple[str, ...]


@attrs.frozen
class _SuccessAnswer:
    status: str
    result: _BatchAnswer


_Ids = tuple[str, ...]


def _structure_str(value: Any, _type: object) -> str:
    # Ids may come as JSON numbers; anything else (a list, an object, null, a bool) is wrong.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string or an integer, got {type(value).__name__}")


def _structure_int(value: Any, _type: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.40}")


def _structure_ids(value: Any, _type: object) -> _Ids:
    if not isinstance(value, list):
        raise TypeError(f"expected a list of task ids, got {type(value).__name__}")
    return tuple(_structure_str(item, str) for item in value)


def _make_converter() -> cattrs.Converter:
    result = cattrs.Converter()
    result.register_structure_hook(str, _structure_str)
    result.register_structure_hook(int, _structure_int)
    result.register_structure_hook_func(lambda cls: cls == _Ids, _structure_ids)
    result.register_structure_hook(
        _BatchAnswer,
        make_dict_structure_fn(_BatchAnswer, result, batch_sn=override(rename="batchSN")),
    )
    return result


converter = _make_converter()
"""CrowdTask's cattrs converter: strict about types, tolerant of extra keys."""


# --- the answers ------------------------------------------------------------------------


def error_reason(response: ApiResponse) -> str | None:
    """The ``reason`` of an error envelope, or ``None`` if the body is not one.

    Never raises: used both by the signer (to spot clock rejections) and to build errors.
    """
    try:
        data: Any = json.loads(response.content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("status") != "error":
        return None
    reason = data.get("reason")
    if reason is None:
        return ""
    return reason if isinstance(reason, str) else json.dumps(reason, ensure_ascii=False)


def error_for_answer(response: ApiResponse) -> CrowdSMSError:
    """The error for a failed answer: a typed provider error, or an HTTP status error."""
    status = response.status_code
    reason = error_reason(response)
    # A refusal (4xx, or the error envelope with 2xx) is NOT_SENT; a redirect (crowdsms
    # follows none) may come after the upload was acted on ("created, see there"), as may
    # a 5xx: UNKNOWN.
    refused = status < 300 or 400 <= status < 500
    certainty = DeliveryCertainty.NOT_SENT if refused else DeliveryCertainty.UNKNOWN
    if reason is not None and certainty is DeliveryCertainty.NOT_SENT:
        return error_for_code(
            code=status, message=reason, operation=response.operation, certainty=certainty
        )
    if certainty is DeliveryCertainty.UNKNOWN:
        action = (
            "Tasks may have been created: look the upload up in CrowdTask before uploading "
            "these rows again, or some tasks will exist twice"
        )
    elif status in (404, 405):
        action = (
            "Check base_url and batch_path (the older documents use /task/batch, the later "
            "ones /api/task/batch)"
        )
    else:
        action = (
            "Check the request against CrowdTask's documentation; report this answer if it persists"
        )
    return HTTPStatusError(
        f"CrowdTask answered HTTP {status} without its error envelope",
        status_code=status,
        certainty=certainty,
        operation=response.operation,
        received=f"HTTP {status}, body {excerpt(response.content)}",
        action=action,
    )


def _count_error(response: ApiResponse, what: str, batch_sn: str) -> ResponseParseError:
    return ResponseParseError(
        what,
        certainty=DeliveryCertainty.UNKNOWN,
        operation=response.operation,
        received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
        action=(
            f"Tasks may have been created (batch {batch_sn!r}): look the batch up in "
            "CrowdTask before uploading these rows again, or some tasks will exist twice"
        ),
    )


def parse_batch_answer(response: ApiResponse, *, rows_sent: int) -> TaskBatchResult:
    """The result of a ``task/batch`` upload of ``rows_sent`` rows, or the error to raise.

    Raises the typed error for a failure, and :class:`ResponseParseError` for an answer that
    is not JSON, has the wrong shape, or does not account for every row uploaded.
    """
    if not 200 <= response.status_code < 300:
        raise error_for_answer(response)
    data = decode_json(response)
    status = data.get("status") if isinstance(data, dict) else None
    if status == "error":
        raise error_for_answer(response)
    if status != "success":
        raise parse_error(
            response, 'the answer is not a CrowdTask envelope with "status": "success"'
        )
    answer = structure(converter, data, _SuccessAnswer, response).result
    if answer.tasknum != rows_sent:
        raise _count_error(
            response,
            f"CrowdTask reports {answer.tasknum} tasks created for the {rows_sent} rows uploaded",
            answer.batch_sn,
        )
    if len(answer.taskids) != rows_sent:
        raise _count_error(
            response,
            f"CrowdTask returned {len(answer.taskids)} task ids for the {rows_sent} rows uploaded",
            answer.batch_sn,
        )
    return TaskBatchResult(
        task_count=answer.tasknum, batch_sn=answer.batch_sn, task_ids=answer.taskids
    )
