"""Provider code tables: each documented code, what it means in English, and its error class."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    DeliveryCertainty,
    ProviderError,
    SignatureError,
)

__all__ = ["CodeInfo", "CodeKind", "error_for_code", "explain_code"]


class CodeKind(enum.Enum):
    """The family a provider code belongs to; decides the error class and the advice."""

    AUTHENTICATION = "authentication"
    SIGNATURE = "signature"
    CLOCK = "clock"
    INPUT = "input"
    RECIPIENT = "recipient"
    CONTENT = "content"
    RATE_LIMIT = "rate_limit"
    BALANCE = "balance"
    SERVER = "server"
    OTHER = "other"


_ERROR_CLASS: Mapping[CodeKind, type[ProviderError]] = {
    CodeKind.AUTHENTICATION: AuthenticationError,
    CodeKind.SIGNATURE: SignatureError,
    CodeKind.CLOCK: ClockSkewError,
}

_ADVICE: Mapping[CodeKind, str] = {
    CodeKind.AUTHENTICATION: "Check the credentials and that the account is enabled",
    CodeKind.SIGNATURE: "Check the key and the sign type configured for the client",
    CodeKind.CLOCK: "Check the machine's clock (NTP); crowdsms already tried correcting it",
    CodeKind.INPUT: "Fix the request's parameters as the explanation says",
    CodeKind.RECIPIENT: "Fix or remove this recipient",
    CodeKind.CONTENT: "Fix the message content or its SMS signature as the explanation says",
    CodeKind.RATE_LIMIT: "Send more slowly and try again later",
    CodeKind.BALANCE: "Top up the account or raise its quota, then send again",
    CodeKind.SERVER: "The provider had a problem; try again later",
    CodeKind.OTHER: "See the provider's documentation for this code",
}


_UNKNOWN = DeliveryCertainty.UNKNOWN
_MAY_HAVE_SENT = "; it may have been sent: check its delivery reports before sending it again"

_JOB_WIDE: Mapping[CodeKind, bool] = {
    CodeKind.AUTHENTICATION: True,
    CodeKind.SIGNATURE: True,
    CodeKind.BALANCE: True,
    CodeKind.CONTENT: True,
    CodeKind.INPUT: True,
}
"""Families whose request-level refusals would refuse every request of a job alike."""


@attrs.frozen
class CodeInfo:
    """One documented provider code.

    ``job_wide`` says whether a request refused with it means every request of a batch job
    would be refused alike (the batch sender then stops); ``None`` decides by ``kind``:
    credentials, signature, balance, content and input refusals are, the others are not.
    """

    kind: CodeKind
    explanation: str
    retryable: bool = False
    job_wide: bool | None = None

    @property
    def stops_a_job(self) -> bool:
        """Whether a request-level refusal with this code stops a batch job."""
        return self.job_wide if self.job_wide is not None else _JOB_WIDE.get(self.kind, False)


def error_for_code(
    *,
    provider: str,
    code: str,
    message: str,
    table: Mapping[str, CodeInfo],
    operation: str,
    certainty: DeliveryCertainty = DeliveryCertainty.NOT_SENT,
) -> ProviderError:
    """The typed error for a provider's request-level code (unknown codes included)."""
    info = table.get(code) or CodeInfo(CodeKind.OTHER, "a code crowdsms does not know")
    cls = _ERROR_CLASS.get(info.kind, ProviderError)
    return cls(
        provider=provider,
        code=code,
        provider_message=message,
        explanation=info.explanation,
        operation=operation,
        certainty=certainty,
        action=_ADVICE[info.kind] + (_MAY_HAVE_SENT if certainty is _UNKNOWN else ""),
        retryable=info.retryable,
        job_wide=info.stops_a_job,
    )


def explain_code(table: Mapping[str, CodeInfo], code: str | int, *, provider: str) -> str:
    """The English explanation of ``code`` in ``table``, or a note that it is not known."""
    info = table.get(str(code))
    if info is None:
        return f"{provider} code {code} is not in crowdsms's table of known codes"
    return info.explanation
