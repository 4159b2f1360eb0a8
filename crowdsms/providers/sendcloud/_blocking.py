"""``SendCloud``: the blocking twin of :class:`~crowdsms.providers.sendcloud.AsyncSendCloud`."""

from __future__ import annotations

import functools

from typing_extensions import Unpack

from crowdsms._client import ClientOptions
from crowdsms._secret import Secret
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend
from crowdsms.providers.sendcloud._client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_SENDN_RECIPIENTS,
    DEFAULT_MAX_VAR_LENGTH,
    DEFAULT_SENDN_ENDPOINT,
    DEFAULT_SIGN_TYPE,
    AsyncSendCloud,
)
from crowdsms.providers.sendcloud._contact_tasks import ContactTaskEndpoints
from crowdsms.providers.sendcloud._signing import SignType
from crowdsms.providers.sendcloud._sms import SmsEndpoints
from crowdsms.providers.sendcloud._sms_requests import SendnEndpoint
from crowdsms.providers.sendcloud._timestamp import TimestampEndpoints

__all__ = ["SendCloud", "SendCloudContactTasks", "SendCloudSms", "SendCloudTimestamp"]


class SendCloudSms(BlockingGroup[SmsEndpoints]):
    """``client.sms``: blocking ``send`` and ``sendn``; ``sendn_chunks`` for the batch sender."""

    send = blocking(SmsEndpoints.send)
    sendn = blocking(SmsEndpoints.sendn)
    sendn_chunks = passthrough(SmsEndpoints.sendn_chunks)


class SendCloudTimestamp(BlockingGroup[TimestampEndpoints]):
    """``client.timestamp``: SendCloud's clock."""

    get = blocking(TimestampEndpoints.get)


class SendCloudContactTasks(BlockingGroup[ContactTaskEndpoints]):
    """``client.contact_tasks``: contact-list tasks."""

    send = blocking(ContactTaskEndpoints.send)
    query = blocking(ContactTaskEndpoints.query)


class SendCloud(BlockingClientBase[AsyncSendCloud]):
    """SendCloud SMS for code that is not async: the same typed endpoints, plain values.

    Takes the same arguments as :class:`~crowdsms.providers.sendcloud.AsyncSendCloud`, plus
    ``backend`` (the event loop library it runs on). Share one instance across threads; close it
    when done (or use it as a context manager).
    """

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
        backend: Backend = DEFAULT_BACKEND,
        **options: Unpack[ClientOptions],
    ) -> None:
        make = functools.partial(
            AsyncSendCloud,
            sms_user=sms_user,
            sms_key=sms_key,
            sign_type=sign_type,
            base_url=base_url,
            sendn_endpoint=sendn_endpoint,
            max_sendn_recipients=max_sendn_recipients,
            max_var_length=max_var_length,
            **options,
        )
        super().__init__(make, backend=backend)
        self.sms = SendCloudSms(self._runner, self._async.sms)
        self.timestamp = SendCloudTimestamp(self._runner, self._async.timestamp)
        self.contact_tasks = SendCloudContactTasks(self._runner, self._async.contact_tasks)
