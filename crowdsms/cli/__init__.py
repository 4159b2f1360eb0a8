"""The ``crowdsms`` command (needs the ``cli`` extra: ``pip install 'crowdsms[cli]'``).

Bad input (a missing file, an unknown column or variable, a bad option, missing
credentials) prints one line and exits with status 2, before anything is sent. A finished
job exits 0 when every recipient that was not skipped was sent, 1 otherwise (some failed,
are unknown, or were not sent because the job stopped early). Ctrl-C exits 130 and prints
the command that resumes a journaled job.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_EXTRA_HINT = "install it with: python -m pip install 'crowdsms[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        import click  # noqa: F401 (checked here so that a missing extra is one line)
        import rich  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "a package"
        _say(
            f"crowdsms: error: the command line needs {missing}, part of the cli extra; "
            f"{_EXTRA_HINT}"
        )
        return 2
    from crowdsms.cli._main import run_cli

    return run_cli(args)


def _say(text: str) -> None:
    print(text, file=sys.stderr)
