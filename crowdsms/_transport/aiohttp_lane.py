"""The fast lane on asyncio: one aiohttp connection per lane (``pip install crowdsms[aiohttp]``).

aiohttp parses HTTP in C; on asyncio it costs about half of httpx's CPU per request. Each
lane is an ``aiohttp.ClientSession`` over a connector limited to one connection, so the lane
design (and its O(1) hand-out) is the same as with httpx; the lanes share aiohttp's default
TLS context (made once, when aiohttp is imported).

aiohttp's errors are raised as the httpx errors of the same meaning, so the transport
classifies them with the same rules (:mod:`crowdsms._transport.classify`). Where aiohttp
cannot tell whether a failure happened while writing the request or after, the error is
one that makes the outcome ``unknown``: never a guess that could send twice.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import aiohttp
import httpx
from yarl import URL

from crowdsms._transport.connections import Received, read_body
from crowdsms._transport.lanes import KEEPALIVE_EXPIRY
from crowdsms._transport.wire import WireRequest

__all__ = ["AiohttpLane", "httpx_error_for_aiohttp"]

# aiohttp adds these unless told not to; the httpx lanes send neither.
_SKIP_AUTO_HEADERS = ("Accept-Encoding", "User-Agent", "Content-Type", "Accept")


def httpx_error_for_aiohttp(exc: Exception, *, query: str = "") -> Exception | None:
    """The httpx error of the same meaning as aiohttp's ``exc`` (``None``: not aiohttp's).

    Some of aiohttp's messages show the request's whole URL (an answer that is not valid
    HTTP, a connect timeout); its ``query`` string, which may carry a credential, is left
    out of the message.
    """
    detail = f"{type(exc).__name__}: {exc}"
    if query:
        detail = detail.replace(query, "(query left out)")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(detail)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # the socket read timeout
        return httpx.ReadTimeout(detail)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ProxyError(detail)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake
        return httpx.ConnectError(detail)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.InvalidURL(detail)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(detail)
    if isinstance(exc, aiohttp.ClientResponseError):  # an answer that is not valid HTTP
        return httpx.RemoteProtocolError(detail)
    if isinstance(exc, aiohttp.ClientError):
        # A reset or broken pipe: aiohttp does not say whether the request was written.
        return httpx.ReadError(detail)
    return None


def _client_timeout(timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    # aiohttp has no write timeout: the attempt's deadline bounds a stalled write.
    return aiohttp.ClientTimeout(
        total=None,
        connect=None,
        sock_connect=timeout.get("connect"),
        sock_read=timeout.get("read"),
    )


class AiohttpLane:
    """One aiohttp connection (a session over a one-connection connector)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, tuple[URL, str]] = {}  # by URL text: yarl's URL, its text
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def connections_open(self) -> int:
        """1 while the connector holds a connection, else 0."""
        session = self._session
        if session is None or session.closed:
            return 0
        connector = session.connector
        return 0 if connector is None else min(1, len(getattr(connector, "_conns", ())))

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=1,
            keepalive_timeout=KEEPALIVE_EXPIRY,
            # aiohttp's own verified default context is made once, when it is imported,
            # and shared by every connector: the lanes share it.
            ssl=self._ssl_context if self._ssl_context is not None else True,
            enable_cleanup_closed=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # aiohttp sends a GET (or HEAD, PUT, DELETE) once more on its own when a kept-alive
        # connection drops after the request went out; but a GET may act at the provider (a
        # pull takes reports off its queue), so only the transport, which knows whether a
        # request may be repeated, retries. (A private setting: a test fails if it goes.)
        self._session._retry_connection = False
        return self._session

    def _url(self, request: WireRequest) -> URL:
        """yarl's URL for the request: built once per URL, or with its query string each
        time (a signed query is new on every attempt); ``encoded``: sent as it is."""
        text = request.url_text
        known = self._urls.get(text)
        if known is None:
            if len(self._urls) > 256:
                self._urls.clear()
            parsed = str(request.url)  # as httpx normalized it
            known = self._urls[text] = (URL(parsed, encoded=True), parsed)
        if request.query:
            return URL(f"{known[1]}?{request.query}", encoded=True)
        return known[0]

    def _timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("connect"), timeout.get("read"))
        known = self._timeouts.get(key)
        if known is None:
            if len(self._timeouts) > 16:
                self._timeouts.clear()
            known = self._timeouts[key] = _client_timeout(timeout)
        return known

    async def send(self, request: WireRequest, *, max_body: int) -> Received:
        """Send on this lane's connection; read the answer up to ``max_body`` bytes."""
        session = self._session or self._open()
        try:
            async with session.request(
                request.method,
                self._url(request),
                data=request.content,
                headers=request.headers,
                timeout=self._timeout(request.timeout_dict),
                allow_redirects=False,
            ) as response:
                headers = httpx.Headers(list(response.raw_headers))
                content = await read_body(
                    response.content.iter_any(),
                    declared=headers.get("content-length"),
                    max_body=max_body,
                    operation=request.operation,
                )
                return Received(response.status, headers, content)
        except Exception as exc:
            query = request.query
            error = httpx_error_for_aiohttp(exc, query=query)
            if error is None:
                raise
            if query and query in str(exc):
                raise error from None  # aiohttp's own message shows the query
            raise error from exc

    async def aclose(self) -> None:
        """Close the session and its connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
