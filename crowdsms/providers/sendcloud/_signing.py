"""SendCloud SMS request signing, as pure functions.

The signature covers every parameter except ``signature`` itself (the key is never a
parameter): sort the names, join them as ``k=v&k=v`` with the raw values (not URL-encoded;
JSON values exactly as they are sent), and hash ``smsKey + "&" + S + "&" + smsKey``. The
2015-2017 documents use md5, the current official SDKs sha256; both give lower-case hex.

JSON parameters (``vars``, ``tos``) must be serialized once, and that one string both signed
and sent: :func:`encode_json` is the serialization every endpoint uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Final, Literal

from crowdsms._secret import Secret

__all__ = [
    "DEFAULT_SIGN_TYPE",
    "SIGN_TYPES",
    "SignType",
    "compute_signature",
    "encode_json",
    "string_to_sign",
]

SignType = Literal["md5", "sha256"]
"""The hash functions SendCloud accepts for the signature."""

SIGN_TYPES: Final[tuple[SignType, ...]] = ("md5", "sha256")
"""Every accepted ``sign_type``."""

DEFAULT_SIGN_TYPE: Final[SignType] = "md5"
"""md5, the hash of the 2015-2017 documents (the current official SDKs use sha256)."""


def encode_json(value: object) -> str:
    """Serialize a JSON parameter compactly, keeping non-ASCII text as it is.

    The result is the exact string that is signed and sent; never serialize a value twice.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def string_to_sign(params: Mapping[str, str]) -> str:
    """The parameter string ``S``: every parameter but ``signature``, sorted, ``k=v&k=v``.

    Values are used raw, exactly as they go on the wire before URL encoding. ``S`` holds no
    key, so it is safe to log when debugging a signature mismatch.
    """
    return "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "signature")


def compute_signature(
    *, params: Mapping[str, str], sms_key: str | Secret, sign_type: SignType = DEFAULT_SIGN_TYPE
) -> str:
    """The lower-case hex signature of ``params``: ``hash(smsKey & S & smsKey)``.

    ``S`` is :func:`string_to_sign` of ``params``; ``sign_type`` picks the hash (``md5``,
    the default, or ``sha256``).
    """
    key = sms_key.reveal() if isinstance(sms_key, Secret) else sms_key
    text = f"{key}&{string_to_sign(params)}&{key}".encode()
    if sign_type == "md5":
        return hashlib.md5(text, usedforsecurity=False).hexdigest()
    if sign_type == "sha256":
        return hashlib.sha256(text).hexdigest()
    raise ValueError(f"sign_type must be one of {', '.join(SIGN_TYPES)}, not {sign_type!r}")
