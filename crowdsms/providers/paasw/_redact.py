"""Masking the secret and the tokens in anything the gateway sends back.

A successful answer never contains our credentials, but an error page can: some servers
echo the request URL (``...?token=...``) or the parameters. Before an answer is parsed,
and before an error leaves the client, every known sensitive value is replaced by a mask,
in its plain, URL-encoded and JSON-escaped spellings.
"""

from __future__ import annotations

import collections
import re
import urllib.parse
from typing import Final

import attrs

from crowdsms._transport import ApiResponse
from crowdsms.errors import CrowdSMSError

__all__ = ["MASK", "Redactor"]

MASK: Final = "********"
_TOKEN_FIELD = re.compile(r"""("token"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)""")
_ERROR_TEXTS: Final = ("what", "received", "action", "provider_message")


class Redactor:
    """Knows the sensitive values (the secret, the recent tokens) and masks them."""

    def __init__(self, *values: str, keep_tokens: int = 4) -> None:
        self._fixed = tuple(value for value in values if value)
        self._tokens: collections.deque[str] = collections.deque(maxlen=keep_tokens)
        self._patterns: tuple[str, ...] = ()
        self._encoded: tuple[bytes, ...] = ()
        self._rebuild()

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._patterns)} spellings>"

    def add_token(self, token: str) -> None:
        """Remember a new token (the oldest is forgotten after ``keep_tokens``)."""
        if token and token not in self._tokens:
            self._tokens.append(token)
            self._rebuild()

    def _rebuild(self) -> None:
        spellings: set[str] = set()
        for value in (*self._fixed, *self._tokens):
            spellings.update(
                {
                    value,
                    urllib.parse.quote(value, safe=""),
                    urllib.parse.quote_plus(value, safe=""),
                    value.replace("/", "\\/"),
                }
            )
        # The longest first, so that a value inside another is not half-masked.
        self._patterns = tuple(sorted(spellings, key=len, reverse=True))
        self._encoded = tuple(pattern.encode("utf-8") for pattern in self._patterns)

    def text(self, text: str) -> str:
        """``text`` with every known value, and any JSON ``"token"`` field, masked."""
        for pattern in self._patterns:
            if pattern in text:
                text = text.replace(pattern, MASK)
        return _TOKEN_FIELD.sub(lambda match: match.group(1) + f'"{MASK}"', text)

    def contains_secret(self, content: bytes) -> bool:
        """Whether ``content`` holds one of the known values."""
        return any(pattern in content for pattern in self._encoded)

    def response(self, response: ApiResponse) -> ApiResponse:
        """``response`` with the known values masked in its body (itself if none occurs)."""
        if not self.contains_secret(response.content):
            return response
        text = response.content.decode("utf-8", errors="replace")
        for pattern in self._patterns:
            text = text.replace(pattern, MASK)
        return attrs.evolve(response, content=text.encode("utf-8"))

    def token_answer(self, response: ApiResponse) -> ApiResponse:
        """A token answer with the known values and its ``token`` field masked."""
        text = response.content.decode("utf-8", errors="replace")
        return attrs.evolve(response, content=self.text(text).encode("utf-8"))

    def error(self, error: CrowdSMSError) -> CrowdSMSError:
        """Mask the known values in ``error``'s texts, in place; returns ``error``."""
        for name in _ERROR_TEXTS:
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, self.text(value))
        error.args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in error.args)
        return error
