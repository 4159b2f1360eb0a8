"""CrowdTask's :class:`~crowdsms._transport.Signer`: HMAC-MD5 per attempt, clock rejections."""

from __future__ import annotations

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, Rejection, RejectionKind
from crowdsms.errors import ClockSkewError, DeliveryCertainty
from crowdsms.providers.crowdtask._codes import PROVIDER_NAME
from crowdsms.providers.crowdtask._converter import error_reason
from crowdsms.providers.crowdtask._signing import (
    DEFAULT_AUTH_LOCATION,
    DEFAULT_LOCALTIME_UNIT,
    AuthLocation,
    LocalTimeUnit,
    compute_signature,
    format_localtime,
)

__all__ = ["CrowdTaskSigner", "is_clock_reason"]

_CLOCK_WORDS = ("localtime", "local time", "timestamp", "clock", "时间")


def is_clock_reason(reason: str) -> bool:
    """Whether an error ``reason`` blames the request's time (``localtime`` out of window).

    The rule: the reason mentions ``localtime``, ``local time``, ``timestamp`` or ``clock``
    (in any case) or ``时间`` ("time"). CrowdTask documents no error codes or wordings, so
    the rule is deliberately broad: a false match costs one re-signed retry of a request
    the server refused anyway, while a miss leaves a skewed clock uncorrected.
    """
    folded = reason.casefold()
    return any(word in folded for word in _CLOCK_WORDS)


class CrowdTaskSigner:
    """Adds ``accessid``, ``localtime`` and ``signature`` to each attempt.

    ``auth_location`` puts them in the form fields (beside ``projectid``) or in HTTP headers
    of the same names. ``path_prefix`` is the base URL's path, so the signed ``action_uri``
    is the path exactly as sent. CrowdTask has no timestamp endpoint: on a clock rejection
    the transport corrects the clock from the rejection's ``Date`` header.
    """

    def __init__(
        self,
        *,
        access_id: str,
        access_secret_key: Secret,
        localtime_unit: LocalTimeUnit = DEFAULT_LOCALTIME_UNIT,
        auth_location: AuthLocation = DEFAULT_AUTH_LOCATION,
        path_prefix: str = "",
    ) -> None:
        self.access_id = access_id
        self._secret = access_secret_key
        self.localtime_unit: LocalTimeUnit = localtime_unit
        self.auth_location: AuthLocation = auth_location
        self.path_prefix = path_prefix.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"<CrowdTaskSigner access_id={self.access_id!r} "
            f"localtime_unit={self.localtime_unit!r} auth_location={self.auth_location!r}>"
        )

    def action_uri(self, path: str) -> str:
        """The path a request for ``path`` (relative to the base URL) is sent to."""
        return self.path_prefix + "/" + path.lstrip("/")

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Return ``request`` with ``accessid``, ``localtime`` and ``signature`` for ``now``."""
        if not request.authenticate:
            return request
        localtime = format_localtime(now, self.localtime_unit)
        signature = compute_signature(
            secret=self._secret.reveal(),
            action_uri=self.action_uri(request.path),
            localtime=localtime,
        )
        values = {"accessid": self.access_id, "localtime": localtime, "signature": signature}
        if self.auth_location == "headers":
            return request.with_headers(values)
        return request.with_fields(values)

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """A CLOCK rejection for an error envelope whose reason blames the time.

        Any status below 500 counts (CrowdTask documents 4xx; a proxy or an older server may
        answer 200); see :func:`is_clock_reason` for the wording rule.
        """
        if response.status_code >= 500:
            return None
        reason = error_reason(response)
        if reason is None or not is_clock_reason(reason):
            return None
        return Rejection(
            RejectionKind.CLOCK,
            ClockSkewError(
                provider=PROVIDER_NAME,
                code=str(response.status_code),
                provider_message=reason,
                explanation=(
                    "the request's localtime was outside CrowdTask's window (5 minutes), "
                    "even after correcting the clock from the server's Date header"
                ),
                operation=response.operation,
                certainty=DeliveryCertainty.NOT_SENT,
                action=(
                    "Check this machine's clock (NTP), and the client's localtime_unit "
                    f"setting (now {self.localtime_unit!r}; the choices are 'unix_ms', "
                    "'unix_s' and 'ntp_s'): a wrong unit looks like a wrong clock"
                ),
            ),
        )

    async def refresh_credentials(self) -> None:
        """Nothing to refresh: CrowdTask signs every request with a fixed key."""

    def server_time_request(self) -> ApiRequest | None:
        """``None``: CrowdTask has no timestamp endpoint."""
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        """Never called, since there is no timestamp endpoint."""
        raise NotImplementedError("CrowdTask has no timestamp endpoint")
