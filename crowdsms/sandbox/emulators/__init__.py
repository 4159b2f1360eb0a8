"""One emulator per provider, each an independent implementation of that provider's API.

An emulator has its own signing checks, parsing, codes and answers (it shares no code with
the SDK's provider packages, so it can catch their mistakes). The sandbox finds each
registered provider's emulator through the registry entry's ``emulator`` (a class, or
``module:Class``)
and serves it under the entry's ``sandbox_prefix``. An emulator class has:

- ``provider``: the registry name; ``settings_class``: its settings (every field defaulted);
- ``__init__(state)``, taking the sandbox's shared :class:`~crowdsms.sandbox._state.SandboxState`;
- ``routes()``: its Starlette routes, below its prefix;
- ``accounts()``: the configured account names, the default one first;
- ``client_credentials(account)``: the SDK client's credential keywords for that account;
- optionally ``push_reply(reply)``, for providers that deliver replies, and
  ``webhook_options()``, the keywords of the SDK receiver that verifies its pushes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

from starlette.routing import BaseRoute

from crowdsms.providers import _registry

__all__ = ["Emulator", "emulator_class", "emulator_classes"]


class Emulator(Protocol):
    """What the sandbox needs from a provider's emulator."""

    provider: ClassVar[str]
    settings_class: ClassVar[type[Any]]

    def routes(self) -> Sequence[BaseRoute]:
        """The routes served below the provider's prefix."""
        ...

    def accounts(self) -> Sequence[str]:
        """The configured accounts, the default first."""
        ...

    def client_credentials(self, account: str) -> Mapping[str, str]:
        """The SDK client's credential keywords for ``account``."""
        ...


def emulator_class(provider: str) -> type[Any]:
    """The emulator class of a registered provider (imported on first use)."""
    spec = _registry.get(provider)
    if isinstance(spec.emulator, str):
        module_name, _, class_name = spec.emulator.partition(":")
        cls: type[Any] = getattr(importlib.import_module(module_name), class_name)
    else:
        cls = spec.emulator
    if getattr(cls, "provider", None) != provider:
        raise TypeError(f"{spec.emulator} is not the emulator of {provider}")
    return cls


def emulator_classes() -> dict[str, type[Any]]:
    """Every registered provider's emulator class, by name."""
    return {name: emulator_class(name) for name in _registry.names()}
