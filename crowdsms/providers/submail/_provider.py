"""SUBMAIL's entry in the provider registry."""

from __future__ import annotations

import re

from crowdsms.outcomes import ChunkSender
from crowdsms.providers._spec import (
    CredentialField,
    MessageOptions,
    ProviderSpec,
    SignatureVector,
    require_option,
)
from crowdsms.providers.submail._blocking import Submail
from crowdsms.providers.submail._chunks import PRICE_PER_SEGMENT
from crowdsms.providers.submail._client import DEFAULT_BASE_URL, AsyncSubmail
from crowdsms.providers.submail._codes import CODES
from crowdsms.providers.submail._signing import compute_signature
from crowdsms.providers.submail._webhooks import SubmailWebhook

__all__ = ["PROVIDER"]


_VAR = re.compile(r"@var\(([^()]*)\)")


def _template_variables(message: MessageOptions) -> frozenset[str] | None:
    """The ``@var(name)`` names the content uses."""
    return frozenset(_VAR.findall(message.content or ""))


def _chunk_sender(client: AsyncSubmail, message: MessageOptions) -> ChunkSender:
    require_option(message.content, "--content", "submail")
    assert message.content is not None
    return client.sms.multisend_chunks(content=message.content, tag=message.tag)


async def _read_clock(client: AsyncSubmail) -> float:
    return float(await client.service.timestamp())


_WORKED_EXAMPLE = {
    "appid": "10000",
    "sign_type": "md5",
    "sign_version": "2",
    "timestamp": "1414253462",
}

PROVIDER = ProviderSpec(
    name="submail",
    title="SUBMAIL",
    async_client=AsyncSubmail,
    blocking_client=Submail,
    credentials=(CredentialField(name="app_id"), CredentialField(name="app_key", secret=True)),
    default_base_url=DEFAULT_BASE_URL,
    sandbox_prefix="/submail",
    emulator="crowdsms.sandbox.emulators.submail:SubmailEmulator",
    chunk_sender=_chunk_sender,
    demo_message=MessageOptions(
        content="【SANDBOX】@var(name)，您好，您的取货码为 @var(code)", columns=("name", "code")
    ),
    send_options={
        "content": "【签名】 first, then the text with @var(name) variables (required)",
        "tag": "at most 32 characters, kept with every report of the send",
    },
    template_variables=_template_variables,
    fee_unit="SMS segments",
    price_per_segment=PRICE_PER_SEGMENT,
    compute_signature=compute_signature,
    signature_vectors=tuple(
        SignatureVector(
            arguments={
                "sign_type": sign_type,
                "app_id": "10000",
                "app_key": "abc123",
                "fields": _WORKED_EXAMPLE,
                "api": "sms/multisend",
            },
            expected=expected,
            source="SUBMAIL's signing document, worked example",
        )
        for sign_type, expected in (
            ("md5", "de95295c01cf130c014ec718baa06021"),
            ("sha1", "56d592d04c52fcbacf02d049d3e338c469732cc7"),
        )
    ),
    codes=CODES,
    webhooks=(SubmailWebhook,),
    read_clock=_read_clock,
    cannot_check=(
        "SUBMAIL checks the app id and key only on a send, and crowdsms has no SUBMAIL call "
        "that proves them without sending"
    ),
)
