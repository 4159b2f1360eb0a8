"""Masking the secret and the tokens in anything the gateway sends back.

A successful answer never contains our credentials, but an error page can: some servers
echo the request URL (``...?token=...``) or the parameters. Before an answer is parsed,
and before an error leaves the client, every known sensitive value is replaced by a mask,
in its plain, URL-encoded and JSON-escaped spellings.

A value is masked only where it stands whole: not glued to a letter or a digit on a side
where the value itself begins or ends with one (an escape such as ``%3D``, ``\\u0026`` or
``\\n`` before it counts as a border). So ``?secret=k``, ``"k"`` and ``secret k`` are
masked, but a secret ``k`` leaves the word ``token`` alone.
"""

from __future__ import annotations

import collections
import re
import urllib.parse
from typing import Final

import attrs

from crowdsms._transport import ApiResponse
from crowdsms.errors import CrowdSMSError, mask_error_chain

__all__ = ["MASK", "Redactor"]

MASK: Final = "********"
_TOKEN_FIELD = re.compile(r"""("token"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)""")
# Where a value that begins with a letter or a digit may begin.
_BORDERS_BEFORE: Final = (
    r"(?<![A-Za-z0-9])",  # after anything but a letter or a digit
    r"(?<=%[0-9A-Fa-f]{2})",  # after a URL escape: %3D is an encoded "=", not a word
    r"(?<=\\u[0-9A-Fa-f]{4})",  # after a JSON \u003d escape
    r"(?<=\\[nrtbf])",  # after a JSON \n, \t ... escape
)
_BEFORE: Final = "(?:" + "|".join(_BORDERS_BEFORE) + ")"
# Where a value that ends with a letter or a digit may end.
_AFTER: Final = r"(?![A-Za-z0-9])"


def _glues(character: str) -> bool:
    """Whether ``character`` joins the characters next to it into one word or value."""
    return character.isascii() and character.isalnum()


def _whole(spelling: str) -> str:
    """A regular expression of ``spelling`` standing as a whole value, not inside a word."""
    before = _BEFORE if _glues(spelling[0]) else ""
    after = _AFTER if _glues(spelling[-1]) else ""
    return before + re.escape(spelling) + after


_NOTHING: Final = re.compile("(?!)")
_NOTHING_BYTES: Final = re.compile(b"(?!)")


class Redactor:
    """Knows the sensitive values (the secret, the recent tokens) and masks them."""

    def __init__(self, *values: str, keep_tokens: int = 4) -> None:
        self._fixed = tuple(value for value in values if value)
        self._tokens: collections.deque[str] = collections.deque(maxlen=keep_tokens)
        self._patterns: tuple[str, ...] = ()
        self._encoded: tuple[bytes, ...] = ()
        self._whole: re.Pattern[str] = _NOTHING
        self._whole_bytes: re.Pattern[bytes] = _NOTHING_BYTES
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
        if self._patterns:
            source = "|".join(_whole(pattern) for pattern in self._patterns)
            self._whole = re.compile(source)
            self._whole_bytes = re.compile(source.encode("utf-8"))
        else:
            self._whole = _NOTHING
            self._whole_bytes = _NOTHING_BYTES

    def _mask(self, text: str) -> str:
        # A plain search first: most texts hold no spelling at all, and it is much faster.
        if not any(pattern in text for pattern in self._patterns):
            return text
        return self._whole.sub(MASK, text)

    def text(self, text: str) -> str:
        """``text`` with every known value, and any JSON ``"token"`` field, masked."""
        text = self._mask(text)
        return _TOKEN_FIELD.sub(lambda match: match.group(1) + f'"{MASK}"', text)

    def contains_secret(self, content: bytes) -> bool:
        """Whether ``content`` holds one of the known values, standing whole."""
        if not any(pattern in content for pattern in self._encoded):
            return False
        return self._whole_bytes.search(content) is not None

    def response(self, response: ApiResponse) -> ApiResponse:
        """``response`` with the known values masked in its body (itself if none occurs)."""
        if not self.contains_secret(response.content):
            return response
        text = self._mask(response.content.decode("utf-8", errors="replace"))
        return attrs.evolve(response, content=text.encode("utf-8"))

    def token_answer(self, response: ApiResponse) -> ApiResponse:
        """A token answer with the known values and its ``token`` field masked."""
        text = response.content.decode("utf-8", errors="replace")
        return attrs.evolve(response, content=self.text(text).encode("utf-8"))

    def error(self, error: CrowdSMSError) -> CrowdSMSError:
        """Mask the known values in the texts of ``error`` and of every exception chained to
        it (its cause and context, which a logged traceback shows), in place; returns
        ``error``."""
        mask_error_chain(error, self.text)
        return error
