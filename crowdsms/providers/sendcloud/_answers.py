"""Reading SendCloud's answers: the envelope, a send's outcomes, the clock, a task (private).

Every answer is an envelope ``{"result": bool, "statusCode": int, "message": str,
"info": {...}}``. A send's ``statusCode`` becomes one outcome per recipient:

- 200: every recipient was accepted; ids from ``info.smsIds`` are attached by their
  ``$<phone>`` suffix where present.
- 311 (partial success): each recipient must be found either in ``info.smsIds`` (sent) or
  in ``info.items`` (refused, with the reason). The 2015 documents' shape has no ``smsIds``
  at all; then the recipients not in ``items`` are sent provided ``info.successCount``
  agrees. A recipient found in neither, or in both, is a parse error: crowdsms never guesses
  what happened to a recipient.
- 312 (all failed): every recipient failed, with its reason from ``items`` when listed.
- Any other code refuses the whole request: its typed error is raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from crowdsms._parsing import decode_json, parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import DeliveryCertainty, HTTPStatusError, ResponseParseError, excerpt
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from crowdsms.providers.sendcloud._codes import (
    ALL_FAILED,
    PARTIAL_SUCCESS,
    SUCCESS,
    error_for_code,
)
from crowdsms.providers.sendcloud._converter import (
    Envelope,
    SendInfo,
    TaskInfo,
    TimestampInfo,
    structure,
)
from crowdsms.providers.sendcloud._models import ContactListTask, SendResult, ServerTime

__all__ = [
    "info_as",
    "parse_envelope",
    "parse_send_result",
    "parse_server_time",
    "parse_task",
    "peek_status",
    "require_success",
]

T = TypeVar("T")


def parse_envelope(response: ApiResponse) -> Envelope:
    """The envelope of ``response``, or the error that explains why there is none.

    An HTTP 4xx answer without a SendCloud envelope (a proxy's or web server's error page)
    becomes an :class:`HTTPStatusError` with certainty ``NOT_SENT``: the request was refused
    before the API saw it. Any other unreadable answer is a :class:`ResponseParseError`.
    """
    try:
        data = decode_json(response)
        if not isinstance(data, dict):
            raise parse_error(response, "the answer is not a JSON object")
        return structure(data, Envelope, response)
    except ResponseParseError as exc:
        if 400 <= response.status_code < 500:
            raise HTTPStatusError(
                f"the provider refused the request with HTTP {response.status_code} "
                "and no SendCloud answer",
                status_code=response.status_code,
                certainty=DeliveryCertainty.NOT_SENT,
                operation=response.operation,
                received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
                action="Check the client's base_url and the endpoint settings",
            ) from exc
        raise


def info_as(envelope: Envelope, cls: type[T], response: ApiResponse) -> T:
    """The envelope's ``info`` structured as ``cls`` (a parse error if it does not fit)."""
    return structure(envelope.info or {}, cls, response, path="$.info")


def require_success(
    envelope: Envelope, response: ApiResponse, *, certainty: DeliveryCertainty | None = None
) -> None:
    """Raise the typed error for the envelope's code unless it is 200."""
    if envelope.status_code != SUCCESS:
        raise error_for_code(
            code=envelope.status_code,
            message=envelope.message,
            operation=response.operation,
            certainty=certainty,
        )


def peek_status(response: ApiResponse) -> tuple[int, str] | None:
    """An answer's ``statusCode`` and ``message`` if it has them; never raises."""
    try:
        data: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("statusCode")
    message = data.get("message")
    text = message if isinstance(message, str) else ""
    if isinstance(code, int) and not isinstance(code, bool):
        return code, text
    if isinstance(code, str) and code.strip().isascii() and code.strip().isdigit():
        return int(code), text
    return None


def parse_server_time(response: ApiResponse) -> ServerTime:
    """The provider's time from the answer to ``GET timestamp/get``."""
    envelope = parse_envelope(response)
    require_success(envelope, response)
    info = info_as(envelope, TimestampInfo, response)
    if info.timestamp <= 0:
        raise parse_error(response, "the server time in info.timestamp is not a positive number")
    return ServerTime(milliseconds=info.timestamp)


def parse_task(response: ApiResponse) -> ContactListTask:
    """The task in the answer of a contact-list task endpoint (under ``info.smsTask``)."""
    envelope = parse_envelope(response)
    require_success(envelope, response)
    return info_as(envelope, TaskInfo, response).sms_task


_NOT_DIGITS = re.compile(r"\D")


def _canonical(phone: str) -> str:
    digits = _NOT_DIGITS.sub("", phone)
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    if len(digits) == 15 and digits.startswith("0086"):
        return digits[4:]
    return digits


def parse_send_result(
    response: ApiResponse, phones: Sequence[str], *, send_request_id: str | None
) -> SendResult:
    """The result of a send to ``phones`` (normalized, unique, in request order)."""
    envelope = parse_envelope(response)
    code = envelope.status_code
    if code not in (SUCCESS, PARTIAL_SUCCESS, ALL_FAILED):
        # "result": true says the call went through, whatever the code: it may have sent.
        certainty = DeliveryCertainty.UNKNOWN if envelope.result else None
        raise error_for_code(
            code=code, message=envelope.message, operation=response.operation, certainty=certainty
        )
    info = info_as(envelope, SendInfo, response)
    position = {phone: index for index, phone in enumerate(phones)}
    ids: dict[int, str] = {}
    for sms_id in info.sms_ids or ():
        index = position.get(_canonical(sms_id.rpartition("$")[2])) if "$" in sms_id else None
        if index is not None:
            ids[index] = sms_id
    reasons: dict[int, str] = {}
    for item in info.items:
        index = position.get(_canonical(item.phone))
        if index is not None:
            reasons[index] = item.message
    if code == SUCCESS:
        outcomes = [_sent(phone, ids.get(i)) for i, phone in enumerate(phones)]
    elif code == ALL_FAILED:
        outcomes = [
            _failed(phone, code, reasons.get(i) or envelope.message)
            for i, phone in enumerate(phones)
        ]
    else:
        outcomes = _partial(envelope, info, phones, ids, reasons, response)
    return SendResult(
        status_code=code,
        message=envelope.message,
        outcomes=tuple(outcomes),
        send_request_id=send_request_id,
    )


def _partial(
    envelope: Envelope,
    info: SendInfo,
    phones: Sequence[str],
    ids: dict[int, str],
    reasons: dict[int, str],
    response: ApiResponse,
) -> list[RecipientOutcome]:
    unlisted = len(phones) - len(reasons)
    # The 2015 shape lists only the failures; the count of successes vouches for the rest.
    rest_sent = info.sms_ids is None and info.success_count == unlisted
    outcomes: list[RecipientOutcome] = []
    for index, phone in enumerate(phones):
        if index in ids and index in reasons:
            raise parse_error(
                response,
                f"the partial-success answer lists recipient {phone} (position {index}) both "
                "as sent and as failed",
            )
        if index in ids:
            outcomes.append(_sent(phone, ids[index]))
        elif index in reasons:
            outcomes.append(_failed(phone, envelope.status_code, reasons[index]))
        elif rest_sent:
            outcomes.append(_sent(phone, None))
        else:
            raise parse_error(
                response,
                f"the partial-success answer does not say what happened to recipient {phone} "
                f"(position {index}): it is neither in info.smsIds nor in info.items",
            )
    return outcomes


def _sent(phone: str, sms_id: str | None) -> RecipientOutcome:
    return RecipientOutcome.sent(phone, sms_id)


def _failed(phone: str, code: int, reason: str) -> RecipientOutcome:
    return RecipientOutcome(
        phone=phone, status=OutcomeStatus.FAILED, code=str(code), message=reason
    )
