"""Shared helpers of the integration tests: clients for the sandbox, fakes, secret checks.

Every client here talks to a real sandbox over loopback HTTP with the sandbox's default
credentials. Expected values are computed here independently of the SDK (``segments``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import anyio.lowlevel
import httpx

from crowdsms import AsyncCrowdTask, AsyncPaasw, AsyncSendCloud, AsyncSubmail, Runtime
from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID, CROWDTASK_SECRET
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

SECRETS: tuple[str, ...] = (SUBMAIL_APPKEY, SENDCLOUD_SMS_KEY, CROWDTASK_SECRET, PAASW_SECRET)
"""The sandbox's default keys: none may show up in a log record, an error or a repr."""

TIME_LIMIT = 15.0
"""Seconds any one test may take (``anyio.fail_after``): every wait is bounded."""


class SleepRecorder:
    """An async no-op ``sleep`` that records the delays the client asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await anyio.lowlevel.checkpoint()


def runtime(sleep: SleepRecorder) -> Runtime:
    """The real clocks, with ``sleep`` instead of waiting."""
    return Runtime(sleep=sleep)


class RecordingTransport(httpx.AsyncBaseTransport):
    """A real loopback transport that records each request's method and path (no query)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(trust_env=False)
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def submail(sandbox: Sandbox, **options: Any) -> AsyncSubmail:
    """A SUBMAIL client for ``sandbox`` (``options`` may replace the credentials)."""
    settings = {"app_id": SUBMAIL_APPID, "app_key": SUBMAIL_APPKEY, **options}
    return AsyncSubmail(base_url=sandbox.base_url("submail"), **settings)


def sendcloud(sandbox: Sandbox, **options: Any) -> AsyncSendCloud:
    """A SendCloud client for ``sandbox`` (``options`` may replace the credentials)."""
    settings = {"sms_user": SENDCLOUD_SMS_USER, "sms_key": SENDCLOUD_SMS_KEY, **options}
    return AsyncSendCloud(base_url=sandbox.base_url("sendcloud"), **settings)


def crowdtask(sandbox: Sandbox, **options: Any) -> AsyncCrowdTask:
    """A CrowdTask client for ``sandbox`` (``options`` may replace the credentials)."""
    settings = {"access_id": CROWDTASK_ACCESS_ID, "access_secret_key": CROWDTASK_SECRET}
    return AsyncCrowdTask(base_url=sandbox.base_url("crowdtask"), **{**settings, **options})


def paasw(sandbox: Sandbox, **options: Any) -> AsyncPaasw:
    """A paasw client for ``sandbox`` (``options`` may replace the credentials)."""
    settings = {"app_id": PAASW_APP_ID, "secret": PAASW_SECRET, **options}
    return AsyncPaasw(base_url=sandbox.base_url("paasw"), **settings)


def segments(text: str) -> int:
    """SMS segments ``text`` is billed as: one up to 70 characters, else one per 67."""
    return 1 if len(text) <= 70 else math.ceil(len(text) / 67)


def assert_no_secret(*objects: object, secrets: Iterable[str] = SECRETS) -> None:
    """No secret in the str or repr of any of ``objects`` (errors: their causes too)."""
    texts: list[str] = []
    for item in objects:
        texts.extend((str(item), repr(item)))
        if isinstance(item, BaseException):
            cause = item.__cause__ or item.__context__
            while cause is not None:
                texts.extend((str(cause), repr(cause)))
                cause = cause.__cause__ or cause.__context__
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret leaked into {text[:120]!r}"


def assert_no_secret_logged(
    records: Iterable[logging.LogRecord], *, secrets: Iterable[str] = SECRETS
) -> None:
    """No secret in any of the log ``records`` (message, arguments, exception text)."""
    formatter = logging.Formatter()
    secrets = tuple(secrets)
    for record in records:
        texts = [record.getMessage(), repr(record.args)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        for secret in secrets:
            for text in texts:
                assert secret not in text, f"a secret was logged: {text[:120]!r}"
