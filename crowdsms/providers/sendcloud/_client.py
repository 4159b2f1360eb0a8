"""The async SendCloud SMS client."""

from __future__ import annotations

from typing import ClassVar, Final

from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret, require_secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.sendcloud._contact_tasks import ContactTaskEndpoints
from crowdsms.providers.sendcloud._signer import SendCloudSigner
from crowdsms.providers.sendcloud._signing import DEFAULT_SIGN_TYPE, SIGN_TYPES, SignType
from crowdsms.providers.sendcloud._sms import SmsEndpoints
from crowdsms.providers.sendcloud._sms_requests import SENDN_ENDPOINTS, SendnEndpoint, SmsSettings
from crowdsms.providers.sendcloud._timestamp import TimestampEndpoints

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_SENDN_RECIPIENTS",
    "DEFAULT_MAX_VAR_LENGTH",
    "DEFAULT_SENDN_ENDPOINT",
    "DEFAULT_SIGN_TYPE",
    "AsyncSendCloud",
]

DEFAULT_BASE_URL: Final = "https://api.sendcloud.net/smsapi"
"""The current host; the 2015 documents' ``http://sendcloud.sohu.com/smsapi`` is older."""

DEFAULT_SENDN_ENDPOINT: Final[SendnEndpoint] = "sendn"
"""The multi-recipient endpoint's path in the 2015 documents (later ones call it ``sendx``)."""

DEFAULT_MAX_SENDN_RECIPIENTS: Final = 200
"""The most recipients per ``sendn`` request, as the provider's later documents say."""

DEFAULT_MAX_VAR_LENGTH: Final = 16
"""The longest template variable value (UTF-16 code units), as the seed documents say."""


class AsyncSendCloud(AsyncClientBase):
    """The async client for SendCloud SMS.

    ``sms_user`` and ``sms_key`` are the SMS user and its key from the SendCloud console; the
    key only ever leaves the client inside signatures. ``sign_type`` picks the signature's
    hash: ``md5`` (the documents of the seeds' era, the default) or ``sha256`` (the current
    SDKs). The other settings cover what the provider's documents disagree about:

    - ``base_url``: the API root (the old host was ``http://sendcloud.sohu.com/smsapi``);
    - ``sendn_endpoint``: ``sendn`` (2015 documents) or ``sendx`` (later ones);
    - ``max_sendn_recipients``: the most recipients per ``sendn`` request (200);
    - ``max_var_length``: the longest variable value, or ``None`` not to check (16).

    Endpoint groups: :attr:`sms`, :attr:`timestamp`, :attr:`contact_tasks`. Everything in
    :class:`~crowdsms.ClientOptions` (timeouts, retries, connections, proxies) is accepted
    too.
    """

    provider: ClassVar[str] = "sendcloud"

    sms: SmsEndpoints
    """Template sends: ``send`` (one vars for all) and ``sendn`` (vars per recipient)."""
    timestamp: TimestampEndpoints
    """The provider's clock."""
    contact_tasks: ContactTaskEndpoints
    """Sends to stored contact lists, and their status."""

    def __init__(
        self,
        *,
        sms_user: str,
        sms_key: str | Secret,
        sign_type: SignType = DEFAULT_SIGN_TYPE,
        base_url: str = DEFAULT_BASE_URL,
        sendn_endpoint: SendnEndpoint = DEFAULT_SENDN_ENDPOINT,
        max_sendn_recipients: int = DEFAULT_MAX_SENDN_RECIPIENTS,
        max_var_length: int | None = DEFAULT_MAX_VAR_LENGTH,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_sms_user(sms_user)
        key = require_secret(
            sms_key, name="sms_key", action="Pass the SMS key shown in the SendCloud console"
        )
        _check_settings(sign_type, sendn_endpoint, max_sendn_recipients, max_var_length)
        self._sms_user = sms_user
        self._signer = SendCloudSigner(sms_user=sms_user, sms_key=key, sign_type=sign_type)
        super().__init__(base_url=base_url, signer=self._signer, account=sms_user, **options)
        settings = SmsSettings(
            sendn_endpoint=sendn_endpoint,
            max_sendn_recipients=max_sendn_recipients,
            max_var_length=max_var_length,
        )
        self._settings = settings
        self.sms = SmsEndpoints(self._transport, settings, max_connections=self.max_connections)
        self.timestamp = TimestampEndpoints(self._transport)
        self.contact_tasks = ContactTaskEndpoints(self._transport)

    @property
    def sms_user(self) -> str:
        """The SMS user the requests are signed for."""
        return self._sms_user

    @property
    def sign_type(self) -> SignType:
        """The signature's hash, ``md5`` or ``sha256``."""
        return self._signer.sign_type

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} sms_user={self._sms_user!r} "
            f"sign_type={self.sign_type!r} http={self.http_backend!r}>"
        )


def _check_sms_user(sms_user: object) -> None:
    if not isinstance(sms_user, str) or not sms_user.strip():
        raise ConfigurationError(
            "sms_user must be a non-empty string",
            received=repr(sms_user)[:40],
            action="Pass the SMS user shown in the SendCloud console",
        )


def _check_settings(
    sign_type: object,
    sendn_endpoint: object,
    max_sendn_recipients: object,
    max_var_length: object,
) -> None:
    if sign_type not in SIGN_TYPES:
        raise ConfigurationError(
            f"sign_type must be one of {', '.join(SIGN_TYPES)}",
            received=repr(sign_type)[:40],
            action="Use md5 (the default) or sha256",
        )
    if sendn_endpoint not in SENDN_ENDPOINTS:
        raise ConfigurationError(
            f"sendn_endpoint must be one of {', '.join(SENDN_ENDPOINTS)}",
            received=repr(sendn_endpoint)[:40],
            action="Use sendn (the 2015 documents) or sendx (the later ones)",
        )
    if (
        isinstance(max_sendn_recipients, bool)
        or not isinstance(max_sendn_recipients, int)
        or max_sendn_recipients < 1
    ):
        raise ConfigurationError(
            "max_sendn_recipients must be a positive integer",
            received=repr(max_sendn_recipients)[:40],
            action=(
                f"Pass the provider's limit, {DEFAULT_MAX_SENDN_RECIPIENTS} in its later documents"
            ),
        )
    if max_var_length is not None and (
        isinstance(max_var_length, bool)
        or not isinstance(max_var_length, int)
        or max_var_length < 1
    ):
        raise ConfigurationError(
            "max_var_length must be a positive integer or None",
            received=repr(max_var_length)[:40],
            action=(
                f"Pass the provider's limit ({DEFAULT_MAX_VAR_LENGTH} in its documents), "
                "or None not to check"
            ),
        )
