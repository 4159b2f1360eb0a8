"""Why a pushed webhook request was refused: forged, replayed or malformed.

Each error knows the HTTP status :class:`~crowdsms.webhooks.WebhookApp` answers it with, so a
framework of your own can answer the same way (``error.status_code``).
"""

from __future__ import annotations

from crowdsms.errors import CrowdSMSError

__all__ = [
    "WebhookError",
    "WebhookFormatError",
    "WebhookReplayError",
    "WebhookSignatureError",
]


class WebhookError(CrowdSMSError):
    """A pushed request was refused; ``status_code`` is the HTTP status to answer with."""

    default_status_code = 400

    def __init__(
        self,
        what: str,
        *,
        provider: str,
        received: str | None = None,
        action: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.provider = provider
        self.status_code = self.default_status_code if status_code is None else status_code
        super().__init__(f"{provider} webhook: {what}", received=received, action=action)


class WebhookFormatError(WebhookError, ValueError):
    """The body is not what the provider pushes: not JSON or form fields, or fields missing.

    Answered with HTTP 400: the provider sent (or someone forged) a body this receiver cannot
    read, so nothing was handled.
    """


class WebhookSignatureError(WebhookError):
    """The push's signature does not match the key: it is forged, or the key is wrong.

    Answered with HTTP 403; the handler is never called for it.
    """

    default_status_code = 403


class WebhookReplayError(WebhookError):
    """A correctly signed push that must not be handled again.

    Either its timestamp is outside the accepted window (too old, or too far in the future:
    HTTP 403), or a push with the same signature was received recently (an exact replay,
    or the provider sending the same push twice: HTTP 409). ``duplicate`` says which.
    """

    default_status_code = 403

    def __init__(
        self,
        what: str,
        *,
        provider: str,
        duplicate: bool,
        received: str | None = None,
        action: str | None = None,
    ) -> None:
        self.duplicate = duplicate
        super().__init__(
            what,
            provider=provider,
            received=received,
            action=action,
            status_code=409 if duplicate else 403,
        )
