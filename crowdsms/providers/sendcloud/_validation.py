"""Checks of the caller's arguments, made before any request (private).

Every refusal is an :class:`InvalidInputError` naming the field (``phones[3]``,
``recipients[3].vars[name]``) and the position of the offending item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import attrs

from crowdsms._time import CHINA_TIME
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.phones import is_known_mobile, normalize_distinct, normalize_recipient_phone

__all__ = [
    "MAX_SEND_PHONES",
    "MAX_SEND_REQUEST_ID_LENGTH",
    "check_checked_recipients",
    "check_contact_list_names",
    "check_execute_time",
    "check_msg_type",
    "check_optional_positive",
    "check_optional_text",
    "check_phones",
    "check_positive",
    "check_recipient",
    "check_recipients",
    "check_send_request_id",
    "check_text",
    "check_vars",
    "normalize_phone_list",
    "utf16_length",
]

MAX_SEND_PHONES: Final = 2000
"""The most numbers one ``send`` request may carry."""

MAX_SEND_REQUEST_ID_LENGTH: Final = 128
"""The longest ``sendRequestId`` the provider accepts."""

_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def check_positive(value: object, *, field: str) -> int:
    """``value`` if it is a positive int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"must be an integer, not {type(value).__name__}",
            field=field,
            received=repr(value)[:40],
            action=f"Pass {field} as an int, e.g. 1",
        )
    if value <= 0:
        raise InvalidInputError(
            "must be a positive integer",
            field=field,
            received=repr(value),
            action=f"Pass the {field} shown in the SendCloud console",
        )
    return value


def check_msg_type(value: object) -> int:
    """``value`` if it is a non-negative int, the provider's ``msgType`` (0 is SMS)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            "must be a non-negative integer",
            field="msg_type",
            received=repr(value)[:40],
            action="Pass 0 for SMS, or leave it out",
        )
    return value


def check_optional_positive(value: object, *, field: str) -> int | None:
    """``None``, or ``value`` checked by :func:`check_positive`."""
    return None if value is None else check_positive(value, field=field)


def check_text(value: object, *, field: str) -> str:
    """``value`` if it is a string that is not blank."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, not {type(value).__name__}",
            field=field,
            received=repr(value)[:40],
            action=f"Pass {field} as a str",
        )
    if not value.strip():
        raise InvalidInputError(
            "must not be empty", field=field, received=repr(value), action=f"Give a {field}"
        )
    return value


def check_optional_text(value: object, *, field: str) -> str | None:
    """``None``, or ``value`` checked by :func:`check_text`."""
    return None if value is None else check_text(value, field=field)


def check_send_request_id(value: object) -> str | None:
    """The idempotency key if it is a non-empty string of at most 128 characters."""
    if value is None:
        return None
    field = "send_request_id"
    text = check_text(value, field=field)
    if len(text) > MAX_SEND_REQUEST_ID_LENGTH:
        raise InvalidInputError(
            f"is {len(text)} characters long; SendCloud accepts at most "
            f"{MAX_SEND_REQUEST_ID_LENGTH}",
            field=field,
            received=repr(text[:40]) + "...",
            action="Use a shorter unique key, e.g. a UUID (36 characters)",
        )
    return text


def _sequence(value: object, *, field: str, noun: str) -> Sequence[object]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            f"must be a list of {noun}, not {type(value).__name__}",
            field=field,
            received=repr(value)[:40],
            action=f"Pass a list, e.g. [{noun[:-1]}, ...]",
        )
    if not value:
        raise InvalidInputError(
            f"must list at least one of the {noun}",
            field=field,
            received="[]",
            action=f"Give at least one of the {noun}",
        )
    return value


def _too_many(count: int, limit: int, *, field: str, setting: str | None) -> InvalidInputError:
    action = f"Split the {field} into requests of at most {limit}, or use the batch sender"
    if setting:
        action += f" (the limit is the client's {setting} setting)"
    return InvalidInputError(
        f"has {count} items; one request may carry at most {limit}",
        field=field,
        received=f"{count} items",
        action=action,
    )


def normalize_phone_list(phones: Sequence[object], *, field: Callable[[int], str]) -> list[str]:
    """Each number as its 11 digits, in order; refuses a bad number and one listed twice.

    ``field(position)`` names an item in the error (``phones[3]``); a duplicate's error names
    the first item with the same number too.
    """
    return normalize_distinct(
        phones,
        field=field,
        twice="SendCloud refuses a whole request that lists a number twice (code 413)",
    )


def check_phones(phones: object, *, limit: int = MAX_SEND_PHONES) -> list[str]:
    """The numbers normalized to 11 digits; refuses bad ones, duplicates and too many."""
    items = _sequence(phones, field="phones", noun="numbers")
    if len(items) > limit:
        raise _too_many(len(items), limit, field="phones", setting=None)
    return normalize_phone_list(items, field=lambda position: f"phones[{position}]")


def utf16_length(text: str) -> int:
    """The length of ``text`` as the provider's Java server counts it (UTF-16 units)."""
    return len(text.encode("utf-16-le")) // 2


def check_vars(
    values: object, *, field: str, max_length: int | None, position: int | None = None
) -> dict[str, str]:
    """Template variables as a plain ``dict``: string keys and values, values not too long.

    ``max_length`` counts UTF-16 code units, as the provider's Java server does (an emoji
    counts as two); ``None`` disables the check.
    """
    if not isinstance(values, Mapping):
        raise InvalidInputError(
            f"must be a mapping of variable names to values, not {type(values).__name__}",
            field=field,
            position=position,
            received=repr(values)[:40],
            action='Pass a dict such as {"code": "123456"}',
        )
    checked: dict[str, str] = {}
    for key, value in values.items():
        item = f"{field}[{key}]"
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                "variable names must be non-empty strings",
                field=item,
                position=position,
                received=repr(key)[:40],
                action="Use the variable names of the template, as strings",
            )
        if not isinstance(value, str):
            raise InvalidInputError(
                f"must be a string, not {type(value).__name__}",
                field=item,
                position=position,
                received=repr(value)[:40],
                action="Convert the value to the text the message should show",
            )
        if max_length is not None and utf16_length(value) > max_length:
            raise InvalidInputError(
                f"is {utf16_length(value)} characters long; SendCloud accepts at most "
                f"{max_length} per variable (characters outside the BMP, such as emoji, "
                "count as two)",
                field=item,
                position=position,
                received=repr(value[:40]),
                action=(
                    "Shorten the value, or raise the client's max_var_length if your "
                    "account allows longer values"
                ),
            )
        checked[key] = value
    return checked


def check_recipient(recipient: object, *, position: int, max_length: int | None) -> Recipient:
    """``recipient`` with its number normalized and its variables checked.

    ``recipient`` itself when nothing changes (its number was normalized already).
    """
    if not isinstance(recipient, Recipient):
        raise InvalidInputError(
            f"must be a crowdsms.Recipient, not {type(recipient).__name__}",
            field=f"recipients[{position}]",
            position=position,
            received=repr(recipient)[:40],
            action='Pass Recipient("13800138000", {"name": "..."})',
        )
    raw = recipient.phone
    phone = raw if is_known_mobile(raw) else normalize_recipient_phone(raw, position)
    values = recipient.vars
    if not _plain_vars(values, max_length):  # check_vars() says what is wrong
        values = check_vars(
            values, field=f"recipients[{position}].vars", max_length=max_length, position=position
        )
    if phone == recipient.phone:
        return recipient
    return attrs.evolve(recipient, phone=phone, vars=values)


def _plain_vars(values: Mapping[str, str], max_length: int | None) -> bool:
    """Whether :func:`check_vars` would pass ``values`` as they are, cheaply for the usual
    case (a value of ``n`` characters has at most ``2 * n`` UTF-16 units)."""
    if type(values) is not dict:
        return False
    for key, value in values.items():
        if type(key) is not str or not key or type(value) is not str:
            return False
        if (
            max_length is not None
            and 2 * len(value) > max_length
            and utf16_length(value) > max_length
        ):
            return False
    return True


def check_recipients(recipients: object, *, limit: int, max_length: int | None) -> list[Recipient]:
    """The recipients checked one by one; refuses duplicates and more than ``limit``.

    Each recipient is checked first (type, number, variables), then the numbers together.
    """
    items = _recipient_items(recipients, limit=limit)
    checked = [
        check_recipient(raw, position=position, max_length=max_length)
        for position, raw in enumerate(items)
    ]
    normalize_phone_list(
        [recipient.phone for recipient in checked],
        field=lambda position: f"recipients[{position}].phone",
    )
    return checked


def check_checked_recipients(recipients: Sequence[Recipient], *, limit: int) -> list[Recipient]:
    """Recipients each already checked by :func:`check_recipient`: only the list is checked.

    Refuses what :func:`check_recipients` refuses of the list as a whole, with the same
    errors: not a list, empty, more than ``limit``, a number given twice.
    """
    _recipient_items(recipients, limit=limit)
    checked = list(recipients)
    phones = [recipient.phone for recipient in checked]
    if len(set(phones)) != len(phones):  # normalized: the same number is the same text
        normalize_phone_list(phones, field=lambda position: f"recipients[{position}].phone")
    return checked


def _recipient_items(recipients: object, *, limit: int) -> Sequence[object]:
    items = _sequence(recipients, field="recipients", noun="recipients")
    if len(items) > limit:
        raise _too_many(len(items), limit, field="recipients", setting="max_sendn_recipients")
    return items


def check_contact_list_names(names: object) -> str:
    """The contact-list names joined with ``;`` as the provider expects."""
    items = _sequence(names, field="contact_list_names", noun="names")
    for position, name in enumerate(items):
        field = f"contact_list_names[{position}]"
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                "must be a non-empty string",
                field=field,
                position=position,
                received=repr(name)[:40],
                action="Give the contact list's name as shown in the SendCloud console",
            )
        if ";" in name:
            raise InvalidInputError(
                "must not contain ';', which separates the names on the wire",
                field=field,
                position=position,
                received=repr(name[:40]),
                action="Pass each contact list as its own item in the list",
            )
    return ";".join(str(name) for name in items)


def check_execute_time(value: object) -> str | None:
    """The scheduled time as ``yyyy-MM-dd HH:mm:ss`` in China time.

    An aware datetime is converted to China time; a naive one is taken to be China time
    already (the provider's clock).
    """
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(
            f"must be a datetime, not {type(value).__name__}",
            field="execute_time",
            received=repr(value)[:40],
            action="Pass a datetime, preferably timezone-aware",
        )
    if value.tzinfo is not None:
        value = value.astimezone(CHINA_TIME)
    return value.strftime(_TIME_FORMAT)
