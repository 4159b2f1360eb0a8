"""failover_send and its blocking twin with scripted sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from crowdsms.errors import ConfigurationError, InvalidInputError, ProviderError, RequestError
from crowdsms.failover import (
    FailoverCircuit,
    FailoverError,
    failover_send,
    failover_send_blocking,
)

from .fakes import lost, not_sent, refusal, rejected

pytestmark = pytest.mark.anyio


class Send:
    """A send that raises ``errors`` in turn, then returns ``value``; counts its calls."""

    def __init__(self, *errors: Exception, value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0

    def blocking(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value

    async def __call__(self) -> str:
        return self.blocking()


async def test_the_first_provider_that_sends_is_named() -> None:
    first, second = Send(value="a"), Send(value="b")
    result = await failover_send([("first", first), ("second", second)])
    assert (result.value, result.provider, result.passed_over) == ("a", "first", ())
    assert second.calls == 0


async def test_a_send_provably_not_sent_moves_to_the_next_provider() -> None:
    error = rejected()
    first, second = Send(error), Send(value="b")
    result = await failover_send([("first", first), ("second", second)])
    assert (result.value, result.provider) == ("b", "second")
    assert result.passed_over == (("first", error),)


@pytest.mark.parametrize(
    "error",
    [lost(), InvalidInputError("bad number", field="to"), refusal("blocked", job_wide=False)],
    ids=["unknown", "invalid-input", "recipient-refusal"],
)
async def test_anything_else_is_raised_at_once_and_the_next_provider_is_not_tried(
    error: Exception,
) -> None:
    first, second = Send(error), Send()
    with pytest.raises(type(error)) as caught:
        await failover_send([("first", first), ("second", second)])
    assert caught.value is error
    assert second.calls == 0


async def test_when_every_provider_failed_not_sent_the_error_lists_them() -> None:
    errors = [not_sent(), rejected()]
    with pytest.raises(FailoverError) as caught:
        await failover_send([("first", Send(errors[0])), ("second", Send(errors[1]))])
    assert caught.value.errors == (("first", errors[0]), ("second", errors[1]))
    assert isinstance(caught.value, RequestError)
    assert caught.value.certainty.value == "not_sent"
    assert "first: could not connect" in str(caught.value)
    assert "safe to send again later" in str(caught.value)


async def test_a_shared_circuit_skips_a_provider_that_refused_job_wide() -> None:
    circuit = FailoverCircuit()
    auth = refusal("auth", job_wide=True)
    first, second = Send(auth), Send(value="b")
    attempts: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("first", first),
        ("second", second),
    ]
    assert (await failover_send(attempts, circuit=circuit)).provider == "second"
    assert circuit.opened == {"first": auth}
    result = await failover_send(attempts, circuit=circuit)
    assert result.provider == "second"
    assert result.passed_over == (("first", auth),)
    assert first.calls == 1
    circuit.close_all()
    assert (await failover_send(attempts, circuit=circuit)).provider == "first"


async def test_with_every_provider_stopped_nothing_is_tried() -> None:
    circuit = FailoverCircuit()
    auth = refusal("auth", job_wide=True)
    circuit.open("first", auth)
    first = Send()
    with pytest.raises(FailoverError) as caught:
        await failover_send([("first", first)], circuit=circuit)
    assert caught.value.errors == (("first", auth),)
    assert first.calls == 0


def test_the_blocking_twin_follows_the_same_rules() -> None:
    first, second = Send(rejected()), Send(value="b")
    result = failover_send_blocking([("first", first.blocking), ("second", second.blocking)])
    assert (result.value, result.provider) == ("b", "second")
    third, fourth = Send(lost()), Send()
    with pytest.raises(RequestError):
        failover_send_blocking([("third", third.blocking), ("fourth", fourth.blocking)])
    assert fourth.calls == 0
    with pytest.raises(ProviderError):
        failover_send_blocking([("a", Send(refusal("blocked", job_wide=False)).blocking)])


@pytest.mark.parametrize(
    ("attempts", "match"),
    [
        ([], "non-empty list"),
        ("ab", "non-empty list"),
        ([("a",)], "attempt 0 must be a"),
        ([("a", "not callable")], "attempt 0 needs a non-empty name and a callable"),
        ([(" ", Send())], "attempt 0 needs a non-empty name"),
        ([("a", Send()), ("a", Send())], "repeated: a"),
    ],
)
async def test_bad_attempts_are_refused_clearly(attempts: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        await failover_send(attempts)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=match):
        failover_send_blocking(attempts)  # type: ignore[arg-type]
