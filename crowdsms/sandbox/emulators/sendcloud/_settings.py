"""The SendCloud SMS emulator's settings, and its public default credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import attrs

from crowdsms._secret import Secret
from crowdsms.sandbox._fields import secret_field, secrets_field, tuple_values

__all__ = [
    "SENDCLOUD_CONTACT_LISTS",
    "SENDCLOUD_SMS_KEY",
    "SENDCLOUD_SMS_USER",
    "SENDCLOUD_TEMPLATES",
    "SENDCLOUD_WEBHOOK_KEY",
    "SendCloudSettings",
]

SENDCLOUD_SMS_USER: Final = "sandbox-user"
SENDCLOUD_SMS_KEY: Final = "sandbox-smskey-3b7e91c0d2a64f58"
SENDCLOUD_WEBHOOK_KEY: Final = "sandbox-sendcloud-app-key-61ad"

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


@attrs.frozen(kw_only=True)
class SendCloudSettings:
    """SendCloud SMS: users, windows, limits, templates, contact lists and SMSHook."""

    users: Mapping[str, Secret] = attrs.field(
        factory=lambda: {SENDCLOUD_SMS_USER: Secret(SENDCLOUD_SMS_KEY)}, converter=secrets_field
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
        factory=lambda: dict(SENDCLOUD_CONTACT_LISTS), converter=tuple_values
    )
    """Contact list name -> numbers, for ``sendContactListTask``."""
    task_start_delay: float = 2.0
    """Seconds a contact-list task waits (等待执行) before it runs, if no executeTime."""
    task_run_time: float = 3.0
    """Seconds a contact-list task runs (执行中) before it succeeds (执行成功)."""
    webhook_key: Secret = attrs.field(default=Secret(SENDCLOUD_WEBHOOK_KEY), converter=secret_field)
    """The key of SMSHook signatures: ``hex(HMAC-SHA256(key, str(timestamp) + token))``."""
    webhook_format: Literal["form", "json"] = "form"
    """How SMSHook pushes are encoded."""
