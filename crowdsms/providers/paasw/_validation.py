"""Argument checks for the paasw endpoints, all made before any request, and their limits.

Every refusal is an :class:`~crowdsms.errors.InvalidInputError` that names the field and,
for a list, the position (``phones[3]``). The limits are the gateway's published ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from crowdsms.errors import InvalidInputError
from crowdsms.phones import normalize_distinct
from crowdsms.providers.paasw._models import SmsKind

__all__ = [
    "MAX_CHUNK_SIZE",
    "MAX_CONTENT_LENGTH",
    "MAX_PARAM_JSON_LENGTH",
    "MAX_PHONES",
    "MAX_PHONE_FIELD_LENGTH",
    "MAX_SIGN_LENGTH",
    "MAX_TEMPLATE_ID_LENGTH",
    "MOBILE_LENGTH",
    "check_content",
    "check_kind",
    "check_normalized_phone_list",
    "check_sign",
    "check_template_id",
    "encode_params",
    "normalize_phone_list",
]

MAX_PHONES: Final = 1000
"""Most numbers in ``phoneNumbers`` (seed: 最多1000)."""

MAX_PHONE_FIELD_LENGTH: Final = 1500
"""Most characters in ``phoneNumbers``, commas included (seed: 最大长度 1500)."""

MOBILE_LENGTH: Final = 11
"""Length of a normalized mainland mobile number."""

MAX_CHUNK_SIZE: Final = min(MAX_PHONES, (MAX_PHONE_FIELD_LENGTH + 1) // (MOBILE_LENGTH + 1))
"""Most 11-digit numbers one request can carry under both limits: n*11 + (n-1) <= 1500 -> 125."""

MAX_SIGN_LENGTH: Final = 20
"""Most characters in ``sign`` (the SMS signature without 【】)."""

MAX_CONTENT_LENGTH: Final = 1000
"""Most characters in ``content`` (the 【sign】 included)."""

MAX_TEMPLATE_ID_LENGTH: Final = 20
"""Most characters in ``templateId``."""

MAX_PARAM_JSON_LENGTH: Final = 100
"""Most characters in ``paramJson`` (the JSON text as sent)."""

_SIGN_BRACKETS = ("【", "】")
_MORE_THAN_ONE_REQUEST = (
    f"Split the numbers over several requests (at most {MAX_CHUNK_SIZE} mainland numbers "
    "each), or let the batch sender do it with client.sms.send_chunks(...)"
)


def normalize_phone_list(
    phones: Iterable[str], *, field: str = "phones", item_suffix: str = ""
) -> tuple[str, ...]:
    """The numbers of one request normalized to 11 digits, or the first problem.

    Each number goes through :func:`crowdsms.phones.normalize_mainland_mobile`. Refuses (with
    :class:`~crowdsms.errors.InvalidInputError`) a bare string, an empty list, more than
    1000 numbers, a number that is not a mainland mobile, a number given twice (naming both
    positions) and a ``phoneNumbers`` field longer than 1500 characters. Items are named
    ``{field}[i]{item_suffix}``.
    """
    if isinstance(phones, (str, bytes)):
        raise InvalidInputError(
            "must be a list of phone numbers, not a single string",
            field=field,
            received=repr(phones[:40]),
            action="Pass a list, e.g. phones=['13800138000']",
        )
    items = tuple(phones)
    if not items:
        raise InvalidInputError("is empty", field=field, action="Give at least one phone number")
    if len(items) > MAX_PHONES:
        raise InvalidInputError(
            f"has more than {MAX_PHONES} numbers, the most one request may carry",
            field=field,
            received=f"{len(items)} numbers",
            action=_MORE_THAN_ONE_REQUEST,
        )
    normalized = normalize_distinct(
        items,
        field=lambda position: f"{field}[{position}]{item_suffix}",
        twice="the gateway would send it twice",
    )
    length = sum(len(phone) for phone in normalized) + len(normalized) - 1
    if length > MAX_PHONE_FIELD_LENGTH:
        raise InvalidInputError(
            f"is {length} characters once joined with commas; the gateway takes at most "
            f"{MAX_PHONE_FIELD_LENGTH}",
            field=field,
            received=f"{len(normalized)} numbers",
            action=_MORE_THAN_ONE_REQUEST,
        )
    return tuple(normalized)


def check_normalized_phone_list(
    phones: Sequence[str], *, field: str = "phones", item_suffix: str = ""
) -> tuple[str, ...]:
    """Numbers already normalized one by one: only the list as a whole is checked.

    Refuses what :func:`normalize_phone_list` refuses of the list, with the same errors:
    empty, too many, a number given twice, a ``phoneNumbers`` field too long.
    """
    numbers = tuple(phones)
    length = sum(len(phone) for phone in numbers) + len(numbers) - 1
    if (
        not numbers
        or len(numbers) > MAX_PHONES
        or length > MAX_PHONE_FIELD_LENGTH
        or len(set(numbers)) != len(numbers)
    ):
        return normalize_phone_list(numbers, field=field, item_suffix=item_suffix)  # raises
    return numbers


def check_sign(sign: object, *, field: str = "sign") -> str:
    """The SMS signature (签名) as given: 1 to 20 characters, without 【】."""
    if not isinstance(sign, str):
        raise InvalidInputError(
            f"must be a string, not {type(sign).__name__}",
            field=field,
            received=repr(sign)[:40],
            action="Pass the SMS signature as text, e.g. sign='圆通快递'",
        )
    if not sign.strip():
        raise InvalidInputError(
            "is empty", field=field, action="Pass your approved SMS signature, e.g. '圆通快递'"
        )
    if any(bracket in sign for bracket in _SIGN_BRACKETS):
        raise InvalidInputError(
            "must not contain 【 or 】",
            field=field,
            received=repr(sign[:40]),
            action="Pass the signature without brackets: sign='圆通快递', not '【圆通快递】'",
        )
    if sign != sign.strip():
        raise InvalidInputError(
            "has leading or trailing spaces",
            field=field,
            received=repr(sign[:40]),
            action="Remove the spaces; the signature must match the approved one exactly",
        )
    if len(sign) > MAX_SIGN_LENGTH:
        raise InvalidInputError(
            f"is {len(sign)} characters; the gateway takes at most {MAX_SIGN_LENGTH}",
            field=field,
            received=repr(sign[:40]),
            action="Use your approved (shorter) SMS signature",
        )
    return sign


def check_content(content: object, *, sign: str | None, field: str = "content") -> str:
    """The message text: 1 to 1000 characters, containing 【sign】 when ``sign`` is given."""
    if not isinstance(content, str):
        raise InvalidInputError(
            f"must be a string, not {type(content).__name__}",
            field=field,
            received=repr(content)[:40],
            action="Pass the message text as a string",
        )
    if not content.strip():
        raise InvalidInputError("is empty", field=field, action="Pass the message text")
    if len(content) > MAX_CONTENT_LENGTH:
        raise InvalidInputError(
            f"is {len(content)} characters; the gateway takes at most {MAX_CONTENT_LENGTH}",
            field=field,
            received=repr(content[:40]) + " ...",
            action="Shorten the message",
        )
    if sign is not None and f"【{sign}】" not in content:
        raise InvalidInputError(
            f"must contain the signature as 【{sign}】",
            field=field,
            received=repr(content[:40]),
            action=f"Start the message with 【{sign}】, e.g. '【{sign}】您的验证码是 1234'",
        )
    return content


def check_kind(kind: object, *, field: str = "kind") -> SmsKind | None:
    """``kind`` as an :class:`SmsKind` (``1``/``2``/``3`` are accepted too), or ``None``."""
    if kind is None or isinstance(kind, SmsKind):
        return kind
    if isinstance(kind, (int, str)) and not isinstance(kind, bool):
        try:
            return SmsKind(str(kind).strip())
        except ValueError:
            pass
    raise InvalidInputError(
        "must be an SmsKind",
        field=field,
        received=repr(kind)[:40],
        action="Pass SmsKind.VERIFICATION_CODE, SmsKind.NOTICE or SmsKind.MARKETING, or None",
    )


def check_template_id(template_id: object, *, field: str = "template_id") -> str:
    """The template id: 1 to 20 characters."""
    if not isinstance(template_id, str) or not template_id.strip():
        raise InvalidInputError(
            "must be a non-empty string",
            field=field,
            received=repr(template_id)[:40],
            action="Pass the id of an approved template as a string, e.g. '1192360392260608'",
        )
    if len(template_id) > MAX_TEMPLATE_ID_LENGTH:
        raise InvalidInputError(
            f"is {len(template_id)} characters; the gateway takes at most {MAX_TEMPLATE_ID_LENGTH}",
            field=field,
            received=repr(template_id[:40]),
            action="Check the template id in the gateway's console",
        )
    return template_id


def encode_params(params: object, *, field: str = "params") -> str:
    """``params`` as the ``paramJson`` text (compact JSON), at most 100 characters.

    A list of string-to-string mappings becomes a JSON array (the seed's form,
    ``[{"name":"..."}]``); a single mapping becomes a JSON object.
    """
    value: Any
    if isinstance(params, Mapping):
        value = _string_mapping(params, field=field)
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        value = []
        for position, item in enumerate(params):
            name = f"{field}[{position}]"
            if not isinstance(item, Mapping):
                raise InvalidInputError(
                    f"must be a mapping of names to values, not {type(item).__name__}",
                    field=name,
                    position=position,
                    received=repr(item)[:40],
                    action="Pass params=[{'name': 'value'}, ...]",
                )
            value.append(_string_mapping(item, field=name, position=position))
    else:
        raise InvalidInputError(
            f"must be a mapping or a list of mappings, not {type(params).__name__}",
            field=field,
            received=repr(params)[:40],
            action="Pass params=[{'name': 'value'}] or params={'name': 'value'}",
        )
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_PARAM_JSON_LENGTH:
        raise InvalidInputError(
            f"is {len(text)} characters as JSON; the gateway takes at most {MAX_PARAM_JSON_LENGTH}",
            field=field,
            received=repr(text[:40]) + " ...",
            action="Use fewer or shorter template parameters",
        )
    return text


def _string_mapping(
    item: Mapping[Any, Any], *, field: str, position: int | None = None
) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in item.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(
                "must map strings to strings",
                field=f"{field}[{key!r}]",
                position=position,
                received=f"{key!r:.20}: {value!r:.20}",
                action="Convert every template value to a string first",
            )
        result[key] = value
    return result
