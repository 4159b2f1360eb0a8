"""Seeded fault injection: which requests fail, and how.

Each request to a provider endpoint asks :meth:`FaultInjector.next` for its fate. Forced
faults come first (``force(kind, count=3)`` makes the next three matching requests fail that
way, for deterministic tests); otherwise one draw from a ``random.Random(seed)`` picks a
fault with the configured probability of each kind, so a run with the same seed and the
same request order injects the same faults.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import Counter
from collections.abc import Mapping

import attrs

__all__ = ["FaultInjector", "FaultKind", "FaultSettings"]


class FaultKind(str, enum.Enum):
    """How a request fails."""

    REJECT = "reject"
    """Answer HTTP 503 before processing: nothing is sent, the ledger is untouched."""

    DROP = "drop"
    """Close the connection before processing: nothing is sent, the ledger is untouched."""

    DROP_AFTER = "drop_after"
    """Process the request (the ledger records it), then close the connection unanswered."""

    RATE_LIMIT = "rate_limit"
    """Answer HTTP 429 with ``Retry-After`` before processing: nothing is sent."""

    SLOW = "slow"
    """Wait ``slow_seconds`` before processing, then answer normally."""


def _rates(value: Mapping[FaultKind | str, float]) -> Mapping[FaultKind, float]:
    rates = {FaultKind(kind): float(rate) for kind, rate in value.items()}
    for kind, rate in rates.items():
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"the rate of {kind.value!r} faults must be within [0, 1], not {rate}")
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError(f"fault rates add up to more than 1: {sum(rates.values())}")
    return rates


@attrs.frozen(kw_only=True)
class FaultSettings:
    """Probabilities of each fault kind per request, and how the faults behave.

    ``rates`` maps a :class:`FaultKind` (or its value, ``"drop"``) to a probability; the
    probabilities may not add up to more than 1. ``slow_seconds`` is how long a ``SLOW``
    answer waits; ``retry_after`` is the ``Retry-After`` of a 429, in whole seconds.
    """

    rates: Mapping[FaultKind, float] = attrs.field(factory=dict, converter=_rates)
    seed: int = 0
    slow_seconds: float = 2.0
    retry_after: int = 1

    def to_json(self) -> dict[str, object]:
        """The settings as JSON-ready values."""
        return {
            "rates": {kind.value: rate for kind, rate in self.rates.items()},
            "seed": self.seed,
            "slow_seconds": self.slow_seconds,
            "retry_after": self.retry_after,
        }


@attrs.define
class _Forced:
    kind: FaultKind
    remaining: int
    provider: str | None
    path: str | None

    def matches(self, provider: str, path: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return self.path is None or self.path in path


class FaultInjector:
    """Decides the fault, if any, of each request; thread-safe."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._forced: list[_Forced] = []
        self.injected: Counter[FaultKind] = Counter()
        """How many faults of each kind were injected so far."""
        self.configure(settings or FaultSettings())

    @property
    def settings(self) -> FaultSettings:
        """The current probabilities and behaviour."""
        return self._settings

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and restart the random sequence from their seed."""
        with self._lock:
            self._settings = settings
            self._rng = random.Random(settings.seed)
            cumulative: list[tuple[float, FaultKind]] = []
            total = 0.0
            for kind, rate in settings.rates.items():
                if rate > 0.0:
                    total += rate
                    cumulative.append((total, kind))
            self._cumulative = tuple(cumulative)

    def force(
        self,
        kind: FaultKind | str,
        *,
        count: int = 1,
        provider: str | None = None,
        path: str | None = None,
    ) -> None:
        """Make the next ``count`` requests fail with ``kind``.

        Only requests to ``provider`` (a registry name) count when it is given, and only
        requests whose path contains ``path`` when that is given (``path="multisend"``).
        Forced faults are used in the order they were added.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        with self._lock:
            self._forced.append(_Forced(FaultKind(kind), count, provider, path))

    def clear_forced(self) -> None:
        """Forget the forced faults not used yet."""
        with self._lock:
            self._forced.clear()

    def pending_forced(self) -> int:
        """How many forced faults are still to be used."""
        with self._lock:
            return sum(forced.remaining for forced in self._forced)

    def next(self, provider: str, path: str) -> FaultKind | None:
        """The fault of the next request to ``provider`` at ``path``, or ``None``."""
        with self._lock:
            kind = self._next_locked(provider, path)
            if kind is not None:
                self.injected[kind] += 1
            return kind

    def _next_locked(self, provider: str, path: str) -> FaultKind | None:
        for index, forced in enumerate(self._forced):
            if forced.matches(provider, path):
                forced.remaining -= 1
                if forced.remaining == 0:
                    del self._forced[index]
                return forced.kind
        if not self._cumulative:
            return None
        draw = self._rng.random()
        for bound, kind in self._cumulative:
            if draw < bound:
                return kind
        return None
