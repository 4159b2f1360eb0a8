"""The async CrowdTask client."""

from __future__ import annotations

from typing import ClassVar, Final

import httpx
from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret
from crowdsms.providers.crowdtask._codes import PROVIDER_NAME
from crowdsms.providers.crowdtask._signer import CrowdTaskSigner
from crowdsms.providers.crowdtask._signing import (
    DEFAULT_AUTH_LOCATION,
    DEFAULT_LOCALTIME_UNIT,
    AuthLocation,
    LocalTimeUnit,
)
from crowdsms.providers.crowdtask._tasks import TaskEndpoints
from crowdsms.providers.crowdtask._validation import (
    check_access_id,
    check_access_secret_key,
    check_auth_location,
    check_batch_path,
    check_localtime_unit,
    check_max_rows_per_batch,
)

__all__ = [
    "DEFAULT_AUTH_LOCATION",
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_PATH",
    "DEFAULT_LOCALTIME_UNIT",
    "DEFAULT_MAX_ROWS_PER_BATCH",
    "AsyncCrowdTask",
]

DEFAULT_BASE_URL: Final = "https://api.crowdtask.cn"
"""CrowdTask's API host."""
DEFAULT_BATCH_PATH: Final = "/task/batch"
"""The upload path of the seed document; later documents use ``/api/task/batch``."""
DEFAULT_MAX_ROWS_PER_BATCH: Final = 100
"""The most rows one upload may carry, as documented (CrowdTask drops rows beyond it)."""


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

    provider: ClassVar[str] = PROVIDER_NAME

    def __init__(
        self,
        *,
        access_id: str,
        access_secret_key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        batch_path: str = DEFAULT_BATCH_PATH,
        localtime_unit: LocalTimeUnit = DEFAULT_LOCALTIME_UNIT,
        auth_location: AuthLocation = DEFAULT_AUTH_LOCATION,
        max_rows_per_batch: int = DEFAULT_MAX_ROWS_PER_BATCH,
        **options: Unpack[ClientOptions],
    ) -> None:
        check_access_id(access_id)
        secret = check_access_secret_key(access_secret_key)
        check_localtime_unit(localtime_unit)
        check_auth_location(auth_location)
        check_batch_path(batch_path)
        check_max_rows_per_batch(max_rows_per_batch)
        self._signer = CrowdTaskSigner(
            access_id=access_id,
            access_secret_key=secret,
            localtime_unit=localtime_unit,
            auth_location=auth_location,
            path_prefix=_base_path(base_url),
        )
        super().__init__(base_url=base_url, signer=self._signer, account=access_id, **options)
        self.tasks = TaskEndpoints(
            self._transport,
            batch_path=batch_path,
            max_rows_per_batch=max_rows_per_batch,
            max_connections=self.max_connections,
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
        return self.tasks.batch_path

    @property
    def max_rows_per_batch(self) -> int:
        """The most rows one upload may carry."""
        return self.tasks.max_rows_per_batch


def _base_path(base_url: str) -> str:
    """The base URL's path as sent (``""`` for a bare host); the base class validates the URL."""
    try:
        return httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
    except (httpx.InvalidURL, TypeError, UnicodeDecodeError):
        return ""
