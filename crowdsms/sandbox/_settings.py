"""The sandbox's settings: accounts and keys, limits, windows and behaviour per provider.

Every default is deterministic, and the default credentials are public constants, so tests
and examples can sign requests without configuration. Every guess about a provider that
``PROVIDERS.md`` leaves open is a setting here, with its documented default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

import attrs

from crowdsms._secret import Secret
from crowdsms.sandbox._faults import FaultSettings

__all__ = [
    "CROWDTASK_ACCESS_ID",
    "CROWDTASK_SECRET",
    "PAASW_APP_ID",
    "PAASW_SECRET",
    "PROVIDERS",
    "SENDCLOUD_CONTACT_LISTS",
    "SENDCLOUD_SMS_KEY",
    "SENDCLOUD_SMS_USER",
    "SENDCLOUD_TEMPLATES",
    "SENDCLOUD_WEBHOOK_KEY",
    "SUBMAIL_APPID",
    "SUBMAIL_APPKEY",
    "SUBMAIL_SUBHOOK_KEY",
    "CrowdTaskSettings",
    "PaaswSettings",
    "SandboxSettings",
    "SendCloudSettings",
    "SubmailSettings",
]

PROVIDERS: Final = ("submail", "sendcloud", "crowdtask", "paasw")
"""The providers, each served under ``/{name}`` (SendCloud under ``/sendcloud/smsapi``)."""

SUBMAIL_APPID: Final = "88000"
SUBMAIL_APPKEY: Final = "sandbox-appkey-5f0c2e6b9a1d4c37"
SUBMAIL_SUBHOOK_KEY: Final = "sandbox-subhook-key-8d41"
SENDCLOUD_SMS_USER: Final = "sandbox-user"
SENDCLOUD_SMS_KEY: Final = "sandbox-smskey-3b7e91c0d2a64f58"
SENDCLOUD_WEBHOOK_KEY: Final = "sandbox-sendcloud-app-key-61ad"
CROWDTASK_ACCESS_ID: Final = "sandbox-access"
CROWDTASK_SECRET: Final = "sandbox-access-secret-4e2a9c"  # noqa: S105 (public default)
PAASW_APP_ID: Final = "sandboxapp"
PAASW_SECRET: Final = "sandbox-paasw-secret-00000001"  # noqa: S105 (public default)

SENDCLOUD_TEMPLATES: Final[Mapping[int, str]] = {
    1: "【SANDBOX】您的验证码是%code%，10分钟内有效。",
    2: "【SANDBOX】%name%，您好！您的订单%order%已发货。",
    3: "【SANDBOX】感谢您的关注。",
}
"""The SendCloud templates the sandbox knows by default (``templateId`` -> text)."""

SENDCLOUD_CONTACT_LISTS: Final[Mapping[str, tuple[str, ...]]] = {
    "sandbox-list": ("13800138000", "13800138001", "13800138002", "13800138003"),
    "sandbox-vip": ("13900139000", "13900139001"),
}
"""The SendCloud contact lists the sandbox knows by default (name -> numbers)."""


def _secrets(value: Mapping[str, str | Secret]) -> Mapping[str, Secret]:
    return {str(key): _secret(secret) for key, secret in value.items()}


def _secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def _contact_lists(value: Mapping[str, Sequence[str]]) -> Mapping[str, tuple[str, ...]]:
    return {name: tuple(numbers) for name, numbers in value.items()}


@attrs.frozen(kw_only=True)
class SubmailSettings:
    """SUBMAIL: apps, the timestamp window, request limits and SUBHOOK pushes."""

    apps: Mapping[str, Secret] = attrs.field(
        factory=lambda: {SUBMAIL_APPID: Secret(SUBMAIL_APPKEY)}, converter=_secrets
    )
    """appid -> appkey."""
    timestamp_window: float = 6.0
    """Largest allowed difference between ``timestamp`` and the server's time (error 152)."""
    multi_limit: int = 200
    """Most recipients in one ``multi`` (more is error 410); the docs recommend 50."""
    subhook_key: Secret = attrs.field(default=Secret(SUBMAIL_SUBHOOK_KEY), converter=_secret)
    """The key of SUBHOOK signatures: ``md5(token + key)``."""
    subhook_format: Literal["form", "json"] = "form"
    """How SUBHOOK pushes are encoded (SUBMAIL posts form fields; JSON is an option)."""


@attrs.frozen(kw_only=True)
class SendCloudSettings:
    """SendCloud SMS: users, windows, limits, templates, contact lists and SMSHook."""

    users: Mapping[str, Secret] = attrs.field(
        factory=lambda: {SENDCLOUD_SMS_USER: Secret(SENDCLOUD_SMS_KEY)}, converter=_secrets
    )
    """smsUser -> smsKey."""
    timestamp_window: float = 60.0
    """Largest allowed difference between ``timestamp`` (ms) and the server's time (461)."""
    send_limit: int = 2000
    """Most numbers in ``send``'s ``phone``."""
    sendx_limit: int = 200
    """Most items in ``sendn``/``sendx``'s ``tos``."""
    var_max_length: int = 16
    """Longest variable value (the seed says 16 characters)."""
    templates: Mapping[int, str] = attrs.field(factory=lambda: dict(SENDCLOUD_TEMPLATES))
    """templateId -> template text with ``%name%`` placeholders; others are error 431."""
    contact_lists: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=lambda: dict(SENDCLOUD_CONTACT_LISTS), converter=_contact_lists
    )
    """Contact list name -> numbers, for ``sendContactListTask``."""
    task_start_delay: float = 2.0
    """Seconds a contact-list task waits (等待执行) before it runs, if no executeTime."""
    task_run_time: float = 3.0
    """Seconds a contact-list task runs (执行中) before it succeeds (执行成功)."""
    webhook_key: Secret = attrs.field(default=Secret(SENDCLOUD_WEBHOOK_KEY), converter=_secret)
    """The key of SMSHook signatures: ``hex(HMAC-SHA256(key, str(timestamp) + token))``."""
    webhook_format: Literal["form", "json"] = "form"
    """How SMSHook pushes are encoded."""


@attrs.frozen(kw_only=True)
class CrowdTaskSettings:
    """CrowdTask: access keys, the localtime window and unit, and the row limit."""

    keys: Mapping[str, Secret] = attrs.field(
        factory=lambda: {CROWDTASK_ACCESS_ID: Secret(CROWDTASK_SECRET)}, converter=_secrets
    )
    """accessid -> accesssecretkey."""
    window: float = 300.0
    """Largest allowed difference between ``localtime`` and the server's time (5 minutes)."""
    time_unit: Literal["ms", "s"] = "ms"
    """The unit of ``localtime``: Unix milliseconds (later docs) or seconds."""
    max_rows: int = 100
    """Rows of one upload that become tasks; further rows are dropped silently."""


@attrs.frozen(kw_only=True)
class PaaswSettings:
    """paasw: apps, token lifetime and the ``phoneNumbers`` limits."""

    apps: Mapping[str, Secret] = attrs.field(
        factory=lambda: {PAASW_APP_ID: Secret(PAASW_SECRET)}, converter=_secrets
    )
    """appId -> secret (a secret reset replaces it at runtime)."""
    token_ttl: int = 7200
    """Seconds a token lives; the same token comes back while it does."""
    max_numbers: int = 1000
    """Most numbers in ``phoneNumbers``."""
    max_phone_chars: int = 1500
    """Longest ``phoneNumbers`` field, in characters."""
    kind_required: bool = True
    """Whether ``kind`` is required (the app is configured for several kinds)."""
    pull_batch: int = 100
    """Most reports (or replies) one ``/sms/deliver`` (``/sms/smsUp``) pull returns."""


@attrs.frozen(kw_only=True)
class SandboxSettings:
    """Everything the sandbox can be configured with; every field has a default.

    ``clock_offset`` and ``faults`` are the starting values: change them at runtime through
    :class:`~crowdsms.sandbox.Sandbox` or the ``/_sandbox`` admin endpoints.
    """

    submail: SubmailSettings = attrs.field(factory=SubmailSettings)
    sendcloud: SendCloudSettings = attrs.field(factory=SendCloudSettings)
    crowdtask: CrowdTaskSettings = attrs.field(factory=CrowdTaskSettings)
    paasw: PaaswSettings = attrs.field(factory=PaaswSettings)
    initial_balance: int = 1_000_000
    """Starting balance of every account, in SMS segments."""
    clock_offset: float = 0.0
    """Seconds the sandbox's clock starts ahead of the wall clock."""
    latency: float = 0.0
    """Seconds every provider request waits before it is handled."""
    faults: FaultSettings = attrs.field(factory=FaultSettings)
    """Starting fault probabilities and seed."""
    seed: int = 0
    """Seed of ids, tokens and delivery outcomes."""
    delivery_failure_rate: float = 0.0
    """Fraction of sent messages whose delivery report says they failed."""
    blocked_numbers: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    """Numbers every provider refuses (SUBMAIL 114, SendCloud item failure, paasw code 7)."""
    strict_phone_format: bool = True
    """Accept only the 11-digit form of a number (what the SDK must send), not ``+86 ...``."""
    segment_length: int = 70
    """Characters per billed SMS segment."""
    webhooks: Mapping[str, str] = attrs.field(factory=dict)
    """provider -> URL that delivery reports (and replies, unless ``reply_webhooks``) go to."""
    reply_webhooks: Mapping[str, str] = attrs.field(factory=dict)
    """provider -> URL that replies (SUBMAIL ``mo``, paasw smsUp) go to."""
    webhook_attempts: int = 3
    """Attempts per push before it is given up."""
    webhook_retry_delay: float = 0.2
    """Seconds before the second attempt of a push; doubled for each further attempt."""
    webhook_timeout: float = 5.0
    """Seconds one push attempt may take."""
