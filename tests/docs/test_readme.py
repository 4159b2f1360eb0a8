"""The README's examples run as written, and its command lines are valid commands.

Each Python block is executed as it stands, imports included, in a fresh namespace, in a
temporary directory holding the CSV files the examples read (``contacts.csv``, numbers
in ``phone``; ``customers.csv``, in ``mobile``). It runs against a
sandbox: clients created with a provider's default base URL are pointed at the sandbox, and
the sandbox knows the example credentials (``app_id="12345"``, ``app_key="your-app-key"``).
Each ``crowdsms ...`` line is parsed by the command line itself (without running it).
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from crowdsms._client import AsyncClientBase
from crowdsms.cli._app import CliState
from crowdsms.cli._commands import cli
from crowdsms.providers import _registry
from crowdsms.sandbox import Sandbox, SandboxSettings, serve_in_thread
from crowdsms.sandbox.emulators.submail import SUBMAIL_SUBHOOK_KEY, SubmailSettings

README = Path(__file__).parents[2] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def blocks(language: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of every fenced block in ``language``."""
    found = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```", TEXT, flags=re.S | re.M):
        found.append((TEXT.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


PYTHON = blocks("python")
SHELL = blocks("sh")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    settings = SandboxSettings(
        providers={"submail": SubmailSettings(apps={"12345": "your-app-key"})}
    )
    with serve_in_thread(settings) as running:
        defaults = {spec.default_base_url: spec.name for spec in _registry.providers()}
        original = AsyncClientBase.__init__

        def to_sandbox(self: AsyncClientBase, *, base_url: str, **rest: Any) -> None:
            name = defaults.get(base_url.rstrip("/"))
            if name is not None:
                base_url = running.base_url(name)
            original(self, base_url=base_url, **rest)

        monkeypatch.setattr(AsyncClientBase, "__init__", to_sandbox)
        yield running


def test_the_readme_has_examples_to_check() -> None:
    assert len(PYTHON) >= 5
    assert len(SHELL) >= 3


@pytest.mark.parametrize(("line", "code"), PYTHON, ids=[f"line {n}" for n, _ in PYTHON])
def test_every_python_example_runs(
    line: int,
    code: str,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [f"1380013{i:04d},用户{i}" for i in range(120)]
    for name, column in (("customers.csv", "mobile"), ("contacts.csv", "phone")):
        text = "\n".join([f"{column},name", *rows]) + "\n"
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUBMAIL_SUBHOOK_KEY", SUBMAIL_SUBHOOK_KEY)
    namespace: dict[str, Any] = {"__name__": f"readme_line_{line}"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102 (our own README)
    capsys.readouterr()


def command_lines() -> list[tuple[int, str]]:
    lines = []
    for start, code in SHELL:
        joined = code.replace("\\\n", " ")
        for offset, text in enumerate(joined.splitlines()):
            command = text.split("  #", 1)[0].strip()
            if command.startswith("crowdsms "):
                lines.append((start + offset + 1, command))
    return lines


COMMANDS = command_lines()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 8


@pytest.mark.parametrize(("line", "command"), COMMANDS, ids=[f"line {n}" for n, _ in COMMANDS])
def test_every_command_line_is_valid(line: int, command: str) -> None:
    assert "|" not in command, "a pipeline, not one command"
    args = shlex.split(command)[1:]
    if args in (["--version"], ["--help"]):
        return
    with cli.make_context("crowdsms", list(args), obj=CliState()) as group:
        with warnings.catch_warnings():  # click 8.2+ deprecates protected_args, still set
            warnings.simplefilter("ignore", DeprecationWarning)
            remaining = [*group.protected_args, *group.args]
        name, sub, rest = cli.resolve_command(group, remaining)
        assert sub is not None, f"README line {line}: no command {name!r}"
        if isinstance(sub, click.Command) and sub.context_settings.get("ignore_unknown_options"):
            return  # `crowdsms sandbox` hands its arguments to the sandbox's own parser
        with sub.make_context(name or "", rest, parent=group):
            pass


def test_the_credential_scheme_and_project_files_are_documented() -> None:
    assert "CROWDSMS_<PROVIDER>_<FIELD>" in TEXT
    assert "crowdsms providers" in TEXT  # lists every provider's keys and variables
    for spec in _registry.providers():  # the README's config example uses real keys
        assert f"[{spec.name}]" in TEXT or spec.name in ("sendcloud", "crowdtask")
    root = Path(__file__).parents[2]
    assert (root / "LICENSE").is_file()
    assert (root / "CHANGELOG.md").is_file()
