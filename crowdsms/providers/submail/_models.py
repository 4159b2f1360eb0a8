"""Results of SUBMAIL calls, the provider's cattrs converter, and the answer parsers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NewType

import attrs
import cattrs

from crowdsms._codes import error_for_code
from crowdsms._parsing import parse_error, structure
from crowdsms._transport import ApiResponse
from crowdsms.errors import ProviderError
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from crowdsms.providers.submail.codes import SUBMAIL_CODES, explain

__all__ = [
    "MultisendItem",
    "MultisendResult",
    "SendResult",
    "error_if_error_object",
    "parse_multisend",
    "parse_multisend_outcomes",
    "parse_send",
    "parse_timestamp",
]

PROVIDER = "submail"

# Wire types. XML delivers every value as a string and YAML turns unquoted numbers into
# ints, so these accept both spellings of the same value, and nothing else.
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


@attrs.frozen(kw_only=True)
class SendResult:
    """SUBMAIL accepted a ``sms/send`` message.

    ``send_id`` identifies it in SUBHOOK delivery reports, ``to`` is the number as sent
    (11 digits), ``fee`` the number of billed messages (a long text counts several) and
    ``sms_credits`` the SMS credits left on the account, when SUBMAIL says.
    """

    send_id: str
    to: str
    fee: int | None = None
    sms_credits: int | None = None


@attrs.frozen(kw_only=True)
class MultisendItem:
    """What happened to one recipient of a ``sms/multisend`` request.

    ``position`` is the recipient's index in the request and ``phone`` the number as sent.
    A sent item has ``send_id`` and ``fee``; a failed one has SUBMAIL's ``code``, its
    ``message``, crowdsms's English ``explanation`` and whether a later retry could help.
    """

    position: int
    phone: str
    status: OutcomeStatus
    send_id: str | None = None
    fee: int | None = None
    code: str | None = None
    message: str | None = None
    explanation: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        """Whether SUBMAIL accepted the message for this recipient."""
        return self.status is OutcomeStatus.SENT

    def to_outcome(self) -> RecipientOutcome:
        """This item as the provider-neutral :class:`~crowdsms.outcomes.RecipientOutcome`."""
        return RecipientOutcome(
            phone=self.phone,
            status=self.status,
            message_id=self.send_id,
            fee=self.fee,
            code=self.code,
            message=self.message,
            retryable=self.retryable,
        )


@attrs.frozen(kw_only=True)
class MultisendResult:
    """The answer to one ``sms/multisend`` request: one item per recipient, in order.

    Some recipients may have failed while others were sent; that is a result, not an
    exception. Look at :attr:`failed` (or :attr:`all_sent`) before assuming success.
    """

    items: tuple[MultisendItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[MultisendItem]:
        return iter(self.items)

    @property
    def sent(self) -> tuple[MultisendItem, ...]:
        """The recipients SUBMAIL accepted."""
        return tuple(item for item in self.items if item.ok)

    @property
    def failed(self) -> tuple[MultisendItem, ...]:
        """The recipients SUBMAIL refused, with their codes."""
        return tuple(item for item in self.items if not item.ok)

    @property
    def all_sent(self) -> bool:
        """Whether every recipient was accepted."""
        return all(item.ok for item in self.items)

    @property
    def total_fee(self) -> int:
        """The billed messages over all accepted recipients (missing fees count as 0)."""
        return sum(item.fee or 0 for item in self.items if item.ok)

    def outcomes(self) -> list[RecipientOutcome]:
        """One :class:`~crowdsms.outcomes.RecipientOutcome` per recipient, in order."""
        return [item.to_outcome() for item in self.items]


def error_if_error_object(value: Any, response: ApiResponse) -> ProviderError | None:
    """The typed error for a request-level ``{"status": "error", ...}`` answer, else None."""
    if not isinstance(value, dict) or value.get("status") != "error":
        return None
    wire = structure(CONVERTER, value, _WireError, response)
    return error_for_code(
        provider=PROVIDER,
        code=wire.code,
        message=wire.msg,
        table=SUBMAIL_CODES,
        operation=response.operation,
    )


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
    """``parse_multisend(...).outcomes()``, without the intermediate items (batch sends).

    Success items in the usual shape become outcomes directly; any other item goes through
    :func:`parse_multisend`'s checks, with the same errors.
    """
    results = _results(value, response, phones)
    outcomes: list[RecipientOutcome] = []
    append = outcomes.append
    sent = OutcomeStatus.SENT
    for position, (raw, phone) in enumerate(zip(results, phones, strict=True)):
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
                append(RecipientOutcome(phone=phone, status=sent, message_id=send_id, fee=fee))
                continue
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
        info = explain(failure.code)
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
