"""Credentials from environment variables and a TOML config file, for every provider.

Each registered provider has a table ``[name]`` in the config file whose keys are its
client's credential keywords, and the environment variables ``CROWDSMS_<NAME>_<KEY>``::

    [name]                 # the provider's registry name
    key = "..."            # each of its credential fields

Every provider also takes ``base_url`` (``CROWDSMS_<NAME>_BASE_URL``). ``crowdsms providers``
lists each provider's keys and variables. The config file is ``--config PATH``, else
``$CROWDSMS_CONFIG``, else ``~/.config/crowdsms/config.toml``; it is optional. Unknown
sections and keys are errors, so a misspelt key never looks like a missing one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

from crowdsms._secret import Secret
from crowdsms._suggest import did_you_mean
from crowdsms.errors import ConfigurationError
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Credentials", "load_credentials", "looked_for", "require_credentials"]


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


def _read_file(path: Path | None) -> Mapping[str, object]:
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
    names = _registry.names()
    for section, table in data.items():
        if section not in names:
            raise ConfigurationError(
                f"the config file {path} has a section [{section}] that is no provider"
                f"{did_you_mean(section, names)}",
                action=f"Name each section after a provider: {', '.join(names)}",
            )
        if not isinstance(table, dict):
            raise ConfigurationError(
                f"{section} in {path} must be a table", action=f"Write it as [{section}]"
            )
        known = [field.name for field in _registry.get(section).credentials] + ["base_url"]
        for key in table:
            if key not in known:
                raise ConfigurationError(
                    f"[{section}] in {path} has a key {key!r} that crowdsms does not know"
                    f"{did_you_mean(key, known)}",
                    action=f"Use the keys {', '.join(known)}",
                )
    return data


def _check_environment(spec: ProviderSpec) -> None:
    prefix = f"CROWDSMS_{spec.name.upper()}_"
    known = [field.env_var(spec.name) for field in spec.credentials] + [_base_url_var(spec)]
    for name in os.environ:
        if name.startswith(prefix) and name not in known:
            raise ConfigurationError(
                f"the environment variable {name} is not one crowdsms reads"
                f"{did_you_mean(name, known)}",
                action=f"Use {', '.join(known)}",
            )


def looked_for(provider: str) -> str:
    """Where credentials for ``provider`` are read from, for an error message."""
    spec = _registry.get(provider)
    variables = " and ".join(field.env_var(provider) for field in spec.credentials)
    keys = ", ".join(field.name for field in spec.credentials)
    return (
        f"the environment variables {variables}, or the keys {keys} under [{provider}] in the "
        "config file (--config, $CROWDSMS_CONFIG or ~/.config/crowdsms/config.toml)"
    )


def load_credentials(provider: str, *, config: Path | None = None) -> Credentials | None:
    """The credentials for ``provider``, or ``None`` if none are configured anywhere.

    Unknown sections and keys in the config file, and unknown ``CROWDSMS_<PROVIDER>_...``
    variables, are errors (with a suggestion): a misspelt key must not look like no key. A
    base URL without credentials is an error too.
    """
    spec = _registry.get(provider)
    path = _config_path(config)
    table = _read_file(path).get(provider, {})
    assert isinstance(table, dict)
    _check_environment(spec)
    values: dict[str, object] = {}
    from_environment = False
    for field in spec.credentials:
        value = os.environ.get(field.env_var(provider))
        from_environment = from_environment or bool(value)
        values[field.name] = value or table.get(field.name)
    base_url = os.environ.get(_base_url_var(spec)) or table.get("base_url")
    if not any(values.values()):
        if base_url is not None:
            raise ConfigurationError(
                f"{provider} has a base URL but no credentials",
                action=f"Set {looked_for(provider)}",
            )
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


def require_credentials(
    provider: str, *, config: Path | None = None, sandbox_hint: bool = True
) -> Credentials:
    """The credentials for ``provider``; :class:`ConfigurationError` saying where it looked.

    ``sandbox_hint``: the error also suggests ``--sandbox`` (for commands that have it).
    """
    credentials = load_credentials(provider, config=config)
    if credentials is None:
        action = f"Set {looked_for(provider)}"
        if sandbox_hint:
            action += (
                "; or pass --sandbox to use the embedded sandbox (nothing leaves this machine)"
            )
        raise ConfigurationError(f"no {provider} credentials are configured", action=action)
    return credentials


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
