"""The request as it goes on the wire, independent of the HTTP library that sends it.

:func:`~crowdsms._transport.encode.to_wire_request` builds one per attempt; a sender turns it
into its library's request: an ``httpcore.Request`` for the default lanes, an aiohttp call
for the fast lanes, an ``httpx.Request`` for a user's client or transport
(:meth:`WireRequest.to_httpx`). Building an ``httpx.Request`` costs several times more than
the fields below, so only the senders that need one pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

__all__ = ["WireRequest"]

_RECOMPUTED = frozenset({"host", "content-length", "transfer-encoding"})


class WireRequest:
    """Method, parsed URL, query string, headers and the whole body of one attempt.

    ``headers`` never hold ``Host`` or ``Content-Length``: each sender sets those from
    ``url`` and ``content``. ``query`` is the encoded query string (without the ``?``; empty
    for none), kept apart from ``url`` so that a signed query, new on every attempt, costs
    no URL parsing: each sender appends it. ``timeout`` is the per-attempt timeout
    (connect, write, read, pool) and ``operation`` names the call for errors
    (``"sms.multisend"``).
    """

    __slots__ = (
        "content",
        "headers",
        "method",
        "operation",
        "query",
        "timeout",
        "timeout_dict",
        "url",
        "url_text",
    )

    def __init__(
        self,
        method: str,
        url: httpx.URL,
        headers: Sequence[tuple[str, str]],
        content: bytes,
        *,
        timeout: httpx.Timeout,
        operation: str,
        timeout_dict: Mapping[str, float | None] | None = None,
        url_text: str | None = None,
        query: str = "",
    ) -> None:
        self.method = method
        self.url = url
        self.url_text = str(url) if url_text is None else url_text
        """``url`` as text: senders key their caches by it (hashing an ``httpx.URL`` rebuilds
        its text every time)."""
        self.query = query
        """The encoded query string, appended after ``?`` to ``url`` by every sender."""
        self.headers = headers
        self.content = content
        self.timeout = timeout
        self.timeout_dict = timeout.as_dict() if timeout_dict is None else timeout_dict
        """``timeout`` as httpx and httpcore take it (computed once per client)."""
        self.operation = operation

    def __repr__(self) -> str:
        # Never the query or the body: either may carry a credential.
        return f"<WireRequest {self.method} {self.url.scheme}://{self.url.netloc.decode()}{self.url.path}>"

    @classmethod
    def from_httpx(
        cls, request: httpx.Request, *, timeout: httpx.Timeout, operation: str
    ) -> WireRequest:
        """The wire form of an ``httpx.Request`` whose body is in memory (multipart, query)."""
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in _RECOMPUTED
        ]
        return cls(
            request.method,
            request.url,
            headers,
            request.read(),
            timeout=timeout,
            operation=operation,
        )

    def to_httpx(self) -> httpx.Request:
        """This request as an ``httpx.Request``, for a user's httpx client or transport."""
        url = self.url
        if self.query:
            url = url.copy_with(query=self.query.encode("ascii"))
        return httpx.Request(
            self.method,
            url,
            headers=self.headers,
            content=self.content,
            extensions={"timeout": dict(self.timeout_dict), "crowdsms_operation": self.operation},
        )
