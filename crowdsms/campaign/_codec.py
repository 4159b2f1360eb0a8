"""A compact JSON form of a chunk's outcomes, as stored in Redis.

``[1, row, row, ...]``: the format version, then one row per recipient, ``[phone, status,
message_id, fee, code, message, retryable, confirmed, delivery, provider]`` with the
status as one letter (``s``ent, ``f``ailed, ``u``nknown, s``k``ipped), ``retryable`` and
``confirmed`` as 1 or 0, ``delivery`` (after reconciliation with delivery reports) as
``[state, code, at]`` with the state as one letter (``d``elivered, ``u``ndelivered,
``a``waiting) and its trailing nulls left out, and trailing fields left out when they hold
their defaults (null, or 0 for the flags). A sent outcome is
``["+8613800138000","s","1f0c...",0.05]``, the same once delivered
``["+8613800138000","s","1f0c...",0.05,null,null,0,0,["d",null,1733100000.5]]``; non-ASCII
text is kept as UTF-8. A tenth field, ``provider`` (which provider answered for the
recipient, see :attr:`~crowdsms.outcomes.RecipientOutcome.provider`), is there only when
set. Rows written before ``confirmed``, ``delivery`` and ``provider`` existed read as they
did (left out).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from crowdsms._transport.encode import compact_json
from crowdsms.errors import CrowdSMSError, excerpt
from crowdsms.outcomes import Delivery, DeliveryState, OutcomeStatus, RecipientOutcome

__all__ = ["FORMAT_VERSION", "decode_outcomes", "encode_outcomes"]

FORMAT_VERSION = 1

_LETTER = {
    OutcomeStatus.SENT: "s",
    OutcomeStatus.FAILED: "f",
    OutcomeStatus.UNKNOWN: "u",
    OutcomeStatus.SKIPPED: "k",
}
_STATUS = {letter: status for status, letter in _LETTER.items()}
_STATE_LETTER = {
    DeliveryState.DELIVERED: "d",
    DeliveryState.UNDELIVERED: "u",
    DeliveryState.AWAITING: "a",
}
_STATE = {letter: state for state, letter in _STATE_LETTER.items()}
_FIELDS = 10
_DEFAULTS: tuple[object, ...] = (None, None, None, None, None, None, 0, 0, None, None)
"""Each field's default, left out at the end of a row (phone and status are never left out)."""


def _compact_number(value: float | None) -> float | int | None:
    """``1.0`` as ``1``: two bytes less per recipient for the usual whole fees."""
    if value is not None and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return value


def _delivery_row(delivery: Delivery | None) -> list[object] | None:
    if delivery is None:
        return None
    row: list[object] = [_STATE_LETTER[delivery.state], delivery.code, delivery.at]
    while len(row) > 1 and row[-1] is None:
        row.pop()
    return row


def encode_outcomes(outcomes: Iterable[RecipientOutcome]) -> str:
    """The compact JSON text of ``outcomes``."""
    payload: list[object] = [FORMAT_VERSION]
    for outcome in outcomes:
        row: list[object] = [
            outcome.phone,
            _LETTER[outcome.status],
            outcome.message_id,
            _compact_number(outcome.fee),
            outcome.code,
            outcome.message,
            1 if outcome.retryable else 0,
            1 if outcome.confirmed else 0,
            _delivery_row(outcome.delivery),
            outcome.provider,
        ]
        while len(row) > 2 and row[-1] == _DEFAULTS[len(row) - 1]:
            row.pop()
        payload.append(row)
    return compact_json(payload)


def _corrupt(text: str | bytes, why: str) -> CrowdSMSError:
    return CrowdSMSError(
        f"the outcomes stored in Redis cannot be read: {why}",
        received=excerpt(text),
        action=(
            "They were written by another program or a newer crowdsms; read them with the "
            "crowdsms version that wrote them"
        ),
    )


def _optional(value: object, kind: type | tuple[type, ...]) -> bool:
    return value is None or (isinstance(value, kind) and not isinstance(value, bool))


def _delivery(value: object) -> Delivery | bool | None:
    """The delivery of a row's last field: ``None`` for null, ``False`` if malformed."""
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        return False
    letter, code, at = value + [None] * (3 - len(value))
    if not isinstance(letter, str) or letter not in _STATE:
        return False
    if not _optional(code, str) or not _optional(at, (int, float)):
        return False
    return Delivery(state=_STATE[letter], code=code, at=None if at is None else float(at))


def decode_outcomes(text: str | bytes) -> tuple[RecipientOutcome, ...]:
    """The outcomes encoded by :func:`encode_outcomes`; CrowdSMSError when they are not."""
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise _corrupt(text, f"not JSON ({error})") from error
    if not isinstance(payload, list) or not payload or payload[0] != FORMAT_VERSION:
        raise _corrupt(text, f"not a list starting with format version {FORMAT_VERSION}")
    outcomes: list[RecipientOutcome] = []
    for row in payload[1:]:
        if not isinstance(row, list) or not 2 <= len(row) <= _FIELDS:
            raise _corrupt(text, f"a row is not a list of 2 to {_FIELDS} fields: {row!r:.80}")
        phone, letter, message_id, fee, code, message, retryable, confirmed, stored, provider = (
            row + [None] * (_FIELDS - len(row))
        )
        delivery = _delivery(stored)
        if (
            not isinstance(phone, str)
            or not isinstance(letter, str)
            or letter not in _STATUS
            or not _optional(message_id, str)
            or not _optional(fee, (int, float))
            or not _optional(code, str)
            or not _optional(message, str)
            or retryable not in (None, 0, 1)
            or confirmed not in (None, 0, 1)
            or delivery is False
            or not _optional(provider, str)
        ):
            raise _corrupt(text, f"a row has a field of the wrong kind: {row!r:.80}")
        assert not isinstance(delivery, bool)
        outcomes.append(
            RecipientOutcome(
                phone=phone,
                status=_STATUS[letter],
                message_id=message_id,
                fee=None if fee is None else float(fee),
                code=code,
                message=message,
                retryable=retryable == 1,
                confirmed=confirmed == 1,
                delivery=delivery,
                provider=provider,
            )
        )
    return tuple(outcomes)
