"""The gateway's answer envelope: ``{"code": "10000", "message": ..., ...}``.

Success is ``code == "10000"`` (a string in the seed; the integer is accepted too). Every
other code refuses the request before it was processed, so its error is ``NOT_SENT``. An
HTTP error status without such an envelope (a proxy's HTML page, a 404) becomes an
:class:`~crowdsms.errors.HTTPStatusError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crowdsms._codes import error_for_code
from crowdsms._parsing import decode_json, parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import DeliveryCertainty, HTTPStatusError, ResponseParseError, excerpt
from crowdsms.providers.paasw._codes import REQUEST_CODES
from crowdsms.providers.paasw._limits import SUCCESS_CODE

__all__ = [
    "PROVIDER",
    "answer_code",
    "answer_message",
    "http_status_error",
    "read_answer",
    "read_object",
    "require_success",
]

PROVIDER = "paasw"


def answer_code(data: Mapping[str, Any]) -> str | None:
    """The envelope's code as a string, or ``None`` if it has none of a usable type."""
    code = data.get("code")
    if isinstance(code, str):
        return code.strip()
    if isinstance(code, int) and not isinstance(code, bool):
        return str(code)
    return None


def answer_message(data: Mapping[str, Any]) -> str:
    """The envelope's message (``message``, or ``msg`` as in the push answers)."""
    for key in ("message", "msg"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return ""


def http_status_error(response: ApiResponse) -> HTTPStatusError:
    """The error for an HTTP error status whose body is not the gateway's envelope."""
    status = response.status_code
    return HTTPStatusError(
        f"the gateway answered HTTP {status} without its usual answer",
        status_code=status,
        certainty=DeliveryCertainty.NOT_SENT,
        operation=response.operation,
        received=f"HTTP {status}, body {excerpt(response.content)}",
        action=(
            "The request was refused before processing; check the client's base_url and "
            "that nothing between you and the gateway (a proxy) rewrites requests"
        ),
    )


def read_answer(response: ApiResponse) -> Any:
    """The decoded JSON answer, with a refusing envelope raised as its typed error.

    Returns any JSON value (objects of every endpoint, the bare arrays of the report
    queues); only an object carrying a code other than ``"10000"`` raises here.
    """
    try:
        data = decode_json(response)
    except ResponseParseError as exc:
        if response.status_code >= 300:
            raise http_status_error(response) from exc
        raise
    if isinstance(data, dict) and "code" in data:
        require_success(response, data)
    if response.status_code >= 300:
        raise http_status_error(response)
    return data


def require_success(response: ApiResponse, data: Mapping[str, Any]) -> None:
    """Raise the typed error unless ``data``'s code is the success code."""
    code = answer_code(data)
    if code is None:
        raise parse_error(
            response, f"the answer's code is missing or not a string ({data.get('code')!r:.40})"
        )
    if code != SUCCESS_CODE:
        raise error_for_code(
            provider=PROVIDER,
            code=code,
            message=answer_message(data),
            table=REQUEST_CODES,
            operation=response.operation,
        )


def read_object(response: ApiResponse) -> dict[str, Any]:
    """The answer as a successful envelope object, or the right error."""
    data = read_answer(response)
    if not isinstance(data, dict):
        raise parse_error(response, f"the answer is a JSON {type(data).__name__}, not an object")
    if "code" not in data:
        raise parse_error(response, "the answer has no code")
    return data
