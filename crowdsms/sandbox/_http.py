"""Reading request parameters the way the providers do, and writing JSON answers.

Parameters may come in the query string and in the body (form-encoded, multipart or JSON);
body fields win over query fields of the same name, as in PHP's ``$_REQUEST`` order. JSON
values that are not strings are kept as sent in :attr:`Params.raw` and turned into text for
signing (numbers as written, arrays and objects as compact JSON).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import attrs
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from crowdsms.sandbox._multipart import MalformedBody, Upload, boundary_of, parse_multipart

__all__ = ["MalformedBody", "Params", "json_bytes", "json_response", "read_params"]


@attrs.frozen
class Params:
    """A request's parameters."""

    fields: dict[str, str]
    """Every parameter as text."""
    files: dict[str, Upload]
    """File fields of a multipart body."""
    raw: dict[str, Any]
    """Parameters of a JSON body, as decoded."""

    def get(self, name: str, default: str = "") -> str:
        """The parameter ``name`` as text, or ``default``."""
        return self.fields.get(name, default)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _parse_form(text: str) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedBody("the form body is not valid UTF-8") from exc
    return dict(pairs)


async def read_params(request: Request) -> Params:
    """The query and body parameters of ``request``; raise :class:`MalformedBody` if unreadable."""
    query = request.scope.get("query_string", b"")
    fields: dict[str, str] = _parse_form(query.decode("latin-1")) if query else {}
    files: dict[str, Upload] = {}
    raw: dict[str, Any] = {}
    try:
        body = await request.body()
    except ClientDisconnect:
        raise MalformedBody("the client disconnected before sending the whole body") from None
    if body:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type == "multipart/form-data":
            form, files = parse_multipart(body, boundary_of(content_type))
            fields.update(form)
        elif media_type == "application/json":
            try:
                decoded = json.loads(body)
            except (UnicodeDecodeError, ValueError) as exc:
                raise MalformedBody(f"the JSON body is invalid: {exc}") from exc
            if not isinstance(decoded, dict):
                raise MalformedBody("the JSON body is not an object")
            raw = decoded
            fields.update({str(key): _text(value) for key, value in decoded.items()})
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedBody("the form body is not valid UTF-8") from exc
            fields.update(_parse_form(text))
    return Params(fields, files, raw)


def json_bytes(data: Any, *, ascii_only: bool = False) -> bytes:
    """Compact JSON of ``data``."""
    return json.dumps(data, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def json_response(
    data: Any,
    status_code: int = 200,
    *,
    ascii_only: bool = False,
    media_type: str = "application/json;charset=UTF-8",
) -> Response:
    """An answer with ``data`` as compact JSON."""
    return Response(json_bytes(data, ascii_only=ascii_only), status_code, media_type=media_type)
