"""Shared pieces of the failover tests against the sandbox: clients, messages, ledgers."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Iterable
from typing import Any

import anyio.lowlevel

from crowdsms import Runtime
from crowdsms.failover import FailoverChunkSender
from crowdsms.outcomes import Recipient
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions
from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPKEY

PRIMARY = "submail"
BACKUP = "sendcloud"
MESSAGES = {
    PRIMARY: MessageOptions(content="【沙箱】您的验证码是@var(code)。"),
    BACKUP: MessageOptions(template_id=1),  # "...您的验证码是%code%，10分钟内有效。"
}
"""Each provider's own definition of the same message."""
SECRETS = (SUBMAIL_APPKEY, SENDCLOUD_SMS_KEY)
TIME_LIMIT = 30.0
"""Seconds any one test may take: every wait is bounded."""


async def no_wait(seconds: float) -> None:
    """A ``sleep`` that does not wait: retries happen at once."""
    await anyio.lowlevel.checkpoint()


RUNTIME = Runtime(sleep=no_wait)


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"1380013{index:04d}" for index in range(start, start + count)]


def recipients(count: int, start: int = 0) -> list[Recipient]:
    """Recipients with the variable ``code`` under its plain name (each route renames it)."""
    return [Recipient(phone, {"code": phone[-4:]}) for phone in numbers(count, start)]


def client(sandbox: Sandbox, provider: str, **options: Any) -> Any:
    """An async client of ``provider`` for ``sandbox`` whose retries do not wait."""
    return sandbox.client(provider, runtime=RUNTIME, **options)


def closed_port_client(sandbox: Sandbox, provider: str) -> Any:
    """A client of ``provider`` pointed at a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefix = _registry.get(provider).sandbox_prefix
    return _registry.get(provider).make_client(
        sandbox.credentials(provider), base_url=f"http://127.0.0.1:{port}{prefix}", runtime=RUNTIME
    )


def failover_sender(primary: Any, backup: Any) -> FailoverChunkSender:
    return FailoverChunkSender.from_registry(
        [(PRIMARY, primary, MESSAGES[PRIMARY]), (BACKUP, backup, MESSAGES[BACKUP])]
    )


def ledger(sandbox: Sandbox, provider: str) -> list[str]:
    return [phone for phone in sandbox.ledger.phones(provider=provider) if phone is not None]


def assert_each_sent_once(sandbox: Sandbox, expected: Iterable[str]) -> None:
    """Across every provider's ledger, each expected number exactly once, and no other."""
    counts = Counter(ledger(sandbox, PRIMARY) + ledger(sandbox, BACKUP))
    assert counts == Counter(set(expected))


def assert_no_secret_logged(records: Iterable[logging.LogRecord]) -> None:
    formatter = logging.Formatter()
    for record in records:
        texts = [record.getMessage(), repr(record.args)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        for secret in SECRETS:
            for text in texts:
                assert secret not in text, f"a secret was logged: {text[:120]!r}"
