"""The command that resumes an interrupted job, ready to paste into a POSIX shell.

It is invoked the way this run was (``python -m crowdsms`` as ``<this python> -m crowdsms``),
with every file argument made absolute so that it works from any directory, quoted with
:func:`shlex.join`, and printed on one line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Collection, Sequence

__all__ = ["invocation", "resume_line"]


def invocation() -> list[str]:
    """How this process was started: ``[python, "-m", "crowdsms"]`` or the script's path."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name in ("crowdsms", "crowdsms.__main__"):
        return [sys.executable, "-m", "crowdsms"]
    script = sys.argv[0] if sys.argv and sys.argv[0] else "crowdsms"
    if os.sep in script:
        return [os.path.abspath(script)]
    return [shutil.which(script) or script]


def resume_line(
    args: Sequence[str],
    *,
    path_options: Collection[str],
    value_options: Collection[str],
    positional_paths: int = 1,
) -> str:
    """``args`` (after the program name) as a shell command that adds ``--resume``.

    ``path_options`` take a file path (made absolute); ``value_options`` take any value
    (left as it is); the first ``positional_paths`` positional arguments after the command
    name are file paths too.
    """
    out: list[str] = []
    expect: str | None = None
    positionals = 0
    seen_command = False
    for arg in args:
        if expect is not None:
            out.append(os.path.abspath(arg) if expect in path_options else arg)
            expect = None
            continue
        name, equals, value = arg.partition("=")
        if arg.startswith("--") and equals and name in path_options:
            out.append(f"{name}={os.path.abspath(value)}")
        elif arg in path_options or arg in value_options:
            out.append(arg)
            expect = arg
        elif arg.startswith("-"):
            out.append(arg)
        elif not seen_command:
            seen_command = True
            out.append(arg)
        elif positionals < positional_paths:
            positionals += 1
            out.append(os.path.abspath(arg))
        else:
            out.append(arg)
    if "--resume" not in out:
        out.append("--resume")
    return shlex.join([*invocation(), *out])
