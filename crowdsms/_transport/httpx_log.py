"""Keeping credentials out of the URLs httpx's own client logs.

``httpx.AsyncClient`` logs every request at INFO as ``HTTP Request: GET <url> ...``, query
string included. crowdsms's own connections never go through that code, but a user who
brings an ``http_client`` does, and some provider calls carry a credential in the query
(``?secret=...``, ``?token=...``). :func:`redact_httpx_log`
adds a filter to the ``httpx`` logger that masks the values of such query parameters in
those records, so a user's INFO log never shows them. Nothing else in the record changes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Final

__all__ = ["MASK", "redact_httpx_log"]

MASK: Final = "********"
_SENSITIVE: Final = re.compile(
    r"([?&](?:secret|token|access_token|appkey|app_key|smskey|signature)=)[^&#\s]*",
    re.IGNORECASE,
)
_lock = threading.Lock()
_installed = False


def _mask(value: object) -> object:
    text = str(value)
    if "=" not in text:
        return value
    masked = _SENSITIVE.sub(lambda match: match.group(1) + MASK, text)
    return value if masked == text else masked


class _QueryRedactor(logging.Filter):
    """Masks credential query parameters in the arguments of httpx's log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_mask(arg) for arg in args)
        elif isinstance(record.msg, str):
            record.msg = str(_mask(record.msg))
        return True


def redact_httpx_log() -> None:
    """Add the filter to the ``httpx`` logger (once per process)."""
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("httpx").addFilter(_QueryRedactor())
            _installed = True
