"""Every package a module imports when it is imported is declared where a user installs it.

A module of the core (everything outside the areas below) may import only the standard
library and ``[project].dependencies``; a module of an area, only those and its extra's
(``crowdsms.cli`` needs ``crowdsms[cli]``, ``crowdsms.campaign`` needs ``crowdsms[campaign]``,
and so on). That holds for what it imports through other crowdsms modules too: importing
``crowdsms.campaign`` imports every crowdsms module it imports at module level, and each of
their packages must come with ``crowdsms[campaign]``.

Imports made when a module is imported count, those under a Python-version test included
(``import tomli`` on 3.10 is an import on 3.10). Imports inside functions (made on first
use), under ``if TYPE_CHECKING:`` and in a ``try`` that catches ``ImportError`` (optional
packages) do not.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import crowdsms

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ROOT = Path(crowdsms.__file__).parent
PYPROJECT = ROOT.parent / "pyproject.toml"

AREAS = {
    "crowdsms.cli": "cli",
    "crowdsms.sandbox": "sandbox",
    "crowdsms.campaign": "campaign",
    "crowdsms.campaign.celery": "celery",
    "crowdsms.limits._redis": "campaign",
    "crowdsms.telemetry._otel": "otel",
    "crowdsms._transport.aiohttp_lane": "aiohttp",
}
"""Where a module's packages may come from besides the core's: the extra of its area."""

STANDARD_LIBRARY = sys.stdlib_module_names | {"tomllib"}
"""The standard library of every Python crowdsms supports: ``tomllib`` came with 3.11, and
on 3.10 its import is the branch taken on 3.11 and later."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert found is not None, f"unreadable requirement {requirement!r} in pyproject.toml"
        names.add(canonical(found.group()))
    return names


@functools.cache
def declared() -> tuple[set[str], dict[str, set[str]]]:
    """The core's distributions, and each extra's."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = {
        extra: requirement_names(requirements)
        for extra, requirements in project["optional-dependencies"].items()
    }
    return requirement_names(project["dependencies"]), extras


def area_of(module: str) -> str | None:
    """The extra ``module`` needs (its longest matching area), ``None`` for the core."""
    matches = [area for area in AREAS if module == area or module.startswith(f"{area}.")]
    return AREAS[max(matches, key=len)] if matches else None


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(name, ast.Name) and name.id.endswith("ImportError") for name in names):
            return True
        if any(isinstance(name, ast.Name) and name.id == "ModuleNotFoundError" for name in names):
            return True
    return False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_imports(statements: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports run when the module is imported, in any branch of a module-level ``if``."""
    for statement in statements:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield statement
        elif isinstance(statement, ast.If) and not _is_type_checking(statement.test):
            yield from import_time_imports(statement.body)
            yield from import_time_imports(statement.orelse)
        elif isinstance(statement, ast.Try) and not _catches_import_error(statement):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from import_time_imports(block)


@functools.cache
def imported(module: str) -> tuple[set[str], set[str]]:
    """The top-level names of the packages ``module`` imports, and the crowdsms modules."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    packages: set[str] = set()
    internal: set[str] = set()
    for node in import_time_imports(tree.body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            prefix = ".".join(base + ([node.module] if node.module else []))
            targets = [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]
        else:
            assert node.module is not None
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for target in targets:
            top = target.partition(".")[0]
            if top == "crowdsms":
                # The module itself and every package on its way (their __init__ runs too).
                parts = target.split(".")
                internal.update(
                    name
                    for name in (".".join(parts[:end]) for end in range(1, len(parts) + 1))
                    if name in MODULES
                )
            elif top != "__future__" and top not in STANDARD_LIBRARY:
                packages.add(top)
    internal.discard(module)
    return packages, internal


def closure(module: str) -> dict[str, set[str]]:
    """Each crowdsms module importing ``module`` imports, with the packages it imports."""
    found: dict[str, set[str]] = {}
    waiting = [module]
    while waiting:
        name = waiting.pop()
        if name in found:
            continue
        packages, internal = imported(name)
        found[name] = packages
        waiting.extend(internal - found.keys())
    return found


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Each installed top-level import name, with the distributions that provide it.

    Read from each distribution's list of files, as ``packages_distributions`` does on 3.11
    and later; on 3.10 it reads ``top_level.txt`` only, which a wheel of a namespace package
    (``opentelemetry-api``) does not have.
    """
    providers: dict[str, list[str]] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        tops = {
            file.parts[0].partition(".")[0]
            for file in distribution.files or ()
            if (len(file.parts) > 1 and not file.parts[0].endswith((".dist-info", ".data")))
            or file.suffix == ".py"
        }
        for top in filter(str.isidentifier, tops):
            providers.setdefault(top, []).append(name)
    return providers


def distributions(package: str) -> set[str]:
    """The installed distributions that provide the top-level import name ``package``.

    A package not installed here (``tomli``, imported on Python 3.10 only) is taken to be
    the distribution of the same name.
    """
    return {canonical(name) for name in _providers().get(package, [package])}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_only_what_its_install_brings(module: str) -> None:
    core, extras = declared()
    extra = area_of(module)
    allowed = core | (extras[extra] if extra is not None else set())
    where = "[project].dependencies" + (f" or the {extra!r} extra" if extra else "")
    missing = [
        f"{name} imports {package}, which comes with none of {where}"
        for name, packages in sorted(closure(module).items())
        for package in sorted(packages)
        if not distributions(package) & allowed
    ]
    assert missing == []


def test_every_area_names_a_declared_extra() -> None:
    _, extras = declared()
    assert set(AREAS.values()) <= extras.keys()
    assert all(area in MODULES for area in AREAS)
