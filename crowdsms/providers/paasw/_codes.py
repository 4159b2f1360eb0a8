"""The paasw gateway's request-level codes, and the guessed codes of a refused token.

The gateway publishes only its success code, ``"10000"``. Every other request-level code
raises :class:`~crowdsms.errors.ProviderError` carrying the code, the gateway's message and
the explanation "a code crowdsms does not know" (``CodeKind.OTHER``). Codes are added to
:data:`REQUEST_CODES` as they become known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crowdsms._codes import CodeInfo

__all__ = ["DEFAULT_TOKEN_REJECTED_CODES", "REQUEST_CODES"]

REQUEST_CODES: Final[Mapping[str, CodeInfo]] = {}
"""Known request-level error codes (none are published yet)."""

DEFAULT_TOKEN_REJECTED_CODES: Final = frozenset({"40001", "40014", "42001"})
"""A guess at the codes of an invalid or expired token (the real ones are not published).

They are the codes of the token API most Chinese gateways imitate (WeChat's: 40001 invalid
credential, 40014 invalid token, 42001 token expired). Answers whose message mentions the
token (``token``, ``令牌``) count as a refused token too, whatever their code. Override with
the client's ``token_rejected_codes`` setting once you know your gateway's codes. A wrong
guess costs one extra token fetch and one repeated (refused, so unsent) request.
"""
