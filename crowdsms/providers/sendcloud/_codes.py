"""SendCloud SMS status codes: what each one means, and the typed error for it.

The table joins the seed's list, the fuller list of the provider's 2016 documents, and two
codes only the current API answers with (312 and 496). ``200`` is success, ``311`` partial
success and ``312`` "every recipient failed": the send endpoints turn those into
per-recipient outcomes instead of raising. Every other code refuses the whole request and
becomes the error :func:`error_for_code` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crowdsms._codes import CodeInfo, CodeKind, explain_code
from crowdsms._codes import error_for_code as _error_for_code
from crowdsms.errors import DeliveryCertainty, ProviderError

__all__ = [
    "ALL_FAILED",
    "CLOCK_REJECTED",
    "CODES",
    "PARTIAL_SUCCESS",
    "SUCCESS",
    "error_for_code",
    "explain",
]

_PROVIDER: Final = "sendcloud"

SUCCESS: Final = 200
"""The request succeeded; for a send, every recipient was accepted."""
PARTIAL_SUCCESS: Final = 311
"""A send accepted some recipients; the others are listed with their reason."""
ALL_FAILED: Final = 312
"""A send accepted no recipient; each is listed with its reason."""
CLOCK_REJECTED: Final = 461
"""The request's timestamp is outside the server's window (the clocks differ)."""

_K = CodeKind

CODES: Final[Mapping[str, CodeInfo]] = {
    "200": CodeInfo(_K.OTHER, "the request succeeded"),
    "311": CodeInfo(
        _K.RECIPIENT,
        "only some recipients were accepted; the others are listed with the reason",
    ),
    "312": CodeInfo(_K.RECIPIENT, "no recipient was accepted; each is listed with the reason"),
    "401": CodeInfo(_K.CONTENT, "the message content is empty"),
    "411": CodeInfo(_K.INPUT, "no phone number was given", job_wide=False),
    "412": CodeInfo(_K.RECIPIENT, "a phone number is malformed"),
    "413": CodeInfo(
        _K.INPUT, "the request lists the same phone number more than once", job_wide=False
    ),
    "421": CodeInfo(
        _K.SIGNATURE, "the signature parameters are missing or malformed (smsUser, signature)"
    ),
    "422": CodeInfo(_K.SIGNATURE, "the signature does not match (wrong smsKey or sign type)"),
    "431": CodeInfo(_K.CONTENT, "the template does not exist"),
    "432": CodeInfo(_K.CONTENT, "the template was not submitted for review or was not approved"),
    "433": CodeInfo(_K.INPUT, "the template id is missing"),
    "441": CodeInfo(
        _K.INPUT, "the template variables (vars) are not valid JSON of the right shape"
    ),
    "451": CodeInfo(_K.INPUT, "the scheduled sending time is malformed"),
    "452": CodeInfo(_K.INPUT, "the scheduled sending time is already past on the server"),
    "461": CodeInfo(
        _K.CLOCK, "the timestamp is outside the server's window (the clocks differ too much)"
    ),
    "471": CodeInfo(_K.AUTHENTICATION, "the smsUser does not exist"),
    "472": CodeInfo(_K.AUTHENTICATION, "the smsUser is missing"),
    "473": CodeInfo(
        _K.AUTHENTICATION, "the account has no permission to send (free accounts cannot send SMS)"
    ),
    "474": CodeInfo(_K.AUTHENTICATION, "the user does not exist"),
    "481": CodeInfo(_K.INPUT, "the recipients and variables (tos) are missing", job_wide=False),
    "482": CodeInfo(_K.INPUT, "the recipients and variables (tos) are malformed", job_wide=False),
    "483": CodeInfo(_K.CONTENT, "a variable value is longer than the provider allows"),
    "496": CodeInfo(
        _K.RATE_LIMIT,
        "too many messages were sent to this number within a minute (per-number limit)",
        retryable=True,
    ),
    "497": CodeInfo(
        _K.RATE_LIMIT,
        "too many messages were sent to this number within five minutes (per-number limit)",
        retryable=True,
    ),
    "498": CodeInfo(
        _K.RATE_LIMIT,
        "too many messages were sent to this number today (per-number daily limit); "
        "it can receive again tomorrow",
    ),
    "499": CodeInfo(_K.BALANCE, "the account's balance or quota is used up"),
    "501": CodeInfo(_K.SERVER, "the provider had an internal error", retryable=True),
}
"""Every code crowdsms knows, with an English explanation."""

_AMBIGUOUS: Final = frozenset({"501"})
"""Codes after which the provider may have acted anyway (an internal error mid-send)."""


def explain(code: int | str) -> str:
    """The English explanation of ``code``, or a note that crowdsms does not know it."""
    return explain_code(CODES, code, provider=_PROVIDER)


def error_for_code(
    *,
    code: int | str,
    message: str,
    operation: str,
    certainty: DeliveryCertainty | None = None,
) -> ProviderError:
    """The typed error for a request-level code (unknown codes included).

    ``certainty`` defaults to ``NOT_SENT`` (the provider refused the request), except for an
    internal error (501, and any other code of the 5xx family crowdsms does not know), after
    which it may have sent part of it: ``UNKNOWN``.
    """
    text = str(code)
    if certainty is None:
        server = len(text) == 3 and text.startswith("5") and text.isdigit()
        ambiguous = text in _AMBIGUOUS or (server and text not in CODES)
        certainty = DeliveryCertainty.UNKNOWN if ambiguous else DeliveryCertainty.NOT_SENT
    return _error_for_code(
        provider=_PROVIDER,
        code=text,
        message=message,
        table=CODES,
        operation=operation,
        certainty=certainty,
    )
