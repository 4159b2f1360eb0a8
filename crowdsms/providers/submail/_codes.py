"""SUBMAIL's error codes: what each means in English, its family, and whether to retry.

The codes and their meanings follow SUBMAIL's published table ("API 错误代码"), grouped by
what the caller has to fix: credentials, signature, clock, recipient, content, input, rate
or balance. A code crowdsms does not know becomes a plain
:class:`~crowdsms.errors.ProviderError` that says so, with the provider's own message.

``retryable`` says whether sending the same thing again later can succeed without changing
anything: a per-number rate limit, a template under review, a daily quota, a timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from crowdsms._codes import CodeInfo, CodeKind, explain_code
from crowdsms._codes import error_for_code as shared_error_for_code
from crowdsms.errors import ProviderError

__all__ = ["CLOCK_CODES", "CODES", "code_info", "error_for_code", "explain"]

_AUTH = CodeKind.AUTHENTICATION
_SIGNATURE = CodeKind.SIGNATURE
_CLOCK = CodeKind.CLOCK
_INPUT = CodeKind.INPUT
_RECIPIENT = CodeKind.RECIPIENT
_CONTENT = CodeKind.CONTENT
_RATE = CodeKind.RATE_LIMIT
_BALANCE = CodeKind.BALANCE

_SIGNATURE_RULE = (
    "the SMS signature must come first in the content, in full-width brackets 【】, with "
    "2 to 10 characters inside"
)

_TABLE: dict[str, CodeInfo] = {
    # Application and account.
    "101": CodeInfo(_AUTH, "the app id (appid) is not correct"),
    "102": CodeInfo(
        _AUTH, "this app is disabled; enable it on the app page of the SUBMAIL console"
    ),
    "103": CodeInfo(_AUTH, "the developer identity of this app has not been verified"),
    "104": CodeInfo(
        _AUTH, "the developer is not verified or the developer profile changed; update it"
    ),
    "105": CodeInfo(_AUTH, "the SUBMAIL account has expired"),
    "106": CodeInfo(_AUTH, "the SUBMAIL account is disabled"),
    "107": CodeInfo(_SIGNATURE, "sign_type must be md5, sha1 or normal"),
    "108": CodeInfo(
        _SIGNATURE,
        "the signature is not valid (wrong app key, or parameters changed after signing)",
    ),
    "109": CodeInfo(_AUTH, "the app key (appkey) is not valid"),
    "110": CodeInfo(_SIGNATURE, "sign_type is wrong"),
    "111": CodeInfo(_SIGNATURE, "the signature parameter is empty"),
    "113": CodeInfo(
        _AUTH, "this app has an IP allow-list and the request came from an address not on it"
    ),
    "114": CodeInfo(_RECIPIENT, "the number is on the account's blocklist"),
    "115": CodeInfo(_RATE, "too many requests for this number; try it again later", retryable=True),
    "116": CodeInfo(_CONTENT, "this SMS signature is reserved as another app's fixed signature"),
    "117": CodeInfo(
        _CONTENT,
        "the template is no longer valid: its SMS signature differs from the fixed signature, "
        "or the account's fixed signature was cancelled; contact SUBMAIL",
    ),
    "118": CodeInfo(_CONTENT, "the template is no longer valid; contact SUBMAIL"),
    "119": CodeInfo(_AUTH, "this account may not use this API; contact SUBMAIL"),
    "120": CodeInfo(_CONTENT, "the template is no longer valid"),
    # Timestamp (the allowed difference from SUBMAIL's clock is 6 seconds).
    "151": CodeInfo(_CLOCK, "the UNIX timestamp is not valid", retryable=True),
    "152": CodeInfo(
        _CLOCK,
        "the UNIX timestamp is more than 6 seconds away from SUBMAIL's clock",
        retryable=True,
    ),
    # Recipients.
    "251": CodeInfo(_RECIPIENT, "the recipient's phone number is not valid"),
    "252": CodeInfo(
        _RECIPIENT,
        "the recipient's phone number is not valid (or the address book used has no contacts)",
    ),
    "253": CodeInfo(_RECIPIENT, "this contact has unsubscribed from your messages"),
    # Parameters: 305-307 are malformed parameters.
    "305": CodeInfo(_INPUT, "a required project (template) id is missing or malformed"),
    "306": CodeInfo(_INPUT, "the project (template) id is not valid"),
    "307": CodeInfo(_INPUT, "a JSON parameter (multi, vars or links) is not valid JSON"),
    "310": CodeInfo(_INPUT, "tag must be at most 32 characters"),
    # Content, SMS signature and templates (401-422).
    "401": CodeInfo(_CONTENT, "the SMS signature is empty; " + _SIGNATURE_RULE),
    "402": CodeInfo(_CONTENT, "the SMS signature is too long; " + _SIGNATURE_RULE),
    "403": CodeInfo(_CONTENT, "the message content is empty"),
    "404": CodeInfo(
        _CONTENT, "the content, SMS signature included, is longer than 1000 characters"
    ),
    "405": CodeInfo(
        _CONTENT,
        "the content contains a word or phrase that local law does not allow in SMS "
        "(SUBMAIL's message names it)",
    ),
    "406": CodeInfo(_INPUT, "the project (template) id is empty"),
    "407": CodeInfo(_INPUT, "the project (template) id is not valid"),
    "408": CodeInfo(
        _CONTENT,
        "an identical message was already sent to this contact; SUBMAIL refuses repeats "
        "(change the content, or do not send it twice)",
        job_wide=False,  # about one contact, not the job
    ),
    "409": CodeInfo(
        _CONTENT,
        "the message's template is still under review; try again later",
        retryable=True,
    ),
    "410": CodeInfo(_INPUT, "the multi parameter is not valid (empty or malformed)"),
    "411": CodeInfo(_CONTENT, "the SMS signature is missing or malformed; " + _SIGNATURE_RULE),
    "412": CodeInfo(_CONTENT, "the SMS signature is longer than 10 characters"),
    "413": CodeInfo(_CONTENT, "the SMS signature must have 2 to 10 characters"),
    "414": CodeInfo(_CONTENT, "the message content is missing"),
    "415": CodeInfo(_CONTENT, "the message content is longer than 1000 characters"),
    "416": CodeInfo(_CONTENT, "the SMS title is longer than 64 characters"),
    "417": CodeInfo(_INPUT, "the id of the template to update is missing"),
    "418": CodeInfo(_INPUT, "the template to update does not exist"),
    "419": CodeInfo(_CONTENT, "the message content is empty"),
    "420": CodeInfo(
        _CONTENT,
        "no approved template matches the content; SUBMAIL submitted it for manual review "
        "or the review refused it (see the template in the SUBMAIL console)",
    ),
    "421": CodeInfo(
        _CONTENT,
        "a content, SMS-signature or template problem (this code is not in SUBMAIL's "
        "public table; its message says more)",
    ),
    "422": CodeInfo(_CONTENT, "the template, SMS signature included, is over 255 characters"),
    # Quota and balance.
    "901": CodeInfo(
        _BALANCE,
        "the app's daily sending quota is used up; raise it in the SUBMAIL console or send "
        "tomorrow",
        retryable=True,
    ),
    "903": CodeInfo(_BALANCE, "the account's SMS credits are used up or too few for this request"),
    "904": CodeInfo(_BALANCE, "the account's money balance is used up or too low for this request"),
    "905": CodeInfo(
        _BALANCE, "the account's transactional SMS credits are too few for this request"
    ),
}

CODES: Final[Mapping[str, CodeInfo]] = MappingProxyType(_TABLE)
"""Every SUBMAIL code crowdsms knows, keyed by the code as a string."""

CLOCK_CODES: Final = frozenset(code for code, info in _TABLE.items() if info.kind is _CLOCK)
"""The codes that reject a request's timestamp (151, 152)."""

_TITLE: Final = "SUBMAIL"
_UNKNOWN: Final = CodeInfo(CodeKind.OTHER, "a SUBMAIL code crowdsms does not know")


def explain(code: str | int) -> str:
    """What SUBMAIL's ``code`` means, in English (or that crowdsms does not know it)."""
    return explain_code(CODES, code, provider=_TITLE)


def code_info(code: str) -> CodeInfo:
    """The :class:`~crowdsms._codes.CodeInfo` for ``code``, or a generic one if unknown."""
    return CODES.get(code, _UNKNOWN)


def error_for_code(*, code: str, message: str, operation: str) -> ProviderError:
    """The typed error for a request-level SUBMAIL ``code`` with SUBMAIL's ``message``."""
    return shared_error_for_code(
        provider="submail", code=code, message=message, table=CODES, operation=operation
    )
