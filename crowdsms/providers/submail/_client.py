"""The async SUBMAIL client."""

from __future__ import annotations

import re
from typing import ClassVar, Final, Literal

from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._secret import Secret
from crowdsms._transport import BodyEncoding
from crowdsms.errors import ConfigurationError
from crowdsms.providers.submail._api import SubmailApi
from crowdsms.providers.submail._formats import RESPONSE_FORMATS, ResponseFormat, require_yaml
from crowdsms.providers.submail._service import AsyncSubmailService
from crowdsms.providers.submail._signer import SubmailSigner
from crowdsms.providers.submail._signing import SIGN_TYPES, SignType
from crowdsms.providers.submail._sms import AsyncSubmailSms

__all__ = ["DEFAULT_BASE_URL", "AsyncSubmail", "SubmailBodyEncoding"]

DEFAULT_BASE_URL: Final = "https://api-v4.mysubmail.com"
DEFAULT_MAX_MULTISEND_RECIPIENTS: Final = 50

SubmailBodyEncoding = Literal["json", "form"]
_BODY_ENCODINGS: Final[dict[str, BodyEncoding]] = {
    "json": BodyEncoding.JSON,
    "form": BodyEncoding.FORM,
}

_APP_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_APP_KEY = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII without spaces


class AsyncSubmail(AsyncClientBase):
    """The async client for SUBMAIL's SMS API (https://www.mysubmail.com).

    ``app_id`` and ``app_key`` are the SMS app's credentials from the SUBMAIL console.
    ``sign_type`` ``md5`` (default) or ``sha1`` signs every request with a timestamp;
    ``normal`` sends the app key itself (not recommended). ``response_format`` picks the
    answer format SUBMAIL uses (``yaml`` needs ``crowdsms[yaml]``); ``body_encoding``
    ``json`` (default, cheaper to encode) or ``form``. ``max_multisend_recipients`` is the
    most recipients per ``sms/multisend`` request (SUBMAIL recommends 50). The other
    keyword arguments are the :class:`~crowdsms._client.ClientOptions` every client takes.

    Use it as an async context manager, or call :meth:`aclose` when done::

        async with AsyncSubmail(app_id="12345", app_key=key) as client:
            result = await client.sms.multisend(content=..., recipients=[...])
    """

    provider: ClassVar[str] = "submail"

    sms: AsyncSubmailSms
    """``sms/send``, ``sms/multisend`` and the batch sender's chunk sender."""

    service: AsyncSubmailService
    """``service/timestamp``."""

    def __init__(
        self,
        *,
        app_id: str,
        app_key: str | Secret,
        sign_type: SignType = "md5",
        base_url: str = DEFAULT_BASE_URL,
        response_format: ResponseFormat = "json",
        body_encoding: SubmailBodyEncoding = "json",
        max_multisend_recipients: int = DEFAULT_MAX_MULTISEND_RECIPIENTS,
        **options: Unpack[ClientOptions],
    ) -> None:
        app_id = _check_app_id(app_id)
        key = _check_app_key(app_key)
        _check_choice("sign_type", sign_type, SIGN_TYPES)
        _check_choice("response_format", response_format, RESPONSE_FORMATS)
        _check_choice("body_encoding", body_encoding, tuple(_BODY_ENCODINGS))
        if response_format == "yaml":
            require_yaml()
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
        signer = SubmailSigner(
            app_id=app_id, app_key=key, sign_type=sign_type, response_format=response_format
        )
        super().__init__(base_url=base_url, signer=signer, **options)
        api = SubmailApi(
            transport=self._transport,
            signer=signer,
            response_format=response_format,
            encoding=_BODY_ENCODINGS[body_encoding],
            max_multisend_recipients=max_multisend_recipients,
        )
        self.sms = AsyncSubmailSms(api)
        self.service = AsyncSubmailService(api)

    @property
    def app_id(self) -> str:
        """The SUBMAIL app id this client signs with."""
        return self._app_id

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} app_id={self._app_id!r} "
            f"sign_type={self._sign_type!r}>"
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
    if isinstance(app_key, Secret):
        key = app_key
    elif isinstance(app_key, str):
        key = Secret(app_key)
    else:
        raise ConfigurationError(
            f"app_key must be a str or a crowdsms Secret, not {type(app_key).__name__}",
            action="Pass the SMS app's key from the SUBMAIL console",
        )
    value = key.reveal()
    if not value.strip():
        raise ConfigurationError(
            "app_key is empty",
            action="Pass the SMS app's key from the SUBMAIL console (read it from your "
            "secret store or an environment variable)",
        )
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


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(repr(choice) for choice in choices)}",
            received=repr(value)[:40],
            action=f"Pass {name}={choices[0]!r} (the default) or another of the choices",
        )
