"""Receive the providers' pushed delivery reports and replies: typed, verified, acknowledged.

SUBMAIL (SUBHOOK), SendCloud (SMSHook) and the paasw gateway push delivery reports and
replies to a URL of yours. ``crowdsms.webhooks`` turns each push into typed events, after
checking it:

- SUBMAIL: ``md5(token + subhook_key) == signature``; SendCloud:
  ``hex(HMAC-SHA256(app_key, timestamp + token)) == signature`` (compared in constant time).
  A forged push raises :class:`WebhookSignatureError`.
- Signed pushes must be recent (``max_age``, 10 minutes by default; ``max_ahead``, 5 minutes)
  and new: the last ``replay_cache_size`` ``(token, signature)`` pairs are remembered. A
  replay raises :class:`WebhookReplayError`.
- A body that is not the provider's push raises :class:`WebhookFormatError`. Form-encoded and
  JSON bodies are both accepted; paasw's JSON arrays in camelCase or snake_case.
- paasw pushes are not signed: serve them at a path nobody can guess, or behind an IP
  allow-list.

Every event is a frozen attrs class with a provider-neutral base, so one handler can serve
every provider: :class:`DeliveryEvent` (``message_id``, ``phone``, ``outcome``,
``delivered``), :class:`ReplyEvent` (``phone``, ``content``), :class:`MessageEvent` (other
events about one message), and :class:`UnknownEvent` for kinds crowdsms does not know (never
dropped). ``event.raw`` holds the fields as pushed.

Mounting the ASGI app (Starlette or FastAPI; no framework is needed to run it alone)::

    import os

    from fastapi import FastAPI  # or: from starlette.applications import Starlette
    from crowdsms.providers.paasw import PaaswWebhook
    from crowdsms.providers.sendcloud import SendCloudWebhook
    from crowdsms.providers.submail import SubmailWebhook
    from crowdsms.webhooks import DeliveryEvent, ReplyEvent, WebhookApp

    async def on_report(event: DeliveryEvent) -> None:
        # event.provider, event.message_id (the send's id), event.phone, event.delivered
        await reports.save(event.provider, event.message_id, event.phone, event.outcome.value)

    async def on_reply(event: ReplyEvent) -> None:
        await inbox.add(event.phone, event.content)

    webhooks = WebhookApp(
        submail=SubmailWebhook(key=os.environ["SUBMAIL_SUBHOOK_KEY"]),
        sendcloud=SendCloudWebhook(key=os.environ["SENDCLOUD_APP_KEY"]),
        paasw=PaaswWebhook(),
        handlers={DeliveryEvent: on_report, ReplyEvent: on_reply},
    )
    app = FastAPI()
    app.mount("/hooks", webhooks)
    # Push URLs: /hooks/submail, /hooks/sendcloud, /hooks/paasw/deliver, /hooks/paasw/replies

The app answers each provider as it expects once the handlers have returned (SUBMAIL and
SendCloud: 200 ``success``; paasw deliveries ``{"code": 10000, "msg": "操作成功"}``, replies
``{"code": "10000", "msg": "请求成功"}``), 400 for a malformed body, 403 for a forged or stale
push, 409 for a push received before, 413 for a body over 1 MiB. When a handler raises, it
answers 500 and logs the error (logger ``crowdsms.webhooks``), so the provider pushes again:
make handlers idempotent (a retried push brings all its events again).

Or parse in a framework of your own (``headers`` may be any mapping or list of pairs)::

    receiver = SubmailWebhook(key=subhook_key)   # from crowdsms.providers.submail

    async def subhook(request: Request) -> Response:      # a Starlette endpoint, say
        body = await request.body()
        try:
            events = receiver.parse(request.headers, body)
        except WebhookError as error:      # WebhookFormatError, ...SignatureError, ...ReplayError
            return Response(str(error), status_code=error.status_code)
        try:
            for event in events:
                await handle(event)
        except Exception:
            receiver.forget(request.headers, body)  # so that the provider's retry is accepted
            raise
        ack = receiver.acknowledgement
        return Response(ack.body, status_code=ack.status_code, media_type=ack.content_type)
"""

from __future__ import annotations

from crowdsms.webhooks._app import DEFAULT_MAX_BODY_SIZE, EventHandler, WebhookApp
from crowdsms.webhooks._body import Body, Headers
from crowdsms.webhooks._errors import (
    WebhookError,
    WebhookFormatError,
    WebhookReplayError,
    WebhookSignatureError,
)
from crowdsms.webhooks._events import (
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    MessageEvent,
    ReplyEvent,
    UnknownEvent,
)
from crowdsms.webhooks._receiver import (
    TEXT_SUCCESS,
    Acknowledgement,
    ProviderWebhook,
    Receiver,
    SignedReceiver,
    WebhookRoute,
)
from crowdsms.webhooks._replay import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_AHEAD,
    DEFAULT_REPLAY_CACHE_SIZE,
)

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_AHEAD",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "TEXT_SUCCESS",
    "Acknowledgement",
    "Body",
    "DeliveryEvent",
    "DeliveryOutcome",
    "Event",
    "EventHandler",
    "Headers",
    "MessageEvent",
    "ProviderWebhook",
    "Receiver",
    "ReplyEvent",
    "SignedReceiver",
    "UnknownEvent",
    "WebhookApp",
    "WebhookError",
    "WebhookFormatError",
    "WebhookReplayError",
    "WebhookRoute",
    "WebhookSignatureError",
]
