"""Access tokens for the paasw gateway: fetched once, cached, refreshed before they expire.

``GET /api/token?appId=&secret=`` (unsigned and idempotent) answers
``{"code": "10000", "token": ..., "expires_in": 7200}``. The token is cached until
:func:`refresh_margin` seconds before it expires (5 minutes, or 10% of its lifetime when
that is shorter), measured on the client's monotonic clock from the moment the fetch
started, so the network delay never makes us use a token later than we think.

If that early refresh fails for a passing reason (an outage, a timeout), the old token is
still valid: it stays in use, and the refresh is tried again every 30 seconds until it
expires. A refused secret is never papered over this way.

Concurrency: however many calls need a token at once, exactly one fetch is in flight. A
call that finds no usable token takes an ``anyio.Lock`` (asyncio and trio), checks again
(another call may have fetched it while it waited), and only then fetches.

Each fetched token gets a generation number, for the logs. When the gateway refuses a
token, the signer drops it only if it is still the token the refused request carried:
fifty calls refused together cause one new fetch, not fifty.

The secret travels in the query string of the token request because that is the only way
the gateway accepts it; crowdsms never logs URLs, and every error built from the token
answer has the secret and the token masked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import attrs

from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding
from crowdsms.errors import (
    AuthenticationError,
    DeliveryCertainty,
    ProviderError,
    RequestError,
    ResponseParseError,
)
from crowdsms.providers.paasw._codes import PROVIDER_NAME, SUCCESS_CODE
from crowdsms.providers.paasw._converter import (
    TokenAnswer,
    answer_code,
    answer_message,
    converter,
    http_status_error,
)
from crowdsms.providers.paasw._errors import TokenFetchError
from crowdsms.providers.paasw._redact import Redactor

__all__ = [
    "MAX_REFRESH_MARGIN",
    "TOKEN_OPERATION",
    "TOKEN_PATH",
    "AccessToken",
    "TokenCache",
    "refresh_margin",
]

logger = logging.getLogger("crowdsms.providers.paasw")

TOKEN_PATH: Final = "/api/token"  # noqa: S105 (a path, not a password)
TOKEN_OPERATION: Final = "paasw.token"  # noqa: S105 (a name, not a password)

MAX_REFRESH_MARGIN: Final = 300.0
"""Refresh a token at most this many seconds before it expires."""

REFRESH_MARGIN_FRACTION: Final = 0.1
"""... or this fraction of its lifetime before, when that is shorter."""

REFRESH_RETRY_INTERVAL: Final = 30.0
"""After a failed early refresh, keep the still-valid token this long before trying again."""


SendFn = Callable[[ApiRequest], Awaitable[ApiResponse]]


def refresh_margin(expires_in: float) -> float:
    """Seconds before expiry at which a token of lifetime ``expires_in`` is refreshed."""
    return min(MAX_REFRESH_MARGIN, expires_in * REFRESH_MARGIN_FRACTION)


@attrs.frozen
class AccessToken:
    """A fetched token; times are on the client's monotonic clock."""

    value: Secret
    generation: int
    expires_at: float
    refresh_at: float

    def usable(self, now: float) -> bool:
        """Whether the token may still be used at ``now`` (before its refresh time)."""
        return now < self.refresh_at


class TokenCache:
    """Fetches and caches the access token, one fetch at a time."""

    def __init__(self, *, app_id: str, secret: Secret, redactor: Redactor) -> None:
        self._app_id = app_id
        self._secret = secret
        self._redactor = redactor
        self._lock = anyio.Lock()
        self._current: AccessToken | None = None
        self._generation = 0
        self._send: SendFn | None = None
        self._monotonic: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"<TokenCache app_id={self._app_id!r} generation={self._generation}>"

    def bind(self, *, send: SendFn, monotonic: Callable[[], float]) -> None:
        """Attach the transport's ``request`` and monotonic clock (done by the client)."""
        self._send = send
        self._monotonic = monotonic

    @property
    def generation(self) -> int:
        """How many tokens have been fetched so far."""
        return self._generation

    async def get(self, *, operation: str) -> AccessToken:
        """A usable token, fetched if there is none (one fetch for all waiting callers).

        ``operation`` names the call that needs it, for a :class:`TokenFetchError`.
        """
        current = self._current
        if current is not None and current.usable(self._monotonic()):
            return current
        async with self._lock:
            current = self._current  # another caller may have fetched it while we waited
            if current is not None and current.usable(self._monotonic()):
                return current
            try:
                fresh = await self._fetch(operation)
            except TokenFetchError:
                kept = self._keep_while_valid(current)
                if kept is None:
                    self._current = None
                    raise
                return kept
            self._current = fresh
            return fresh

    def _keep_while_valid(self, current: AccessToken | None) -> AccessToken | None:
        """After a failed early refresh, the old token if it has not expired yet."""
        now = self._monotonic()
        if current is None or now >= current.expires_at:
            return None
        kept = attrs.evolve(
            current, refresh_at=min(now + REFRESH_RETRY_INTERVAL, current.expires_at)
        )
        self._current = kept
        logger.warning(
            "paasw: refreshing access token #%d failed; using it for its last %.0f s",
            current.generation,
            current.expires_at - now,
        )
        return kept

    def invalidate(self, *, token: str | None = None) -> bool:
        """Drop the cached token; with ``token`` (a refused value), only if it is still that one.

        Returns whether a token was dropped.
        """
        current = self._current
        if current is None:
            return False
        if token is not None and current.value != Secret(token):
            return False  # already replaced since the refused request was signed
        self._current = None
        logger.info(
            "paasw: dropped access token #%d; the next call fetches a new one", current.generation
        )
        return True

    def _request(self) -> ApiRequest:
        return ApiRequest(
            method="GET",
            path=TOKEN_PATH,
            operation=TOKEN_OPERATION,
            fields={"appId": self._app_id, "secret": self._secret.reveal()},
            encoding=BodyEncoding.QUERY,
            idempotent=True,
            authenticate=False,
        )

    async def _fetch(self, operation: str) -> AccessToken:
        if self._send is None:
            raise RuntimeError("TokenCache.bind() was not called; the client does this")
        started = self._monotonic()
        try:
            response = await self._send(self._request())
            answer = self._parse(response)
        except ProviderError:
            raise  # the credentials were refused: AuthenticationError, NOT_SENT
        except RequestError as exc:
            # Masked in place, with every exception chained to it: a logged traceback shows
            # them all, and an earlier attempt's page may quote the URL with the secret.
            self._redactor.error(exc)
            received = exc.received
            raise TokenFetchError(exc.what, operation=operation, received=received) from exc
        self._redactor.add_token(answer.token)
        lifetime = float(answer.expires_in)
        self._generation += 1
        token = AccessToken(
            value=Secret(answer.token),
            generation=self._generation,
            expires_at=started + lifetime,
            refresh_at=started + lifetime - refresh_margin(lifetime),
        )
        logger.debug(
            "paasw: fetched access token #%d, valid for %d s", token.generation, answer.expires_in
        )
        return token

    def _parse(self, response: ApiResponse) -> TokenAnswer:
        try:
            data = decode_json(response)
        except ResponseParseError as exc:
            if response.status_code >= 300:
                raise http_status_error(self._redacted(response)) from None
            raise self._parse_error(response, exc.what.partition(": ")[2]) from None
        if not isinstance(data, dict):
            raise self._parse_error(response, "the token answer is not a JSON object")
        code = answer_code(data)
        if code is None:
            raise self._parse_error(response, "the token answer has no code")
        if code != SUCCESS_CODE:
            raise self._refused(code, answer_message(data))
        if response.status_code >= 300:
            raise http_status_error(self._redacted(response))
        answer = self._structure(response, data)
        if not answer.token:
            raise self._parse_error(response, "the token answer has an empty token")
        if answer.expires_in <= 0:
            raise self._parse_error(response, "the token answer's expires_in is not positive")
        return answer

    def _structure(self, response: ApiResponse, data: dict[str, Any]) -> TokenAnswer:
        try:
            return structure(converter, data, TokenAnswer, response)
        except ResponseParseError as exc:
            raise self._parse_error(response, exc.what.partition(": ")[2]) from None

    def _refused(self, code: str, message: str) -> AuthenticationError:
        return AuthenticationError(
            provider=PROVIDER_NAME,
            code=code,
            provider_message=self._redactor.text(message),
            explanation="the gateway refused to issue an access token for this app id and secret",
            operation=TOKEN_OPERATION,
            certainty=DeliveryCertainty.NOT_SENT,
            action=(
                "Check app_id and secret (a secret reset in the gateway's console replaces "
                "the old one) and that the app is enabled; nothing was sent"
            ),
        )

    def _redacted(self, response: ApiResponse) -> ApiResponse:
        return self._redactor.token_answer(response)

    def _parse_error(self, response: ApiResponse, what: str) -> ResponseParseError:
        """A parse error whose excerpt has the secret and the token masked."""
        return parse_error(self._redacted(response), what or "the token answer is unreadable")
