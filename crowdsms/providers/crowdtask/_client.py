"""The async CrowdTask client."""

from __future__ import annotations

import re
from typing import ClassVar, Final

import httpx
from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.crowdtask._signer import CrowdTaskSigner
from crowdsms.providers.crowdtask._signing import (
    AUTH_LOCATIONS,
    LOCALTIME_UNITS,
    AuthLocation,
    LocalTimeUnit,
)
from crowdsms.providers.crowdtask._tasks import Tasks

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_BATCH_PATH", "AsyncCrowdTask"]

DEFAULT_BASE_URL: Final = "https://api.crowdtask.cn"
DEFAULT_BATCH_PATH: Final = "/task/batch"
DEFAULT_MAX_ROWS_PER_BATCH: Final = 100

# A path of RFC 3986 characters, without percent-escapes, query or fragment, so that the path
# signed is byte for byte the path sent.
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")


class AsyncCrowdTask(AsyncClientBase):
    """Async client for CrowdTask's API (``client.tasks``).

    ``access_id`` and ``access_secret_key`` are the account's key pair (the secret only
    signs requests and is never sent). Settings for what CrowdTask's documents leave open:

    - ``base_url``: ``https://api.crowdtask.cn`` by default (plain http needs
      ``allow_insecure_http=True``).
    - ``batch_path``: ``/task/batch`` (the seed's path); later documents use
      ``/api/task/batch``. The signature covers the path as sent, base URL path included.
    - ``localtime_unit``: ``"unix_ms"`` (milliseconds since 1970, which reproduces the
      provider's worked example), ``"unix_s"``, or ``"ntp_s"`` (seconds since 1900, as the
      seed's older wording says).
    - ``auth_location``: ``"fields"`` sends ``accessid``, ``localtime`` and ``signature``
      as multipart form fields beside ``projectid`` (as the seed lists them); ``"headers"``
      sends them as HTTP headers of the same names (as later documents do).
    - ``max_rows_per_batch``: the most rows per upload, 100 as documented. CrowdTask drops
      rows beyond its limit without an error, so raise it only if CrowdTask confirmed a
      higher limit for your account.

    ``**options`` are the settings every client takes (:class:`~crowdsms.ClientOptions`:
    timeout, retry policy, connections, clock offset...).
    """

    provider: ClassVar[str] = "crowdtask"

    def __init__(
        self,
        *,
        access_id: str,
        access_secret_key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        batch_path: str = DEFAULT_BATCH_PATH,
        localtime_unit: LocalTimeUnit = "unix_ms",
        auth_location: AuthLocation = "fields",
        max_rows_per_batch: int = DEFAULT_MAX_ROWS_PER_BATCH,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_access_id(access_id)
        secret = _check_secret(access_secret_key)
        if localtime_unit not in LOCALTIME_UNITS:
            raise ConfigurationError(
                "localtime_unit is not one of the supported units",
                received=repr(localtime_unit)[:40],
                action="Pass 'unix_ms' (the default), 'unix_s' or 'ntp_s'",
            )
        if auth_location not in AUTH_LOCATIONS:
            raise ConfigurationError(
                "auth_location is not one of the supported places",
                received=repr(auth_location)[:40],
                action="Pass 'fields' (the default) or 'headers'",
            )
        if not isinstance(batch_path, str) or _PATH.fullmatch(batch_path) is None:
            raise ConfigurationError(
                "batch_path must be an absolute URL path without query or percent-escapes",
                received=repr(batch_path)[:80],
                action="Pass '/task/batch' (the default) or '/api/task/batch'",
            )
        if (
            isinstance(max_rows_per_batch, bool)
            or not isinstance(max_rows_per_batch, int)
            or max_rows_per_batch < 1
        ):
            raise ConfigurationError(
                "max_rows_per_batch must be a positive integer",
                received=repr(max_rows_per_batch)[:40],
                action="Pass 100 (CrowdTask's documented limit) or less",
            )
        self._signer = CrowdTaskSigner(
            access_id=access_id,
            access_secret_key=secret,
            localtime_unit=localtime_unit,
            auth_location=auth_location,
            path_prefix=_base_path(base_url),
        )
        super().__init__(base_url=base_url, signer=self._signer, **options)
        self._batch_path = batch_path
        self.tasks = Tasks(
            self._transport, batch_path=batch_path, max_rows_per_batch=max_rows_per_batch
        )
        """Task uploads: ``await client.tasks.batch(...)``, ``client.tasks.batch_chunks(...)``."""

    @property
    def access_id(self) -> str:
        """The account's access id (not a secret; it is sent with every request)."""
        return self._signer.access_id

    @property
    def localtime_unit(self) -> LocalTimeUnit:
        """How ``localtime`` is counted in signatures."""
        return self._signer.localtime_unit

    @property
    def auth_location(self) -> AuthLocation:
        """Where ``accessid``, ``localtime`` and ``signature`` travel."""
        return self._signer.auth_location

    @property
    def batch_path(self) -> str:
        """The path of the task upload endpoint, relative to the base URL."""
        return self._batch_path

    @property
    def max_rows_per_batch(self) -> int:
        """The most rows one upload may carry."""
        return self.tasks.max_rows_per_batch


def _check_access_id(access_id: object) -> None:
    if (
        not isinstance(access_id, str)
        or not access_id
        or access_id != access_id.strip()
        or not access_id.isprintable()
    ):
        raise ConfigurationError(
            "access_id must be a non-empty string without surrounding spaces or control characters",
            received=repr(access_id)[:40],
            action="Pass the accessid shown in CrowdTask's console",
        )


def _check_secret(value: object) -> Secret:
    if isinstance(value, Secret):
        secret = value
    elif isinstance(value, str):
        secret = Secret(value)
    else:
        raise ConfigurationError(
            f"access_secret_key must be a str or a Secret, not {type(value).__name__}",
            action="Pass the accesssecretkey shown in CrowdTask's console",
        )
    if not secret:
        raise ConfigurationError(
            "access_secret_key is empty",
            action="Pass the accesssecretkey shown in CrowdTask's console",
        )
    return secret


def _base_path(base_url: str) -> str:
    """The base URL's path as sent (``""`` for a bare host); the base class validates the URL."""
    try:
        return httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
    except (httpx.InvalidURL, TypeError, UnicodeDecodeError):
        return ""
