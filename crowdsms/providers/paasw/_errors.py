"""Errors particular to the paasw gateway (all derive from crowdsms's hierarchy)."""

from __future__ import annotations

from crowdsms.errors import CrowdSMSError, DeliveryCertainty, RequestError, ResponseParseError

__all__ = ["ReportFormatError", "ReportsParseError", "TokenFetchError"]


class TokenFetchError(RequestError):
    """No access token could be fetched, so the call that needed it was not sent.

    Raised when fetching the token failed for a reason other than refused credentials (a
    timeout, an outage, an answer crowdsms could not read). Its certainty is always
    ``NOT_SENT``: the call itself never left. A refused app id or secret raises
    :class:`~crowdsms.errors.AuthenticationError` instead.
    """

    def __init__(self, what: str, *, operation: str, received: str | None = None) -> None:
        super().__init__(
            f"could not get an access token from the gateway ({what.rstrip('.')})",
            certainty=DeliveryCertainty.NOT_SENT,
            operation=operation,
            received=received,
            action=(
                "Nothing was sent; try again later, and check the gateway's status and the "
                "client's base_url if it persists"
            ),
        )


class ReportFormatError(CrowdSMSError, ValueError):
    """Delivery reports or replies (pulled or pushed) do not have the documented shape."""


class ReportsParseError(ResponseParseError):
    """A pulled answer of reports or replies could not be understood.

    Pulling takes the reports off the gateway's queue, so they will not come again: the
    whole answer is kept in ``body`` (it holds phone numbers and message text, never
    credentials) for you to log or parse by hand.
    """

    def __init__(self, cause: ResponseParseError, *, body: bytes) -> None:
        self.body = body
        super().__init__(
            cause.what,  # already starts with the operation
            certainty=cause.certainty,
            received=cause.received,
            action=(
                "The gateway has already removed these reports from its queue; the full "
                "answer is in this error's `body` attribute: keep it, and report the format"
            ),
        )
        self.operation = cause.operation
        self.attempts = cause.attempts
