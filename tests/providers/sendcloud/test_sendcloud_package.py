"""The package's shape: private modules, one public API, a twin that cannot drift, no cycles."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import crowdsms.providers.sendcloud as package
from crowdsms.blocking._descriptors import blocking, passthrough
from crowdsms.providers.sendcloud import (
    AsyncSendCloud,
    ContactTaskEndpoints,
    SendCloud,
    SendCloudContactTasks,
    SendCloudSms,
    SendCloudTimestamp,
    SmsEndpoints,
    TimestampEndpoints,
)

PACKAGE = package.__name__
MODULES = sorted(info.name for info in pkgutil.iter_modules(package.__path__))


def test_every_module_is_private() -> None:
    assert MODULES
    assert [name for name in MODULES if not name.startswith("_")] == []


def test_all_names_exist_and_nothing_private_is_exported() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name
        assert not name.startswith("_"), name
    assert len(set(package.__all__)) == len(package.__all__)


def test_blocking_twin_takes_the_same_arguments() -> None:
    twin = inspect.signature(SendCloud.__init__).parameters
    original = inspect.signature(AsyncSendCloud.__init__).parameters

    def described(parameters: object) -> list[tuple[str, object, object, object]]:
        assert isinstance(parameters, type(twin))
        return [
            (p.name, p.kind, str(p.annotation), p.default)
            for p in parameters.values()
            if p.name != "backend"
        ]

    assert described(twin) == described(original)


@pytest.mark.parametrize(
    ("group", "twin"),
    [
        (SmsEndpoints, SendCloudSms),
        (TimestampEndpoints, SendCloudTimestamp),
        (ContactTaskEndpoints, SendCloudContactTasks),
    ],
)
def test_every_public_endpoint_method_has_a_twin(group: type, twin: type) -> None:
    for name, member in vars(group).items():
        if name.startswith("_") or not callable(member):
            continue
        declared = twin.__dict__.get(name)
        expected = blocking if inspect.iscoroutinefunction(member) else passthrough
        assert isinstance(declared, expected), f"{twin.__name__}.{name}"


def _imports(module: str) -> set[str]:
    path = Path(importlib.import_module(module).__file__ or "")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def test_no_import_cycles() -> None:
    modules = [PACKAGE, *(f"{PACKAGE}.{name}" for name in MODULES)]
    graph = {module: _imports(module) for module in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == 2:
            return
        assert state.get(module) != 1, " -> ".join([*path, module])
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*path, module])
        state[module] = 2

    for module in graph:
        visit(module, [])


def test_chunk_sender_does_not_import_an_endpoint_module() -> None:
    endpoint_modules = {f"{PACKAGE}._{name}" for name in ("sms", "timestamp", "contact_tasks")}
    assert _imports(f"{PACKAGE}._chunks") & endpoint_modules == set()
