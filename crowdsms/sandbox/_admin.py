"""The admin endpoints under ``/_sandbox``: read the ledger, change settings at runtime.

All bodies are JSON; errors are HTTP 400 ``{"error": "..."}``. The endpoints:

- ``GET /_sandbox/health`` -> ``{"status": "ok"}``
- ``GET /_sandbox/ledger[?provider=&offset=&limit=]`` -> ``{"count", "offset", "limit",
  "entries": [...]}``: ``count`` entries (of ``provider``, or of all) in all, and up to
  ``limit`` of them (default 1000, at most 10000) from position ``offset`` (default 0,
  the oldest); read the next page from ``offset + limit`` until it passes ``count``.
  ``DELETE /_sandbox/ledger`` empties it
- ``GET /_sandbox/settings`` -> clock, latency, faults, webhooks (never keys)
- ``PATCH /_sandbox/settings`` ``{"latency", "delivery_failure_rate", "webhooks",
  "reply_webhooks", "blocked_numbers", "strict_phone_format", "webhook_attempts",
  "webhook_retry_delay", "webhook_timeout", "webhook_delay"}`` (any of them)
- ``PUT /_sandbox/faults`` ``{"rates": {"drop": 0.1}, "seed", "slow_seconds", "retry_after"}``
- ``GET /_sandbox/faults`` -> ``{"settings", "pending", "log"}``: the fault settings,
  how many forced faults are still to come, and every injected fault, oldest first
  (``{"kind", "provider", "path", "time", "processed", "phones"}``)
- ``POST /_sandbox/faults/force`` ``{"kind", "count", "provider", "path"}``
- ``POST /_sandbox/clock`` ``{"offset": s}`` or ``{"advance": s}``
- ``POST /_sandbox/{provider}/reset-secret`` ``{"account", "secret"}`` (both optional) ->
  ``{"account", "secret"}``, for providers with tokens that a reset kills
- ``GET /_sandbox/balance?provider=&account=``, ``POST /_sandbox/balance``
  ``{"provider", "amount", "account"}`` -> ``{"balance"}``
- ``POST /_sandbox/replies`` ``{"provider", "phone", "content", "account", "sign"}``
- ``GET /_sandbox/webhooks`` -> what became of each push
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crowdsms._suggest import did_you_mean
from crowdsms.sandbox._control import Sandbox
from crowdsms.sandbox._faults import FaultSettings
from crowdsms.sandbox._http import json_response

__all__ = ["DEFAULT_LEDGER_LIMIT", "MAX_LEDGER_LIMIT", "admin_routes"]

DEFAULT_LEDGER_LIMIT: Final = 1000
"""Entries per ``GET /_sandbox/ledger`` page when the request gives no ``limit``."""
MAX_LEDGER_LIMIT: Final = 10_000
"""The largest ``limit`` of ``GET /_sandbox/ledger``."""
_LEDGER_PARAMS: Final = ("provider", "offset", "limit")

_SETTABLE: Final = frozenset(
    {
        "latency",
        "delivery_failure_rate",
        "webhooks",
        "reply_webhooks",
        "blocked_numbers",
        "strict_phone_format",
        "webhook_attempts",
        "webhook_retry_delay",
        "webhook_timeout",
        "webhook_delay",
    }
)


class _BadRequest(Exception):
    pass


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    try:
        data = json.loads(body) if body else {}
    except ValueError as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _count_param(request: Request, name: str, default: int, most: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    value = int(text) if text.isascii() and text.isdigit() else -1
    if value < 0 or (most is not None and value > most):
        bounds = "0 or more" if most is None else f"from 0 to {most}"
        raise _BadRequest(f"{name} must be a whole number {bounds}, not {text!r}")
    return value


def _ledger_query(request: Request) -> tuple[str | None, int, int]:
    for name in request.query_params:
        if name not in _LEDGER_PARAMS:
            raise _BadRequest(
                f"the ledger takes no parameter {name!r}{did_you_mean(name, _LEDGER_PARAMS)}; "
                f"it takes {', '.join(_LEDGER_PARAMS)}"
            )
    offset = _count_param(request, "offset", 0)
    limit = _count_param(request, "limit", DEFAULT_LEDGER_LIMIT, MAX_LEDGER_LIMIT)
    return request.query_params.get("provider"), offset, limit


Handler = Callable[[Request], Awaitable[Any]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await handler(request))
        except (_BadRequest, ValueError, TypeError, KeyError) as exc:
            return json_response({"error": str(exc)}, 400)

    return endpoint


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    """The admin routes of ``sandbox``, relative to ``/_sandbox``."""

    async def health(request: Request) -> Any:
        return {"status": "ok"}

    async def ledger(request: Request) -> Any:
        if request.method == "DELETE":
            sandbox.state.ledger.clear()
            return {"count": 0}
        provider, offset, limit = _ledger_query(request)
        page = sandbox.ledger.page(provider=provider, offset=offset, limit=limit)
        return {
            "count": page.count,
            "offset": page.offset,
            "limit": page.limit,
            "entries": [entry.to_json() for entry in page.entries],
        }

    async def settings(request: Request) -> Any:
        if request.method == "PATCH":
            changes = await _json(request)
            unknown = set(changes) - _SETTABLE
            if unknown:
                raise _BadRequest(f"these settings cannot be changed here: {sorted(unknown)}")
            if "blocked_numbers" in changes:
                changes["blocked_numbers"] = frozenset(changes["blocked_numbers"])
            sandbox.configure(**changes)
        current = sandbox.settings
        return {
            "clock_offset": sandbox.clock.offset,
            "now": sandbox.clock.now(),
            "latency": current.latency,
            "delivery_failure_rate": current.delivery_failure_rate,
            "blocked_numbers": sorted(current.blocked_numbers),
            "strict_phone_format": current.strict_phone_format,
            "webhooks": dict(current.webhooks),
            "reply_webhooks": dict(current.reply_webhooks),
            "webhook_delay": current.webhook_delay,
            "faults": sandbox.faults.settings.to_json(),
            "forced_faults_pending": sandbox.faults.pending_forced(),
        }

    async def faults(request: Request) -> Any:
        if request.method == "GET":
            return {
                "settings": sandbox.faults.settings.to_json(),
                "pending": sandbox.faults.pending_forced(),
                "log": [record.to_json() for record in sandbox.fault_log()],
            }
        new = sandbox.set_faults(FaultSettings(**await _json(request)))
        return new.to_json()

    async def force(request: Request) -> Any:
        data = await _json(request)
        sandbox.force_fault(
            data["kind"],
            count=int(data.get("count", 1)),
            provider=data.get("provider"),
            path=data.get("path"),
        )
        return {"pending": sandbox.faults.pending_forced()}

    async def clock(request: Request) -> Any:
        data = await _json(request)
        if "offset" in data:
            sandbox.set_clock_offset(float(data["offset"]))
        if "advance" in data:
            sandbox.advance_clock(float(data["advance"]))
        return {"offset": sandbox.clock.offset, "now": sandbox.clock.now()}

    async def reset_secret(request: Request) -> Any:
        data = await _json(request)
        provider = request.path_params["provider"]
        account = data.get("account") or sandbox.default_account(provider)
        secret = sandbox.reset_secret(provider, account, data.get("secret"))
        return {"account": account, "secret": secret}

    async def balance(request: Request) -> Any:
        if request.method == "GET":
            provider = request.query_params.get("provider", "")
            account = request.query_params.get("account")
            return {"balance": sandbox.balance(provider, account)}
        data = await _json(request)
        amount = data["amount"]
        if not isinstance(amount, int):
            raise _BadRequest("amount must be an integer number of SMS segments")
        return {"balance": sandbox.top_up(data["provider"], amount, data.get("account"))}

    async def replies(request: Request) -> Any:
        data = await _json(request)
        reply = sandbox.add_reply(
            data["provider"],
            data["phone"],
            data["content"],
            account=data.get("account"),
            sign=data.get("sign"),
        )
        return {"sequenceId": reply.sequence_id}

    async def webhooks(request: Request) -> Any:
        return [
            {
                "provider": record.push.provider,
                "kind": record.push.kind,
                "url": record.push.url,
                "attempts": record.attempts,
                "delivered": record.delivered,
                "status_code": record.status_code,
                "error": record.error,
            }
            for record in sandbox.webhook_records
        ]

    return [
        Route("/health", _endpoint(health), methods=["GET"]),
        Route("/ledger", _endpoint(ledger), methods=["GET", "DELETE"]),
        Route("/settings", _endpoint(settings), methods=["GET", "PATCH"]),
        Route("/faults", _endpoint(faults), methods=["GET", "PUT"]),
        Route("/faults/force", _endpoint(force), methods=["POST"]),
        Route("/clock", _endpoint(clock), methods=["POST"]),
        Route("/{provider}/reset-secret", _endpoint(reset_secret), methods=["POST"]),
        Route("/balance", _endpoint(balance), methods=["GET", "POST"]),
        Route("/replies", _endpoint(replies), methods=["POST"]),
        Route("/webhooks", _endpoint(webhooks), methods=["GET"]),
    ]
