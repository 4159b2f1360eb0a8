"""The paasw gateway's codes: success, the request-level table, and a refused token's codes.

The gateway publishes only its success code, :data:`SUCCESS_CODE` (``"10000"``). Every other
request-level code raises :class:`~crowdsms.errors.ProviderError` carrying the code, the
gateway's message and the explanation "a code crowdsms does not know" (``CodeKind.OTHER``).
Codes are added to :data:`CODES` as they become known. The codes of delivery reports are a
separate list: :class:`~crowdsms.providers.paasw.DeliveryStatus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crowdsms import _codes
from crowdsms._codes import CodeInfo
from crowdsms.errors import ProviderError

__all__ = [
    "CODES",
    "DEFAULT_TOKEN_REJECTED_CODES",
    "PROVIDER_NAME",
    "SUCCESS_CODE",
    "error_for_code",
    "explain",
]

PROVIDER_NAME: Final = "paasw"
"""The provider's name in errors and logs."""

SUCCESS_CODE: Final = "10000"
"""The code of every successful answer (sent as a string; the integer is accepted too)."""

CODES: Final[Mapping[str, CodeInfo]] = {}
"""Known request-level error codes (none are published yet)."""

DEFAULT_TOKEN_REJECTED_CODES: Final = frozenset({"40001", "40014", "42001"})
"""A guess at the codes of an invalid or expired token (the real ones are not published).

They are the codes of the token API most Chinese gateways imitate (WeChat's: 40001 invalid
credential, 40014 invalid token, 42001 token expired). Answers whose message mentions the
token (``token``, ``令牌``) count as a refused token too, whatever their code. Override with
the client's ``token_rejected_codes`` setting once you know your gateway's codes. A wrong
guess costs one extra token fetch and one repeated (refused, so unsent) request.
"""


def explain(code: str | int) -> str:
    """The English explanation of a request-level ``code``, or a note that it is not known."""
    return _codes.explain_code(CODES, code, provider=PROVIDER_NAME)


def error_for_code(*, code: str, message: str, operation: str) -> ProviderError:
    """The typed error for a refusing answer's ``code`` (unknown codes included; ``NOT_SENT``)."""
    return _codes.error_for_code(
        provider=PROVIDER_NAME, code=code, message=message, table=CODES, operation=operation
    )
