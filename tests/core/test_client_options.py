"""Client options are checked at run time: a typo or a wrong type is an error naming it."""

from __future__ import annotations

import httpx
import pytest

from crowdsms.errors import ConfigurationError
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec

SPECS = _registry.providers()


def make(spec: ProviderSpec, **options: object) -> object:
    credentials = {field.name: "x" for field in spec.credentials}
    return spec.make_client(credentials, **options)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_a_misspelt_option_is_refused_with_a_suggestion(spec: ProviderSpec) -> None:
    with pytest.raises(ConfigurationError, match=r"no option 'max_conections' \(did you mean"):
        make(spec, max_conections=4)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("timeout", "abc", "must be int or float or Timeout, not str"),
        ("max_connections", True, "must be int, not bool"),
        ("max_connections", 2.5, "must be int, not float"),
        ("trust_env", "yes", "must be bool"),
        ("retry_policy", {"attempts": 3}, "must be RetryPolicy"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_option(option: str, value: object, expected: str):
    with pytest.raises(ConfigurationError, match=f"option {option} {expected}"):
        make(SPECS[0], **{option: value})


def test_good_options_are_taken_and_max_connections_is_reported() -> None:
    client = make(SPECS[0], max_connections=3, timeout=httpx.Timeout(5.0), trust_env=False)
    assert client.max_connections == 3  # type: ignore[attr-defined]
    assert make(SPECS[0]).max_connections == 16  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_client_on_your_own_transport_reports_no_connection_limit() -> None:
    async with httpx.AsyncClient() as http:
        assert make(SPECS[0], http_client=http).max_connections is None  # type: ignore[attr-defined]
