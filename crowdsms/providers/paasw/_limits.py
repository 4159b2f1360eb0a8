"""The paasw gateway's published field limits, in one place."""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_CHUNK_SIZE",
    "MAX_CONTENT_LENGTH",
    "MAX_PARAM_JSON_LENGTH",
    "MAX_PHONES",
    "MAX_PHONE_FIELD_LENGTH",
    "MAX_SIGN_LENGTH",
    "MAX_TEMPLATE_ID_LENGTH",
    "MOBILE_LENGTH",
    "SUCCESS_CODE",
]

SUCCESS_CODE: Final = "10000"
"""The code of every successful answer (sent as a string; the int is accepted too)."""

MAX_PHONES: Final = 1000
"""Most numbers in ``phoneNumbers`` (seed: 最多1000)."""

MAX_PHONE_FIELD_LENGTH: Final = 1500
"""Most characters in ``phoneNumbers``, commas included (seed: 最大长度 1500)."""

MOBILE_LENGTH: Final = 11
"""Length of a normalized mainland mobile number."""

MAX_CHUNK_SIZE: Final = min(MAX_PHONES, (MAX_PHONE_FIELD_LENGTH + 1) // (MOBILE_LENGTH + 1))
"""Most 11-digit numbers one request can carry under both limits: n*11 + (n-1) <= 1500 -> 125."""

MAX_SIGN_LENGTH: Final = 20
"""Most characters in ``sign`` (the SMS signature without 【】)."""

MAX_CONTENT_LENGTH: Final = 1000
"""Most characters in ``content`` (the 【sign】 included)."""

MAX_TEMPLATE_ID_LENGTH: Final = 20
"""Most characters in ``templateId``."""

MAX_PARAM_JSON_LENGTH: Final = 100
"""Most characters in ``paramJson`` (the JSON text as sent)."""
