"""What every receiver offers, and the shared machinery of signed receivers.

A receiver turns one pushed request into typed events (:meth:`Receiver.parse`), says what to
answer the provider once they are handled (:attr:`Receiver.acknowledgement`), and can forget
a push it parsed but that could not be handled, so that the provider's retry is accepted
(:meth:`Receiver.forget`). The built-in receivers also :meth:`~SignedReceiver.verify` a
request without remembering it: each push's events with the key a
:class:`~crowdsms.webhooks.ReplayStore` remembers it by, which is what
:class:`~crowdsms.webhooks.WebhookApp` uses.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

import attrs

from crowdsms._secret import Secret, require_secret
from crowdsms.webhooks._body import Body, Headers, read_objects
from crowdsms.webhooks._errors import WebhookFormatError, WebhookSignatureError
from crowdsms.webhooks._events import Event
from crowdsms.webhooks._fields import optional_text
from crowdsms.webhooks._replay import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_AHEAD,
    DEFAULT_REPLAY_CACHE_SIZE,
    MemoryReplayStore,
    ReplayGuard,
    ReplayKey,
    StalePushError,
    replay_key,
)

__all__ = [
    "TEXT_SUCCESS",
    "Acknowledgement",
    "ProviderWebhook",
    "Receiver",
    "SignedReceiver",
    "VerifiedPush",
    "WebhookRoute",
]


@attrs.frozen(kw_only=True)
class Acknowledgement:
    """The answer a provider expects once a push has been handled."""

    body: bytes
    content_type: str
    status_code: int = 200

    @classmethod
    def json(cls, value: Any) -> Acknowledgement:
        """An acknowledgement with ``value`` as its UTF-8 JSON body."""
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(body=body, content_type="application/json; charset=utf-8")

    @classmethod
    def text(cls, value: str) -> Acknowledgement:
        """An acknowledgement with ``value`` as its plain-text body."""
        return cls(body=value.encode("utf-8"), content_type="text/plain; charset=utf-8")


TEXT_SUCCESS = Acknowledgement.text("success")
"""The usual acknowledgement: HTTP 200 with the body ``success``."""


class Receiver(Protocol):
    """One kind of push: parse it, acknowledge it, or forget it to accept a retry."""

    @property
    def provider(self) -> str:
        """The provider's registry name."""
        ...

    @property
    def acknowledgement(self) -> Acknowledgement:
        """What to answer once the push's events have been handled."""
        ...

    def parse(self, headers: Headers, body: Body) -> list[Event]:
        """The push's events, verified; raises a :class:`~crowdsms.webhooks.WebhookError`."""
        ...

    def forget(self, headers: Headers, body: Body) -> None:
        """Forget a parsed push that could not be handled, so its retry is accepted."""
        ...


@attrs.frozen
class VerifiedPush:
    """One verified push of a request: its events, and the key it is remembered by."""

    key: ReplayKey | None
    """The provider and a hash of its verified signature (``<provider>:<hex>``); None for an
    unsigned push, which nothing can tell from a replay."""
    events: tuple[Event, ...]


@attrs.frozen
class WebhookRoute:
    """One path a provider pushes to: ``suffix`` below the provider's own path."""

    suffix: str
    """``""`` for the provider's path itself, or e.g. ``"/deliver"`` below it."""
    receiver: Receiver


class ProviderWebhook(Protocol):
    """What :class:`~crowdsms.webhooks.WebhookApp` takes per provider: its routes."""

    @property
    def provider(self) -> str:
        """The provider's registry name."""
        ...

    def routes(self) -> tuple[WebhookRoute, ...]:
        """The paths this provider pushes to, below ``/{provider}``."""
        ...


class SignedReceiver:
    """The shared part of receivers of signed pushes: key, time window, replay memory."""

    provider: ClassVar[str]

    def __init__(
        self,
        *,
        key: str | Secret,
        max_age: float = DEFAULT_MAX_AGE,
        max_ahead: float = DEFAULT_MAX_AHEAD,
        replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
        acknowledgement: Acknowledgement = TEXT_SUCCESS,
    ) -> None:
        self._key = require_secret(
            key,
            name=f"the {self.provider} webhook key",
            action="Pass the key shown in the provider's console for this webhook",
        )
        self._guard = ReplayGuard(
            provider=self.provider,
            max_age=max_age,
            max_ahead=max_ahead,
            capacity=replay_cache_size,
            clock=clock,
        )
        self._max_age = float(max_age)
        self._acknowledgement = acknowledgement

    def routes(self) -> tuple[WebhookRoute, ...]:
        """One route: the provider's own path."""
        return (WebhookRoute("", self),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self._key!r}, max_age={self._max_age!r})"

    @property
    def acknowledgement(self) -> Acknowledgement:
        """HTTP 200 with a short text body (``success``), unless set otherwise."""
        return self._acknowledgement

    def parse(self, headers: Headers, body: Body) -> list[Event]:
        """The events of one push, verified.

        Raises :class:`~crowdsms.webhooks.WebhookFormatError` for a body that is not this
        provider's push, :class:`~crowdsms.webhooks.WebhookSignatureError` for a forged one
        (or a wrong key), and :class:`~crowdsms.webhooks.WebhookReplayError` for a push
        outside the timestamp window or received before. A push that parses is remembered:
        if handling its events then fails, call :meth:`forget` so that the provider's retry
        is accepted.
        """
        pushes = self.verify(headers, body)
        self._guard.claim(push.key for push in pushes if push.key is not None)
        return [event for push in pushes for event in push.events]

    def verify(self, headers: Headers, body: Body) -> list[VerifiedPush]:
        """The pushes of one request, verified (signature, timestamp window), not remembered.

        Raises as :meth:`parse` does, but never for a push received before (a push whose
        timestamp is too old raises :class:`~crowdsms.webhooks.WebhookReplayError` with the
        keys of the request's pushes, in ``keys``, once every signature is verified): the caller
        claims each push's ``key`` in a :class:`~crowdsms.webhooks.ReplayStore` before
        handling its events, as :class:`~crowdsms.webhooks.WebhookApp` does. A request that
        carries the same push twice is refused (:class:`~crowdsms.webhooks.WebhookReplayError`).
        """
        objects = read_objects(headers, body, provider=self.provider)
        keys: list[ReplayKey] = []
        stale: StalePushError | None = None
        for fields in objects:
            try:
                keys.append(replay_key(self.provider, self._verify(fields)))
            except StalePushError as error:  # signed, but too old: every push is verified still
                if error.key is None:
                    raise
                stale = stale or error
                keys.append(error.key)
        self._guard.check_unique(keys)
        if stale is not None:
            stale.keys = tuple(keys)
            raise stale
        return [
            VerifiedPush(key, tuple(self._events(fields)))
            for key, fields in zip(keys, objects, strict=True)
        ]

    @property
    def replay_memory(self) -> MemoryReplayStore:
        """This receiver's in-memory store (``replay_cache_size`` keys), which :meth:`parse`
        uses, and :class:`~crowdsms.webhooks.WebhookApp` unless given a store."""
        return self._guard.memory

    def forget(self, headers: Headers, body: Body) -> None:
        """Forget a push returned by :meth:`parse`, so that its retry is accepted."""
        try:
            objects = read_objects(headers, body, provider=self.provider)
        except WebhookFormatError:
            return
        keys: list[ReplayKey] = []
        for fields in objects:
            signature = fields.get("signature")
            if isinstance(signature, str):
                keys.append(replay_key(self.provider, signature.strip().lower()))  # as verified
        self._guard.release(keys)

    # -- for subclasses -------------------------------------------------------------------

    def _verify(self, fields: Mapping[str, Any]) -> ReplayKey:
        raise NotImplementedError

    def _events(self, fields: dict[str, Any]) -> list[Event]:
        raise NotImplementedError

    def _check_signature(
        self, fields: Mapping[str, Any], *, expected: str, received: str, rule: str
    ) -> None:
        if not hmac.compare_digest(
            expected.encode("ascii"), received.strip().lower().encode("utf-8")
        ):
            kind = optional_text(fields, "events", "event") or "?"
            token = optional_text(fields, "token") or ""
            raise WebhookSignatureError(
                f"the signature does not match {rule}: the push is forged, or the key is not "
                "the one the provider signs with",
                provider=self.provider,
                received=f"event {kind[:40]!r}, token {token[:8]!r}...",
                action=(
                    "Nothing was handled. If genuine pushes are refused, check that the key "
                    "is this webhook's key from the provider's console"
                ),
            )
