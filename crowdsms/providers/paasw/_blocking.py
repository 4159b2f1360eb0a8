"""``Paasw``: the blocking twin of :class:`~crowdsms.providers.paasw.AsyncPaasw`."""

from __future__ import annotations

import functools
from collections.abc import Collection

from typing_extensions import Unpack

from crowdsms._client import ClientOptions
from crowdsms._secret import Secret
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend
from crowdsms.providers.paasw._account import AccountEndpoints
from crowdsms.providers.paasw._client import (
    DEFAULT_BASE_URL,
    DEFAULT_TOKEN_REJECTED_CODES,
    AsyncPaasw,
)
from crowdsms.providers.paasw._reports import ReportEndpoints
from crowdsms.providers.paasw._sms import SmsEndpoints

__all__ = ["Paasw", "PaaswAccount", "PaaswReports", "PaaswSms"]


class PaaswSms(BlockingGroup[SmsEndpoints]):
    """``client.sms``: blocking ``send`` and ``send_template``."""

    send = blocking(SmsEndpoints.send)
    send_template = blocking(SmsEndpoints.send_template)
    send_chunks = passthrough(SmsEndpoints.send_chunks)


class PaaswReports(BlockingGroup[ReportEndpoints]):
    """``client.reports``: pull delivery reports and replies."""

    pull_deliveries = blocking(ReportEndpoints.pull_deliveries)
    pull_replies = blocking(ReportEndpoints.pull_replies)
    pull_events = blocking(ReportEndpoints.pull_events)


class PaaswAccount(BlockingGroup[AccountEndpoints]):
    """``client.account``: the balance."""

    balance = blocking(AccountEndpoints.balance)


class Paasw(BlockingClientBase[AsyncPaasw]):
    """The paasw gateway for code that is not async: the same typed endpoints, plain values.

    Takes the same arguments as :class:`~crowdsms.providers.paasw.AsyncPaasw`, plus
    ``backend`` (the event loop library it runs on). Share one instance across threads; close it
    when done (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        app_id: str,
        secret: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        token_rejected_codes: Collection[str] = DEFAULT_TOKEN_REJECTED_CODES,
        backend: Backend = DEFAULT_BACKEND,
        **options: Unpack[ClientOptions],
    ) -> None:
        make = functools.partial(
            AsyncPaasw,
            app_id=app_id,
            secret=secret,
            base_url=base_url,
            token_rejected_codes=token_rejected_codes,
            **options,
        )
        super().__init__(make, backend=backend)
        self.sms = PaaswSms(self._runner, self._async.sms)
        self.reports = PaaswReports(self._runner, self._async.reports)
        self.account = PaaswAccount(self._runner, self._async.account)
