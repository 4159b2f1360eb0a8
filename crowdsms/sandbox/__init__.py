"""An emulator of every registered provider over real HTTP, for tests, benchmarks and demos.

One server serves every provider under its registry entry's prefix, so each SDK client gets
its own base URL (and public sandbox credentials) from the same sandbox::

    async with serve() as sandbox:
        async with sandbox.client(name) as client:   # base URL and credentials filled in
            ...
        assert sandbox.ledger.phones() == [...]   # what was really sent, once each

``sandbox.base_url(name)`` and ``sandbox.credentials(name)`` give the pieces, for a client
built by hand; the admin endpoints live under ``{url}/_sandbox`` (``ledger``, ``settings``,
``faults``, ``clock``, ``balance``, ``replies``, ...). ``crowdsms sandbox`` (or
``python -m crowdsms.sandbox``) prints every provider's base URL and credentials on start.

Each provider's emulator (:mod:`crowdsms.sandbox.emulators`) checks signatures with its own
implementation of the provider's rules (not the SDK's), enforces timestamp windows against
the sandbox's clock (which tests can skew or advance), token expiry and secret resets,
request limits and error codes; answers per-recipient results, partial success, fees and
balances; records what it really sent in a :class:`Ledger`; produces delivery reports,
queued for pulling and pushed to webhooks (after ``webhook_delay`` seconds, if set); and
meets seeded faults: 503, dropped connections (before or after processing), 429 with
``Retry-After``, slow answers. ``sandbox.fault_log()`` lists every injected fault
(:class:`FaultRecord`), with the numbers a request dropped after processing really sent.
Needs the ``sandbox`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

from crowdsms.sandbox._app import create_app, sandbox_of
from crowdsms.sandbox._control import Sandbox, prefixes
from crowdsms.sandbox._drop import DropUnsupportedError
from crowdsms.sandbox._fault_log import FaultRecord
from crowdsms.sandbox._faults import FaultInjector, FaultKind, FaultSettings
from crowdsms.sandbox._ledger import Ledger, LedgerEntry, LedgerPage
from crowdsms.sandbox._server import ListenError, run, serve, serve_asgi, serve_in_thread
from crowdsms.sandbox._settings import SandboxSettings
from crowdsms.sandbox._state import DeliveryReport, Reply
from crowdsms.sandbox._webhooks import Push, PushRecord

__all__ = [
    "DeliveryReport",
    "DropUnsupportedError",
    "FaultInjector",
    "FaultKind",
    "FaultRecord",
    "FaultSettings",
    "Ledger",
    "LedgerEntry",
    "LedgerPage",
    "ListenError",
    "Push",
    "PushRecord",
    "Reply",
    "Sandbox",
    "SandboxSettings",
    "create_app",
    "prefixes",
    "run",
    "sandbox_of",
    "serve",
    "serve_asgi",
    "serve_in_thread",
]
