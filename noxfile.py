"""Developer tasks: `nox` runs lint, typecheck and tests; `nox -s bench` runs the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install_group(session: nox.Session, group: str, *, package: bool = True) -> None:
    """Install a dependency group from pyproject.toml (and the package, editable)."""
    requirements = nox.project.dependency_groups(PYPROJECT, group)
    if package:
        session.install("-e", ".[sandbox,cli,campaign,celery,otel]", *requirements)
    else:
        session.install(*requirements)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    install_group(session, "lint", package=False)
    session.run("ruff", "check", "crowdsms", "tests", "benchmarks", "examples", "noxfile.py")
    session.run(
        "ruff", "format", "--check", "crowdsms", "tests", "benchmarks", "examples", "noxfile.py"
    )


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    install_group(session, "typecheck")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, unit and integration (asyncio and trio)."""
    install_group(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=["3.10", "3.11", "3.12", "3.13"], default=False)
def compat(session: nox.Session) -> None:
    """The test suite on every Python crowdsms supports (each one must be installed).

    The default ``tests`` session runs on the Python that runs nox; this one catches what
    differs between versions (3.13 warns of an SQLite connection left open, say, which
    the suite turns into an error).
    """
    install_group(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (not tests): prints a table of ratios measured in one run.

    About 6 to 7 minutes on two idle cores (2 of them for the campaign section, which runs a Redis
    server); ``nox -s bench -- --quick`` takes about a minute, and ``nox -s bench -- --help``
    lists the sizes and sections.
    """
    install_group(session, "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)
