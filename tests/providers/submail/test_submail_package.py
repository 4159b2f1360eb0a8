"""The package's shape: its public names, private modules, and a twin that cannot drift."""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Callable

from crowdsms.blocking._descriptors import blocking, passthrough
from crowdsms.providers import submail
from crowdsms.providers.submail import (
    AsyncSubmail,
    ServiceEndpoints,
    SmsEndpoints,
    Submail,
    SubmailService,
    SubmailSms,
)


def test_every_module_is_private_and_every_public_name_is_exported() -> None:
    modules = [module.name for module in pkgutil.iter_modules(submail.__path__)]
    assert modules
    assert [name for name in modules if not name.startswith("_")] == []
    assert sorted(submail.__all__) == sorted(set(submail.__all__))
    for name in submail.__all__:
        assert getattr(submail, name) is not None, name


def test_the_blocking_twin_takes_exactly_the_async_clients_arguments() -> None:
    def parameters(init: Callable[..., object]) -> list[tuple[str, object, str, object]]:
        return [
            (p.name, p.kind, str(p.annotation), p.default)
            for p in inspect.signature(init).parameters.values()
            if p.name != "backend"
        ]

    assert parameters(Submail.__init__) == parameters(AsyncSubmail.__init__)


def test_every_async_endpoint_has_a_twin() -> None:
    for group, twin in ((SmsEndpoints, SubmailSms), (ServiceEndpoints, SubmailService)):
        public = [name for name, value in vars(group).items() if callable(value)]
        public = [name for name in public if not name.startswith("_")]
        assert public, group
        for name in public:
            assert isinstance(vars(twin).get(name), (blocking, passthrough)), (group, name)
