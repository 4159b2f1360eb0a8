"""The commands that are not a batch job: providers, check, balance, reports, time, sandbox."""

from __future__ import annotations

from collections.abc import Sequence

import click

from crowdsms._client import AsyncClientBase
from crowdsms._credentials import load_credentials
from crowdsms.cli._app import (
    CliState,
    ProviderChoice,
    cli,
    config_option,
    console,
    notes,
    provider_option,
    require_sandbox,
    run,
    sandbox_option,
    with_client,
)
from crowdsms.cli._campaign import campaign
from crowdsms.cli._reconcile import reconcile
from crowdsms.cli._send import demo, send
from crowdsms.errors import AuthenticationError, CrowdSMSError, SignatureError
from crowdsms.providers import _registry

__all__ = ["campaign", "check", "cli", "demo", "reconcile", "send"]


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the sandbox (an emulator of every provider) in the foreground.

    The same command as ``python -m crowdsms.sandbox``: ``crowdsms sandbox --help`` lists its
    options (port, latency, faults, webhooks).
    """
    require_sandbox()
    from crowdsms.sandbox._cli import main as sandbox_main

    raise SystemExit(sandbox_main(ctx.args))


@cli.command()
def providers() -> None:
    """List the providers, with their config keys, environment variables and the default
    price estimate of one SMS segment (for send --dry-run and --max-cost)."""
    for spec in _registry.providers():
        console.print(f"[bold]{spec.name}[/] ({spec.title}): {spec.default_base_url}")
        for field in (*spec.credentials,):
            kind = "secret" if field.secret else "identity"
            console.print(f"  {field.name:<20} {field.env_var(spec.name):<40} {kind}")
        console.print(f"  {'base_url':<20} CROWDSMS_{spec.name.upper()}_BASE_URL")
        if spec.price_per_segment is not None:
            console.print(
                f"  {'price estimate':<20} CNY {spec.price_per_segment} per SMS segment "
                "(send --price sets yours)"
            )


@cli.command()
@provider_option("read_balance", what="ask")
@sandbox_option
@config_option
@click.pass_obj
def balance(state: CliState, provider: str, use_sandbox: bool) -> None:
    """Show the account balance (where the provider can tell it)."""
    read = _registry.get(provider).read_balance
    assert read is not None
    value = run(lambda: with_client(provider, state.config, read, use_sandbox=use_sandbox))
    console.print(f"balance: {value}")


@cli.command()
@click.argument("kind", type=click.Choice(["deliveries", "replies"]))
@provider_option("pull_reports", what="pull from")
@click.option("--sign", help="Only this SMS signature (required for replies).")
@sandbox_option
@config_option
@click.pass_obj
def reports(state: CliState, kind: str, provider: str, sign: str | None, use_sandbox: bool) -> None:
    """Pull delivery reports or replies and print them.

    Pulling removes them from the provider's queue, and this command only prints them: to
    keep them for a job's reconciliation (and opt-outs), use `crowdsms reconcile JOB_ID
    --journal FILE --provider NAME`, which stores what it pulls before applying it.
    """
    if kind == "replies" and not sign:
        raise click.BadParameter("replies need --sign", param_hint="--sign")
    pull = _registry.get(provider).pull_reports
    assert pull is not None

    async def job(client: AsyncClientBase) -> Sequence[str]:
        assert pull is not None
        return await pull(client, kind, sign)

    lines = run(lambda: with_client(provider, state.config, job, use_sandbox=use_sandbox))
    for line in lines:
        console.print(line, markup=False)
    notes.print(f"{len(lines)} {kind}")


@cli.command(name="time")
@provider_option("read_clock", what="ask")
@sandbox_option
@config_option
@click.pass_obj
def server_time(state: CliState, provider: str, use_sandbox: bool) -> None:
    """Show the provider's clock and how far this machine's clock is off."""
    read = _registry.get(provider).read_clock
    assert read is not None

    async def job(client: AsyncClientBase) -> str:
        assert read is not None
        stamp = await read(client)
        offset = await client.measure_clock()
        return f"server time: {stamp:.0f} (this machine is {-offset:+.3f} s off)"

    console.print(run(lambda: with_client(provider, state.config, job, use_sandbox=use_sandbox)))


@cli.command()
@click.option(
    "--provider",
    "only",
    type=ProviderChoice(),
    help="Check only this provider (default: every provider with credentials configured).",
)
@sandbox_option
@config_option
@click.pass_obj
def check(state: CliState, only: str | None, use_sandbox: bool) -> None:
    """Check each configured provider's credentials without sending a message.

    Where a provider cannot tell without a send, it says so (and checks that the service
    answers, where it can). Exit status 0 when every check passed, 1 when one failed, 2
    when no provider is configured.
    """
    names = [only] if only else list(_registry.names())
    if not use_sandbox and only is None:
        names = [name for name in names if load_credentials(name, config=state.config)]
        if not names:
            raise click.UsageError(
                "no provider has credentials configured; see crowdsms providers for the "
                "environment variables and config keys, or pass --sandbox"
            )
    failed = 0
    for name in names:
        verdict, ok = run(lambda name=name: _check_one(name, state, use_sandbox))  # type: ignore[misc]
        console.print(f"{name:<10} {verdict}", markup=False)
        failed += not ok
    if failed:
        raise SystemExit(1)


async def _check_one(name: str, state: CliState, use_sandbox: bool) -> tuple[str, bool]:
    spec = _registry.get(name)

    async def job(client: AsyncClientBase) -> tuple[str, bool]:
        if spec.check_credentials is not None:
            try:
                return f"ok: {await spec.check_credentials(client)}", True
            except (AuthenticationError, SignatureError) as error:
                return f"refused: {error}", False
        note = f"cannot check the credentials: {spec.cannot_check}"
        if spec.read_clock is not None:
            await spec.read_clock(client)
            note += f"; the service at {client.base_url} answers"
        return note, True

    try:
        return await with_client(name, state.config, job, use_sandbox=use_sandbox)
    except CrowdSMSError as error:
        return f"failed: {error}", False
