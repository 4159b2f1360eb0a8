"""``RetryPolicy`` (backoff, jitter, Retry-After) and ``RetryBudget`` on their own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crowdsms._transport import RetryBudget, RetryPolicy


def _fixed(value: float) -> Callable[[], float]:
    return lambda: value


def test_backoff_doubles_from_the_initial_delay() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=100.0, jitter=0.0)
    delays = [policy.backoff(n, _fixed(0.0)) for n in range(1, 6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_backoff_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=5.0, jitter=0.0)
    delays = [policy.backoff(n, _fixed(0.0)) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_backoff_of_a_very_late_retry_is_the_cap_not_an_overflow() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=5.0, jitter=0.0, max_attempts=10_000)
    assert policy.backoff(5_000, _fixed(0.0)) == 5.0


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.75, 0.999999])
def test_jitter_shortens_by_at_most_the_jitter_fraction(draw: float) -> None:
    policy = RetryPolicy(initial_delay=2.0, max_delay=100.0, jitter=0.25)
    delay = policy.backoff(3, _fixed(draw))  # base 8 s
    assert delay == pytest.approx(8.0 * (1.0 - 0.25 * draw))
    assert 6.0 <= delay <= 8.0


def test_jitter_uses_the_injected_random_source() -> None:
    draws = iter([0.0, 1.0 - 1e-12])
    policy = RetryPolicy(initial_delay=4.0, max_delay=4.0, jitter=0.5)
    assert policy.backoff(1, lambda: next(draws)) == 4.0
    assert policy.backoff(1, lambda: next(draws)) == pytest.approx(2.0)


def test_delay_without_retry_after_is_the_backoff() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, jitter=0.0)
    assert policy.delay(2, None, _fixed(0.5)) == 2.0


def test_delay_honours_retry_after_exactly_without_jitter() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, jitter=0.5, max_retry_after=60.0)
    assert policy.delay(1, 3.0, _fixed(0.9)) == 3.0
    # A server may ask for more than the backoff cap, as long as it is within max_retry_after.
    assert policy.delay(1, 20.0, _fixed(0.9)) == 20.0
    assert policy.delay(1, 60.0, _fixed(0.9)) == 60.0
    assert policy.delay(1, 0.0, _fixed(0.9)) == 0.0


def test_delay_refuses_a_retry_after_above_the_maximum() -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(1, 30.5, _fixed(0.0)) is None
    assert policy.delay(1, 3600.0, _fixed(0.0)) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay": -1.0},
        {"max_delay": -0.1},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"total_timeout": 0.0},
        {"max_retry_after": -5.0},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - attrs and our validators word it differently
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_no_retries_makes_one_attempt() -> None:
    policy = RetryPolicy.no_retries(total_timeout=5.0)
    assert policy.max_attempts == 1
    assert policy.total_timeout == 5.0


def test_budget_spends_more_for_timeouts_and_refuses_without_taking() -> None:
    budget = RetryBudget(capacity=17, retry_cost=5, timeout_retry_cost=10)
    assert budget.try_spend(timeout=True)
    assert budget.available == 7
    assert budget.try_spend(timeout=False)
    assert budget.available == 2
    assert not budget.try_spend(timeout=False)
    assert budget.available == 2  # a refused retry takes nothing


def test_budget_refund_is_capped_at_capacity() -> None:
    budget = RetryBudget(capacity=6, retry_cost=5, success_refund=1)
    budget.refund()
    assert budget.available == 6
    assert budget.try_spend(timeout=False)
    budget.refund()
    budget.refund()
    assert budget.available == 3


def test_unlimited_budget_never_refuses() -> None:
    budget = RetryBudget.unlimited()
    assert all(budget.try_spend(timeout=n % 2 == 0) for n in range(10_000))


def test_budget_refuses_negative_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RetryBudget(capacity=-1)
