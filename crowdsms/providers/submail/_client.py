"""The async SUBMAIL client."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret, require_secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.submail._requests import SubmailRequests
from crowdsms.providers.submail._service import ServiceEndpoints
from crowdsms.providers.submail._signer import SubmailSigner
from crowdsms.providers.submail._signing import SIGN_TYPES, SignType
from crowdsms.providers.submail._sms import SmsEndpoints

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_MULTISEND_RECIPIENTS",
    "DEFAULT_SIGN_TYPE",
    "AsyncSubmail",
]

DEFAULT_BASE_URL: Final = "https://api-v4.mysubmail.com"
"""SUBMAIL's API; pass another ``base_url`` for another of SUBMAIL's endpoints or a proxy."""
DEFAULT_SIGN_TYPE: Final[SignType] = "md5"
"""How requests are signed unless the SUBMAIL app is set up otherwise."""
DEFAULT_MAX_MULTISEND_RECIPIENTS: Final = 50
"""The most recipients per ``sms/multisend`` request (SUBMAIL recommends 50)."""

_APP_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_APP_KEY = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII without spaces
_APP_KEY_ACTION = (
    "Pass the SMS app's key from the SUBMAIL console (read it from your secret store or an "
    "environment variable)"
)


class AsyncSubmail(AsyncClientBase):
    """The async client for SUBMAIL's SMS API (https://www.mysubmail.com).

    ``app_id`` and ``app_key`` are the SMS app's credentials from the SUBMAIL console.
    ``sign_type`` is the app's setting in the SUBMAIL console: ``md5`` (default) or
    ``sha1`` signs every request with a timestamp; ``normal`` sends the app key itself
    (not recommended). ``max_multisend_recipients`` is the most recipients per
    ``sms/multisend`` request (SUBMAIL recommends 50). Requests carry JSON bodies and ask
    for JSON answers. The other keyword arguments are the
    :class:`~crowdsms._client.ClientOptions` every client takes.

    Use it as an async context manager, or call :meth:`aclose` when done::

        async with AsyncSubmail(app_id="12345", app_key=key) as client:
            result = await client.sms.multisend(content=..., recipients=[...])
    """

    provider: ClassVar[str] = "submail"

    sms: SmsEndpoints
    """``sms/send``, ``sms/multisend`` and the batch sender's chunk sender."""

    service: ServiceEndpoints
    """``service/timestamp``."""

    def __init__(
        self,
        *,
        app_id: str,
        app_key: str | Secret,
        sign_type: SignType = DEFAULT_SIGN_TYPE,
        base_url: str = DEFAULT_BASE_URL,
        max_multisend_recipients: int = DEFAULT_MAX_MULTISEND_RECIPIENTS,
        **options: Unpack[ClientOptions],
    ) -> None:
        app_id = _check_app_id(app_id)
        key = _check_app_key(app_key)
        _check_sign_type(sign_type)
        if (
            not isinstance(max_multisend_recipients, int)
            or isinstance(max_multisend_recipients, bool)
            or max_multisend_recipients < 1
        ):
            raise ConfigurationError(
                "max_multisend_recipients must be a whole number of at least 1",
                received=repr(max_multisend_recipients)[:40],
                action=f"Pass e.g. {DEFAULT_MAX_MULTISEND_RECIPIENTS} (SUBMAIL's recommendation)",
            )
        self._app_id = app_id
        self._sign_type: SignType = sign_type
        signer = SubmailSigner(app_id=app_id, app_key=key, sign_type=sign_type)
        super().__init__(base_url=base_url, signer=signer, account=app_id, **options)
        requests = SubmailRequests(
            transport=self._transport,
            max_multisend_recipients=max_multisend_recipients,
            max_connections=self.max_connections,
        )
        self.sms = SmsEndpoints(requests)
        self.service = ServiceEndpoints(requests)

    @property
    def app_id(self) -> str:
        """The SUBMAIL app id this client signs with."""
        return self._app_id

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} app_id={self._app_id!r} "
            f"sign_type={self._sign_type!r} http={self.http_backend!r}>"
        )


def _check_app_id(app_id: object) -> str:
    if not isinstance(app_id, str):
        raise ConfigurationError(
            f"app_id must be a string, not {type(app_id).__name__}",
            action="Pass the SMS app's id from the SUBMAIL console (应用集成 > 应用), e.g. '12345'",
        )
    if not app_id.strip():
        raise ConfigurationError(
            "app_id is empty",
            action="Pass the SMS app's id from the SUBMAIL console (应用集成 > 应用), e.g. '12345'",
        )
    if _APP_ID.fullmatch(app_id) is None:
        raise ConfigurationError(
            "app_id is malformed: SUBMAIL app ids are letters and digits only",
            received=repr(app_id[:20]),
            action="Copy the app id again from the SUBMAIL console, without spaces or quotes",
        )
    return app_id


def _check_app_key(app_key: object) -> Secret:
    key = require_secret(app_key, name="app_key", action=_APP_KEY_ACTION)
    value = key.reveal()
    if _APP_KEY.fullmatch(value) is None:
        problem = (
            "has spaces or line breaks around it"
            if value != value.strip()
            else "has characters an app key never has (spaces, control or non-ASCII)"
        )
        raise ConfigurationError(
            f"app_key is malformed: it {problem} ({len(value)} characters; the key itself "
            "is not shown)",
            action="Copy the app key again from the SUBMAIL console, without spaces or quotes",
        )
    return key


def _check_sign_type(sign_type: object) -> None:
    if sign_type not in SIGN_TYPES:
        raise ConfigurationError(
            f"sign_type must be one of {', '.join(repr(choice) for choice in SIGN_TYPES)}",
            received=repr(sign_type)[:40],
            action=(
                f"Pass the sign type the SMS app uses in the SUBMAIL console "
                f"({DEFAULT_SIGN_TYPE!r} is the default)"
            ),
        )
