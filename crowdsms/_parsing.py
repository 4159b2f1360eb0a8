"""Decoding providers' answers into typed values, with errors that show what came back."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import cattrs

from crowdsms._transport.request import ApiResponse
from crowdsms.errors import DeliveryCertainty, ResponseParseError, excerpt

__all__ = ["decode_json", "parse_error", "structure"]

T = TypeVar("T")


def parse_error(response: ApiResponse, what: str) -> ResponseParseError:
    """A :class:`ResponseParseError` for ``response`` with an excerpt of its body."""
    return ResponseParseError(
        what,
        certainty=DeliveryCertainty.UNKNOWN,
        operation=response.operation,
        received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
        action=(
            "The provider (or a proxy in between) answered with something crowdsms does not "
            "understand; the request may have been processed, so check delivery reports "
            "before sending again, and report this answer if it persists"
        ),
    )


def decode_json(response: ApiResponse) -> Any:
    """The JSON value of ``response``'s body, or a :class:`ResponseParseError`."""
    content = response.content
    if not content.strip():
        raise parse_error(response, "the answer is empty where JSON was expected")
    try:
        text = content.decode("utf-8-sig")  # some PHP back ends send a byte order mark
    except UnicodeDecodeError as exc:
        raise parse_error(response, f"the answer is not valid UTF-8 ({exc.reason})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        kind = "an HTML page" if text.lstrip()[:1] == "<" else "not valid JSON"
        raise parse_error(response, f"the answer is {kind} ({exc.msg})") from exc


def structure(converter: cattrs.Converter, data: Any, cls: type[T], response: ApiResponse) -> T:
    """``converter.structure(data, cls)``, turning any mismatch into a parse error."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise parse_error(
            response, f"the answer does not have the expected shape ({detail[:200]})"
        ) from exc
