"""CrowdTask's failure codes: the HTTP statuses of its ``{"status": "error", ...}`` answers.

CrowdTask publishes no code list; the HTTP status is the only code it gives, so it is the
``code`` of the typed error and the ``reason`` its provider message. :data:`CODES` explains
the statuses CrowdTask is known or expected to answer with; :func:`explain` looks one up
and :func:`error_for_code` makes the typed error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crowdsms._codes import CodeInfo, CodeKind, explain_code
from crowdsms._codes import error_for_code as _error_for_code
from crowdsms.errors import DeliveryCertainty, ProviderError

__all__ = ["CODES", "PROVIDER_NAME", "PROVIDER_TITLE", "error_for_code", "explain"]

PROVIDER_NAME: Final = "crowdtask"
"""The provider's name in errors (``error.provider``) and in the provider registry."""
PROVIDER_TITLE: Final = "CrowdTask"
"""The provider's name in sentences."""

CODES: Final[Mapping[str, CodeInfo]] = {
    "400": CodeInfo(
        CodeKind.INPUT,
        "the request was refused as invalid (a missing parameter, a bad project id, or a "
        "CVS file the server could not read)",
    ),
    "401": CodeInfo(
        CodeKind.AUTHENTICATION,
        "the access id or the signature was refused (check the access id, the access "
        "secret key, and the localtime_unit and auth_location settings)",
    ),
    "403": CodeInfo(
        CodeKind.AUTHENTICATION,
        "the account may not do this (disabled, or the project belongs to another account)",
    ),
    "404": CodeInfo(
        CodeKind.INPUT,
        "the project or the endpoint does not exist (check project_id, and batch_path: the "
        "older documents use /task/batch, the later ones /api/task/batch)",
    ),
    "405": CodeInfo(CodeKind.INPUT, "the endpoint does not accept this HTTP method"),
    "409": CodeInfo(CodeKind.INPUT, "the request conflicts with the project's current state"),
    "413": CodeInfo(CodeKind.INPUT, "the uploaded CVS file is too large; upload fewer rows"),
    "415": CodeInfo(CodeKind.INPUT, "the server did not accept the upload's content type"),
    "422": CodeInfo(
        CodeKind.INPUT,
        "the CVS file does not match the project's task template (check the variable names)",
    ),
}
"""What each HTTP status of a CrowdTask error answer means, keyed by the status as a string."""


def explain(code: str | int) -> str:
    """The English explanation of the HTTP status ``code`` of a CrowdTask error answer.

    A status not in :data:`CODES` gets a sentence saying it is not known.
    """
    return explain_code(CODES, code, provider=PROVIDER_TITLE)


def error_for_code(
    *,
    code: int | str,
    message: str,
    operation: str,
    certainty: DeliveryCertainty = DeliveryCertainty.NOT_SENT,
) -> ProviderError:
    """The typed error for an error answer with HTTP status ``code`` and reason ``message``.

    401 and 403 give an :class:`~crowdsms.errors.AuthenticationError`, every other status a
    :class:`~crowdsms.errors.ProviderError` (unknown statuses included).
    """
    return _error_for_code(
        provider=PROVIDER_NAME,
        code=str(code),
        message=message,
        table=CODES,
        operation=operation,
        certainty=certainty,
    )
