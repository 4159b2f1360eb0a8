"""The paasw gateway's entry in the provider registry."""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import ChunkSender
from crowdsms.providers._spec import CredentialField, MessageOptions, ProviderSpec, require_option
from crowdsms.providers.paasw._blocking import Paasw
from crowdsms.providers.paasw._client import DEFAULT_BASE_URL, AsyncPaasw
from crowdsms.providers.paasw._codes import CODES
from crowdsms.providers.paasw._models import SmsKind
from crowdsms.providers.paasw._webhooks import PaaswWebhook

__all__ = ["PROVIDER"]


def _chunk_sender(client: AsyncPaasw, message: MessageOptions) -> ChunkSender:
    require_option(message.content, "--content", "paasw")
    require_option(message.sign, "--sign", "paasw")
    assert message.content is not None
    assert message.sign is not None
    kind = SmsKind(str(message.kind)) if message.kind is not None else None
    return client.sms.send_chunks(sign=message.sign, content=message.content, kind=kind)


async def _read_balance(client: AsyncPaasw) -> str:
    return str((await client.account.balance()).balance)


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
    demo_message=MessageOptions(content="【SANDBOX】您的订单已发货", sign="SANDBOX", kind=2),
    send_options={
        "content": "the text, 【sign】 included (required)",
        "sign": "the SMS signature without 【】 (required)",
        "kind": "1 verification code, 2 notice, 3 marketing (if the account has several)",
    },
    codes=CODES,
    webhooks=(PaaswWebhook,),
    read_balance=_read_balance,
    pull_reports=_pull_reports,
)
