"""SUBMAIL SUBHOOK: pushed SMS events, signed ``md5(token + subhook_key)``.

Each push is one event (form fields, or a JSON object; a JSON array of them is accepted
too). The event's name is in ``events`` (the SUBHOOK documents' spelling; ``event`` is read
too). ``timestamp`` is the event's Unix time; SUBMAIL leaves it out of the signature, so the
memory of signatures is what stops an exact replay.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from crowdsms._secret import Secret
from crowdsms.providers.submail._events import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailRequest,
    SubmailSending,
    SubmailTemplateAccepted,
    SubmailTemplateRejected,
    SubmailUnknownStatus,
)
from crowdsms.webhooks._errors import WebhookFormatError
from crowdsms.webhooks._events import DeliveryOutcome, Event, UnknownEvent
from crowdsms.webhooks._fields import (
    china_time,
    keys_of,
    number_text,
    optional_text,
    required_text,
    unix_time,
)
from crowdsms.webhooks._receiver import TEXT_SUCCESS, Acknowledgement, SignedReceiver
from crowdsms.webhooks._replay import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_AHEAD,
    DEFAULT_REPLAY_CACHE_SIZE,
    ReplayKey,
    replay_key,
    timestamp_seconds,
)

__all__ = ["SUBMAIL_EVENT_KINDS", "SubmailWebhook"]

SUBMAIL_EVENT_KINDS: Final = frozenset(
    {
        "request",
        "delivered",
        "dropped",
        "sending",
        "mo",
        "unknown",
        "template_accept",
        "template_reject",
    }
)
"""The SMS SUBHOOK events with a typed class; any other becomes an ``UnknownEvent``."""

_SPELLINGS: Final = {"resquest": "request", "unkown": "unknown"}
"""Misspellings found in SUBMAIL's own event tables, read as what they mean."""


class SubmailWebhook(SignedReceiver):
    """Receives SUBMAIL SUBHOOK pushes: ``SubmailWebhook(key=...).parse(headers, body)``.

    ``key`` is the SUBHOOK's key from the SUBMAIL console. A push is genuine when
    ``md5(token + key)`` equals its ``signature``. Its ``timestamp`` must lie at most
    ``max_age`` seconds in the past and ``max_ahead`` seconds in the future of ``clock()``
    (Unix seconds); only the token is signed, so the window stops nothing: anyone holding a
    captured push can send it with a fresh timestamp and other fields.
    ``require_timestamp=False`` accepts pushes without one. :meth:`parse` remembers the last
    ``replay_cache_size`` signatures and refuses a push repeating one (in any spelling, 409);
    :class:`~crowdsms.webhooks.WebhookApp` uses its replay store instead, and acknowledges
    such a copy without handling it. ``acknowledgement`` is what
    :class:`~crowdsms.webhooks.WebhookApp` answers once the events are handled (HTTP 200,
    ``success``).
    """

    provider: ClassVar[str] = "submail"

    def __init__(
        self,
        *,
        key: str | Secret,
        max_age: float = DEFAULT_MAX_AGE,
        max_ahead: float = DEFAULT_MAX_AHEAD,
        require_timestamp: bool = True,
        replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
        acknowledgement: Acknowledgement = TEXT_SUCCESS,
    ) -> None:
        super().__init__(
            key=key,
            max_age=max_age,
            max_ahead=max_ahead,
            replay_cache_size=replay_cache_size,
            clock=clock,
            acknowledgement=acknowledgement,
        )
        self._require_timestamp = bool(require_timestamp)

    def _verify(self, fields: Mapping[str, Any]) -> ReplayKey:
        token = required_text(fields, "token", provider=self.provider)
        signature = required_text(fields, "signature", provider=self.provider)
        expected = hashlib.md5(
            (token + self._key.reveal()).encode("utf-8"), usedforsecurity=False
        ).hexdigest()
        self._check_signature(
            fields, expected=expected, received=signature, rule="md5(token + key)"
        )
        if "timestamp" in fields:
            _, seconds = number_text(fields, "timestamp", provider=self.provider)
            self._guard.check_time(
                timestamp_seconds(seconds), key=replay_key(self.provider, expected)
            )
        elif self._require_timestamp:
            raise WebhookFormatError(
                "the push has no timestamp, so its age cannot be checked",
                provider=self.provider,
                received=keys_of(fields),
                action=(
                    "SUBHOOK pushes carry a timestamp; if yours do not, pass "
                    "require_timestamp=False (exact replays are still refused)"
                ),
            )
        return expected  # the signature in one spelling: a re-spelled one is a replay

    def _events(self, fields: dict[str, Any]) -> list[Event]:
        kind = optional_text(fields, "events", "event") or ""
        name = kind.strip().lower()
        name = _SPELLINGS.get(name, name)
        app = optional_text(fields, "app")
        tag = optional_text(fields, "tag")
        occurred = _occurred_at(fields)
        common: dict[str, Any] = {"provider": self.provider, "kind": kind, "raw": fields}
        message: dict[str, Any] = {
            **common,
            "message_id": optional_text(fields, "send_id"),
            "phone": optional_text(fields, "address"),
            "occurred_at": occurred,
        }
        event: Event
        if name == "request":
            content = optional_text(fields, "content")
            event = SubmailRequest(**message, app=app, tag=tag, content=content)
        elif name == "sending":
            event = SubmailSending(**message, app=app, tag=tag)
        elif name == "delivered":
            event = SubmailDelivered(
                **message,
                outcome=DeliveryOutcome.DELIVERED,
                app=app,
                tag=tag,
                operator=optional_text(fields, "operator"),
                location=optional_text(fields, "location"),
            )
        elif name == "dropped":
            event = SubmailDropped(
                **message,
                outcome=DeliveryOutcome.FAILED,
                app=app,
                tag=tag,
                report=optional_text(fields, "report"),
            )
        elif name == "unknown":
            event = SubmailUnknownStatus(
                **message,
                outcome=DeliveryOutcome.UNKNOWN,
                app=app,
                tag=tag,
                report=optional_text(fields, "report"),
            )
        elif name == "mo":
            event = SubmailReply(
                **common,
                phone=optional_text(fields, "address"),
                content=optional_text(fields, "content") or "",
                occurred_at=occurred,
                app=app,
            )
        elif name == "template_accept":
            event = SubmailTemplateAccepted(
                **common,
                app=app,
                template_id=optional_text(fields, "template_id"),
                occurred_at=occurred,
            )
        elif name == "template_reject":
            event = SubmailTemplateRejected(
                **common,
                app=app,
                template_id=optional_text(fields, "template_id"),
                reason=optional_text(fields, "reason", "msg", "message"),
                occurred_at=occurred,
            )
        else:
            event = UnknownEvent(**common)
        return [event]


def _occurred_at(fields: Mapping[str, Any]) -> datetime | None:
    """The event's time: ``timestamp`` (Unix), else ``datetime`` (China time), else None."""
    stamp = fields.get("timestamp")
    if isinstance(stamp, (int, str)) and not isinstance(stamp, bool):
        try:
            return unix_time(float(stamp))
        except ValueError:
            pass
    return china_time(optional_text(fields, "datetime"))
