"""The shape of the paasw package: its public names, the blocking twin, the code table, the
chunk sender's connections, and no import cycles."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import crowdsms.providers.paasw as paasw
from crowdsms._client import DEFAULT_MAX_CONNECTIONS
from crowdsms.batch import BatchSender
from crowdsms.errors import ConfigurationError, ProviderError
from crowdsms.providers.paasw import (
    CODES,
    AccountEndpoints,
    AsyncPaasw,
    Paasw,
    PaaswAccount,
    PaaswReports,
    PaaswSms,
    ReportEndpoints,
    SmsEndpoints,
    explain,
)
from crowdsms.providers.paasw._codes import error_for_code

PACKAGE = "crowdsms.providers.paasw"


def test_every_exported_name_exists_and_modules_are_private() -> None:
    assert sorted(paasw.__all__) == sorted(set(paasw.__all__))
    for name in paasw.__all__:
        assert hasattr(paasw, name), name
    modules = [info.name for info in pkgutil.iter_modules(paasw.__path__)]
    assert modules, "the package has modules"
    assert all(name.startswith("_") for name in modules), modules


def _parameters(function: Callable[..., object]) -> list[tuple[str, object, str, object]]:
    return [
        (p.name, p.kind, str(p.annotation), p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name not in ("self", "backend")
    ]


def test_the_blocking_twin_takes_the_async_clients_arguments() -> None:
    assert _parameters(Paasw.__init__) == _parameters(AsyncPaasw.__init__)


@pytest.mark.parametrize(
    ("async_group", "blocking_group"),
    [(SmsEndpoints, PaaswSms), (ReportEndpoints, PaaswReports), (AccountEndpoints, PaaswAccount)],
)
def test_every_public_endpoint_method_has_a_blocking_twin(
    async_group: type, blocking_group: type
) -> None:
    public = {
        name
        for name, member in vars(async_group).items()
        if callable(member) and not name.startswith("_")
    }
    assert public
    assert public <= set(vars(blocking_group)), public - set(vars(blocking_group))


def test_explain_and_the_code_table() -> None:
    assert dict(CODES) == {}  # the gateway publishes no error codes yet
    assert explain("40001") == "paasw code 40001 is not in crowdsms's table of known codes"
    assert explain(40001) == explain("40001")
    error = error_for_code(code="20001", message="参数错误", operation="paasw.sms.send")
    assert type(error) is ProviderError
    assert (error.provider, error.code, error.provider_message) == ("paasw", "20001", "参数错误")


@pytest.mark.asyncio
async def test_the_chunk_sender_reports_the_clients_connections(
    make_client: Callable[..., AsyncPaasw],
) -> None:
    sign, content = "圆通快递", "【圆通快递】明日 9 点停水"
    async with make_client() as client:
        sender = client.sms.send_chunks(sign=sign, content=content)
        assert sender.max_connections == client.max_connections == DEFAULT_MAX_CONNECTIONS
    async with make_client(max_connections=4) as client:
        sender = client.sms.send_chunks(sign=sign, content=content)
        assert sender.max_connections == 4
        with pytest.raises(ConfigurationError, match="max_connections"):
            BatchSender(sender, concurrency=5)
        BatchSender(sender, concurrency=4)
    async with make_client(transport=httpx.MockTransport(lambda _: httpx.Response(500))) as client:
        assert client.sms.send_chunks(sign=sign, content=content).max_connections is None


def _imports(module_name: str) -> set[str]:
    """The crowdsms modules ``module_name`` imports (parent packages included)."""
    source = Path(sys.modules[module_name].__file__ or "").read_text(encoding="utf-8")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                own_ancestor = (module_name + ".").startswith(target + ".")
                if target.startswith("crowdsms") and target in sys.modules and not own_ancestor:
                    found.add(target)
    found.discard(module_name)
    return found


def test_no_import_cycles() -> None:
    """No module of the package imports a module that (directly or not) imports it."""
    names = [info.name for info in pkgutil.iter_modules(paasw.__path__, PACKAGE + ".")]
    for name in names:
        importlib.import_module(name)
    graph: dict[str, set[str]] = {}
    todo = [PACKAGE, *names]
    while todo:
        name = todo.pop()
        if name not in graph and getattr(sys.modules.get(name), "__file__", None):
            graph[name] = _imports(name)
            todo.extend(graph[name])

    def reaches(start: str, goal: str) -> bool:
        seen: set[str] = set()
        stack = list(graph.get(start, ()))
        while stack:
            name = stack.pop()
            if name == goal:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))
        return False

    cyclic = [name for name in names if reaches(name, name)]
    assert cyclic == []
