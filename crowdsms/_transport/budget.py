"""A retry budget shared by every call of one client, after botocore's retry quota.

Each retry spends tokens (more for a timeout, which is more expensive to repeat); each call
that succeeds gives one back. When a provider is down, every call fails and the budget runs
dry after about a hundred retries, so an outage cannot multiply traffic by the number of
attempts. First attempts are never refused: the budget only limits retries.
"""

from __future__ import annotations

import attrs

__all__ = ["RetryBudget"]


@attrs.define(kw_only=True)
class RetryBudget:
    """Tokens for retries, shared by all calls of a client (not thread-safe: one event loop).

    Defaults are botocore's: 500 tokens, 5 per retry, 10 per retry after a timeout, 1 back
    per success.
    """

    capacity: int = 500
    retry_cost: int = 5
    timeout_retry_cost: int = 10
    success_refund: int = 1
    available: int = attrs.field(default=-1)

    def __attrs_post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError(f"RetryBudget.capacity must be >= 0, got {self.capacity}")
        if self.available < 0:
            self.available = self.capacity

    def try_spend(self, *, timeout: bool) -> bool:
        """Take the tokens for one retry; ``False`` (and nothing taken) if too few are left."""
        cost = self.timeout_retry_cost if timeout else self.retry_cost
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self) -> None:
        """Give back tokens after a call that succeeded."""
        self.available = min(self.capacity, self.available + self.success_refund)

    @classmethod
    def unlimited(cls) -> RetryBudget:
        """A budget that never refuses a retry (the policy's attempts still apply)."""
        return cls(capacity=2**62, retry_cost=0, timeout_retry_cost=0)
