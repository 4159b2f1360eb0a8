"""Receive the providers' pushed delivery reports and replies: typed, verified, acknowledged.

Providers push delivery reports and replies to a URL of yours. Each provider that pushes has
a receiver in its package (``crowdsms.providers.<name>``, ``<Name>Webhook``) that turns a
push into typed events after checking it:

- signed pushes are verified (compared in constant time); a forged one raises
  :class:`WebhookSignatureError`;
- signed pushes must be recent (``max_age``, 10 minutes by default; ``max_ahead``, 5
  minutes), which stops old replays only where the provider signs the timestamp (a
  provider that signs only a token leaves it, and every other field, to whoever holds a
  captured push), and are handled once while a store remembers them: each push's key (the
  provider and a hash of its verified signature) is claimed in a :class:`ReplayStore`
  before it is handled (the claim is extended while it is) and marked handled once it is.
  The default store is in memory (the last ``replay_cache_size`` pushes, per process);
  :class:`WebhookApp` takes a durable one (``replay=``: the delivery store you record into);
- a body that is not the provider's push raises :class:`WebhookFormatError`; form-encoded
  and JSON bodies are both accepted;
- unsigned pushes (a provider that signs nothing) must be served at a path nobody can
  guess, or behind an IP allow-list.

Every event is a frozen attrs class with a provider-neutral base, so one handler can serve
every provider: :class:`DeliveryEvent` (``message_id``, ``phone``, ``outcome``,
``delivered``), :class:`ReplyEvent` (``phone``, ``content``), :class:`MessageEvent` (other
events about one message), and :class:`UnknownEvent` for kinds crowdsms does not know (never
dropped). ``event.raw`` holds the fields as pushed.

:class:`WebhookApp` is a pure ASGI app (no framework needed; mount it in Starlette or
FastAPI) that takes each provider's receiver under the provider's registry name and your
handlers, and answers each provider as it expects once the handlers have returned (and a
copy of a push handled before the same way, without handling it again); 400 for a malformed
body, 403 for a forged or stale push (but a late copy of a push handled before is
acknowledged), 409 for a request carrying one push twice, 413 for a body over 1 MiB, 503
(``Retry-After``) for a copy of a push being handled at that moment, or for a push handled
but not marked handled (the store failed). When a handler raises, it answers 500, logs the
error (logger ``crowdsms.webhooks``) and releases the push, so the provider pushes again:
make handlers idempotent (a retried push brings all its events again). The README shows a
complete app.

Or parse in a framework of your own (``headers`` may be any mapping or list of pairs;
``parse`` remembers pushes in the receiver's memory only, and refuses a copy with a
:class:`WebhookReplayError`, 409: ``receiver.verify`` and a :class:`ReplayStore` do what
:class:`WebhookApp` does)::

    async def endpoint(request: Request) -> Response:      # a Starlette endpoint, say
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
    VerifiedPush,
    WebhookRoute,
)
from crowdsms.webhooks._replay import (
    DEFAULT_HANDLING_LEASE,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_AHEAD,
    DEFAULT_REPLAY_CACHE_SIZE,
    DEFAULT_REPLAY_KEEP,
    MemoryReplayStore,
    PushState,
    ReplayKey,
    ReplayStore,
)

__all__ = [
    "DEFAULT_HANDLING_LEASE",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_AHEAD",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "DEFAULT_REPLAY_KEEP",
    "TEXT_SUCCESS",
    "Acknowledgement",
    "Body",
    "DeliveryEvent",
    "DeliveryOutcome",
    "Event",
    "EventHandler",
    "Headers",
    "MemoryReplayStore",
    "MessageEvent",
    "ProviderWebhook",
    "PushState",
    "Receiver",
    "ReplayKey",
    "ReplayStore",
    "ReplyEvent",
    "SignedReceiver",
    "UnknownEvent",
    "VerifiedPush",
    "WebhookApp",
    "WebhookError",
    "WebhookFormatError",
    "WebhookReplayError",
    "WebhookRoute",
    "WebhookSignatureError",
]
