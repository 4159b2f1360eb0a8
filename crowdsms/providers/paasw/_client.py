"""The async client of the paasw SMS gateway."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Final

from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret, require_secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.paasw._account import AccountEndpoints
from crowdsms.providers.paasw._codes import DEFAULT_TOKEN_REJECTED_CODES
from crowdsms.providers.paasw._reports import ReportEndpoints
from crowdsms.providers.paasw._requests import PaaswRequests
from crowdsms.providers.paasw._signer import PaaswSigner
from crowdsms.providers.paasw._sms import SmsEndpoints

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TOKEN_REJECTED_CODES", "AsyncPaasw"]

DEFAULT_BASE_URL: Final = "https://openapi.gateway.paasw.com"
"""HTTPS, although the seed prints ``http://``: the gateway supports both, and the token
request carries the secret in its query string, which must not travel in clear."""


class AsyncPaasw(AsyncClientBase):
    """The paasw SMS gateway, async.

    ``app_id`` and ``secret`` are the app's credentials; the client exchanges them for an
    access token (cached, refreshed five minutes before it expires, and once when the
    gateway refuses it) and never sends the secret anywhere else. ``token_rejected_codes``
    are the answer codes that mean "token refused" (unpublished; see
    :data:`DEFAULT_TOKEN_REJECTED_CODES`). Other settings: :class:`ClientOptions`.

    Endpoint groups: ``client.sms`` (send, send_template, send_chunks), ``client.reports``
    (pull_deliveries, pull_replies) and ``client.account`` (balance)::

        async with AsyncPaasw(app_id="0189457543", secret="...") as client:
            result = await client.sms.send(
                phones=["13800138000"], sign="圆通快递", content="【圆通快递】您的快件已签收"
            )
    """

    provider: ClassVar[str] = "paasw"

    def __init__(
        self,
        *,
        app_id: str,
        secret: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        token_rejected_codes: Collection[str] = DEFAULT_TOKEN_REJECTED_CODES,
        **options: Unpack[ClientOptions],
    ) -> None:
        if not isinstance(app_id, str) or not app_id.strip():
            raise ConfigurationError(
                "app_id must be a non-empty string",
                received=repr(app_id)[:40],
                action="Pass the app id shown in the gateway's console, e.g. '0189457543'",
            )
        checked_secret = require_secret(
            secret, name="secret", action="Pass the app's secret from the gateway's console"
        )
        if isinstance(token_rejected_codes, str) or not all(
            isinstance(code, str) for code in token_rejected_codes
        ):
            raise ConfigurationError(
                "token_rejected_codes must be a collection of code strings",
                received=repr(token_rejected_codes)[:60],
                action="Pass e.g. frozenset({'40001', '42001'})",
            )
        self.app_id = app_id
        self._signer = PaaswSigner(
            app_id=app_id, secret=checked_secret, token_rejected_codes=token_rejected_codes
        )
        super().__init__(base_url=base_url, signer=self._signer, account=app_id, **options)
        self._signer.bind(self._transport)
        requests = PaaswRequests(
            transport=self._transport, signer=self._signer, max_connections=self.max_connections
        )
        self.sms = SmsEndpoints(requests)
        """Sending: ``send``, ``send_template``, ``send_chunks``."""
        self.reports = ReportEndpoints(requests)
        """Pulling the queues: ``pull_deliveries``, ``pull_replies``."""
        self.account = AccountEndpoints(requests)
        """The account: ``balance``."""

    @property
    def token_rejected_codes(self) -> frozenset[str]:
        """The answer codes treated as "token refused"."""
        return self._signer.token_rejected_codes

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} app_id={self.app_id!r} base_url={self.base_url!r} "
            f"http={self.http_backend!r}>"
        )
