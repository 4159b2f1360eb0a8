"""Credentials for the command line: environment variables first, then a TOML config file.

=========== ================================================ ======================================
provider    environment variables                            config file table ``[provider]``
=========== ================================================ ======================================
submail     ``CROWDSMS_SUBMAIL_APP_ID``, ``..._APP_KEY``      ``app_id``, ``app_key``
sendcloud   ``CROWDSMS_SENDCLOUD_SMS_USER``, ``..._SMS_KEY``  ``sms_user``, ``sms_key``
crowdtask   ``CROWDSMS_CROWDTASK_ACCESS_ID``,                 ``access_id``, ``access_secret_key``
            ``..._ACCESS_SECRET_KEY``
paasw       ``CROWDSMS_PAASW_APP_ID``, ``..._SECRET``         ``app_id``, ``secret``
=========== ================================================ ======================================

Each provider also takes ``base_url`` (``CROWDSMS_<PROVIDER>_BASE_URL``). The config file is
``--config PATH``, else ``$CROWDSMS_CONFIG``, else ``~/.config/crowdsms/config.toml``; it is
optional. A provider with no credentials at all is served by the embedded sandbox.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

import attrs

from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["PROVIDER_NAMES", "Credentials", "ProviderName", "load_credentials"]

ProviderName = Literal["submail", "sendcloud", "crowdtask", "paasw"]
PROVIDER_NAMES: Final[tuple[ProviderName, ...]] = ("submail", "sendcloud", "crowdtask", "paasw")

# (public id setting, secret setting) per provider
_FIELDS: Final[Mapping[ProviderName, tuple[str, str]]] = {
    "submail": ("app_id", "app_key"),
    "sendcloud": ("sms_user", "sms_key"),
    "crowdtask": ("access_id", "access_secret_key"),
    "paasw": ("app_id", "secret"),
}


@attrs.frozen
class Credentials:
    """One provider's identity, key and optional base URL."""

    provider: ProviderName
    identity: str
    secret: Secret = attrs.field(repr=False)
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


def _read_table(path: Path | None, provider: ProviderName) -> Mapping[str, object]:
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
            action="Fix the file; each provider is a table such as [submail]",
        ) from exc
    table = data.get(provider, {})
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"[{provider}] in {path} must be a table", action=f"Write it as [{provider}]"
        )
    return table


def load_credentials(provider: ProviderName, *, config: Path | None = None) -> Credentials | None:
    """The credentials for ``provider``, or ``None`` if none are configured anywhere."""
    id_name, secret_name = _FIELDS[provider]
    prefix = f"CROWDSMS_{provider.upper()}_"
    path = _config_path(config)
    table = _read_table(path, provider)
    identity = os.environ.get(prefix + id_name.upper()) or table.get(id_name)
    secret = os.environ.get(prefix + secret_name.upper()) or table.get(secret_name)
    base_url = os.environ.get(prefix + "BASE_URL") or table.get("base_url")
    if not identity and not secret:
        return None
    if not identity or not secret:
        missing = id_name if not identity else secret_name
        raise ConfigurationError(
            f"{provider} is half configured: {missing} is missing",
            action=(
                f"Set {prefix}{missing.upper()} or {missing} under [{provider}] in the config "
                "file, or remove the other setting to use the embedded sandbox"
            ),
        )
    if not isinstance(identity, str) or not isinstance(secret, str):
        raise ConfigurationError(
            f"{provider}: {id_name} and {secret_name} must be strings",
            action="Quote them in the config file",
        )
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigurationError(f"{provider}: base_url must be a string", action="Quote it")
    source = "environment" if os.environ.get(prefix + id_name.upper()) else str(path)
    return Credentials(provider, identity, Secret(secret), base_url, source)
