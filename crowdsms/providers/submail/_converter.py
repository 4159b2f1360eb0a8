"""SUBMAIL's answers: the cattrs converter, decoding, and parsing into results and errors.

Every answer is JSON: an object (``{"status": "success", "send_id": ..., "fee": 1}``,
``{"timestamp": 1414253462}``, ``{"status": "error", "code": 108, "msg": ...}``) or, for
``sms/multisend``, a list of per-recipient objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NewType

import attrs
import cattrs

from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._transport import ApiResponse
from crowdsms.errors import (
    DeliveryCertainty,
    HTTPStatusError,
    ProviderError,
    ResponseParseError,
    excerpt,
)
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from crowdsms.providers.submail._codes import code_info, error_for_code
from crowdsms.providers.submail._models import MultisendItem, MultisendResult, SendResult

__all__ = [
    "CONVERTER",
    "decode_answer",
    "error_if_error_object",
    "parse_multisend",
    "parse_multisend_outcomes",
    "parse_send",
    "parse_timestamp",
]

# Wire types. SUBMAIL's JSON spells some values either way (``"sms_credits": "14197"``
# next to ``"fee": 1``; ``"code": 115`` or ``"code": "115"``), so these accept both
# spellings of the same value, and nothing else.
_Text = NewType("_Text", str)
_Count = NewType("_Count", int)
_Code = NewType("_Code", str)


def _structure_text(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__} {value!r:.40}")


def _structure_count(value: Any, _type: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise TypeError(f"expected a whole number, got {type(value).__name__} {value!r:.40}")
    if number < 0:
        raise ValueError(f"expected a whole number >= 0, got {number}")
    return number


def _structure_code(value: Any, _type: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise TypeError(f"expected an error code, got {type(value).__name__} {value!r:.40}")


@attrs.frozen
class _WireSuccess:
    status: _Text
    send_id: _Text
    to: _Text | None = None
    fee: _Count | None = None
    sms_credits: _Count | None = None


@attrs.frozen
class _WireError:
    status: _Text
    code: _Code
    msg: _Text = _Text("")


@attrs.frozen
class _WireTimestamp:
    timestamp: _Count


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_structure_hook(_Text, _structure_text)
    converter.register_structure_hook(_Count, _structure_count)
    converter.register_structure_hook(_Code, _structure_code)
    return converter


CONVERTER = _converter()
"""The SUBMAIL provider's one cattrs converter."""


def decode_answer(response: ApiResponse) -> Any:
    """The JSON value of ``response``'s body.

    An answer that is not JSON is a :class:`~crowdsms.errors.ResponseParseError`, except
    with a 4xx status: then something before SUBMAIL refused the request (a wrong
    ``base_url``, a proxy), and it is an :class:`~crowdsms.errors.HTTPStatusError` with
    the certainty that nothing was sent.
    """
    try:
        return decode_json(response)
    except ResponseParseError:
        if 400 <= response.status_code < 500:
            raise _status_error(response) from None
        raise


def _status_error(response: ApiResponse) -> HTTPStatusError:
    return HTTPStatusError(
        f"SUBMAIL refused the request with HTTP {response.status_code} and no SUBMAIL answer",
        status_code=response.status_code,
        certainty=DeliveryCertainty.NOT_SENT,
        operation=response.operation,
        received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
        action=(
            "Check the client's base_url and any proxy in between; the request was not "
            "processed, so it is safe to send again once fixed"
        ),
    )


def error_if_error_object(value: Any, response: ApiResponse) -> ProviderError | None:
    """The typed error for a request-level ``{"status": "error", ...}`` answer, else None."""
    if not isinstance(value, dict) or value.get("status") != "error":
        return None
    wire = structure(CONVERTER, value, _WireError, response)
    return error_for_code(code=wire.code, message=wire.msg, operation=response.operation)


def _object(value: Any, response: ApiResponse, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise parse_error(response, f"the answer is a {kind} where {what} was expected")
    return value


def parse_send(value: Any, response: ApiResponse, *, to: str) -> SendResult:
    """The :class:`SendResult` in a ``sms/send`` answer (request-level errors raised)."""
    error = error_if_error_object(value, response)
    if error is not None:
        raise error
    data = _object(value, response, "an object with status and send_id")
    if data.get("status") != "success":
        raise parse_error(response, f"the answer's status is {data.get('status')!r:.40}")
    wire = structure(CONVERTER, data, _WireSuccess, response)
    return SendResult(send_id=wire.send_id, to=to, fee=wire.fee, sms_credits=wire.sms_credits)


def parse_multisend(value: Any, response: ApiResponse, *, phones: Sequence[str]) -> MultisendResult:
    """The :class:`MultisendResult` for ``phones`` (the numbers as sent, in order).

    The answer lists one item per recipient in request order; error items may lack ``to``,
    so items are matched by position. A different count, or an item whose ``to`` names
    another number, means the answer cannot be matched up: a ResponseParseError.
    """
    results = _results(value, response, phones)
    items = tuple(
        _multisend_item(raw, response, position=position, phone=phone)
        for position, (raw, phone) in enumerate(zip(results, phones, strict=True))
    )
    return MultisendResult(items=items)


def parse_multisend_outcomes(
    value: Any, response: ApiResponse, *, phones: Sequence[str]
) -> list[RecipientOutcome]:
    """``parse_multisend(...).outcomes``, without the intermediate items (batch sends).

    Success items in the usual shape become outcomes directly; any other item goes through
    :func:`parse_multisend`'s checks, with the same errors.
    """
    results = _results(value, response, phones)  # one per phone
    outcomes: list[RecipientOutcome] = []
    append = outcomes.append
    sent = RecipientOutcome.sent
    for raw, phone in zip(results, phones, strict=True):
        if type(raw) is dict and raw.get("status") == "success":
            # _plain_success, inlined: this loop runs once per recipient of a batch job.
            send_id = raw.get("send_id")
            to = raw.get("to")
            fee = raw.get("fee")
            if (
                type(send_id) is str
                and (to is None or to == phone)
                and (fee is None or (type(fee) is int and fee >= 0))
                and "sms_credits" not in raw
            ):
                append(sent(phone, send_id, fee))
                continue
        position = len(outcomes)
        append(_multisend_item(raw, response, position=position, phone=phone).to_outcome())
    return outcomes


def _results(value: Any, response: ApiResponse, phones: Sequence[str]) -> list[Any]:
    """The answer's list of per-recipient results, checked against the recipients sent."""
    error = error_if_error_object(value, response)
    if error is not None:
        raise error
    if not isinstance(value, list):
        kind = type(value).__name__
        raise parse_error(response, f"the answer is a {kind} where a list of results was expected")
    if len(value) != len(phones):
        raise parse_error(
            response,
            f"the answer has {len(value)} results for {len(phones)} recipients, so they "
            "cannot be matched to the recipients",
        )
    return value


def _multisend_item(raw: Any, response: ApiResponse, *, position: int, phone: str) -> MultisendItem:
    data = (
        raw if type(raw) is dict else _object(raw, response, f"an object for recipient {position}")
    )
    status = data.get("status")
    if status == "success":
        fast = _plain_success(data, phone)
        if fast is not None:
            return MultisendItem(
                position=position,
                phone=phone,
                status=OutcomeStatus.SENT,
                send_id=fast[0],
                fee=fast[1],
            )
        wire = structure(CONVERTER, data, _WireSuccess, response)
        if wire.to is not None and not _same_number(wire.to, phone):
            raise parse_error(
                response,
                f"result {position} is for another number than recipient {position}, so the "
                "results cannot be matched to the recipients",
            )
        return MultisendItem(
            position=position,
            phone=phone,
            status=OutcomeStatus.SENT,
            send_id=wire.send_id,
            fee=wire.fee,
        )
    if status == "error":
        failure = structure(CONVERTER, data, _WireError, response)
        info = code_info(failure.code)
        return MultisendItem(
            position=position,
            phone=phone,
            status=OutcomeStatus.FAILED,
            code=failure.code,
            message=failure.msg,
            explanation=info.explanation,
            retryable=info.retryable,
        )
    raise parse_error(response, f"result {position} has the status {status!r:.40}")


def _plain_success(data: dict[str, Any], phone: str) -> tuple[str, int | None] | None:
    """``(send_id, fee)`` of a success item in the usual JSON shape, else ``None``.

    A shortcut that gives what the converter would, for the shape SUBMAIL's JSON answers
    have (a string ``send_id``, ``to`` equal to the number sent, an int ``fee``, no
    ``sms_credits``); any other item goes through the converter and its checks.
    """
    send_id = data.get("send_id")
    to = data.get("to")
    fee = data.get("fee")
    if (
        type(send_id) is str
        and (to is None or to == phone)
        and (fee is None or (type(fee) is int and fee >= 0))
        and "sms_credits" not in data
    ):
        return send_id, fee
    return None


def _same_number(reported: str, sent: str) -> bool:
    if reported == sent:
        return True
    digits = "".join(ch for ch in reported if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits == sent


def parse_timestamp(value: Any, response: ApiResponse) -> int:
    """SUBMAIL's Unix time in seconds from a ``service/timestamp`` answer."""
    error = error_if_error_object(value, response)
    if error is not None:
        raise error
    data = _object(value, response, 'an object {"timestamp": <unix seconds>}')
    wire = structure(CONVERTER, data, _WireTimestamp, response)
    if wire.timestamp <= 0:
        raise parse_error(response, "the answer's timestamp is not a Unix time")
    return wire.timestamp
