"""``Secret``: the value leaves only through ``reveal()``."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from crowdsms._secret import Secret

VALUE = "app-key-1234567890abcdef"


def test_reveal_returns_the_value() -> None:
    assert Secret(VALUE).reveal() == VALUE


def test_repr_str_and_format_are_masked() -> None:
    secret = Secret(VALUE)
    for shown in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:>40}",
        "%s" % secret,  # noqa: UP031 - the old style is what logging uses
        "%r" % (secret,),  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        repr({"key": secret}),
    ):
        assert VALUE not in shown
        assert "****" in shown


def test_logging_shows_the_mask(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("crowdsms.test").debug("using key %s (%r)", Secret(VALUE), Secret(VALUE))
    assert caplog.records
    assert all(VALUE not in record.getMessage() for record in caplog.records)


def test_a_secret_cannot_be_pickled_or_copied_out() -> None:
    secret = Secret(VALUE)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps({"nested": [secret]}, protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)


def test_equality_compares_values_and_only_with_secrets() -> None:
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret(VALUE) != VALUE  # never equal to the bare string
    assert hash(Secret(VALUE)) == hash(Secret(VALUE))
    assert len({Secret(VALUE), Secret(VALUE), Secret("other")}) == 2


def test_truthiness_and_length() -> None:
    assert Secret(VALUE)
    assert not Secret("")
    assert len(Secret(VALUE)) == len(VALUE)


def test_no_attribute_dictionary_to_peek_into() -> None:
    secret = Secret(VALUE)
    assert not hasattr(secret, "__dict__")
    with pytest.raises(AttributeError):
        secret.other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [b"bytes-key", 12345, None])
def test_only_strings_are_accepted(value: object) -> None:
    with pytest.raises(TypeError, match=f"must be a str, not {type(value).__name__}$"):
        Secret(value)  # type: ignore[arg-type]
