"""Checks of SUBMAIL arguments, made before any request, by SUBMAIL's documented limits.

- ``content``: not empty, at most 1000 characters (the SMS signature included), starting
  with the SMS signature in full-width brackets, 2 to 10 characters inside: ``【SUBMAIL】``.
- ``@var(key)`` placeholders in ``content`` (``sms/multisend``): every recipient must give a
  value for every key used.
- ``tag``: at most 32 characters.
- phone numbers: mainland mobile numbers, normalized to 11 digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NoReturn

import attrs

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.phones import is_known_mobile, normalize_recipient_phone

__all__ = [
    "MAX_CONTENT_CHARS",
    "MAX_TAG_CHARS",
    "CheckedContent",
    "check_content",
    "check_distinct",
    "check_recipient",
    "check_recipient_count",
    "check_recipients",
    "check_tag",
]

MAX_CONTENT_CHARS: Final = 1000
"""The most characters SUBMAIL accepts in a message, the SMS signature included."""
MAX_TAG_CHARS: Final = 32
"""The most characters SUBMAIL accepts in a ``tag``."""
SIGNATURE_MIN_CHARS: Final = 2
SIGNATURE_MAX_CHARS: Final = 10

_SIGNATURE = re.compile(r"【([^【】]*)】")
_PLACEHOLDER = re.compile(r"@var\(([^()]*)\)")
_SIGNATURE_ACTION = (
    "Start the content with your approved SMS signature in full-width brackets, with 2 to 10 "
    "characters inside, e.g. '【SUBMAIL】您的验证码是 4438'"
)


@attrs.frozen
class CheckedContent:
    """Message content that passed the checks, and the ``@var`` keys it uses, in order."""

    text: str
    placeholders: tuple[str, ...]


def check_content(content: object, *, field: str = "content") -> CheckedContent:
    """Check SUBMAIL content and return it with its placeholders, or raise InvalidInputError."""
    if not isinstance(content, str):
        raise InvalidInputError(
            f"the content must be a string, not {type(content).__name__}",
            field=field,
            action="Pass the message text, starting with the SMS signature, as a str",
        )
    if not content.strip():
        raise InvalidInputError(
            "the content is empty", field=field, action="Pass the message text to send"
        )
    if len(content) > MAX_CONTENT_CHARS:
        raise InvalidInputError(
            f"the content has {len(content)} characters; SUBMAIL accepts at most "
            f"{MAX_CONTENT_CHARS}, the SMS signature included",
            field=field,
            received=repr(content[:40]) + " ...",
            action="Shorten the message",
        )
    match = _SIGNATURE.match(content)
    if match is None:
        raise InvalidInputError(
            "the content does not start with an SMS signature in 【】",
            field=field,
            received=repr(content[:40]),
            action=_SIGNATURE_ACTION,
        )
    signature = match.group(1)
    if not SIGNATURE_MIN_CHARS <= len(signature) <= SIGNATURE_MAX_CHARS:
        raise InvalidInputError(
            f"the SMS signature has {len(signature)} characters inside 【】; SUBMAIL needs "
            f"{SIGNATURE_MIN_CHARS} to {SIGNATURE_MAX_CHARS}",
            field=field,
            received=repr(match.group(0)),
            action=_SIGNATURE_ACTION,
        )
    if not content[match.end() :].strip():
        raise InvalidInputError(
            "the content has an SMS signature but no message after it",
            field=field,
            received=repr(content[:40]),
            action="Add the message text after the signature",
        )
    placeholders: dict[str, None] = {}
    for found in _PLACEHOLDER.finditer(content):
        key = found.group(1).strip()
        if not key:
            raise InvalidInputError(
                "the content has an @var() placeholder without a name",
                field=field,
                received=repr(found.group(0)),
                action="Name every variable, e.g. @var(code), or remove the placeholder",
            )
        placeholders[key] = None
    return CheckedContent(text=content, placeholders=tuple(placeholders))


def check_tag(tag: object, *, field: str = "tag") -> str | None:
    """Return ``tag`` (``None`` or ``""`` for no tag), or raise InvalidInputError.

    ``field`` names the argument in the error (a chunk's ``reference`` is sent as the tag).
    """
    if tag is None:
        return None
    if not isinstance(tag, str):
        raise InvalidInputError(
            f"the {field} must be a string, not {type(tag).__name__}",
            field=field,
            action="Pass a str of at most 32 characters, or None",
        )
    if len(tag) > MAX_TAG_CHARS:
        raise InvalidInputError(
            f"the {field} has {len(tag)} characters; SUBMAIL accepts at most {MAX_TAG_CHARS}",
            field=field,
            received=repr(tag[:40]),
            action="Shorten the tag",
        )
    return tag or None


def check_recipient(
    recipient: object, *, position: int, placeholders: tuple[str, ...]
) -> Recipient:
    """Return ``recipient`` with its phone normalized, or raise InvalidInputError.

    Every key in ``placeholders`` must be among the recipient's vars.
    """
    if not isinstance(recipient, Recipient):
        raise InvalidInputError(
            f"a recipient must be a crowdsms.Recipient, not {type(recipient).__name__}",
            field=f"recipients[{position}]",
            position=position,
            action="Pass Recipient(phone='13800138000', vars={'name': '...'})",
        )
    # The happy path of a large job costs well under a microsecond: wire-form numbers with
    # a known prefix skip libphonenumber, and no error text is written (crowdsms.phones).
    raw = recipient.phone
    phone = raw if is_known_mobile(raw) else normalize_recipient_phone(raw, position)
    variables = recipient.vars
    for key in placeholders:
        if key not in variables:
            _missing_vars(recipient, position, placeholders)
    if phone == recipient.phone:
        return recipient
    return Recipient(phone=phone, vars=recipient.vars)


def _missing_vars(recipient: Recipient, position: int, placeholders: tuple[str, ...]) -> NoReturn:
    missing = [key for key in placeholders if key not in recipient.vars]
    raise InvalidInputError(
        f"no value for {_names(missing)}, used in the content as "
        + ", ".join(f"@var({key})" for key in missing),
        field=f"recipients[{position}].vars",
        position=position,
        received=f"vars with the keys {sorted(recipient.vars)!r:.200}",
        action="Give every recipient a value for every @var(...) in the content",
    )


def _names(keys: list[str]) -> str:
    quoted = [repr(key) for key in keys]
    return ("the variable " if len(quoted) == 1 else "the variables ") + ", ".join(quoted)


def check_recipients(
    recipients: object, *, placeholders: tuple[str, ...], limit: int
) -> list[Recipient]:
    """Check a multisend's recipients: a non-empty sequence of at most ``limit``, each
    checked by :func:`check_recipient`, each number once (SUBMAIL would send a number given
    twice twice, and charge for both)."""
    items = check_recipient_count(recipients, limit=limit)
    checked = [
        check_recipient(recipient, position=position, placeholders=placeholders)
        for position, recipient in enumerate(items)
    ]
    check_distinct(checked)
    return checked


def check_distinct(recipients: Sequence[Recipient]) -> None:
    """Refuse a multisend naming a number twice (checked numbers: SUBMAIL would send it
    twice, and charge for both)."""
    if len({recipient.phone for recipient in recipients}) == len(recipients):
        return
    first: dict[str, int] = {}
    for position, recipient in enumerate(recipients):
        earlier = first.setdefault(recipient.phone, position)
        if earlier != position:
            raise InvalidInputError(
                f"is the same number as recipients[{earlier}] ({recipient.phone} once "
                "normalized): SUBMAIL would send it twice, and charge for both",
                field=f"recipients[{position}].phone",
                position=position,
                received=repr(recipient.phone),
                action="Give each number once (a batch job skips the later ones for you)",
            )


def check_recipient_count(recipients: object, *, limit: int) -> list[Recipient]:
    """A multisend's recipients as a list: a non-empty sequence of at most ``limit``.

    The recipients themselves are not checked: :func:`check_recipients` does both.
    """
    if isinstance(recipients, (str, bytes, Mapping)) or not isinstance(recipients, Iterable):
        raise InvalidInputError(
            f"recipients must be a sequence of crowdsms.Recipient, not {type(recipients).__name__}",
            field="recipients",
            action="Pass a list such as [Recipient(phone='13800138000')]",
        )
    items = list(recipients)
    if not items:
        raise InvalidInputError(
            "there are no recipients", field="recipients", action="Pass at least one recipient"
        )
    if len(items) > limit:
        raise InvalidInputError(
            f"{len(items)} recipients are more than one multisend request may carry ({limit})",
            field="recipients",
            received=f"{len(items)} recipients",
            action=(
                f"Split them into chunks of at most {limit}, or let the batch sender do it "
                "with client.sms.multisend_chunks(...)"
            ),
        )
    return items
