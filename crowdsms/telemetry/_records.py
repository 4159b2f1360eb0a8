"""What the telemetry hooks receive: small frozen records, never a number or a secret.

Every field is a count, a duration, a name crowdsms chose (a provider's registry name, an
operation, an error class) or a code the provider returned. Phone numbers, template
variables, message texts, credentials and query strings are never in a record.
"""

from __future__ import annotations

import attrs

from crowdsms.errors import DeliveryCertainty

__all__ = ["AttemptDetails", "CallDetails", "ChunkDetails"]


@attrs.frozen(kw_only=True)
class AttemptDetails:
    """One HTTP attempt of a provider call, as the attempt loop saw it.

    ``status_code`` is the HTTP status of the answer (``None`` when none came: a refused
    connection, a timeout, a deadline). ``duration`` is the HTTP exchange in seconds (0 when
    no request was made). ``error_type`` is ``None`` for a success, else names what went
    wrong as OpenTelemetry's ``error.type`` does: an HTTP status of 400 or more (``"503"``),
    or the error's class (``"crowdsms.errors.RequestTimeoutError"``). ``certainty`` says
    whether a failed attempt may have been processed; ``code`` is the provider's code of a
    refusal the transport itself recognised (a rejected timestamp or token).
    """

    provider: str
    operation: str
    attempt: int
    status_code: int | None
    duration: float
    error_type: str | None = None
    certainty: DeliveryCertainty | None = None
    code: str | None = None


@attrs.frozen(kw_only=True)
class CallDetails:
    """One provider call from its first attempt to its answer or its error.

    ``attempts`` counts every attempt, the first included; ``duration`` covers them all and
    the waits between them, in seconds. ``status_code`` is the last answer's HTTP status.
    ``error_type`` (as in :class:`AttemptDetails`), ``certainty`` and ``code`` describe the
    error the call raised, or the 4xx answer it returned; ``code`` is there for a refusal
    the transport recognised (a refusal an endpoint reads in an answer it returned is on
    the chunk: see :class:`ChunkDetails`).
    ``url_path`` is the path on the wire, never its query.
    """

    provider: str
    operation: str
    method: str
    server_address: str
    url_path: str
    attempts: int
    status_code: int | None
    duration: float
    error_type: str | None = None
    certainty: DeliveryCertainty | None = None
    code: str | None = None


@attrs.frozen(kw_only=True)
class ChunkDetails:
    """One chunk of a batch job, sent (with its chunk-level retries) or not.

    ``attempts`` counts the chunk's requests (0 when none was made: the job had stopped, or
    another process took the chunk); ``sent``, ``failed`` and ``unknown`` count its
    recipients by final status. ``resend`` numbers a resend of unconfirmed recipients (0
    for the first send); ``idempotent`` says whether the requests carried an idempotency
    key. ``pace_wait`` is the time spent waiting for the rate limits, ``duration`` the whole
    chunk's, in seconds. ``provider`` and ``operation`` are those of its requests, when it
    made one. ``error_type``, ``certainty`` and ``code`` describe the failure of its last
    request, if that failed (``code`` is the provider's code of a refused request).
    """

    job_id: str | None
    chunk_index: int
    recipients: int
    attempts: int
    sent: int
    failed: int
    unknown: int
    resend: int
    idempotent: bool
    duration: float
    pace_wait: float
    provider: str | None = None
    operation: str | None = None
    error_type: str | None = None
    certainty: DeliveryCertainty | None = None
    code: str | None = None
