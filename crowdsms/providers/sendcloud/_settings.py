"""The client settings the endpoint groups read (private)."""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["SendnEndpoint", "Settings"]

SendnEndpoint = Literal["sendn", "sendx"]
"""The path of the multi-recipient endpoint: ``sendn`` (2015 docs) or ``sendx`` (later)."""


@attrs.frozen(kw_only=True)
class Settings:
    """Guesses about the provider that the client lets users change."""

    sendn_endpoint: SendnEndpoint = "sendn"
    max_sendn_recipients: int = 200
    max_var_length: int | None = 16
