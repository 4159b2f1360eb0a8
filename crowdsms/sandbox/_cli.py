"""``python -m crowdsms.sandbox``: serve a sandbox in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from crowdsms.providers import _registry
from crowdsms.sandbox._control import Sandbox
from crowdsms.sandbox._faults import FaultKind, FaultSettings
from crowdsms.sandbox._server import run
from crowdsms.sandbox._settings import SandboxSettings

__all__ = ["DEFAULT_PORT", "main", "parser"]

DEFAULT_PORT = 8080
"""The port ``crowdsms sandbox`` (and ``python -m crowdsms.sandbox``) listens on by default."""


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, equals, item = value.partition("=")
        if not equals or not key or not item:
            raise SystemExit(f"--{what} wants NAME=VALUE, not {value!r}")
        pairs[key] = item
    return pairs


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    kinds = ", ".join(kind.value for kind in FaultKind)
    providers = ", ".join(_registry.names())
    cli = argparse.ArgumentParser(
        prog="crowdsms sandbox",
        description="An emulator of every crowdsms provider over HTTP.",
    )
    cli.add_argument("--host", default="127.0.0.1", help="address to listen on")
    cli.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 picks a free one)")
    cli.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    cli.add_argument("--clock-offset", type=float, default=0.0, help="server clock skew, seconds")
    cli.add_argument("--seed", type=int, default=0, help="seed of ids and delivery outcomes")
    cli.add_argument(
        "--fault", action="append", default=[], metavar="KIND=RATE", help=f"kinds: {kinds}"
    )
    cli.add_argument("--fault-seed", type=int, default=0, help="seed of fault injection")
    cli.add_argument("--slow-seconds", type=float, default=2.0, help="delay of 'slow' faults")
    cli.add_argument("--retry-after", type=int, default=1, help="Retry-After of 429 faults")
    cli.add_argument(
        "--delivery-failure-rate", type=float, default=0.0, help="fraction of failed reports"
    )
    cli.add_argument(
        "--webhook", action="append", default=[], metavar="PROVIDER=URL", help=providers
    )
    cli.add_argument("--reply-webhook", action="append", default=[], metavar="PROVIDER=URL")
    cli.add_argument("--log-level", default="info", help="uvicorn's log level")
    return cli


def _announce(sandbox: Sandbox) -> None:
    print(f"crowdsms sandbox listening on {sandbox.url}", flush=True)
    for provider in _registry.names():
        credentials = "  ".join(
            f"{key}={value}" for key, value in sandbox.credentials(provider).items()
        )
        print(f"  {provider:<10} {sandbox.base_url(provider)}")
        print(f"  {'':<10} {credentials}")
    print("  (public sandbox credentials: they work only here)", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted."""
    args = parser().parse_args(argv)
    rates = {kind: float(rate) for kind, rate in _pairs(args.fault, "fault").items()}
    try:
        settings = SandboxSettings(
            clock_offset=args.clock_offset,
            latency=args.latency,
            seed=args.seed,
            delivery_failure_rate=args.delivery_failure_rate,
            faults=FaultSettings(
                rates=rates,
                seed=args.fault_seed,
                slow_seconds=args.slow_seconds,
                retry_after=args.retry_after,
            ),
            webhooks=_pairs(args.webhook, "webhook"),
            reply_webhooks=_pairs(args.reply_webhook, "reply-webhook"),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal it caught.
    with contextlib.suppress(KeyboardInterrupt):
        run(args.host, args.port, settings, log_level=args.log_level, ready=_announce)
    print("crowdsms sandbox stopped", flush=True)
    return 0
