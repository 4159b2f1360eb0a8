"""CrowdTask's request signature, as pure functions.

``signature = hex(HMAC-MD5(key=accesssecretkey, msg=action_uri + "&" + localtime))``, where
``action_uri`` is the request's path as sent (``/api/task/batch``) and ``localtime`` the
time of the request. The provider's later documents give the worked example
``/api/task/batch&1435132361000`` with the key ``0987654321``, which signs to
``6c52e7babb792123c66424d36c7805ba``: ``localtime`` in milliseconds since the Unix epoch.
The seed's older wording (seconds since 1900-01-01) does not reproduce that example, so the
unit is a setting (:data:`LocalTimeUnit`) with milliseconds as the default.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Final, Literal

__all__ = [
    "AUTH_LOCATIONS",
    "DEFAULT_AUTH_LOCATION",
    "DEFAULT_LOCALTIME_UNIT",
    "LOCALTIME_UNITS",
    "NTP_EPOCH_OFFSET",
    "AuthLocation",
    "LocalTimeUnit",
    "compute_signature",
    "format_localtime",
]

LocalTimeUnit = Literal["unix_ms", "unix_s", "ntp_s"]
"""How ``localtime`` counts: Unix milliseconds (default), Unix seconds, or seconds since 1900."""

AuthLocation = Literal["fields", "headers"]
"""Where ``accessid``, ``localtime`` and ``signature`` travel: form fields or HTTP headers."""

LOCALTIME_UNITS: Final[tuple[LocalTimeUnit, ...]] = ("unix_ms", "unix_s", "ntp_s")
"""Every :data:`LocalTimeUnit`."""
AUTH_LOCATIONS: Final[tuple[AuthLocation, ...]] = ("fields", "headers")
"""Every :data:`AuthLocation`."""

DEFAULT_LOCALTIME_UNIT: Final[LocalTimeUnit] = "unix_ms"
"""Milliseconds since the Unix epoch: the unit that reproduces the provider's worked example."""
DEFAULT_AUTH_LOCATION: Final[AuthLocation] = "fields"
"""Form fields beside ``projectid``, as the seed document lists them."""

NTP_EPOCH_OFFSET: Final = 2_208_988_800
"""Seconds from 1900-01-01 00:00:00 UTC to the Unix epoch."""


def format_localtime(now: float, unit: LocalTimeUnit = DEFAULT_LOCALTIME_UNIT) -> str:
    """The ``localtime`` value for the Unix time ``now`` (seconds), in ``unit``, rounded down."""
    if unit == "unix_ms":
        return str(math.floor(now * 1000))
    if unit == "unix_s":
        return str(math.floor(now))
    if unit == "ntp_s":
        return str(math.floor(now) + NTP_EPOCH_OFFSET)
    raise ValueError(f"unknown localtime unit {unit!r}; expected one of {LOCALTIME_UNITS}")


def compute_signature(*, secret: str, action_uri: str, localtime: str) -> str:
    """``hex(HMAC-MD5(key=secret, msg=action_uri + "&" + localtime))``, lower case.

    Both the key and the message are encoded as UTF-8.
    """
    message = f"{action_uri}&{localtime}".encode()
    return hmac.new(secret.encode(), message, hashlib.md5).hexdigest()
