"""The paasw gateway's entry in the provider registry."""

from __future__ import annotations

import re
from collections.abc import Sequence

from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import ChunkSender
from crowdsms.providers._spec import (
    CredentialField,
    MessageOptions,
    ProviderSpec,
    require_option,
)
from crowdsms.providers.paasw._blocking import Paasw
from crowdsms.providers.paasw._chunks import PRICE_PER_SEGMENT
from crowdsms.providers.paasw._client import DEFAULT_BASE_URL, AsyncPaasw
from crowdsms.providers.paasw._codes import CODES
from crowdsms.providers.paasw._models import SmsKind
from crowdsms.providers.paasw._webhooks import PaaswWebhook
from crowdsms.webhooks._events import Event

__all__ = ["PROVIDER"]


_SIGN = re.compile(r"【([^【】]+)】")


def _sign_and_content(message: MessageOptions) -> tuple[str, str]:
    """The signature, given once: ``--sign`` or the 【】 that starts ``--content``."""
    require_option(message.content, "--content", "paasw")
    content = message.content
    assert content is not None
    found = _SIGN.match(content)
    if message.sign is not None and found is not None:
        raise ConfigurationError(
            "paasw got the SMS signature twice: --sign and 【】 at the start of --content",
            action="Give it once: pass --sign NAME with the text alone, or start --content "
            "with 【NAME】 and leave --sign out",
        )
    if message.sign is not None:
        return message.sign, f"【{message.sign}】{content}"
    if found is None:
        raise ConfigurationError(
            "paasw needs the SMS signature",
            action="Start --content with 【签名】, or pass --sign",
        )
    return found.group(1), content


def _chunk_sender(client: AsyncPaasw, message: MessageOptions) -> ChunkSender:
    sign, content = _sign_and_content(message)
    kind = SmsKind(str(message.kind)) if message.kind is not None else None
    return client.sms.send_chunks(sign=sign, content=content, kind=kind)


async def _read_balance(client: AsyncPaasw) -> str:
    return str((await client.account.balance()).balance)


async def _check_credentials(client: AsyncPaasw) -> str:
    balance = await client.account.balance()
    return f"a token was issued and the balance read ({balance.balance})"


async def _pull_events(client: AsyncPaasw, sign: str | None) -> Sequence[Event]:
    return await client.reports.pull_events(sign)


async def _pull_reports(client: AsyncPaasw, kind: str, sign: str | None) -> Sequence[str]:
    if kind == "deliveries":
        got = await client.reports.pull_deliveries(sign=sign)
        return [f"{r.phone}\t{r.biz_id}\t{r.code}\t{r.status.name}" for r in got]
    if sign is None:
        raise ConfigurationError("pulling paasw replies needs a sign", action="Pass --sign")
    replies = await client.reports.pull_replies(sign=sign)
    return [f"{r.phone}\t{r.send_time}\t{r.content}" for r in replies]


PROVIDER = ProviderSpec(
    name="paasw",
    title="paasw",
    async_client=AsyncPaasw,
    blocking_client=Paasw,
    credentials=(CredentialField(name="app_id"), CredentialField(name="secret", secret=True)),
    default_base_url=DEFAULT_BASE_URL,
    sandbox_prefix="/paasw",
    emulator="crowdsms.sandbox.emulators.paasw:PaaswEmulator",
    chunk_sender=_chunk_sender,
    demo_message=MessageOptions(content="【SANDBOX】您的订单已发货", kind=2),
    send_options={
        "content": "the text, starting with 【签名】 unless --sign gives it (required)",
        "sign": "the SMS signature without 【】, if --content does not start with it",
        "kind": "1 verification code, 2 notice, 3 marketing (if the account has several)",
    },
    per_recipient_variables=False,
    template_variables=lambda message: frozenset(),
    price_per_segment=PRICE_PER_SEGMENT,
    # The gateway does not publish its balance's unit; the sandbox counts SMS segments.
    balance_unit="segments",
    hints={"kind": "this account needs the message kind: pass --kind 1, 2 or 3"},
    codes=CODES,
    webhooks=(PaaswWebhook,),
    read_balance=_read_balance,
    pull_reports=_pull_reports,
    pull_events=_pull_events,
    check_credentials=_check_credentials,
)
