"""The interface between the transport's attempt loop and one provider's rules.

The transport knows no provider. Once per attempt it asks the provider's
signer to turn the logical request into the final one, using the skew-corrected time, so
every retry carries a fresh timestamp and signature. After each answer it asks the signer
whether the provider rejected the attempt before processing it for a reason a retry can fix:
a timestamp out of the window (re-measure the clock, re-sign, retry once) or a credential
that expired (refresh it, re-sign, retry once).

A signer that caches credentials may also want to know *which* attempt was refused (another
call may have replaced the credential since that attempt was signed): it implements
:class:`RejectionAwareSigner`, and the transport hands it the rejection, with the refused
signed request attached, instead of calling :meth:`Signer.refresh_credentials`.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

import attrs

from crowdsms._transport.request import ApiRequest, ApiResponse
from crowdsms.errors import RequestError

__all__ = ["NoSigning", "Rejection", "RejectionAwareSigner", "RejectionKind", "Signer"]


class RejectionKind(enum.Enum):
    """Why a provider refused an attempt before processing it."""

    CLOCK = "clock"
    """The timestamp was outside the provider's window: correct the clock and retry once."""

    CREDENTIALS = "credentials"
    """A cached credential (a token) was refused: refresh it and retry once."""


@attrs.frozen
class Rejection:
    """A refusal the transport can repair; ``error`` is raised if the repair does not help.

    ``request`` is the signed request the provider refused. Signers leave it out (they see
    only the answer); the transport fills it in before it asks a
    :class:`RejectionAwareSigner` to repair the rejection.
    """

    kind: RejectionKind
    error: RequestError
    request: ApiRequest | None = None


class Signer(Protocol):
    """One provider's signing and rejection rules, as the attempt loop uses them."""

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Return ``request`` with its authentication added, for the provider time ``now``."""
        ...

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """Return a :class:`Rejection` if the answer refuses the attempt for clock or token."""
        ...

    async def refresh_credentials(self) -> None:
        """Drop cached credentials so the next :meth:`sign` fetches fresh ones."""
        ...

    def server_time_request(self) -> ApiRequest | None:
        """The request that reads the provider's clock, or ``None`` if it has none."""
        ...

    def parse_server_time(self, response: ApiResponse) -> float:
        """The provider's Unix time in seconds from the answer to :meth:`server_time_request`."""
        ...


@runtime_checkable
class RejectionAwareSigner(Signer, Protocol):
    """A :class:`Signer` that repairs a credential rejection knowing which attempt it refused.

    Optional: when the signer has :meth:`refresh_rejected_credentials`, the transport calls
    it for a ``CREDENTIALS`` rejection instead of :meth:`Signer.refresh_credentials`, so the
    signer can tell a refusal of its current credential from a refusal of one that another
    call has already replaced. Signers without it keep working unchanged.
    """

    async def refresh_rejected_credentials(self, rejection: Rejection) -> None:
        """Drop the credential ``rejection.request`` was signed with, if it is still cached."""
        ...


class NoSigning:
    """A signer for unauthenticated calls: adds nothing, detects nothing."""

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Return ``request`` unchanged."""
        return request

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """Never detects a rejection."""
        return None

    async def refresh_credentials(self) -> None:
        """Nothing to refresh."""

    def server_time_request(self) -> ApiRequest | None:
        """No timestamp endpoint."""
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        """Never called, since there is no timestamp endpoint."""
        raise NotImplementedError("NoSigning has no timestamp endpoint")
