"""``Submail``: the blocking twin of :class:`~crowdsms.providers.submail.AsyncSubmail`."""

from __future__ import annotations

import functools
from typing import Literal

from typing_extensions import Unpack

from crowdsms._client import ClientOptions
from crowdsms._secret import Secret
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.providers.submail._client import DEFAULT_BASE_URL, AsyncSubmail, SubmailBodyEncoding
from crowdsms.providers.submail._formats import ResponseFormat
from crowdsms.providers.submail._service import AsyncSubmailService
from crowdsms.providers.submail._signing import SignType
from crowdsms.providers.submail._sms import AsyncSubmailSms

__all__ = ["Submail", "SubmailService", "SubmailSms"]


class SubmailSms(BlockingGroup[AsyncSubmailSms]):
    """``client.sms``: blocking ``send`` and ``multisend``."""

    send = blocking(AsyncSubmailSms.send)
    multisend = blocking(AsyncSubmailSms.multisend)
    multisend_chunks = passthrough(AsyncSubmailSms.multisend_chunks)


class SubmailService(BlockingGroup[AsyncSubmailService]):
    """``client.service``: SUBMAIL's clock."""

    timestamp = blocking(AsyncSubmailService.timestamp)


class Submail(BlockingClientBase[AsyncSubmail]):
    """SUBMAIL for code that is not async: the same typed endpoints, returning plain values.

    Takes the same arguments as :class:`~crowdsms.providers.submail.AsyncSubmail`, plus
    ``backend`` for the loop thread. Share one instance across threads; close it when done.
    """

    def __init__(
        self,
        *,
        app_id: str,
        app_key: str | Secret,
        sign_type: SignType = "md5",
        base_url: str = DEFAULT_BASE_URL,
        response_format: ResponseFormat = "json",
        body_encoding: SubmailBodyEncoding = "json",
        max_multisend_recipients: int = 50,
        backend: Literal["asyncio", "trio"] = "asyncio",
        **options: Unpack[ClientOptions],
    ) -> None:
        make = functools.partial(
            AsyncSubmail,
            app_id=app_id,
            app_key=app_key,
            sign_type=sign_type,
            base_url=base_url,
            response_format=response_format,
            body_encoding=body_encoding,
            max_multisend_recipients=max_multisend_recipients,
            **options,
        )
        super().__init__(make, backend=backend)
        self.sms = SubmailSms(self._runner, self._async.sms)
        self.service = SubmailService(self._runner, self._async.service)
