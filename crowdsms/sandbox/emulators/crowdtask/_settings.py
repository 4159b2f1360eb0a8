"""The CrowdTask emulator's settings, and its public default credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import attrs

from crowdsms._secret import Secret
from crowdsms.sandbox._fields import secrets_field

__all__ = [
    "CROWDTASK_ACCESS_ID",
    "CROWDTASK_SECRET",
    "CrowdTaskSettings",
]

CROWDTASK_ACCESS_ID: Final = "sandbox-access"
CROWDTASK_SECRET: Final = "sandbox-access-secret-4e2a9c"  # noqa: S105 (public default)


@attrs.frozen(kw_only=True)
class CrowdTaskSettings:
    """CrowdTask: access keys, the localtime window and unit, and the row limit."""

    keys: Mapping[str, Secret] = attrs.field(
        factory=lambda: {CROWDTASK_ACCESS_ID: Secret(CROWDTASK_SECRET)}, converter=secrets_field
    )
    """accessid -> accesssecretkey."""
    window: float = 300.0
    """Largest allowed difference between ``localtime`` and the server's time (5 minutes)."""
    time_unit: Literal["ms", "s"] = "ms"
    """The unit of ``localtime``: Unix milliseconds (later docs) or seconds."""
    max_rows: int = 100
    """Rows of one upload that become tasks; further rows are dropped silently."""
