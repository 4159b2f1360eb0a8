"""Credentials for the command line: environment variables first, then a TOML config file.

Each registered provider has a table ``[name]`` in the config file whose keys are its
client's credential keywords, and the environment variables ``CROWDSMS_<NAME>_<KEY>``::

    [name]                 # the provider's registry name
    key = "..."            # each of its credential fields

Every provider also takes ``base_url`` (``CROWDSMS_<NAME>_BASE_URL``). ``crowdsms providers``
lists each provider's keys and variables. The config file is ``--config PATH``, else
``$CROWDSMS_CONFIG``, else ``~/.config/crowdsms/config.toml``; it is optional.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Credentials", "load_credentials"]


@attrs.frozen
class Credentials:
    """One provider's identity, key and optional base URL."""

    provider: str
    values: Mapping[str, str | Secret] = attrs.field(repr=False)
    """Credential keyword -> value (secrets wrapped in :class:`~crowdsms.Secret`)."""
    base_url: str | None = None
    source: str = ""


def _config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("CROWDSMS_CONFIG")
    if env:
        return Path(env)
    default = Path.home() / ".config" / "crowdsms" / "config.toml"
    return default if default.is_file() else None


def _read_table(path: Path | None, provider: str) -> Mapping[str, object]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"the config file {path} does not exist", action="Check --config or CROWDSMS_CONFIG"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"the config file {path} is not valid TOML",
            received=str(exc)[:120],
            action="Fix the file; each provider is a table named after it, such as [name]",
        ) from exc
    table = data.get(provider, {})
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"[{provider}] in {path} must be a table", action=f"Write it as [{provider}]"
        )
    return table


def load_credentials(provider: str, *, config: Path | None = None) -> Credentials | None:
    """The credentials for ``provider``, or ``None`` if none are configured anywhere."""
    spec = _registry.get(provider)
    path = _config_path(config)
    table = _read_table(path, provider)
    values: dict[str, object] = {}
    from_environment = False
    for field in spec.credentials:
        value = os.environ.get(field.env_var(provider))
        from_environment = from_environment or bool(value)
        values[field.name] = value or table.get(field.name)
    base_url = os.environ.get(_base_url_var(spec)) or table.get("base_url")
    if not any(values.values()):
        return None
    _check_complete(spec, values)
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigurationError(f"{provider}: base_url must be a string", action="Quote it")
    credentials = {
        field.name: Secret(str(values[field.name])) if field.secret else str(values[field.name])
        for field in spec.credentials
    }
    source = "environment" if from_environment else str(path)
    return Credentials(provider, credentials, base_url, source)


def _base_url_var(spec: ProviderSpec) -> str:
    return f"CROWDSMS_{spec.name.upper()}_BASE_URL"


def _check_complete(spec: ProviderSpec, values: Mapping[str, object]) -> None:
    for field in spec.credentials:
        value = values[field.name]
        if not value:
            raise ConfigurationError(
                f"{spec.name} is half configured: {field.name} is missing",
                action=(
                    f"Set {field.env_var(spec.name)} or {field.name} under [{spec.name}] in the "
                    "config file"
                ),
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"{spec.name}: {field.name} must be a string", action="Quote it in the config file"
            )
