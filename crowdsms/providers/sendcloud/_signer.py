"""The SendCloud signer the transport calls once per attempt (private)."""

from __future__ import annotations

from typing import Final

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, Rejection, RejectionKind
from crowdsms.providers.sendcloud._answers import parse_server_time, peek_status
from crowdsms.providers.sendcloud._codes import CLOCK_REJECTED, error_for_code
from crowdsms.providers.sendcloud._signing import DEFAULT_SIGN_TYPE, SignType, compute_signature
from crowdsms.providers.sendcloud._timestamp import server_time_request

__all__ = ["SendCloudSigner"]

_CLOCK_MARKER: Final = str(CLOCK_REJECTED).encode()


class SendCloudSigner:
    """Adds ``smsUser``, ``timestamp`` (milliseconds) and ``signature`` to each attempt.

    The timestamp comes from the transport's skew-corrected clock, so every retry is signed
    afresh. A ``461`` answer (timestamp rejected) is reported to the transport as a clock
    rejection: it re-measures the clock with ``timestamp/get`` and retries once.
    """

    def __init__(
        self, *, sms_user: str, sms_key: Secret, sign_type: SignType = DEFAULT_SIGN_TYPE
    ) -> None:
        self._sms_user = sms_user
        self._sms_key = sms_key
        self._sign_type: SignType = sign_type

    @property
    def sign_type(self) -> SignType:
        """The hash used for signatures (``md5`` or ``sha256``)."""
        return self._sign_type

    def __repr__(self) -> str:
        return f"SendCloudSigner(sms_user={self._sms_user!r}, sign_type={self._sign_type!r})"

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Return ``request`` with ``smsUser``, ``timestamp`` and ``signature`` added."""
        if not request.authenticate:
            return request
        fields = {
            **request.fields,
            "smsUser": self._sms_user,
            "timestamp": str(int(now * 1000)),
        }
        fields["signature"] = compute_signature(
            params=fields, sms_key=self._sms_key, sign_type=self._sign_type
        )
        return request.replace_fields(fields)

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """A clock rejection for ``statusCode`` 461; ``None`` for anything else."""
        if _CLOCK_MARKER not in response.content:  # cheap test before decoding JSON
            return None
        status = peek_status(response)
        if status is None or status[0] != CLOCK_REJECTED:
            return None
        error = error_for_code(code=CLOCK_REJECTED, message=status[1], operation=response.operation)
        return Rejection(kind=RejectionKind.CLOCK, error=error)

    async def refresh_credentials(self) -> None:
        """SendCloud has no cached credentials: nothing to refresh."""

    def server_time_request(self) -> ApiRequest:
        """The unsigned ``GET timestamp/get``."""
        return server_time_request()

    def parse_server_time(self, response: ApiResponse) -> float:
        """The provider's Unix time in seconds from ``info.timestamp`` (milliseconds)."""
        return parse_server_time(response).seconds
