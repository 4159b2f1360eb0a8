"""``failover_send``: one send, tried with each provider in turn while it provably was not sent."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import attrs

from crowdsms.errors import ConfigurationError, CrowdSMSError, DeliveryCertainty, RequestError
from crowdsms.failover._circuit import FailoverCircuit
from crowdsms.failover._rules import error_fails_over, error_opens_circuit

__all__ = ["FailoverError", "FailoverResult", "failover_send", "failover_send_blocking"]

logger = logging.getLogger("crowdsms.failover")

T = TypeVar("T")
F = TypeVar("F")


@attrs.frozen(kw_only=True)
class FailoverResult(Generic[T]):
    """What :func:`failover_send` got: the send's result and who sent it.

    ``value`` is what the provider's send returned; ``provider`` the name it was given;
    ``passed_over`` the providers tried before it, each with the error that provably sent
    nothing (or that had stopped it earlier, with a circuit).
    """

    value: T
    provider: str
    passed_over: tuple[tuple[str, CrowdSMSError], ...] = ()


class FailoverError(RequestError):
    """No provider sent it, and none may have: every one failed ``NOT_SENT`` or was stopped.

    ``errors`` lists each provider tried (or stopped by the circuit) with its error, in
    order. Its certainty is ``NOT_SENT``: sending again later is safe.
    """

    def __init__(self, errors: Sequence[tuple[str, CrowdSMSError]]) -> None:
        self.errors = tuple(errors)
        parts = "; ".join(f"{name}: {_clause(error.what)}" for name, error in self.errors)
        super().__init__(
            f"no provider sent the message ({parts})",
            certainty=DeliveryCertainty.NOT_SENT,
            action=(
                "Nothing was sent, so it is safe to send again later; fix what the providers' "
                "errors name first"
            ),
        )


def _clause(text: str) -> str:
    """``text`` without its closing full stops, to sit inside a sentence."""
    return text.rstrip().rstrip(".").rstrip()


def _check(attempts: Sequence[tuple[str, F]]) -> list[tuple[str, F]]:
    given: object = attempts
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or not given:
        raise ConfigurationError(
            "failover_send needs a non-empty list of (provider name, send) pairs",
            received=repr(attempts)[:60],
            action="Pass e.g. [('primary', lambda: a.sms.send(...)), ('backup', ...)]",
        )
    checked: list[tuple[str, F]] = []
    for position, pair in enumerate(attempts):
        item: object = pair
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ConfigurationError(
                f"attempt {position} must be a (provider name, send) pair",
                received=repr(item)[:60],
                action="Pass the name and a function of no arguments that sends with it",
            )
        name, send = pair
        if not name.strip() or not callable(send):
            raise ConfigurationError(
                f"attempt {position} needs a non-empty name and a callable send",
                received=f"name {name!r:.40}, send {type(send).__name__}",
                action="Pass e.g. ('backup', lambda: client.sms.send(...))",
            )
        checked.append((name, send))
    names = [name for name, _ in checked]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"failover_send's provider names must differ; repeated: {', '.join(repeated)}",
            action="Give each provider its own name (a label for a second account)",
        )
    return checked


class _Attempts:
    """The decisions shared by :func:`failover_send` and :func:`failover_send_blocking`."""

    def __init__(self, circuit: FailoverCircuit | None) -> None:
        self.circuit = circuit
        self.passed: list[tuple[str, CrowdSMSError]] = []

    def stopped(self, name: str) -> bool:
        """Whether ``name`` is skipped (its circuit is open); it is listed as passed over."""
        if self.circuit is None or not self.circuit.is_open(name):
            return False
        self.passed.append((name, self.circuit.opened[name]))
        return True

    def failed(self, name: str, error: CrowdSMSError) -> None:
        """Return to try the next provider, or raise ``error`` (it must not go on)."""
        if self.circuit is not None and error_opens_circuit(error):
            self.circuit.open(name, error)
        if not error_fails_over(error):
            raise error
        logger.info(
            "failover: %s did not send it (%s); trying the next provider",
            name,
            type(error).__name__,
        )
        self.passed.append((name, error))

    def result(self, name: str, value: T) -> FailoverResult[T]:
        return FailoverResult(value=value, provider=name, passed_over=tuple(self.passed))

    def exhausted(self) -> FailoverError:
        return FailoverError(self.passed)


async def failover_send(
    attempts: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    *,
    circuit: FailoverCircuit | None = None,
) -> FailoverResult[T]:
    """Send with the first provider that can; never with a second one after a doubt.

    ``attempts`` are ``(name, send)`` pairs in order of preference; ``send`` is a function
    of no arguments that makes the send with one provider (each with its own message
    definition), e.g. ``lambda: client.sms.send(to=phone, content=...)``. Each is awaited in
    turn:

    - it returns: that is the result (:class:`FailoverResult`, with the provider's name);
    - it raises a :class:`~crowdsms.errors.RequestError` that provably sent nothing
      (certainty ``NOT_SENT``, after the client's own retries: a refused connection, 503 or
      429 answers) or a refusal about that provider (credentials, balance, its template:
      ``job_wide``, or its clock): the next provider is tried;
    - it raises anything else, at once: an ``UNKNOWN`` error (the provider may have sent
      it; trying the next one could send it twice), a refusal about the recipient or the
      message that another provider would refuse too (an invalid or blocklisted number, a
      per-number limit, an :class:`~crowdsms.errors.InvalidInputError`), or a code crowdsms
      does not know.

    When every provider failed ``NOT_SENT``, :class:`FailoverError` lists them. A result
    that carries per-recipient refusals (a multi-recipient send) is returned as it is: use
    :class:`~crowdsms.failover.FailoverChunkSender` to fail recipients over one by one.

    ``circuit``: a :class:`FailoverCircuit` shared by many calls makes a provider that
    refused ``job_wide`` (credentials, balance) be skipped by the calls after it.
    """
    checked = _check(attempts)
    state = _Attempts(circuit)
    for name, send in checked:
        if state.stopped(name):
            continue
        try:
            value = await send()
        except CrowdSMSError as error:
            state.failed(name, error)
            continue
        return state.result(name, value)
    raise state.exhausted()


def failover_send_blocking(
    attempts: Sequence[tuple[str, Callable[[], T]]],
    *,
    circuit: FailoverCircuit | None = None,
) -> FailoverResult[T]:
    """:func:`failover_send` for the blocking clients: each ``send`` returns its result."""
    checked = _check(attempts)
    state = _Attempts(circuit)
    for name, send in checked:
        if state.stopped(name):
            continue
        try:
            value = send()
        except CrowdSMSError as error:
            state.failed(name, error)
            continue
        return state.result(name, value)
    raise state.exhausted()
