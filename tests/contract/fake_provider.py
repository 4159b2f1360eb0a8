"""A fifth provider, "fake", written the way a contributor would add one.

Everything a provider needs, in one place: an async client with an endpoint group, a
blocking twin, a chunk sender, a signing function with a published vector, a code table, a
webhook receiver, an emulator for the sandbox, and the registry entry :data:`SPEC`. The
tests register it and reach it from the command line, the config loader, the sandbox and
the webhook app without editing any file of the package.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crowdsms._client import AsyncClientBase
from crowdsms._codes import CodeInfo, CodeKind, error_for_code
from crowdsms._secret import Secret, require_secret
from crowdsms._transport.request import ApiRequest, ApiResponse, BodyEncoding
from crowdsms._transport.signer import Rejection
from crowdsms.blocking import BlockingClientBase, BlockingGroup, blocking, passthrough
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.phones import normalize_mainland_mobile
from crowdsms.providers._spec import (
    CredentialField,
    MessageOptions,
    ProviderSpec,
    SignatureVector,
    require_option,
)
from crowdsms.sandbox._http import MalformedBody, json_response, read_params
from crowdsms.sandbox._ledger import LedgerEntry
from crowdsms.sandbox._state import SandboxState
from crowdsms.webhooks import (
    TEXT_SUCCESS,
    Acknowledgement,
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    WebhookFormatError,
    WebhookRoute,
)

NAME = "fake"
DEFAULT_BASE_URL = "https://api.fake-sms.example"
DEFAULT_MAX_CHUNK = 10
SANDBOX_USER = "fake-user"
SANDBOX_KEY = "fake-key-0001"
CODES = {
    "401": CodeInfo(CodeKind.AUTHENTICATION, "the user or the signature is wrong"),
    "422": CodeInfo(CodeKind.RECIPIENT, "the number cannot receive messages"),
}


def compute_signature(*, key: str, text: str, user: str) -> str:
    """``hex(HMAC-SHA256(key, user + ":" + text))``."""
    return hmac.new(key.encode(), f"{user}:{text}".encode(), hashlib.sha256).hexdigest()


class FakeSigner:
    """Adds ``user`` and ``sig`` to every request."""

    def __init__(self, user: str, key: Secret) -> None:
        self._user = user
        self._key = key

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        text = request.fields.get("text", "")
        sig = compute_signature(key=self._key.reveal(), text=text, user=self._user)
        return request.with_fields({"user": self._user, "sig": sig})

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        return None

    async def refresh_credentials(self) -> None:
        return None

    def server_time_request(self) -> ApiRequest | None:
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        raise NotImplementedError


@attrs.frozen
class FakeResult:
    """One outcome per number, in order."""

    outcomes: tuple[RecipientOutcome, ...]


class FakeChunkSender:
    """The batch sender's view of ``sms.send``."""

    supports_idempotency_key = False
    supports_reference = False

    def __init__(self, client: AsyncFake, text: str) -> None:
        self._client = client
        self._text = text

    @property
    def max_chunk_size(self) -> int:
        return DEFAULT_MAX_CHUNK

    @property
    def max_connections(self) -> int | None:
        return self._client.max_connections

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        phone = normalize_mainland_mobile(recipient.phone, field="phone", position=position)
        return Recipient(phone, recipient.vars)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        result = await self._client.sms.send(phones=[r.phone for r in recipients], text=self._text)
        return result.outcomes


class FakeSmsEndpoints:
    """``client.sms``."""

    def __init__(self, client: AsyncFake) -> None:
        self._client = client

    async def send(self, *, phones: Sequence[str], text: str) -> FakeResult:
        """Send ``text`` to ``phones``."""
        request = ApiRequest(
            method="POST",
            path="/sms/send",
            operation="fake.sms.send",
            fields={"phones": ",".join(phones), "text": text},
            encoding=BodyEncoding.FORM,
        )
        response = await self._client.transport.request(request)
        answer = json.loads(response.content)
        if answer.get("code") != "ok":
            raise error_for_code(
                provider=NAME,
                code=str(answer.get("code")),
                message=str(answer.get("message")),
                table=CODES,
                operation="fake.sms.send",
            )
        return FakeResult(
            tuple(
                RecipientOutcome(
                    phone=item["phone"], status=OutcomeStatus.SENT, message_id=item["id"]
                )
                for item in answer["items"]
            )
        )

    def send_chunks(self, *, text: str) -> FakeChunkSender:
        """A chunk sender for the batch sender."""
        return FakeChunkSender(self._client, text)


class AsyncFake(AsyncClientBase):
    """The fake provider's async client."""

    provider = NAME

    def __init__(
        self,
        *,
        user: str,
        key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        **options: Any,
    ) -> None:
        secret = require_secret(key, name="key", action="Pass the fake key")
        super().__init__(base_url=base_url, signer=FakeSigner(user, secret), **options)
        self.sms = FakeSmsEndpoints(self)

    @property
    def transport(self) -> Any:
        return self._transport


class FakeSms(BlockingGroup[FakeSmsEndpoints]):
    send = blocking(FakeSmsEndpoints.send)
    send_chunks = passthrough(FakeSmsEndpoints.send_chunks)


class Fake(BlockingClientBase[AsyncFake]):
    """The blocking twin."""

    def __init__(
        self,
        *,
        user: str,
        key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        backend: Any = "asyncio",
        **options: Any,
    ) -> None:
        def make() -> AsyncFake:
            return AsyncFake(user=user, key=key, base_url=base_url, **options)

        super().__init__(make, backend=backend)
        self.sms = FakeSms(self._runner, self._async.sms)


class FakeWebhook:
    """Receives the fake provider's pushes: a JSON list of ``{"id", "phone", "ok"}``."""

    provider = NAME

    @property
    def acknowledgement(self) -> Acknowledgement:
        return TEXT_SUCCESS

    def parse(self, headers: Any, body: bytes | str) -> list[Event]:
        try:
            items = json.loads(body)
        except ValueError as exc:
            raise WebhookFormatError("not JSON", provider=NAME) from exc
        return [
            DeliveryEvent(
                provider=NAME,
                kind="report",
                message_id=item["id"],
                phone=item["phone"],
                occurred_at=None,
                outcome=DeliveryOutcome.DELIVERED if item["ok"] else DeliveryOutcome.FAILED,
            )
            for item in items
        ]

    def forget(self, headers: Any, body: bytes | str) -> None:
        return None

    def routes(self) -> tuple[WebhookRoute, ...]:
        return (WebhookRoute("", self),)


@attrs.frozen(kw_only=True)
class FakeSettings:
    users: dict[str, str] = attrs.field(factory=lambda: {SANDBOX_USER: SANDBOX_KEY})


class FakeEmulator:
    """The sandbox's emulator of the fake provider: ``POST /sms/send``."""

    provider: ClassVar[str] = NAME
    settings_class: ClassVar[type[FakeSettings]] = FakeSettings

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def settings(self) -> FakeSettings:
        settings: FakeSettings = self.state.settings.provider(NAME)
        return settings

    def accounts(self) -> list[str]:
        return list(self.settings.users)

    def client_credentials(self, account: str) -> dict[str, str]:
        return {"user": account, "key": self.settings.users[account]}

    def routes(self) -> list[BaseRoute]:
        return [Route("/sms/send", self.send, methods=["POST"])]

    async def send(self, request: Request) -> Response:
        try:
            params = await read_params(request)
        except MalformedBody:
            return json_response({"code": "400", "message": "unreadable"})
        user, text = params.get("user"), params.get("text")
        key = self.settings.users.get(user)
        expected = compute_signature(key=key or "", text=text, user=user)
        if key is None or not hmac.compare_digest(expected, params.get("sig")):
            return json_response({"code": "401", "message": "bad user or signature"})
        items = []
        for phone in params.get("phones").split(","):
            entry = LedgerEntry(
                provider=NAME,
                endpoint="sms/send",
                account=user,
                phone=phone,
                content=text,
                template=None,
                vars={},
                message_id=f"fk{self.state.next_number()}",
                fee=1,
                time=self.state.clock.now(),
            )
            self.state.ledger.record(entry)
            items.append({"phone": phone, "id": entry.message_id})
        return json_response({"code": "ok", "items": items})


def _chunk_sender(client: AsyncFake, message: MessageOptions) -> FakeChunkSender:
    require_option(message.content, "--content", NAME)
    assert message.content is not None
    return client.sms.send_chunks(text=message.content)


SPEC = ProviderSpec(
    name=NAME,
    title="Fake SMS",
    async_client=AsyncFake,
    blocking_client=Fake,
    credentials=(CredentialField(name="user"), CredentialField(name="key", secret=True)),
    default_base_url=DEFAULT_BASE_URL,
    sandbox_prefix="/fake",
    emulator=FakeEmulator,
    chunk_sender=_chunk_sender,
    demo_message=MessageOptions(content="【FAKE】hello"),
    compute_signature=compute_signature,
    signature_vectors=(
        SignatureVector(
            arguments={"key": "k", "text": "t", "user": "u"},
            expected=hmac.new(b"k", b"u:t", hashlib.sha256).hexdigest(),
        ),
    ),
    codes=CODES,
    webhooks=(FakeWebhook,),
)
