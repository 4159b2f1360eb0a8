"""Running the click group: exit statuses, one-line errors, interrupts."""

from __future__ import annotations

import click

from crowdsms.cli._app import CliState, as_cli, one_line
from crowdsms.cli._commands import cli
from crowdsms.errors import CrowdSMSError

__all__ = ["run_cli"]


def run_cli(args: list[str]) -> int:
    """Run ``crowdsms ARGS``; return the exit status."""
    state = CliState(argv=list(args))
    try:
        cli.main(args=args, prog_name="crowdsms", standalone_mode=False, obj=state)
    except click.exceptions.Exit as done:
        return done.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        if state.resume_line is not None:
            _say(
                "crowdsms: stopped at once. The journal is consistent (requests that were in "
                f"flight are reported 'unknown'). Resume with: {state.resume_line}"
            )
        else:
            _say("crowdsms: interrupted. Without --journal the job cannot be resumed.")
        return 130
    except click.ClickException as error:
        _say(f"crowdsms: error: {one_line(error.format_message())}")
        return 2
    except CrowdSMSError as error:
        _say(f"crowdsms: error: {one_line(as_cli(str(error)))}")
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


def _say(text: str) -> None:
    click.echo(text, err=True)
