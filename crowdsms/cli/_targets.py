"""From command-line options to a client and the chunk sender the batch sender drives."""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms._client import DEFAULT_MAX_CONNECTIONS, AsyncClientBase
from crowdsms._credentials import Credentials
from crowdsms.providers import _registry

__all__ = ["make_client", "sandbox_credentials", "var_keys"]


def sandbox_credentials(provider: str, sandbox: object) -> Credentials:
    """The public credentials of ``provider``'s account in a running sandbox."""
    from crowdsms.sandbox import Sandbox

    assert isinstance(sandbox, Sandbox)
    values = sandbox.credentials(provider)
    return Credentials(provider, values, sandbox.base_url(provider), "embedded sandbox")


def make_client(
    credentials: Credentials, *, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> AsyncClientBase:
    """An async client for ``credentials`` (the provider's own base URL unless they set one)."""
    spec = _registry.get(credentials.provider)
    return spec.make_client(
        credentials.values, base_url=credentials.base_url, max_connections=max_connections
    )


def var_keys(provider: str, columns: Sequence[str]) -> dict[str, str]:
    """CSV column -> the template variable it fills, for every column."""
    var_name = _registry.get(provider).var_name
    return {column: var_name(column) for column in columns}
