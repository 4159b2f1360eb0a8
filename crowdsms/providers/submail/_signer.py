"""SUBMAIL's rules for the transport: sign each attempt, spot timestamp rejections."""

from __future__ import annotations

import math

from crowdsms._parsing import decode_json
from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, Rejection, RejectionKind
from crowdsms.errors import ResponseParseError
from crowdsms.providers.submail._codes import CLOCK_CODES
from crowdsms.providers.submail._converter import error_if_error_object, parse_timestamp
from crowdsms.providers.submail._requests import timestamp_request
from crowdsms.providers.submail._signing import (
    SIGN_VERSION,
    SignType,
    api_name,
    compute_signature,
)

__all__ = ["SubmailSigner"]

_MIN_MASKED = 8
"""A shorter key is not masked in texts: it would hide ordinary words (no real key is)."""
# Cheap pre-check: a clock rejection's body contains its code.
_CLOCK_MARKERS = tuple(code.encode() for code in sorted(CLOCK_CODES))


class SubmailSigner:
    """Adds ``appid``, ``timestamp``, ``sign_type``, ``sign_version`` and ``signature``.

    The timestamp is the provider's time as the client's skew-corrected clock knows it,
    in whole seconds. With ``sign_type="normal"`` the app key itself is the signature
    and no timestamp is sent.
    """

    def __init__(
        self,
        *,
        app_id: str,
        app_key: Secret,
        sign_type: SignType,
    ) -> None:
        self._app_id = app_id
        self._app_key = app_key
        self._sign_type: SignType = sign_type

    def __repr__(self) -> str:
        return f"<SubmailSigner app_id={self._app_id!r} sign_type={self._sign_type!r}>"

    def mask(self, text: str) -> str:
        """``text`` with the app key masked: with ``sign_type="normal"`` it is the request's
        signature, which a proxy's or gateway's error page may quote back."""
        key = self._app_key.reveal()
        if len(key) < _MIN_MASKED or key not in text:
            return text
        return text.replace(key, "********")

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Return ``request`` with its SUBMAIL authentication fields, for provider time ``now``."""
        if not request.authenticate:
            return request
        fields = {
            key: value
            for key, value in request.fields.items()
            if key not in ("signature", "timestamp")
        }
        fields["appid"] = self._app_id
        fields["sign_type"] = self._sign_type
        fields["sign_version"] = SIGN_VERSION
        if self._sign_type != "normal":
            fields["timestamp"] = str(math.floor(now))
        fields["signature"] = compute_signature(
            sign_type=self._sign_type,
            app_id=self._app_id,
            app_key=self._app_key.reveal(),
            fields=fields,
            api=api_name(request.path),
        )
        return request.replace_fields(fields)

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """A CLOCK rejection for an answer ``{"status": "error", "code": 151 or 152}``."""
        content = response.content
        if not content.lstrip().startswith(b"{"):
            return None  # a list of per-recipient results is never a rejection
        if not any(marker in content for marker in _CLOCK_MARKERS):
            return None
        try:
            value = decode_json(response)
            error = error_if_error_object(value, response)
        except ResponseParseError:
            return None  # the endpoint reports the malformed answer itself
        if error is None or error.code not in CLOCK_CODES:
            return None
        return Rejection(kind=RejectionKind.CLOCK, error=error)

    async def refresh_credentials(self) -> None:
        """Nothing to refresh: SUBMAIL's app key does not expire."""

    def server_time_request(self) -> ApiRequest:
        """The unsigned, idempotent ``GET /service/timestamp.json``."""
        return timestamp_request()

    def parse_server_time(self, response: ApiResponse) -> float:
        """SUBMAIL's Unix time from the answer ``{"timestamp": N}``, in seconds."""
        return float(parse_timestamp(decode_json(response), response))
