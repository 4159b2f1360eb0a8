"""The paasw emulator's settings, and its public default credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from crowdsms._secret import Secret
from crowdsms.sandbox._fields import secrets_field

__all__ = [
    "PAASW_APP_ID",
    "PAASW_SECRET",
    "PaaswSettings",
]

PAASW_APP_ID: Final = "sandboxapp"
PAASW_SECRET: Final = "sandbox-paasw-secret-00000001"  # noqa: S105 (public default)


@attrs.frozen(kw_only=True)
class PaaswSettings:
    """paasw: apps, token lifetime and the ``phoneNumbers`` limits."""

    apps: Mapping[str, Secret] = attrs.field(
        factory=lambda: {PAASW_APP_ID: Secret(PAASW_SECRET)}, converter=secrets_field
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
