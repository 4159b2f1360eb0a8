"""SendCloud SMS's entry in the provider registry."""

from __future__ import annotations

import re

from crowdsms.errors import AuthenticationError, ProviderError, SignatureError
from crowdsms.outcomes import ChunkSender
from crowdsms.providers._spec import (
    CredentialField,
    MessageOptions,
    ProviderSpec,
    SignatureVector,
    require_option,
)
from crowdsms.providers.sendcloud._blocking import SendCloud
from crowdsms.providers.sendcloud._chunks import PRICE_PER_SEGMENT
from crowdsms.providers.sendcloud._client import DEFAULT_BASE_URL, AsyncSendCloud
from crowdsms.providers.sendcloud._codes import CODES
from crowdsms.providers.sendcloud._signing import compute_signature
from crowdsms.providers.sendcloud._webhooks import SendCloudWebhook

__all__ = ["PROVIDER"]


def _chunk_sender(client: AsyncSendCloud, message: MessageOptions) -> ChunkSender:
    require_option(message.template_id, "--template-id", "sendcloud")
    assert message.template_id is not None
    return client.sms.sendn_chunks(
        template_id=message.template_id, template_text=message.template_text
    )


_VARIABLE = re.compile(r"%([^%\s]+)%")


def _template_variables(message: MessageOptions) -> frozenset[str] | None:
    """The ``%name%`` variables of ``--template-text``, when given (else unknown)."""
    if message.template_text is None:
        return None
    return frozenset(_VARIABLE.findall(message.template_text))


async def _read_clock(client: AsyncSendCloud) -> float:
    return (await client.timestamp.get()).seconds


async def _check_credentials(client: AsyncSendCloud) -> str:
    """Query a contact-list task: a signed call that sends nothing."""
    try:
        await client.contact_tasks.query(task_id=1)
    except (AuthenticationError, SignatureError):
        raise
    except ProviderError as error:
        return f"a signed query was accepted (it answered code {error.code} for task 1)"
    return "a signed query was accepted"


def _var_name(column: str) -> str:
    """SendCloud template variables are written ``%name%``."""
    if column.startswith("%") and column.endswith("%"):
        return column
    return f"%{column}%"


_DOC_PARAMS = {"phone": "18888888888", "smsUser": "testuser", "templateId": "1", "vars": "{}"}
_DOC_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

PROVIDER = ProviderSpec(
    name="sendcloud",
    title="SendCloud SMS",
    async_client=AsyncSendCloud,
    blocking_client=SendCloud,
    credentials=(CredentialField(name="sms_user"), CredentialField(name="sms_key", secret=True)),
    default_base_url=DEFAULT_BASE_URL,
    sandbox_prefix="/sendcloud/smsapi",
    emulator="crowdsms.sandbox.emulators.sendcloud:SendCloudEmulator",
    chunk_sender=_chunk_sender,
    demo_message=MessageOptions(template_id=1, columns=("code",)),
    send_options={
        "template_id": "the approved template, with %name% variables (required)",
        "template_text": "the template's text as approved, only to count segments "
        "(for previews and spend caps, where the command has them); not sent",
    },
    var_name=_var_name,
    template_variables=_template_variables,
    price_per_segment=PRICE_PER_SEGMENT,
    compute_signature=compute_signature,
    signature_vectors=tuple(
        SignatureVector(
            arguments={"params": _DOC_PARAMS, "sms_key": _DOC_KEY, "sign_type": sign_type},
            expected=expected,
            source="SendCloud's signing document, worked example",
        )
        for sign_type, expected in (
            ("md5", "31eda13789be63afca40a32e37880d6d"),
            ("sha256", "473959199cbb4bcac74310296ba880b1394ff73fd0953f3661c5d5eb999d43d3"),
        )
    ),
    codes=CODES,
    webhooks=(SendCloudWebhook,),
    read_clock=_read_clock,
    check_credentials=_check_credentials,
)
