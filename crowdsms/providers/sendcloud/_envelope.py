"""Reading SendCloud's answer envelope and turning its code into a result or an error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from crowdsms._parsing import decode_json, parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import DeliveryCertainty, HTTPStatusError, ResponseParseError, excerpt
from crowdsms.providers.sendcloud._codes import SUCCESS, error_for_code
from crowdsms.providers.sendcloud._converter import structure
from crowdsms.providers.sendcloud._wire import Envelope

__all__ = ["info_as", "parse_envelope", "peek_status", "require_success"]

T = TypeVar("T")


def parse_envelope(response: ApiResponse) -> Envelope:
    """The envelope of ``response``, or the error that explains why there is none.

    An HTTP 4xx answer without a SendCloud envelope (a proxy's or web server's error page)
    becomes an :class:`HTTPStatusError` with certainty ``NOT_SENT``: the request was refused
    before the API saw it. Any other unreadable answer is a :class:`ResponseParseError`.
    """
    try:
        data = decode_json(response)
        if not isinstance(data, dict):
            raise parse_error(response, "the answer is not a JSON object")
        return structure(data, Envelope, response)
    except ResponseParseError as exc:
        if 400 <= response.status_code < 500:
            raise HTTPStatusError(
                f"the provider refused the request with HTTP {response.status_code} "
                "and no SendCloud answer",
                status_code=response.status_code,
                certainty=DeliveryCertainty.NOT_SENT,
                operation=response.operation,
                received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
                action="Check the client's base_url and the endpoint settings",
            ) from exc
        raise


def info_as(envelope: Envelope, cls: type[T], response: ApiResponse) -> T:
    """The envelope's ``info`` structured as ``cls`` (a parse error if it does not fit)."""
    return structure(envelope.info or {}, cls, response, path="$.info")


def require_success(
    envelope: Envelope, response: ApiResponse, *, certainty: DeliveryCertainty | None = None
) -> None:
    """Raise the typed error for the envelope's code unless it is 200."""
    if envelope.status_code != SUCCESS:
        raise error_for_code(
            code=envelope.status_code,
            message=envelope.message,
            operation=response.operation,
            certainty=certainty,
        )


def peek_status(response: ApiResponse) -> tuple[int, str] | None:
    """An answer's ``statusCode`` and ``message`` if it has them; never raises."""
    try:
        data: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("statusCode")
    message = data.get("message")
    text = message if isinstance(message, str) else ""
    if isinstance(code, int) and not isinstance(code, bool):
        return code, text
    if isinstance(code, str) and code.strip().isascii() and code.strip().isdigit():
        return int(code), text
    return None
