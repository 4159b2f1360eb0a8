"""The ``crowdsms`` command (needs the ``cli`` extra: ``pip install 'crowdsms[cli]'``).

Bad input (a missing file, an unknown column, a bad option) prints one line and exits with
status 2, never a traceback. Ctrl-C stops cleanly and says how to resume a journaled job.
A finished job exits 0 when every recipient was sent or skipped, 1 when some failed or are
unknown.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from crowdsms.errors import CrowdSMSError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from crowdsms.cli._commands import cli

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="crowdsms", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        return _interrupted(args)
    except KeyboardInterrupt:
        return _interrupted(args)
    except click.ClickException as error:
        _say(f"crowdsms: error: {_one_line(error.format_message())}")
        return 2
    except CrowdSMSError as error:
        _say(f"crowdsms: error: {_one_line(str(error))}")
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


def _interrupted(args: list[str]) -> int:
    if "--journal" in args:
        resume = " ".join(args) + ("" if "--resume" in args else " --resume")
        _say(f"crowdsms: interrupted. The journal is consistent; resume with: crowdsms {resume}")
    else:
        _say("crowdsms: interrupted. Without --journal the job cannot be resumed.")
    return 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(text: str) -> None:
    click.echo(text, err=True)
