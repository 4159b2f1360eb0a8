"""The logical request an endpoint asks for, and the answer the transport hands back."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs
import httpx

__all__ = ["ApiRequest", "ApiResponse", "BodyEncoding", "FilePart"]


class BodyEncoding(enum.Enum):
    """Where a request's fields go on the wire."""

    QUERY = "query"
    FORM = "form"
    JSON = "json"
    MULTIPART = "multipart"


@attrs.frozen
class FilePart:
    """A file uploaded in a multipart body."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


def _keys_only(value: Mapping[str, object]) -> str:
    """Repr of a mapping that may hold credentials: its keys, never its values."""
    return "{" + ", ".join(repr(key) for key in value) + "}"


@attrs.frozen
class ApiRequest:
    """One call an endpoint wants made, before signing.

    ``fields`` are the provider's parameters (all strings, exactly as they are signed and
    sent); ``encoding`` says whether they travel in the query, a form, a JSON object or a
    multipart body. A :class:`~crowdsms._transport.signer.Signer` returns a copy with its
    signature fields or headers added, once per attempt.

    ``idempotent`` declares that repeating the call cannot send anything twice (reads,
    timestamps). ``idempotency_key`` marks a send that the provider deduplicates, which makes
    retrying an ambiguous failure safe. ``at_least_once`` is the caller's explicit consent to
    retry ambiguous failures of a send anyway. ``authenticate=False`` asks the signer to
    leave the request as it is (public endpoints such as a provider's clock).
    """

    method: str
    path: str
    operation: str
    fields: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_mapping, repr=_keys_only
    )
    encoding: BodyEncoding = BodyEncoding.FORM
    query: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping, repr=_keys_only)
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_mapping, repr=_keys_only
    )
    files: Mapping[str, FilePart] = attrs.field(factory=dict, repr=_keys_only)
    idempotent: bool = False
    idempotency_key: str | None = None
    at_least_once: bool = False
    authenticate: bool = True

    @property
    def may_repeat_ambiguous(self) -> bool:
        """Whether an attempt that may have been processed can be sent again."""
        return self.idempotent or self.idempotency_key is not None or self.at_least_once

    def with_fields(self, extra: Mapping[str, str]) -> ApiRequest:
        """Return a copy with ``extra`` fields added (or replaced)."""
        return self.replace_fields({**self.fields, **extra})

    def replace_fields(self, fields: Mapping[str, str]) -> ApiRequest:
        """Return a copy with exactly ``fields`` (a signer's, once per attempt).

        The same as ``attrs.evolve(self, fields=fields)``, at a third of its cost.
        """
        return ApiRequest(
            self.method,
            self.path,
            self.operation,
            fields,
            self.encoding,
            self.query,
            self.headers,
            self.files,
            self.idempotent,
            self.idempotency_key,
            self.at_least_once,
            self.authenticate,
        )

    def with_query(self, extra: Mapping[str, str]) -> ApiRequest:
        """Return a copy with ``extra`` query parameters added (or replaced)."""
        return attrs.evolve(self, query={**self.query, **extra})

    def with_headers(self, extra: Mapping[str, str]) -> ApiRequest:
        """Return a copy with ``extra`` headers added (or replaced)."""
        return attrs.evolve(self, headers={**self.headers, **extra})


@attrs.frozen
class ApiResponse:
    """A provider's answer, read in full (up to the client's size limit).

    ``attempts`` counts the attempts the call took, including the one that answered.
    """

    status_code: int
    headers: httpx.Headers
    content: bytes
    operation: str
    attempts: int = 1

    @property
    def request_id(self) -> str | None:
        """The provider's or proxy's request id header, if it sent one."""
        for name in ("x-request-id", "x-requestid", "request-id", "x-trace-id"):
            value: str | None = self.headers.get(name)
            if value:
                return value
        return None
