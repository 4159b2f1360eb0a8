"""From command-line options to a client and the chunk sender the batch sender drives."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from crowdsms._client import AsyncClientBase
from crowdsms.cli._config import Credentials, ProviderName
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import ChunkSender
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.paasw import AsyncPaasw, SmsKind
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail

__all__ = ["Message", "make_chunk_sender", "make_client", "sandbox_credentials"]


@attrs.frozen(kw_only=True)
class Message:
    """What to send: content (SUBMAIL, paasw), a template (SendCloud) or a project (CrowdTask)."""

    content: str | None = None
    tag: str | None = None
    template_id: int | None = None
    sign: str | None = None
    kind: int | None = None
    project_id: int | None = None
    columns: tuple[str, ...] = ()


def sandbox_credentials(provider: ProviderName, url: str) -> Credentials:
    """The embedded sandbox's public default credentials for ``provider``."""
    from crowdsms._secret import Secret
    from crowdsms.sandbox import (
        CROWDTASK_ACCESS_ID,
        CROWDTASK_SECRET,
        PAASW_APP_ID,
        PAASW_SECRET,
        SENDCLOUD_SMS_KEY,
        SENDCLOUD_SMS_USER,
        SUBMAIL_APPID,
        SUBMAIL_APPKEY,
    )

    identity, secret, prefix = {
        "submail": (SUBMAIL_APPID, SUBMAIL_APPKEY, "/submail"),
        "sendcloud": (SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, "/sendcloud/smsapi"),
        "crowdtask": (CROWDTASK_ACCESS_ID, CROWDTASK_SECRET, "/crowdtask"),
        "paasw": (PAASW_APP_ID, PAASW_SECRET, "/paasw"),
    }[provider]
    return Credentials(provider, identity, Secret(secret), url + prefix, "embedded sandbox")


def make_client(credentials: Credentials, *, max_connections: int = 16) -> AsyncClientBase:
    """An async client for ``credentials`` (the provider's own base URL unless they set one)."""
    from crowdsms.providers import crowdtask, paasw, sendcloud, submail

    base = credentials.base_url
    if credentials.provider == "submail":
        return AsyncSubmail(
            app_id=credentials.identity,
            app_key=credentials.secret,
            base_url=base or submail.DEFAULT_BASE_URL,
            max_connections=max_connections,
        )
    if credentials.provider == "sendcloud":
        return AsyncSendCloud(
            sms_user=credentials.identity,
            sms_key=credentials.secret,
            base_url=base or sendcloud.DEFAULT_BASE_URL,
            max_connections=max_connections,
        )
    if credentials.provider == "crowdtask":
        return AsyncCrowdTask(
            access_id=credentials.identity,
            access_secret_key=credentials.secret,
            base_url=base or crowdtask.DEFAULT_BASE_URL,
            max_connections=max_connections,
        )
    return AsyncPaasw(
        app_id=credentials.identity,
        secret=credentials.secret,
        base_url=base or paasw.DEFAULT_BASE_URL,
        max_connections=max_connections,
    )


def _require(value: object, option: str, provider: str) -> None:
    if value is None:
        raise ConfigurationError(
            f"{provider} needs {option}", action=f"Pass {option} (see crowdsms send --help)"
        )


def make_chunk_sender(client: AsyncClientBase, message: Message) -> ChunkSender:
    """The provider's multi-recipient endpoint, ready for the batch sender."""
    if isinstance(client, AsyncSubmail):
        _require(message.content, "--content", "submail")
        assert message.content is not None
        return client.sms.multisend_chunks(content=message.content, tag=message.tag)
    if isinstance(client, AsyncSendCloud):
        _require(message.template_id, "--template-id", "sendcloud")
        assert message.template_id is not None
        return client.sms.sendn_chunks(template_id=message.template_id)
    if isinstance(client, AsyncCrowdTask):
        _require(message.project_id, "--project-id", "crowdtask")
        assert message.project_id is not None
        return client.tasks.batch_chunks(project_id=message.project_id, columns=message.columns)
    assert isinstance(client, AsyncPaasw)
    _require(message.content, "--content", "paasw")
    _require(message.sign, "--sign", "paasw")
    assert message.content is not None
    assert message.sign is not None
    kind = SmsKind(str(message.kind)) if message.kind is not None else None
    return client.sms.send_chunks(sign=message.sign, content=message.content, kind=kind)


def var_key(provider: ProviderName, column: str) -> str:
    """The template variable name a CSV column fills (SendCloud writes them ``%name%``)."""
    if provider == "sendcloud" and not (column.startswith("%") and column.endswith("%")):
        return f"%{column}%"
    return column


def var_keys(provider: ProviderName, columns: Sequence[str]) -> dict[str, str]:
    """CSV column -> template variable, for every column."""
    return {column: var_key(provider, column) for column in columns}
