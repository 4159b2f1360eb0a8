"""When and how long to wait before trying again.

The defaults follow the openai and anthropic SDKs (two retries, 0.5 s initial delay, 8 s cap,
jitter) with a total deadline on top, so that a call never takes longer than the caller can
wait, however many attempts it makes.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["RetryPolicy"]


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries failed attempts.

    - ``max_attempts``: attempts per call, the first included (3 = two retries).
    - ``initial_delay`` and ``max_delay``: exponential backoff, doubling from the first and
      capped at the second, in seconds.
    - ``jitter``: the fraction of each delay taken off at random (0.25 = up to 25% shorter),
      so that many clients failing together do not retry together.
    - ``total_timeout``: the deadline for the whole call across all attempts, in seconds.
    - ``max_retry_after``: the longest ``Retry-After`` the client honours; a server asking
      for longer makes the call fail at once, so the caller can decide.
    - ``not_processed_statuses``: HTTP statuses that mean "not processed, try again" (429,
      503 and 408 by default); other 5xx are ambiguous for sends.
    """

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    jitter: float = attrs.field(
        default=0.25, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    total_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0.0))
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    not_processed_statuses: frozenset[int] = frozenset({408, 429, 503})
    ambiguous_statuses: frozenset[int] = frozenset({500, 502, 504})

    def backoff(self, retry_number: int, random: Callable[[], float]) -> float:
        """The delay before retry number ``retry_number`` (1 for the first retry)."""
        # The exponent is bounded so that a late retry gives the cap, not an OverflowError.
        exponent = min(retry_number - 1, 64)
        base = min(self.initial_delay * 2.0**exponent, self.max_delay)
        return base * (1.0 - self.jitter * random())

    def delay(
        self, retry_number: int, retry_after: float | None, random: Callable[[], float]
    ) -> float | None:
        """The delay before the next retry, or ``None`` if the server asks for too long."""
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after
        return self.backoff(retry_number, random)

    @classmethod
    def no_retries(cls, *, total_timeout: float = 60.0) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1, total_timeout=total_timeout)
