"""A compact JSON form of a chunk's outcomes, as stored in Redis.

``[1, row, row, ...]``: the format version, then one row per recipient,
``[phone, status, message_id, fee, code, message, retryable, provider]`` with the status as
one letter (``s``ent, ``f``ailed, ``u``nknown, s``k``ipped), ``retryable`` as 1 or 0, and
trailing fields left out when they hold their defaults (null, or 0 for ``retryable``). A sent
outcome is ``["+8613800138000","s","1f0c...",0.05]``; non-ASCII text is kept as UTF-8.
``provider`` (which provider answered for the recipient, see
:attr:`~crowdsms.outcomes.RecipientOutcome.provider`) came later: rows without it read as
before, and a row has it only when it is set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from crowdsms.errors import CrowdSMSError, excerpt
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = ["FORMAT_VERSION", "decode_outcomes", "encode_outcomes"]

FORMAT_VERSION = 1

_LETTER = {
    OutcomeStatus.SENT: "s",
    OutcomeStatus.FAILED: "f",
    OutcomeStatus.UNKNOWN: "u",
    OutcomeStatus.SKIPPED: "k",
}
_STATUS = {letter: status for status, letter in _LETTER.items()}


def _compact_number(value: float | None) -> float | int | None:
    """``1.0`` as ``1``: two bytes less per recipient for the usual whole fees."""
    if value is not None and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return value


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
        ]
        if outcome.provider is not None:
            row.append(outcome.provider)
        else:
            if not outcome.retryable:
                row.pop()
            while len(row) > 2 and row[-1] is None:
                row.pop()
        payload.append(row)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


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
        if not isinstance(row, list) or not 2 <= len(row) <= 8:
            raise _corrupt(text, f"a row is not a list of 2 to 8 fields: {row!r:.80}")
        phone, letter, message_id, fee, code, message, retryable, provider = row + [None] * (
            8 - len(row)
        )
        if (
            not isinstance(phone, str)
            or not isinstance(letter, str)
            or letter not in _STATUS
            or not _optional(message_id, str)
            or not _optional(fee, (int, float))
            or not _optional(code, str)
            or not _optional(message, str)
            or retryable not in (None, 0, 1)
            or not _optional(provider, str)
        ):
            raise _corrupt(text, f"a row has a field of the wrong kind: {row!r:.80}")
        outcomes.append(
            RecipientOutcome(
                phone=phone,
                status=_STATUS[letter],
                message_id=message_id,
                fee=None if fee is None else float(fee),
                code=code,
                message=message,
                retryable=retryable == 1,
                provider=provider,
            )
        )
    return tuple(outcomes)
