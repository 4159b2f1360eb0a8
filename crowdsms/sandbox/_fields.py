"""Converters for the fields of settings classes: secrets and tuples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms._secret import Secret

__all__ = ["secret_field", "secrets_field", "tuple_values"]


def secret_field(value: str | Secret) -> Secret:
    """``value`` as a :class:`~crowdsms.Secret`."""
    return value if isinstance(value, Secret) else Secret(value)


def secrets_field(value: Mapping[str, str | Secret]) -> Mapping[str, Secret]:
    """An account -> key mapping with every key a :class:`~crowdsms.Secret`."""
    return {str(key): secret_field(secret) for key, secret in value.items()}


def tuple_values(value: Mapping[str, Sequence[str]]) -> Mapping[str, tuple[str, ...]]:
    """A mapping whose values are made tuples."""
    return {name: tuple(items) for name, items in value.items()}
