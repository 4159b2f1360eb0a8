"""The SUBMAIL emulator's settings, and its public default credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import attrs

from crowdsms._secret import Secret
from crowdsms.sandbox._fields import secret_field, secrets_field

__all__ = [
    "SUBMAIL_APPID",
    "SUBMAIL_APPKEY",
    "SUBMAIL_SUBHOOK_KEY",
    "SubmailSettings",
]

SUBMAIL_APPID: Final = "88000"
SUBMAIL_APPKEY: Final = "sandbox-appkey-5f0c2e6b9a1d4c37"
SUBMAIL_SUBHOOK_KEY: Final = "sandbox-subhook-key-8d41"


@attrs.frozen(kw_only=True)
class SubmailSettings:
    """SUBMAIL: apps, the timestamp window, request limits and SUBHOOK pushes."""

    apps: Mapping[str, Secret] = attrs.field(
        factory=lambda: {SUBMAIL_APPID: Secret(SUBMAIL_APPKEY)}, converter=secrets_field
    )
    """appid -> appkey."""
    timestamp_window: float = 6.0
    """Largest allowed difference between ``timestamp`` and the server's time (error 152)."""
    multi_limit: int = 200
    """Most recipients in one ``multi`` (more is error 410); the docs recommend 50."""
    subhook_key: Secret = attrs.field(default=Secret(SUBMAIL_SUBHOOK_KEY), converter=secret_field)
    """The key of SUBHOOK signatures: ``md5(token + key)``."""
    subhook_format: Literal["form", "json"] = "form"
    """How SUBHOOK pushes are encoded (SUBMAIL posts form fields; JSON is an option)."""
