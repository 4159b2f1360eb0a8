"""Reading CrowdTask's answers: the success envelope, the error envelope, and everything else.

Success is HTTP 2xx with ``{"status": "success", "result": {...}}``. Failures come with an
HTTP 4xx status (5xx are handled by the transport) and ``{"status": "error", "reason": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from crowdsms._codes import error_for_code
from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._transport import ApiResponse
from crowdsms.errors import (
    CrowdSMSError,
    DeliveryCertainty,
    HTTPStatusError,
    ResponseParseError,
    excerpt,
)
from crowdsms.providers.crowdtask._codes import CODES, PROVIDER
from crowdsms.providers.crowdtask._models import TaskBatchResult, _SuccessAnswer, converter

__all__ = ["error_for_answer", "error_reason", "parse_batch_answer"]


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
    certainty = DeliveryCertainty.NOT_SENT if status < 500 else DeliveryCertainty.UNKNOWN
    if reason is not None:
        return error_for_code(
            provider=PROVIDER,
            code=str(status),
            message=reason,
            table=CODES,
            operation=response.operation,
            certainty=certainty,
        )
    action = (
        "Check base_url and batch_path (the older documents use /task/batch, the later ones "
        "/api/task/batch)"
        if status in (404, 405)
        else "Check the request against CrowdTask's documentation; report this answer if it "
        "persists"
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
