"""SUBMAIL request signatures, as pure functions, following SUBMAIL's API documents.

With ``sign_type`` ``md5`` or ``sha1`` the signature is computed over the request's
parameters:

1. take every parameter except ``signature`` and ``tag``; with ``sign_version=2`` also
   leave out the API's long free-text parameters (``content`` for ``sms/send``, ``multi``
   and ``content`` for ``sms/multisend``, ``vars`` for ``sms/xsend``, ``multi`` for
   ``sms/multixsend``, as each API's document says);
2. sort the keys ascending and join them as ``k=v&k=v`` with the raw values (not
   URL-encoded);
3. hash ``appid + appkey + S + appid + appkey`` (UTF-8) and write it as lower-case hex.

``sign_type``, ``sign_version`` and ``timestamp`` are parameters too, so they are signed.
With ``sign_type=normal`` the "signature" is the app key itself, sent in clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "SIGN_TYPES",
    "SIGN_VERSION",
    "SignType",
    "api_name",
    "compute_signature",
    "string_to_sign",
    "unsigned_fields",
]

SignType = Literal["md5", "sha1", "normal"]
SIGN_TYPES: Final[tuple[SignType, ...]] = ("md5", "sha1", "normal")
SIGN_VERSION: Final = "2"

_ALWAYS_UNSIGNED: Final = frozenset({"signature", "tag"})
_UNSIGNED_IN_V2: Final[Mapping[str, frozenset[str]]] = {
    "sms/send": frozenset({"content"}),
    "sms/multisend": frozenset({"multi", "content"}),
    "sms/xsend": frozenset({"vars"}),
    "sms/multixsend": frozenset({"multi"}),
}
_JSON_SUFFIX: Final = ".json"


def api_name(path: str) -> str:
    """The API a request path names: ``"/sms/multisend.json"`` -> ``"sms/multisend"``."""
    name = path.strip("/")
    return name.removesuffix(_JSON_SUFFIX)


def unsigned_fields(api: str, *, sign_version: str | None) -> frozenset[str]:
    """The parameters of ``api`` that are left out of the signature."""
    if sign_version == SIGN_VERSION:
        return _ALWAYS_UNSIGNED | _UNSIGNED_IN_V2.get(api, frozenset())
    return _ALWAYS_UNSIGNED


def string_to_sign(fields: Mapping[str, str], *, api: str) -> str:
    """The ``k=v&k=v`` string of the signed parameters of ``fields``, sorted by key.

    ``fields`` are the parameters as sent, ``sign_version`` among them (it decides which
    ones are left out).
    """
    skip = unsigned_fields(api, sign_version=fields.get("sign_version"))
    return "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key not in skip)


def compute_signature(
    *, sign_type: SignType, app_id: str, app_key: str, fields: Mapping[str, str], api: str
) -> str:
    """The ``signature`` parameter for a request to ``api`` with parameters ``fields``."""
    if sign_type == "normal":
        return app_key
    payload = app_id + app_key + string_to_sign(fields, api=api) + app_id + app_key
    data = payload.encode("utf-8")
    if sign_type == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if sign_type == "sha1":
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()
    raise ValueError(f"unknown SUBMAIL sign_type {sign_type!r}; use one of {SIGN_TYPES}")
