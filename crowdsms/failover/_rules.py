"""Which failures may move to the next provider, and which stop using a provider.

Failing over is only ever safe for a message the provider provably did not send, and only
useful where another provider may accept it. The rules, in one place:

- A failure whose certainty is ``UNKNOWN`` (the request may have been processed: a read
  timeout, a connection lost while waiting, a 500) never fails over.
- A whole request that failed with certainty ``NOT_SENT`` without an answer of the provider's
  own (a refused connection, 503/429/408 after the client's retries, a connect or pool
  timeout, an exhausted retry budget) fails over.
- A whole request the provider refused with one of its codes (a
  :class:`~crowdsms.errors.ProviderError`, ``NOT_SENT``) fails over when the refusal is about
  this provider, not about the message's recipients: it is ``job_wide`` (credentials,
  signature, balance, the message or a setting as defined at this provider) or a clock
  refusal (:class:`~crowdsms.errors.ClockSkewError`). Any other refusal (a malformed or
  blocklisted number, a per-number limit, a code crowdsms does not know) does not.
- A recipient refused within an answer (a ``failed`` outcome) fails over when the provider's
  code table knows its code as one of an account or message family
  (:data:`PROVIDER_SIDE`: credentials, signature, clock, balance, server, content) and does
  not mark it ``job_wide=False`` (a refusal about one contact, such as "an identical message
  was already sent to this contact"). A refusal about the recipient (invalid, blocklisted
  or unsubscribed number, a per-number limit, its variables) or with a code the table does
  not know stays ``failed``: another provider would refuse it too, or should.
- Errors raised before any request (:class:`~crowdsms.errors.InvalidInputError`, a
  :class:`~crowdsms.errors.ConfigurationError`) never fail over: every provider would give
  them.

A provider stops being used for the rest of a job (its circuit opens) after a refusal that
every further request would meet too: a whole request refused ``job_wide``, or a recipient
refused with a credentials, signature or balance code (:data:`ACCOUNT_SIDE`).
"""

from __future__ import annotations

from collections.abc import Mapping

from crowdsms._codes import CodeInfo, CodeKind
from crowdsms.errors import (
    ClockSkewError,
    ConnectionFailedError,
    CrowdSMSError,
    DeadlineExceededError,
    DeliveryCertainty,
    HTTPStatusError,
    ProviderError,
    RateLimitedError,
    RequestError,
    RequestTimeoutError,
)
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = [
    "ACCOUNT_SIDE",
    "PROVIDER_SIDE",
    "error_fails_over",
    "error_opens_circuit",
    "refusal_fails_over",
    "refusal_opens_circuit",
]

PROVIDER_SIDE: frozenset[CodeKind] = frozenset(
    {
        CodeKind.AUTHENTICATION,
        CodeKind.SIGNATURE,
        CodeKind.CLOCK,
        CodeKind.BALANCE,
        CodeKind.SERVER,
        CodeKind.CONTENT,
    }
)
"""Code families about the provider's side (the account, its servers, the message as defined
there): a recipient refused with one of them may be sent by another provider."""

ACCOUNT_SIDE: frozenset[CodeKind] = frozenset(
    {CodeKind.AUTHENTICATION, CodeKind.SIGNATURE, CodeKind.BALANCE}
)
"""Code families that refuse every further request of the account: a recipient refused with
one of them opens the provider's circuit."""

_NOT_SENT_ERROR_NAMES: frozenset[str] = frozenset(
    cls.__name__
    for cls in (
        RequestError,
        ConnectionFailedError,
        RequestTimeoutError,
        DeadlineExceededError,
        HTTPStatusError,
        RateLimitedError,
    )
)
"""The codes :func:`~crowdsms.outcomes.outcomes_for_error` gives a transport failure."""


def error_fails_over(error: CrowdSMSError) -> bool:
    """Whether a request that raised ``error`` may be sent again by the next provider."""
    if not isinstance(error, RequestError):
        return False  # raised before any request: every provider would raise it
    if error.certainty is not DeliveryCertainty.NOT_SENT:
        return False  # it may have been sent: never again, by anyone
    if isinstance(error, ProviderError):
        return error.job_wide or isinstance(error, ClockSkewError)
    return True


def error_opens_circuit(error: CrowdSMSError) -> bool:
    """Whether ``error`` means the provider would refuse every further request of the job."""
    return (
        isinstance(error, ProviderError)
        and error.certainty is DeliveryCertainty.NOT_SENT
        and error.job_wide
    )


def _known(outcome: RecipientOutcome, codes: Mapping[str, CodeInfo]) -> CodeInfo | None:
    if outcome.status is not OutcomeStatus.FAILED or outcome.code is None:
        return None
    return codes.get(outcome.code)


def refusal_fails_over(outcome: RecipientOutcome, codes: Mapping[str, CodeInfo]) -> bool:
    """Whether a ``failed`` outcome in a provider's answer may go to the next provider.

    ``codes`` is that provider's code table. An outcome made from a whole request's
    ``NOT_SENT`` transport failure (code ``ConnectionFailedError``..., ``retryable``) fails
    over as the failure would; a refusal fails over when its code is of a
    :data:`PROVIDER_SIDE` family and not marked ``job_wide=False``.
    """
    if outcome.status is not OutcomeStatus.FAILED:
        return False
    if outcome.retryable and outcome.code in _NOT_SENT_ERROR_NAMES:
        return True
    info = _known(outcome, codes)
    return info is not None and info.kind in PROVIDER_SIDE and info.job_wide is not False


def refusal_opens_circuit(outcome: RecipientOutcome, codes: Mapping[str, CodeInfo]) -> bool:
    """Whether a recipient's refusal means the account refuses every further request."""
    info = _known(outcome, codes)
    return info is not None and info.kind in ACCOUNT_SIDE
