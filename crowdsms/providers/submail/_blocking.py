"""``Submail``: the blocking twin of :class:`~crowdsms.providers.submail.AsyncSubmail`."""

from __future__ import annotations

import functools

from typing_extensions import Unpack

from crowdsms._client import ClientOptions
from crowdsms._secret import Secret
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend
from crowdsms.providers.submail._client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_MULTISEND_RECIPIENTS,
    DEFAULT_SIGN_TYPE,
    AsyncSubmail,
)
from crowdsms.providers.submail._service import ServiceEndpoints
from crowdsms.providers.submail._signing import SignType
from crowdsms.providers.submail._sms import SmsEndpoints

__all__ = ["Submail", "SubmailService", "SubmailSms"]


class SubmailSms(BlockingGroup[SmsEndpoints]):
    """``client.sms``: blocking ``send`` and ``multisend``, and ``multisend_chunks``."""

    send = blocking(SmsEndpoints.send)
    multisend = blocking(SmsEndpoints.multisend)
    multisend_chunks = passthrough(SmsEndpoints.multisend_chunks)


class SubmailService(BlockingGroup[ServiceEndpoints]):
    """``client.service``: SUBMAIL's clock."""

    timestamp = blocking(ServiceEndpoints.timestamp)


class Submail(BlockingClientBase[AsyncSubmail]):
    """SUBMAIL for code that is not async: the same typed endpoints, returning plain values.

    Takes the same arguments as :class:`~crowdsms.providers.submail.AsyncSubmail`, plus
    ``backend`` (the event loop library it runs on). Share one instance across threads; close it
    when done (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        app_id: str,
        app_key: str | Secret,
        sign_type: SignType = DEFAULT_SIGN_TYPE,
        base_url: str = DEFAULT_BASE_URL,
        max_multisend_recipients: int = DEFAULT_MAX_MULTISEND_RECIPIENTS,
        backend: Backend = DEFAULT_BACKEND,
        **options: Unpack[ClientOptions],
    ) -> None:
        make = functools.partial(
            AsyncSubmail,
            app_id=app_id,
            app_key=app_key,
            sign_type=sign_type,
            base_url=base_url,
            max_multisend_recipients=max_multisend_recipients,
            **options,
        )
        super().__init__(make, backend=backend)
        self.sms = SubmailSms(self._runner, self._async.sms)
        self.service = SubmailService(self._runner, self._async.service)
