"""Reading a pushed request: its headers, and its body as JSON or form fields.

Framework-neutral: headers may be any mapping (Starlette's, Django's ``request.headers``) or
any iterable of ``(name, value)`` pairs, as ``str`` or ``bytes`` (an ASGI scope's, Flask's);
the body is the raw bytes as received.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeAlias

from crowdsms.errors import excerpt
from crowdsms.webhooks._errors import WebhookFormatError

__all__ = ["Body", "Headers", "decode_json", "header", "read_objects"]

Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: a mapping, or ``(name, value)`` pairs of ``str`` or ``bytes``."""

Body: TypeAlias = bytes | bytearray | memoryview | str
"""A request body, exactly as received."""

_MAX_FORM_FIELDS: Final = 1000


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or ``None``."""
    wanted = name.lower()
    pairs: Iterable[tuple[str | bytes, str | bytes]] = (
        headers.items() if isinstance(headers, Mapping) else headers
    )
    for key, value in pairs:
        if _text(key).lower() == wanted:
            return _text(value)
    return None


def _raw_bytes(body: Body) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    media, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def decode_json(body: Body, *, provider: str) -> Any:
    """``body`` decoded as UTF-8 JSON; :class:`WebhookFormatError` if it is not."""
    data = _raw_bytes(body)
    if not data.strip():
        raise WebhookFormatError(
            "the body is empty",
            provider=provider,
            action="Check that the provider's push URL points at this receiver",
        )
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:
        raise WebhookFormatError(
            "the body is not valid UTF-8 JSON",
            provider=provider,
            received=excerpt(data),
            action="This receiver expects the provider's JSON push; check what posts to it",
        ) from exc


def read_objects(headers: Headers, body: Body, *, provider: str) -> list[dict[str, Any]]:
    """The pushed field sets of a body: a JSON object or array of objects, or form fields.

    The ``Content-Type`` decides (JSON, ``application/x-www-form-urlencoded`` or
    ``multipart/form-data``); when it is missing or says something else, a body starting
    with ``{`` or ``[`` is read as JSON and any other as form fields. A form field sent
    twice holds the list of its values.
    """
    data = _raw_bytes(body)
    if not data.strip():
        raise WebhookFormatError(
            "the body is empty",
            provider=provider,
            action="Check that the provider's push URL points at this receiver",
        )
    media, params = _media_type(header(headers, "content-type"))
    if media == "application/json" or media.endswith("+json"):
        return _objects(decode_json(data, provider=provider), provider=provider, data=data)
    if media == "multipart/form-data":
        return [_multipart(data, header(headers, "content-type") or "", provider=provider)]
    if media != "application/x-www-form-urlencoded" and data.lstrip()[:1] in (b"{", b"["):
        return _objects(decode_json(data, provider=provider), provider=provider, data=data)
    return [_form(data, params.get("charset", "utf-8"), provider=provider)]


def _objects(value: Any, *, provider: str, data: bytes) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise WebhookFormatError(
            "expected a JSON object (or an array of objects) of event fields",
            provider=provider,
            received=excerpt(data),
            action="This receiver expects the provider's push; check what posts to it",
        )
    return items


def _add(fields: dict[str, Any], name: str, value: str) -> None:
    if name not in fields:
        fields[name] = value
        return
    existing = fields[name]
    fields[name] = [*existing, value] if isinstance(existing, list) else [existing, value]


def _form(data: bytes, charset: str, *, provider: str) -> dict[str, Any]:
    try:
        text = data.decode(charset)
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise WebhookFormatError(
            f"the body is not form fields in {charset}",
            provider=provider,
            received=excerpt(data),
            action="The provider posts URL-encoded form fields or JSON; check what posts here",
        ) from exc
    fields: dict[str, Any] = {}
    for name, value in pairs:
        _add(fields, name, value)
    return fields


def _multipart(data: bytes, content_type: str, *, provider: str) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    fields: dict[str, Any] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            charset = part.get_content_charset() or "utf-8"
            try:
                _add(fields, name, payload.decode(charset))
            except (UnicodeDecodeError, LookupError) as exc:
                raise WebhookFormatError(
                    f"the multipart field {name!r} is not text in {charset}",
                    provider=provider,
                    received=excerpt(payload),
                    action="The provider posts text fields; check what posts here",
                ) from exc
    if not fields:
        raise WebhookFormatError(
            "the multipart body has no form fields",
            provider=provider,
            received=excerpt(data),
            action="The provider posts form fields or JSON; check what posts here",
        )
    return fields
