"""SendCloud SMSHook: pushed SMS events, signed ``hex(HMAC-SHA256(appkey, timestamp + token))``.

Each push is one event (form fields, or a JSON object; a JSON array of them is accepted
too). The domestic SMSHook document names the events ``request``, ``deliver``,
``workererror``, ``delivererror`` and ``reply``, with the numeric ``eventType`` 1, 2, 4, 5
and 6; a push may carry the name in ``event`` or the code in ``eventType`` (either field).
The international edition's codes are read too: 1 requested, 20 delivered, 4 suppressed,
5 failed (4 and 5 mean a failure in both editions). ``timestamp`` (milliseconds; seconds
are recognised by their size) is signed, so the window check stops old replays too. A push
naming several ``smsIds`` becomes one event per id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from crowdsms._secret import Secret
from crowdsms.providers.sendcloud._events import (
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudFailure,
    SendCloudReply,
    SendCloudRequest,
)
from crowdsms.webhooks._events import DeliveryOutcome, Event, UnknownEvent
from crowdsms.webhooks._fields import (
    china_time,
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

__all__ = ["SENDCLOUD_EVENT_KINDS", "SendCloudWebhook"]

_REQUEST: Final = "request"
_DELIVERED: Final = "delivered"
_WORKER: Final[SendCloudFailure] = "worker"
_DELIVERY: Final[SendCloudFailure] = "delivery"
_REPLY: Final = "reply"

_KINDS: Final[Mapping[str, str]] = {
    "request": _REQUEST,
    "1": _REQUEST,
    "deliver": _DELIVERED,
    "delivered": _DELIVERED,
    "2": _DELIVERED,
    "20": _DELIVERED,
    "workererror": _WORKER,
    "suppressed": _WORKER,
    "4": _WORKER,
    "delivererror": _DELIVERY,
    "failed": _DELIVERY,
    "5": _DELIVERY,
    "reply": _REPLY,
    "6": _REPLY,
}
"""Event name or code (domestic and international editions) -> what it is."""

_UNIX_DIGITS: Final = 13
"""The most digits of a Unix time (milliseconds until the year 2286); 14 digits are a
compact China time, ``%Y%m%d%H%M%S``."""

SENDCLOUD_EVENT_KINDS: Final = frozenset(_KINDS)
"""The SMSHook event names and codes with a typed class; others become ``UnknownEvent``."""


class SendCloudWebhook(SignedReceiver):
    """Receives SendCloud SMSHook pushes: ``SendCloudWebhook(key=...).parse(headers, body)``.

    ``key`` is the app key SendCloud signs SMSHook pushes with. A push is genuine when
    ``hex(HMAC-SHA256(key, timestamp + token))`` equals its ``signature``. Its timestamp
    must lie at most ``max_age`` seconds in the past and ``max_ahead`` seconds in the future
    of ``clock()`` (Unix seconds). :meth:`parse` remembers the last ``replay_cache_size``
    signatures and refuses a push repeating one (409), however its timestamp and token split
    the signed text; :class:`~crowdsms.webhooks.WebhookApp` uses its replay store instead,
    and acknowledges such a copy without handling it (a late one too, whose timestamp has
    left the window, once its signature is verified). ``acknowledgement`` is what
    :class:`~crowdsms.webhooks.WebhookApp` answers once the events are handled (HTTP 200,
    ``success``).
    """

    provider: ClassVar[str] = "sendcloud"

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
        super().__init__(
            key=key,
            max_age=max_age,
            max_ahead=max_ahead,
            replay_cache_size=replay_cache_size,
            clock=clock,
            acknowledgement=acknowledgement,
        )

    def _verify(self, fields: Mapping[str, Any]) -> ReplayKey:
        token = required_text(fields, "token", provider=self.provider)
        signature = required_text(fields, "signature", provider=self.provider)
        stamp, seconds = number_text(fields, "timestamp", provider=self.provider)
        expected = hmac.new(
            self._key.reveal().encode("utf-8"), (stamp + token).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        self._check_signature(
            fields,
            expected=expected,
            received=signature,
            rule="HMAC-SHA256(key, timestamp + token)",
        )
        self._guard.check_time(timestamp_seconds(seconds), key=replay_key(self.provider, expected))
        return expected  # one signed text, one key: however timestamp and token are split

    def _events(self, fields: dict[str, Any]) -> list[Event]:
        kind, what = _kind_of(fields)
        if what is None:
            return [UnknownEvent(provider=self.provider, kind=kind, raw=fields)]
        _, seconds = number_text(fields, "timestamp", provider=self.provider)
        sms_user = optional_text(fields, "smsUser", "sms_user")
        if what == _REPLY:
            return [
                SendCloudReply(
                    provider=self.provider,
                    kind=kind,
                    raw=fields,
                    phone=optional_text(fields, "phone"),
                    content=optional_text(fields, "replyContent", "content", "reply") or "",
                    occurred_at=_reply_time(fields) or unix_time(seconds),
                    sms_user=sms_user,
                )
            ]
        phone = optional_text(fields, "phone")
        ids: list[str | None] = [*_sms_ids(fields)] or [None]
        common: dict[str, Any] = {
            "provider": self.provider,
            "kind": kind,
            "raw": fields,
            "occurred_at": unix_time(seconds),
            "sms_user": sms_user,
            "template_id": optional_text(fields, "templateId", "template_id"),
            "message": optional_text(fields, "message"),
        }
        events: list[Event] = []
        for sms_id in ids:
            own_phone = phone if len(ids) == 1 and phone else _phone_of(sms_id) or phone
            message = {**common, "message_id": sms_id, "phone": own_phone}
            if what == _DELIVERED:
                events.append(SendCloudDelivered(**message, outcome=DeliveryOutcome.DELIVERED))
            elif what in (_WORKER, _DELIVERY):
                events.append(
                    SendCloudFailed(
                        **message,
                        outcome=DeliveryOutcome.FAILED,
                        failure=_WORKER if what == _WORKER else _DELIVERY,
                        code=optional_text(fields, "code", "errorCode", "error_code"),
                    )
                )
            else:
                events.append(SendCloudRequest(**message))
        return events


def _kind_of(fields: Mapping[str, Any]) -> tuple[str, str | None]:
    """The event's name as received (``event``, else ``eventType``) and what it is, if known."""
    received = [
        text
        for text in (optional_text(fields, "event"), optional_text(fields, "eventType"))
        if text and text.strip()
    ]
    for text in received:
        what = _KINDS.get(text.strip().lower())
        if what is not None:
            return text, what
    return (received[0] if received else ""), None


def _reply_time(fields: Mapping[str, Any]) -> datetime | None:
    """``replyTime``: Unix seconds or milliseconds (up to 13 digits), or a China-time date
    and time (``2023-11-15 06:00:00``, or the 14 digits ``20231115060000``); else ``None``."""
    text = optional_text(fields, "replyTime", "reply_time")
    if text is None:
        return None
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= _UNIX_DIGITS:
        return unix_time(float(stripped))
    return china_time(stripped)


def _sms_ids(fields: Mapping[str, Any]) -> list[str]:
    """``smsId``, or the ids of ``smsIds`` (a list, a JSON array or a comma-separated text).

    Lenient, as every descriptive field: a malformed ``smsIds`` gives the ids it can, or none.
    """
    single = optional_text(fields, "smsId", "sms_id")
    if single:
        return [single]
    value = fields.get("smsIds", fields.get("sms_ids"))
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):  # nested too deep for the decoder
                value = text.strip("[]").split(",")
        else:
            value = text.split(",")
    if not isinstance(value, list):
        return []
    ids = [str(item).strip().strip('"') for item in value if isinstance(item, (str, int))]
    return [item for item in ids if item]


def _phone_of(sms_id: str | None) -> str | None:
    """The phone number at the end of a SendCloud SMS id (``...$13800138000``), if any."""
    if sms_id is None or "$" not in sms_id:
        return None
    return sms_id.rsplit("$", 1)[1] or None
