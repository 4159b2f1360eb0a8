"""``python -m crowdsms.sandbox``: serve a sandbox in the foreground.

On start it prints where each provider is served and with which credentials, the latency,
faults and webhooks in effect, and the admin URL. Ctrl-C stops it (exit status 0). An address
it cannot listen on (a port in use, say) is one line on stderr and exit status 2, as are bad
arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import socket
import sys
from collections.abc import Sequence

from crowdsms._suggest import did_you_mean
from crowdsms.providers import _registry
from crowdsms.sandbox._control import Sandbox
from crowdsms.sandbox._faults import FaultKind, FaultSettings
from crowdsms.sandbox._server import ListenError, run
from crowdsms.sandbox._settings import SandboxSettings

__all__ = ["DEFAULT_PORT", "main", "parser"]

DEFAULT_PORT = 8080
"""The port ``crowdsms sandbox`` (and ``python -m crowdsms.sandbox``) listens on by default."""
PROG = "crowdsms sandbox"
ADMIN_PATH = "/_sandbox"


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 2


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, equals, item = value.partition("=")
        if not equals or not key or not item:
            raise ValueError(f"--{what} wants NAME=VALUE, not {value!r}")
        pairs[key] = item
    return pairs


def _webhooks_of(values: Sequence[str], what: str) -> dict[str, str]:
    urls = _pairs(values, what)
    names = _registry.names()
    for provider in urls:
        if provider not in names:
            raise ValueError(
                f"--{what} {provider}=...: the sandbox has no provider {provider!r}"
                f"{did_you_mean(provider, names)}; it has {', '.join(names)}"
            )
    return urls


def _rate(kind: str, text: str) -> float:
    kinds = [known.value for known in FaultKind]
    if kind not in kinds:
        raise ValueError(
            f"--fault {kind}={text}: no fault kind {kind!r}{did_you_mean(kind, kinds)}; "
            f"the kinds are {', '.join(kinds)}"
        )
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--fault {kind}={text}: the rate must be a number from 0 to 1") from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {text!r}")
    return port


def _cannot_listen(error: ListenError) -> str:
    """What went wrong and what to do, in one line."""
    if error.in_use:
        return f"{error.address} is in use; pass --port 0 for a free port, or another port"
    if error.errno == errno.EACCES and 0 < error.port < 1024:
        return (
            f"{error.address}: ports below 1024 need privileges; "
            "pass --port 0 for a free port, or a port from 1024 up"
        )
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error.__cause__, socket.gaierror):
        return (
            f"cannot listen on {error.address} ({error.reason}); pass --host 127.0.0.1 for "
            "this machine only, or --host 0.0.0.0 for every interface"
        )
    return f"cannot listen on {error.address} ({error.reason}); pass another --host or --port"


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    kinds = ", ".join(kind.value for kind in FaultKind)
    providers = ", ".join(_registry.names())
    cli = argparse.ArgumentParser(
        prog=PROG,
        description="An emulator of every crowdsms provider over HTTP.",
    )
    cli.add_argument("--host", default="127.0.0.1", help="address to listen on")
    cli.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (0 picks a free one)")
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


def _line(label: str, values: Sequence[str]) -> list[str]:
    """``label`` and the first value on one line, each further value below the first."""
    return [f"  {label if i == 0 else '':<10} {value}" for i, value in enumerate(values)]


def _faults(sandbox: Sandbox) -> str:
    faults = sandbox.faults.settings
    rates = {kind: rate for kind, rate in faults.rates.items() if rate > 0}
    if not rates:
        return "none"
    notes = [f"seed {faults.seed}"]
    if FaultKind.SLOW in rates:
        notes.append(f"slow answers wait {faults.slow_seconds:g} s")
    if FaultKind.RATE_LIMIT in rates:
        notes.append(f"429 answers say Retry-After: {faults.retry_after}")
    shown = ", ".join(f"{kind.value}={rate:g}" for kind, rate in rates.items())
    return f"{shown} ({'; '.join(notes)})"


_PLURALS = {"report": "reports", "reply": "replies"}


def _webhooks(sandbox: Sandbox) -> list[str]:
    lines = []
    for provider, emulator in sandbox.emulators.items():
        kinds = ("report", "reply") if hasattr(emulator, "push_reply") else ("report",)
        urls: dict[str, list[str]] = {}
        for kind in kinds:
            url = sandbox.state.webhook_url(provider, kind)
            if url is not None:
                urls.setdefault(url, []).append(_PLURALS[kind])
        lines += [f"{provider} {' and '.join(what)} -> {url}" for url, what in urls.items()]
    return lines or ["none (--webhook PROVIDER=URL pushes reports there)"]


def _announce(sandbox: Sandbox) -> None:
    settings = sandbox.settings
    lines = [f"crowdsms sandbox listening on {sandbox.url}"]
    for provider in _registry.names():
        credentials = "  ".join(
            f"{key}={value}" for key, value in sandbox.credentials(provider).items()
        )
        lines += _line(provider, [sandbox.base_url(provider), credentials])
    lines.append("  (public sandbox credentials: they work only here)")
    latency = (
        f"{settings.latency:g} s added to each provider request" if settings.latency else "none"
    )
    lines += _line("latency", [latency])
    lines += _line("faults", [_faults(sandbox)])
    if settings.delivery_failure_rate:
        lines += _line(
            "failures", [f"{settings.delivery_failure_rate:g} of delivery reports say failed"]
        )
    if sandbox.clock.offset:
        lines += _line("clock", [f"{sandbox.clock.offset:+g} s from the wall clock"])
    lines += _line("webhooks", _webhooks(sandbox))
    lines += _line("admin", [f"{sandbox.url}{ADMIN_PATH}  (ledger, settings, faults, clock)"])
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted; return the exit status.

    0 after Ctrl-C; 2 for bad arguments or an address that cannot be listened on (one line
    on stderr, no traceback).
    """
    args = parser().parse_args(argv)
    try:
        rates = {kind: _rate(kind, rate) for kind, rate in _pairs(args.fault, "fault").items()}
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
            webhooks=_webhooks_of(args.webhook, "webhook"),
            reply_webhooks=_webhooks_of(args.reply_webhook, "reply-webhook"),
        )
    except ValueError as exc:
        return _error(str(exc))
    try:
        # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal it caught.
        with contextlib.suppress(KeyboardInterrupt):
            run(args.host, args.port, settings, log_level=args.log_level, ready=_announce)
    except ListenError as exc:
        return _error(_cannot_listen(exc))
    print("crowdsms sandbox stopped", flush=True)
    return 0
