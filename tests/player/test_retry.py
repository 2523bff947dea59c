"""Retry timing: full-jitter capped exponential backoff, attempts and deadline."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from player.retry import Retrier, RetryPolicy, backoff_delay_s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delays_stay_within_the_growing_capped_window() -> None:
    rng = random.Random(3)
    for attempt in range(12):
        window = min(2.0, 0.1 * 2**attempt)
        for _ in range(50):
            assert 0.0 <= backoff_delay_s(attempt, 0.1, 2.0, rng) <= window


def test_jitter_is_seeded_and_reproducible() -> None:
    a = list(RetryPolicy(max_attempts=6).delays(random.Random(42)))
    b = list(RetryPolicy(max_attempts=6).delays(random.Random(42)))
    assert a == b and len(a) == 5
    assert a != list(RetryPolicy(max_attempts=6).delays(random.Random(43)))


def test_full_jitter_uses_the_whole_window() -> None:
    rng = random.Random(0)
    samples = [backoff_delay_s(5, 0.1, 2.0, rng) for _ in range(2000)]
    assert min(samples) < 0.1 and max(samples) > 1.9  # window is [0, 2.0]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert 0 <= backoff_delay_s(10_000, 0.1, 2.0, random.Random(1)) <= 2.0


def test_negative_attempt_is_rejected() -> None:
    with pytest.raises(ValueError):
        backoff_delay_s(-1, 0.1, 1.0, random.Random())


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_s": -1}, {"cap_s": -0.5}, {"deadline_s": 0}],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        RetryPolicy().max_attempts = 9  # type: ignore[misc]


def test_retrier_stops_after_max_attempts() -> None:
    clock = Clock()
    r = Retrier(RetryPolicy(max_attempts=3, deadline_s=None), clock=clock, rng=random.Random(1))
    assert r.next_delay_s() is not None
    assert r.next_delay_s() is not None
    assert r.next_delay_s() is None
    assert r.attempts == 3
    assert r.deadline is None and r.remaining_s() is None


def test_retrier_respects_the_total_deadline() -> None:
    clock = Clock()
    policy = RetryPolicy(max_attempts=100, base_s=1.0, cap_s=1.0, deadline_s=5.0)
    r = Retrier(policy, clock=clock, rng=random.Random(2))
    assert r.remaining_s() == 5.0
    total = 0.0
    while (d := r.next_delay_s()) is not None:
        clock.now += d + 0.5  # the wait plus an attempt of 0.5 s
        total += d + 0.5
    assert clock.now - 100.0 < 5.0 + 1.5
    assert r.remaining_s() is not None and r.remaining_s() <= 1.5


def test_retrier_refuses_a_wait_that_ends_past_the_deadline() -> None:
    clock = Clock()
    r = Retrier(RetryPolicy(max_attempts=5, base_s=10, cap_s=10, deadline_s=1.0), clock=clock,
                rng=random.Random(5))
    clock.now += 0.99
    assert r.next_delay_s() is None


@given(
    attempt=st.integers(min_value=0, max_value=200),
    base=st.floats(min_value=0, max_value=10),
    cap=st.floats(min_value=0, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_bounds_property(attempt: int, base: float, cap: float, seed: int) -> None:
    d = backoff_delay_s(attempt, base, cap, random.Random(seed))
    assert 0.0 <= d <= min(cap, base * 2.0 ** min(attempt, 62)) + 1e-12
