"""The one error hierarchy of crowdsms.

Every error derives from :class:`CrowdSMSError` and its message says three things: what
went wrong, what was received (a short excerpt, never a secret), and what to do about it.

Errors raised for a request also carry a :class:`DeliveryCertainty`: ``NOT_SENT`` when the
provider provably did not act on the request (it is safe to send it again) and ``UNKNOWN``
when the provider may have acted (sending it again may deliver a second message and charge
twice).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "ClockSkewError",
    "ConfigurationError",
    "ConnectionFailedError",
    "CrowdSMSError",
    "DeadlineExceededError",
    "DeliveryCertainty",
    "HTTPStatusError",
    "InvalidInputError",
    "ProviderError",
    "RateLimitedError",
    "RequestError",
    "RequestTimeoutError",
    "ResponseParseError",
    "SignatureError",
    "excerpt",
    "mask_error_chain",
]

_EXCERPT_LIMIT = 200


class DeliveryCertainty(enum.Enum):
    """Whether a failed request may have been acted on by the provider."""

    NOT_SENT = "not_sent"
    """The provider provably did not process the request: sending it again is safe."""

    UNKNOWN = "unknown"
    """The provider may have processed the request: sending it again may send twice."""


_ERROR_TEXTS = ("what", "received", "action", "provider_message")

_ANSWERED = {
    DeliveryCertainty.NOT_SENT: "refused the request",
    DeliveryCertainty.UNKNOWN: "answered, perhaps after acting on the request,",
}
"""How a provider's error answer reads, by whether it may have acted on the request."""


def mask_error_chain(error: BaseException, mask: Callable[[str], str]) -> None:
    """Apply ``mask`` to the texts of ``error`` and of every exception chained to it (its
    cause and context, which a logged traceback shows), in place.

    For a provider whose secret may come back in a body an error quotes (a proxy's page
    echoing the request, say): the error's own texts, and its arguments.
    """
    seen: set[int] = set()
    waiting: list[BaseException] = [error]
    while waiting:
        current = waiting.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, CrowdSMSError):
            for name in _ERROR_TEXTS:
                value = getattr(current, name, None)
                if isinstance(value, str):
                    setattr(current, name, mask(value))
        with contextlib.suppress(AttributeError, TypeError):  # a class refusing new args
            current.args = tuple(mask(a) if isinstance(a, str) else a for a in current.args)
        waiting.extend(link for link in (current.__cause__, current.__context__) if link)


def excerpt(data: bytes | str | None, limit: int = _EXCERPT_LIMIT) -> str:
    """Return a short, printable excerpt of a response body for an error message."""
    if data is None:
        return "<nothing>"
    if isinstance(data, bytes):
        if not data:
            return "<empty body>"
        text = data[: limit * 4].decode("utf-8", errors="replace")
    else:
        if not data:
            return "<empty body>"
        text = data
    text = " ".join(text.split())
    if len(text) > limit:
        return repr(text[:limit]) + f" ... ({len(data)} bytes in all)"
    return repr(text)


_OWN_ENDINGS = ("!", "?", "\u3002", "\uff01", "\uff1f")  # ! ? and the Chinese 。！？


def _sentence(text: str) -> str:
    """``text`` ended by one full stop: never "..", and no "." after its own "!" or "?"."""
    text = text.rstrip()
    if text.endswith(_OWN_ENDINGS):
        return text
    return text.rstrip(".").rstrip() + "."


def _compose(what: str, received: str | None, action: str | None) -> str:
    parts = [_sentence(what)]
    if received:
        parts.append(_sentence(f"Received: {received}"))
    if action:
        parts.append(_sentence(action))
    return " ".join(parts)


class CrowdSMSError(Exception):
    """Base class of every error raised by crowdsms."""

    def __init__(
        self, what: str, *, received: str | None = None, action: str | None = None
    ) -> None:
        self.what = what
        self.received = received
        self.action = action
        super().__init__(_compose(what, received, action))

    def __reduce__(self) -> tuple[Callable[..., CrowdSMSError], tuple[object, ...]]:
        # The default, cls(*args), cannot pass the keyword-only arguments of the subclasses:
        # rebuild from the message and the attributes, so that errors survive pickling (a
        # batch job's process pool) and copy.copy.
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(
    cls: type[CrowdSMSError], args: tuple[object, ...], state: dict[str, object]
) -> CrowdSMSError:
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class ConfigurationError(CrowdSMSError, ValueError):
    """A client was set up wrongly: missing or malformed credentials, a bad base URL."""


class InvalidInputError(CrowdSMSError, ValueError):
    """An argument was refused before any request was made.

    ``field`` names the argument (``"recipients[3].phone"``) and ``position`` the index of
    the offending item where there is one, so a caller can point at the bad row.
    """

    def __init__(
        self,
        what: str,
        *,
        field: str,
        position: int | None = None,
        received: str | None = None,
        action: str | None = None,
    ) -> None:
        self.field = field
        self.position = position
        super().__init__(f"{field}: {what}", received=received, action=action)


class RequestError(CrowdSMSError):
    """A request to a provider failed. ``certainty`` says whether it may have been acted on."""

    def __init__(
        self,
        what: str,
        *,
        certainty: DeliveryCertainty,
        operation: str = "",
        received: str | None = None,
        action: str | None = None,
    ) -> None:
        self.certainty = certainty
        self.operation = operation
        self.attempts = 1
        prefix = f"{operation}: " if operation else ""
        if action is None:
            action = _default_action(certainty)
        super().__init__(prefix + what, received=received, action=action)


def _default_action(certainty: DeliveryCertainty) -> str:
    if certainty is DeliveryCertainty.NOT_SENT:
        return "The provider did not act on the request; it is safe to send it again later"
    return (
        "The provider may have acted on the request; check its delivery reports before "
        "sending again, or the recipients may get the message twice"
    )


class ConnectionFailedError(RequestError):
    """The connection could not be made, or broke before an answer arrived."""


class RequestTimeoutError(RequestError):
    """One attempt timed out (connect, write, read or waiting for a free connection)."""


class DeadlineExceededError(RequestError):
    """The total time allowed for a call, across all its attempts, ran out."""


class HTTPStatusError(RequestError):
    """The provider answered with an HTTP status that is not a usable answer."""

    def __init__(
        self,
        what: str,
        *,
        status_code: int,
        certainty: DeliveryCertainty,
        operation: str = "",
        received: str | None = None,
        action: str | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(
            what, certainty=certainty, operation=operation, received=received, action=action
        )


class RateLimitedError(HTTPStatusError):
    """The provider asked us to slow down (HTTP 429). ``retry_after`` is in seconds, if given."""

    def __init__(
        self,
        what: str,
        *,
        status_code: int,
        retry_after: float | None,
        operation: str = "",
        received: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            what,
            status_code=status_code,
            certainty=DeliveryCertainty.NOT_SENT,
            operation=operation,
            received=received,
            action="Send more slowly (lower the concurrency or the rate) and try again later",
        )


class ProviderError(RequestError):
    """The provider answered and refused the request with one of its own codes.

    ``code`` is the provider's code as a string, ``provider_message`` its own words (often
    Chinese), and ``explanation`` an English explanation from crowdsms's code table.
    ``job_wide`` says whether every request of a batch job would be refused the same way
    (credentials, signature, balance, a content or setting of the whole job): the batch
    sender stops after the first such refusal.
    """

    job_wide_by_default: ClassVar[bool] = False

    def __init__(
        self,
        *,
        provider: str,
        code: str,
        provider_message: str,
        explanation: str,
        operation: str = "",
        certainty: DeliveryCertainty = DeliveryCertainty.NOT_SENT,
        action: str | None = None,
        retryable: bool = False,
        job_wide: bool | None = None,
    ) -> None:
        self.provider = provider
        self.code = code
        self.provider_message = provider_message
        self.explanation = explanation
        self.retryable = retryable
        self.job_wide = type(self).job_wide_by_default if job_wide is None else job_wide
        super().__init__(
            f"{provider} {_ANSWERED[certainty]} with code {code}: {explanation}",
            certainty=certainty,
            operation=operation,
            received=repr(provider_message),
            action=action,
        )


class AuthenticationError(ProviderError):
    """The credentials were refused: wrong app id, key, secret or token, or a disabled account."""

    job_wide_by_default = True


class SignatureError(ProviderError):
    """The provider rejected the request's signature."""

    job_wide_by_default = True


class ClockSkewError(ProviderError):
    """The provider rejected the request's timestamp, even after correcting the clock."""


class ResponseParseError(RequestError):
    """The provider's answer could not be understood (not JSON, wrong shape, too large).

    The request reached the provider, so its certainty is ``UNKNOWN`` for sends.
    """
