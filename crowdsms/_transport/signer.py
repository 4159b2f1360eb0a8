"""The interface between the transport's attempt loop and one provider's rules.

The transport knows no provider. Once per attempt it asks the provider's
signer to turn the logical request into the final one, using the skew-corrected time, so
every retry carries a fresh timestamp and signature. After each answer it asks the signer
whether the provider rejected the attempt before processing it for a reason a retry can fix:
a timestamp out of the window (re-measure the clock, re-sign, retry once) or a credential
that expired (refresh it, re-sign, retry once).
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from crowdsms._transport.request import ApiRequest, ApiResponse
from crowdsms.errors import RequestError

__all__ = ["NoSigning", "Rejection", "RejectionKind", "Signer"]


class RejectionKind(enum.Enum):
    """Why a provider refused an attempt before processing it."""

    CLOCK = "clock"
    """The timestamp was outside the provider's window: correct the clock and retry once."""

    CREDENTIALS = "credentials"
    """A cached credential (a token) was refused: refresh it and retry once."""


@attrs.frozen
class Rejection:
    """A refusal the transport can repair; ``error`` is raised if the repair does not help."""

    kind: RejectionKind
    error: RequestError


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
