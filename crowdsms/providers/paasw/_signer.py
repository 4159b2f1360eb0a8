"""The paasw "signer": no signature, an access token on every authenticated request.

The token goes where the request's other fields go: a form field in the body of a POST
(``/sms/send``, ``/sms/sendTemplate``), a query parameter of a GET (``/sms/deliver``,
``/sms/smsUp``, ``/sms/balance``), URL-encoded in both (tokens may hold ``+ / =``). The
gateway has no clock endpoint and signs nothing with time, so :meth:`server_time_request`
is ``None``.

A refused token is recognized by its code (``token_rejected_codes``, a guess since the
gateway does not publish it), by a message that mentions the token, or by HTTP 401. The
transport then hands the rejection, with the refused request attached, to
:meth:`refresh_rejected_credentials` and retries the call once with a new token; a refused
token proves the request was not processed, so even a send is safe to repeat. The refused
request's ``token`` field tells which token was refused: if another call has already
replaced it, the new token is kept (fifty calls refused together cause one fetch).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from crowdsms._secret import Secret
from crowdsms._transport import ApiRequest, ApiResponse, Rejection, RejectionKind, Transport
from crowdsms.errors import AuthenticationError, CrowdSMSError, DeliveryCertainty, excerpt
from crowdsms.providers.paasw._codes import PROVIDER_NAME, SUCCESS_CODE
from crowdsms.providers.paasw._converter import answer_code, answer_message
from crowdsms.providers.paasw._redact import Redactor
from crowdsms.providers.paasw._token import TOKEN_OPERATION, TokenCache

if TYPE_CHECKING:
    from crowdsms._transport.signer import RejectionAwareSigner

__all__ = ["TOKEN_FIELD", "PaaswSigner"]

TOKEN_FIELD: Final = "token"  # noqa: S105 (a field name, not a password)

_TOKEN_WORDS: Final = ("token", "令牌")


class PaaswSigner:
    """Adds the cached access token to authenticated requests; spots refused tokens."""

    def __init__(self, *, app_id: str, secret: Secret, token_rejected_codes: Iterable[str]) -> None:
        self.token_rejected_codes = frozenset(str(code) for code in token_rejected_codes)
        self.redactor = Redactor(secret.reveal())
        self.tokens = TokenCache(app_id=app_id, secret=secret, redactor=self.redactor)

    def __repr__(self) -> str:
        return f"<PaaswSigner tokens fetched={self.tokens.generation}>"

    def bind(self, transport: Transport) -> None:
        """Fetch tokens through ``transport``, timing them with its monotonic clock."""
        self.tokens.bind(send=transport.request, monotonic=transport.runtime.monotonic)

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        """Add the ``token`` field (fetching a token first if none is usable)."""
        if not request.authenticate:
            return request
        token = await self.tokens.get(operation=request.operation)
        return request.with_fields({TOKEN_FIELD: token.value.reveal()})

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        """A ``CREDENTIALS`` rejection if the gateway refused the token, else ``None``."""
        if response.operation == TOKEN_OPERATION:
            return None  # the token request carries no token; its failures are final
        if response.status_code == 401:
            received = excerpt(self.redactor.response(response).content)
            return self._rejection(response, code="HTTP 401", message=received)
        data = _envelope(response.content)
        if data is None:
            return None
        code = answer_code(data)
        if code is None or code == SUCCESS_CODE:
            return None
        message = answer_message(data)
        if code in self.token_rejected_codes or _mentions_token(message):
            return self._rejection(response, code=code, message=message)
        return None

    async def refresh_rejected_credentials(self, rejection: Rejection) -> None:
        """Drop the token ``rejection.request`` carried, unless another call has replaced it.

        Without the refused request (a rejection built by hand), drop the current token.
        """
        refused = None if rejection.request is None else rejection.request.fields.get(TOKEN_FIELD)
        self.tokens.invalidate(token=refused)

    async def refresh_credentials(self) -> None:
        """Drop the current token, so that the next request fetches a new one."""
        self.tokens.invalidate()

    def server_time_request(self) -> ApiRequest | None:
        """``None``: the gateway has no clock endpoint and nothing is signed with time."""
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        """Never called, since :meth:`server_time_request` is ``None``."""
        raise NotImplementedError("the paasw gateway has no timestamp endpoint")

    def redact(self, response: ApiResponse) -> ApiResponse:
        """``response`` with the secret and the tokens masked in its body."""
        return self.redactor.response(response)

    def redact_error(self, error: CrowdSMSError) -> CrowdSMSError:
        """``error`` with the secret and the tokens masked in its texts (in place)."""
        return self.redactor.error(error)

    def _rejection(self, response: ApiResponse, *, code: str, message: str) -> Rejection:
        error = AuthenticationError(
            provider=PROVIDER_NAME,
            code=code,
            provider_message=self.redactor.text(message),
            explanation=(
                "the gateway refused the access token (it expires early when the app's "
                "secret is reset)"
            ),
            operation=response.operation,
            certainty=DeliveryCertainty.NOT_SENT,
            action=(
                "crowdsms fetched a new token and retried once, and that was refused too; "
                "check the app's secret, and the client's token_rejected_codes setting if "
                "this code does not really mean a refused token. Nothing was sent"
            ),
        )
        return Rejection(kind=RejectionKind.CREDENTIALS, error=error)


if TYPE_CHECKING:  # mypy checks that the transport hands PaaswSigner the refused request
    _REJECTION_AWARE: type[RejectionAwareSigner] = PaaswSigner


def _envelope(content: bytes) -> dict[str, Any] | None:
    """The answer as a JSON object, or ``None`` (the endpoint reports anything else)."""
    if content.lstrip()[:1] != b"{":
        return None
    try:
        data = json.loads(content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _mentions_token(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _TOKEN_WORDS)
