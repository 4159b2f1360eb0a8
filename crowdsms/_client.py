"""What every async provider client shares: settings, the transport, the lifecycle."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from types import TracebackType
from typing import ClassVar, Final, TypedDict

import httpx
from typing_extensions import Self, Unpack

from crowdsms._suggest import did_you_mean
from crowdsms._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    AutoLanes,
    ClientSender,
    HttpBackend,
    RetryBudget,
    RetryPolicy,
    Runtime,
    Sender,
    Signer,
    SkewClock,
    Transport,
    TransportSender,
)
from crowdsms._transport.connections import environment_proxy
from crowdsms.errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "AsyncClientBase",
    "ClientOptions",
    "check_base_url",
    "check_options",
]

USER_AGENT = "crowdsms/0.1 (+python; httpx)"

DEFAULT_MAX_CONNECTIONS = 16
"""How many requests one client keeps in flight at once unless told otherwise."""


class ClientOptions(TypedDict, total=False):
    """Settings every client accepts as keyword arguments.

    - ``timeout``: seconds per attempt, or an ``httpx.Timeout`` (default: connect 5 s,
      write 10 s, read 30 s).
    - ``retry_policy``: attempts, backoff and the total deadline (:class:`RetryPolicy`).
    - ``retry_budget``: the retry quota shared by all calls of this client.
    - ``max_connections``: how many requests may be in flight at once (default 16).
    - ``http_client`` or ``transport``: bring your own ``httpx.AsyncClient`` or transport;
      crowdsms does not close what it did not create.
    - ``clock_offset``: seconds to add to this machine's clock (measured automatically too).
    - ``runtime``: injected clocks, sleep and randomness (for tests).
    - ``max_response_bytes``: the largest answer read (default 4 MiB).
    - ``proxy``: a proxy URL; by default the environment's ``HTTPS_PROXY`` and friends, read
      once when the client is created (``trust_env=False`` ignores them).
    - ``allow_insecure_http``: permit a plain ``http://`` base URL to a non-local host.
    - ``http_backend``: the HTTP library of the client's own connections. ``"auto"`` (the
      default) uses aiohttp on asyncio when it is installed (``crowdsms[aiohttp]``) and no
      proxy is set, otherwise httpx (which also runs on trio); ``"httpx"`` or ``"aiohttp"``
      ask for one. The client's repr and :attr:`AsyncClientBase.http_backend` say which.
    """

    timeout: float | httpx.Timeout
    retry_policy: RetryPolicy
    retry_budget: RetryBudget
    max_connections: int
    http_client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    clock_offset: float
    runtime: Runtime
    max_response_bytes: int
    proxy: str | None
    trust_env: bool
    allow_insecure_http: bool
    http_backend: HttpBackend


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _shown(base_url: object) -> str:
    """``base_url`` for an error message: anything before its last ``@`` (after a scheme)
    masked, since a user name and password may be there (with a ``/`` or ``://`` in the
    password); a value that is no text by its type alone; at most 80 characters."""
    if not isinstance(base_url, str):
        return f"a {type(base_url).__name__}"
    head, at, tail = base_url.rpartition("@")
    if at:
        scheme = _SCHEME.match(head)
        base_url = f"{scheme.group() if scheme else ''}***@{tail}"
    return repr(base_url)[:80]


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Return ``base_url`` without a trailing slash, or raise :class:`ConfigurationError`."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError(
            "base_url is not a valid URL",
            received=_shown(base_url),
            action="Pass an absolute URL such as https://api.example.com",
        ) from None  # httpx's message may quote the URL, password and all
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            "base_url must be an absolute http or https URL",
            received=_shown(base_url),
            action="Pass an absolute URL such as https://api.example.com",
        )
    if url.userinfo:
        # Never echo it: the user name and password are credentials.
        raise ConfigurationError(
            "base_url must not contain a user name or password",
            received=repr(str(url.copy_with(username=None, password=None)))[:80],
            action="Remove 'user:password@' from base_url; pass credentials to the client",
        )
    if any(ch.isspace() for ch in base_url) or "%" in url.host:
        raise ConfigurationError(
            "base_url contains spaces or a malformed host",
            received=_shown(base_url),
            action="Pass an absolute URL such as https://api.example.com",
        )
    if url.query or url.fragment:
        raise ConfigurationError(
            "base_url must not have a query or fragment",
            received=_shown(base_url),
            action="Remove everything after '?' or '#'",
        )
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ConfigurationError(
            "base_url uses plain http to a remote host, which would send credentials and "
            "phone numbers unencrypted",
            received=_shown(base_url),
            action=(
                "Use https (every provider supports it), or pass allow_insecure_http=True "
                "if you really mean it"
            ),
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_OPTION_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "timeout": (int, float, httpx.Timeout),
    "retry_policy": (RetryPolicy,),
    "retry_budget": (RetryBudget,),
    "max_connections": (int,),
    "http_client": (httpx.AsyncClient,),
    "transport": (httpx.AsyncBaseTransport,),
    "clock_offset": (int, float),
    "runtime": (Runtime,),
    "max_response_bytes": (int,),
    "proxy": (str, type(None)),
    "trust_env": (bool,),
    "allow_insecure_http": (bool,),
    "http_backend": (str,),
}
_FLAGS: Final = frozenset({"trust_env", "allow_insecure_http"})


def check_options(client: str, options: Mapping[str, object]) -> None:
    """Refuse an unknown client option, or one of the wrong type, naming it.

    Type checkers catch these in typed code; this catches them at run time too (a typo
    such as ``max_conections=4`` would otherwise be ignored without a word).
    """
    for name, value in options.items():
        types = _OPTION_TYPES.get(name)
        if types is None:
            raise ConfigurationError(
                f"{client} has no option {name!r}{did_you_mean(name, _OPTION_TYPES)}",
                action=f"The options every client takes: {', '.join(_OPTION_TYPES)}",
            )
        is_bool = isinstance(value, bool)
        if not isinstance(value, types) or (is_bool and name not in _FLAGS):
            expected = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            raise ConfigurationError(
                f"{client}'s option {name} must be {expected}, not {type(value).__name__}",
                received=repr(value)[:40] if name != "proxy" else None,
                action=f"Pass {name} as {expected}",
            )


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if value <= 0:
        raise ConfigurationError(
            "timeout must be positive", received=repr(value), action="Pass seconds, e.g. 30"
        )
    return httpx.Timeout(value, pool=None)


def _sender(base_url: str, options: ClientOptions) -> Sender:
    http_client = options.get("http_client")
    transport = options.get("transport")
    if (http_client is not None or transport is not None) and "http_backend" in options:
        raise ConfigurationError(
            "http_backend chooses the client's own connections; with http_client or "
            "transport they are yours",
            action="Pass http_backend, or http_client/transport, not both",
        )
    if http_client is not None and transport is not None:
        raise ConfigurationError(
            "pass http_client or transport, not both",
            action="Configure the transport on your httpx.AsyncClient instead",
        )
    if http_client is not None:
        return ClientSender(http_client, owned=False)
    if transport is not None:
        return TransportSender(transport, owned=False)
    proxy = options.get("proxy")
    if proxy is None and options.get("trust_env", True):
        proxy = environment_proxy(base_url)
    max_connections = options.get("max_connections", DEFAULT_MAX_CONNECTIONS)
    if max_connections < 1:
        raise ConfigurationError(
            "max_connections must be at least 1",
            received=repr(max_connections),
            action="Pass the number of requests you want in flight at once, e.g. 16",
        )
    return AutoLanes(max_connections, proxy=proxy, backend=options.get("http_backend", "auto"))


class AsyncClientBase:
    """The lifecycle and transport shared by every async provider client.

    Use a client as an async context manager, or call :meth:`aclose` when done. One client
    is meant to live as long as your application: it holds the connections, the measured
    clock offset and the retry budget.
    """

    provider: ClassVar[str] = ""

    def __init__(
        self,
        *,
        base_url: str,
        signer: Signer,
        account: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        """``account`` is the identity the client signs with (never a secret): a batch
        job's journal records it, with the provider and the base URL, as where it sends."""
        check_options(type(self).__name__, options)
        self._max_connections = (
            None
            if "http_client" in options or "transport" in options
            else options.get("max_connections", DEFAULT_MAX_CONNECTIONS)
        )
        base_url = check_base_url(
            base_url, allow_insecure_http=options.get("allow_insecure_http", False)
        )
        runtime = options.get("runtime") or Runtime()
        self._transport = Transport(
            provider=self.provider,
            base_url=base_url,
            signer=signer,
            sender=_sender(base_url, options),
            policy=options.get("retry_policy"),
            budget=options.get("retry_budget"),
            clock=SkewClock(runtime.wall_time, offset=options.get("clock_offset", 0.0)),
            runtime=runtime,
            timeout=_timeout(options.get("timeout")),
            max_response_bytes=options.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
            user_agent=USER_AGENT,
            account=account,
        )

    @property
    def base_url(self) -> str:
        """The provider's base URL this client talks to."""
        return self._transport.base_url

    @property
    def max_connections(self) -> int | None:
        """How many requests this client keeps in flight at once (``None``: your transport's)."""
        return self._max_connections

    @property
    def clock_offset(self) -> float:
        """Seconds added to this machine's clock when signing (measured or set)."""
        return self._transport.clock.offset

    def set_clock_offset(self, seconds: float) -> None:
        """Set the clock offset by hand."""
        self._transport.clock.set_offset(seconds)

    async def measure_clock(self) -> float:
        """Measure the offset from the provider's clock now, and return it in seconds."""
        return await self._transport.measure_clock()

    @property
    def http_backend(self) -> str:
        """The HTTP library the client sends with.

        ``"aiohttp"`` or ``"httpx"`` for the client's own connections (``"auto"`` until
        the first request when ``http_backend="auto"`` and the client was created outside
        an event loop),
        ``"httpx client"`` or ``"httpx transport"`` for yours.
        """
        sender = self._transport.sender
        if isinstance(sender, AutoLanes):
            return sender.backend
        if isinstance(sender, ClientSender):
            return "httpx client"
        return "httpx transport"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} http={self.http_backend!r}>"

    async def aclose(self) -> None:
        """Close the client's connections. Safe to call more than once."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
