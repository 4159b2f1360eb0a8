"""The provider registry: one :class:`~crowdsms.providers._spec.ProviderSpec` per provider.

The built-in providers are listed here; :func:`register` adds another at run time (a plugin,
or a test's fake provider), and every part of the SDK that loops over :func:`providers` (the
command line, config loading, the sandbox) sees it at once.
"""

from __future__ import annotations

from crowdsms._suggest import did_you_mean
from crowdsms.errors import ConfigurationError
from crowdsms.providers._spec import ProviderSpec
from crowdsms.providers.crowdtask._provider import PROVIDER as _CROWDTASK
from crowdsms.providers.paasw._provider import PROVIDER as _PAASW
from crowdsms.providers.sendcloud._provider import PROVIDER as _SENDCLOUD
from crowdsms.providers.submail._provider import PROVIDER as _SUBMAIL

__all__ = ["get", "names", "providers", "register", "registered", "unregister"]

_REGISTRY: dict[str, ProviderSpec] = {
    spec.name: spec for spec in (_SUBMAIL, _SENDCLOUD, _CROWDTASK, _PAASW)
}


def providers() -> tuple[ProviderSpec, ...]:
    """Every registered provider, built-in ones first, in registration order."""
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    """The registered providers' names."""
    return tuple(_REGISTRY)


def get(name: str) -> ProviderSpec:
    """The provider called ``name``; :class:`ConfigurationError` (with a suggestion) if none."""
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ConfigurationError(
            f"there is no provider {name!r}{did_you_mean(name, _REGISTRY)}",
            action=f"Use one of: {', '.join(_REGISTRY)}",
        )
    return spec


def register(spec: ProviderSpec) -> None:
    """Add a provider; its name must be new."""
    if spec.name in _REGISTRY:
        raise ConfigurationError(
            f"a provider called {spec.name!r} is registered already",
            action="Choose another name, or unregister the old one first",
        )
    if not spec.name.isidentifier() or spec.name != spec.name.lower():
        raise ConfigurationError(
            f"provider names are lower-case identifiers, not {spec.name!r}",
            action="Name it like 'submail' (it is used in URLs, config tables and variables)",
        )
    _REGISTRY[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a provider added with :func:`register` (built-in ones stay)."""
    get(name)
    if name in _BUILTIN:
        raise ConfigurationError(f"{name} is built in and cannot be unregistered")
    del _REGISTRY[name]


class registered:
    """A context manager that registers ``spec`` and unregisters it on exit (for tests)."""

    def __init__(self, spec: ProviderSpec) -> None:
        self._spec = spec

    def __enter__(self) -> ProviderSpec:
        register(self._spec)
        return self._spec

    def __exit__(self, *_: object) -> None:
        unregister(self._spec.name)


_BUILTIN = frozenset(_REGISTRY)
