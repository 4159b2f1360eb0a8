"""Span, metric and attribute names, and the only ways values from errors become attributes.

The HTTP attributes follow OpenTelemetry's semantic conventions for HTTP clients; the rest
are crowdsms's own, under ``crowdsms.``. Values are counts, durations, names crowdsms chose
and providers' codes that pass :func:`safe_code`: never a phone number, a template variable,
a message text, a credential or a query string.
"""

from __future__ import annotations

import re
from typing import Final

from crowdsms.errors import HTTPStatusError, ProviderError

__all__ = [
    "ATTEMPT",
    "ATTEMPTS",
    "BATCH_FAILED",
    "BATCH_INTERRUPTED",
    "BATCH_RECIPIENTS",
    "BATCH_REQUESTS",
    "BATCH_RESUMED",
    "BATCH_RETRIES",
    "BATCH_SENT",
    "BATCH_SKIPPED",
    "BATCH_STOPPED",
    "BATCH_UNKNOWN",
    "CERTAINTY",
    "CHUNK_ATTEMPTS",
    "CHUNK_IDEMPOTENT",
    "CHUNK_INDEX",
    "CHUNK_PACE_WAIT",
    "CHUNK_RECIPIENTS",
    "CHUNK_RESEND",
    "CHUNK_SIZE",
    "CHUNK_SPAN",
    "CODE",
    "CONCURRENCY",
    "ERROR_TYPE",
    "HTTP_METHOD",
    "HTTP_STATUS",
    "JOB_ID",
    "JOB_SPAN",
    "OPERATION",
    "OTHER_CODE",
    "OUTCOME_STATUS",
    "PROVIDER",
    "RETRY_SCOPE",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "URL_PATH",
    "error_type",
    "provider_code",
    "safe_code",
]

# Semantic conventions (HTTP client).
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_PATH: Final = "url.path"
ERROR_TYPE: Final = "error.type"

# Provider calls.
PROVIDER: Final = "crowdsms.provider"
OPERATION: Final = "crowdsms.operation"
ATTEMPTS: Final = "crowdsms.attempts"
ATTEMPT: Final = "crowdsms.attempt"
CERTAINTY: Final = "crowdsms.delivery_certainty"
CODE: Final = "crowdsms.provider.code"
RETRY_SCOPE: Final = "crowdsms.retry.scope"

# Batch jobs and chunks.
JOB_SPAN: Final = "crowdsms.batch.job"
CHUNK_SPAN: Final = "crowdsms.batch.chunk"
JOB_ID: Final = "crowdsms.batch.job.id"
CHUNK_SIZE: Final = "crowdsms.batch.chunk_size"
CONCURRENCY: Final = "crowdsms.batch.concurrency"
BATCH_RECIPIENTS: Final = "crowdsms.batch.recipients"
BATCH_SENT: Final = "crowdsms.batch.sent"
BATCH_FAILED: Final = "crowdsms.batch.failed"
BATCH_UNKNOWN: Final = "crowdsms.batch.unknown"
BATCH_SKIPPED: Final = "crowdsms.batch.skipped"
BATCH_REQUESTS: Final = "crowdsms.batch.requests"
BATCH_RETRIES: Final = "crowdsms.batch.retries"
BATCH_RESUMED: Final = "crowdsms.batch.resumed"
BATCH_STOPPED: Final = "crowdsms.batch.stopped"
BATCH_INTERRUPTED: Final = "crowdsms.batch.interrupted"
CHUNK_INDEX: Final = "crowdsms.batch.chunk.index"
CHUNK_RECIPIENTS: Final = "crowdsms.batch.chunk.recipients"
CHUNK_ATTEMPTS: Final = "crowdsms.batch.chunk.attempts"
CHUNK_RESEND: Final = "crowdsms.batch.chunk.resend"
CHUNK_IDEMPOTENT: Final = "crowdsms.batch.chunk.idempotent"
CHUNK_PACE_WAIT: Final = "crowdsms.batch.chunk.pace_wait"
OUTCOME_STATUS: Final = "crowdsms.outcome.status"

# A provider's code: short, made of letters, digits and punctuation, with no run of digits
# long enough to be a phone number (7 or more), whatever a provider put in its code field.
_CODE = re.compile(r"[A-Za-z0-9_.:\-]{1,32}")
_LONG_DIGITS = re.compile(r"\d{7}")
OTHER_CODE: Final = "_OTHER"


def safe_code(code: object) -> str | None:
    """``code`` if it can be recorded as it is, :data:`OTHER_CODE` if not, ``None`` if none."""
    if code is None:
        return None
    text = str(code)
    if _CODE.fullmatch(text) and not _LONG_DIGITS.search(text):
        return text
    return OTHER_CODE


def error_type(error: BaseException) -> str:
    """The ``error.type`` of ``error``: the HTTP status of a status error, else its class.

    As the semantic conventions ask: the status code as a string when an answer's status
    was the failure, otherwise the exception's fully qualified class name. Never its
    message, which may quote the provider's answer.
    """
    if isinstance(error, HTTPStatusError):
        return str(error.status_code)
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def provider_code(error: BaseException) -> str | None:
    """The provider's code of a refusal, made safe to record; ``None`` for other errors."""
    if isinstance(error, ProviderError):
        return safe_code(error.code)
    return None
