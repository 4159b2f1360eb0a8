"""Turning a send's answer into one outcome per recipient (private).

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

import re
from collections.abc import Sequence

from crowdsms._parsing import parse_error
from crowdsms._transport import ApiResponse
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from crowdsms.providers.sendcloud._codes import (
    ALL_FAILED,
    PARTIAL_SUCCESS,
    SUCCESS,
    error_for_code,
)
from crowdsms.providers.sendcloud._envelope import info_as
from crowdsms.providers.sendcloud._models import SendResult
from crowdsms.providers.sendcloud._wire import Envelope, SendInfo

__all__ = ["send_result"]

_NOT_DIGITS = re.compile(r"\D")


def _canonical(phone: str) -> str:
    digits = _NOT_DIGITS.sub("", phone)
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    if len(digits) == 15 and digits.startswith("0086"):
        return digits[4:]
    return digits


def send_result(
    envelope: Envelope,
    phones: Sequence[str],
    response: ApiResponse,
    *,
    send_request_id: str | None,
) -> SendResult:
    """The result of a send to ``phones`` (normalized, unique, in request order)."""
    code = envelope.status_code
    if code not in (SUCCESS, PARTIAL_SUCCESS, ALL_FAILED):
        raise error_for_code(code=code, message=envelope.message, operation=response.operation)
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
    return RecipientOutcome(phone=phone, status=OutcomeStatus.SENT, message_id=sms_id)


def _failed(phone: str, code: int, reason: str) -> RecipientOutcome:
    return RecipientOutcome(
        phone=phone, status=OutcomeStatus.FAILED, code=str(code), message=reason
    )
