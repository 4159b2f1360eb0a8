"""The ``crowdsms`` command group, its shared options, and how commands reach a provider."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import click
from rich.console import Console

from crowdsms import __version__
from crowdsms._client import DEFAULT_MAX_CONNECTIONS, AsyncClientBase
from crowdsms._credentials import require_credentials
from crowdsms._suggest import did_you_mean
from crowdsms.cli._targets import make_client, sandbox_credentials
from crowdsms.providers import _registry

__all__ = [
    "CliState",
    "ProviderChoice",
    "as_cli",
    "cli",
    "config_option",
    "console",
    "notes",
    "one_line",
    "open_target",
    "provider_option",
    "require_sandbox",
    "run",
    "sandbox_option",
    "send_option_help",
    "with_client",
]

T = TypeVar("T")

console = Console(stderr=False, highlight=False, soft_wrap=True)
"""Results (stdout)."""
notes = Console(stderr=True, highlight=False, soft_wrap=True)
"""Progress and notes (stderr); soft-wrapped, so a printed command is never cut in two."""


@attrs.define
class CliState:
    """What the group's options set for every command."""

    config: Path | None = None
    argv: list[str] = attrs.field(factory=list)
    """The arguments this run was given (for the command that resumes a job)."""
    resume_line: str | None = None
    """The command that resumes the running journaled job, once one has started."""


def _set_config(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(CliState).config = value


def config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--config``, accepted after the command's name as well as before it."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        help="TOML credentials (default: $CROWDSMS_CONFIG or ~/.config/crowdsms/config.toml).",
    )(command)


def sandbox_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--sandbox``: talk to the embedded sandbox instead of the configured provider."""
    return click.option(
        "--sandbox",
        "use_sandbox",
        is_flag=True,
        help="Use the embedded sandbox on loopback (nothing leaves this machine).",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="crowdsms", message="%(prog)s %(version)s")
@config_option
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug; never secrets).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Send SMS and crowd tasks through every registered provider (crowdsms providers).

    Commands that talk to a provider use the credentials configured for it and never fall
    back to anything else: without credentials they stop and say where they looked.
    ``--sandbox`` asks for the embedded sandbox (nothing leaves this machine); ``demo``
    always uses it.
    """
    ctx.ensure_object(CliState)
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )


if TYPE_CHECKING:  # click >= 8.5 types ParamType as a generic; older click does not
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType


class ProviderChoice(_ParamType):
    """A registered provider's name, checked against the registry when the command runs.

    ``feature`` keeps only the providers whose registry entry has it (e.g. ``read_balance``).
    """

    name = "provider"

    def __init__(self, feature: str | None = None) -> None:
        self.feature = feature

    def names(self) -> list[str]:
        """The names this option accepts now."""
        return [
            spec.name
            for spec in _registry.providers()
            if self.feature is None or getattr(spec, self.feature) is not None
        ]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """The registered names, ``[a|b|...]``, in the help."""
        return "[" + "|".join(self.names()) + "]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        """Accept a registered name; refuse anything else with the list and a suggestion."""
        names = self.names()
        if value in names:
            return str(value)
        return self.fail(
            f"{value!r} is not one of {', '.join(names)}{did_you_mean(str(value), names)}",
            param,
            ctx,
        )


def provider_option(
    feature: str | None = None, *, what: str = "send through"
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    choice = ProviderChoice(feature)
    names = choice.names()
    return click.option(
        "--provider",
        type=choice,
        default=names[0] if names else None,
        show_default=True,
        help=f"Which provider to {what}.",
    )


def send_option_help(option: str, text: str) -> str:
    """``text``, then what ``option`` means for each provider that reads it."""
    uses = [
        f"{spec.name}: {meaning}"
        for spec in _registry.providers()
        if (meaning := spec.send_options.get(option))
    ]
    return f"{text} {'; '.join(uses)}." if uses else text


def require_sandbox() -> None:
    """Raise a one-line error when the sandbox's packages (the ``sandbox`` extra) are missing."""
    try:
        import python_multipart  # noqa: F401
        import starlette.applications  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        missing = (exc.name or "a package").split(".")[0]
        raise click.ClickException(
            f"the sandbox needs {missing}, part of the sandbox extra; install it with: "
            "python -m pip install 'crowdsms[sandbox]'"
        ) from exc


async def open_target(
    stack: AsyncExitStack,
    provider: str,
    config: Path | None,
    *,
    use_sandbox: bool,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    sandbox_option: bool = True,
) -> AsyncClientBase:
    """The command's client, entered on ``stack``: the embedded sandbox's or the configured
    provider's (``sandbox_option``: the command has ``--sandbox``, which a missing
    credential's error then suggests)."""
    if use_sandbox:
        require_sandbox()
        from crowdsms.sandbox import serve

        running = await stack.enter_async_context(serve())
        credentials = sandbox_credentials(provider, running)
        notes.print(f"Using the embedded sandbox at {running.url} (nothing leaves this machine).")
    else:
        credentials = require_credentials(provider, config=config, sandbox_hint=sandbox_option)
    client = make_client(credentials, max_connections=max_connections)
    return await stack.enter_async_context(client)


async def with_client(
    provider: str,
    config: Path | None,
    job: Callable[[AsyncClientBase], Awaitable[T]],
    *,
    use_sandbox: bool,
) -> T:
    async with AsyncExitStack() as stack:
        client = await open_target(stack, provider, config, use_sandbox=use_sandbox)
        return await job(client)


def run(func: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await func()

    return anyio.run(main)


_CLI_NAMES = {
    "chunk_size": "--chunk-size",
    "job_id": "--job-id",
    "phone_column": "--phone-column",
    "var_columns": "--var-column",
    "template_id": "--template-id",
    "project_id": "--project-id",
    "template_text": "--template-text",
    "max_segments": "--max-segments",
    "max_cost": "--max-cost",
    "price_per_segment": "--price",
}
_PYTHON_NAME = re.compile(r"\b(" + "|".join(_CLI_NAMES) + r")\b(=\S*)?")


def as_cli(text: str) -> str:
    """An error written for Python callers, in the command line's words (``--chunk-size``)."""
    return _PYTHON_NAME.sub(lambda match: _CLI_NAMES[match.group(1)], text)


def one_line(text: str) -> str:
    """``text`` on one line, its runs of white space made single spaces."""
    return " ".join(text.split())
