"""Per-edge circuit breaker: closed -> open -> half-open -> closed, on an injected clock."""

from __future__ import annotations

import pytest

from player.breaker import BreakerConfig, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(BreakerConfig(threshold, cooldown), clock=clock), clock


def test_starts_closed_and_allows() -> None:
    b, _ = make()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()
    assert b.retry_at() is None


def test_opens_after_n_consecutive_failures() -> None:
    b, _ = make(threshold=3)
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.retry_at() == 10.0


def test_a_success_resets_the_failure_count() -> None:
    b, _ = make(threshold=2)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    assert b.consecutive_failures == 1


def test_half_open_after_cooldown_allows_one_probe() -> None:
    b, clock = make(threshold=1, cooldown=5)
    b.record_failure()
    clock.now = 4.9
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now = 5.0
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()
    assert not b.allow()  # only one probe in flight


def test_probe_success_closes() -> None:
    b, clock = make(threshold=1, cooldown=5)
    b.record_failure()
    clock.now = 6
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()


def test_probe_failure_reopens_for_another_cooldown() -> None:
    b, clock = make(threshold=3, cooldown=5)
    for _ in range(3):
        b.record_failure()
    clock.now = 5
    assert b.allow()
    b.record_failure()  # a single failure in half-open is enough
    assert b.state is BreakerState.OPEN
    assert b.retry_at() == 10
    clock.now = 9.9
    assert not b.allow()
    clock.now = 10
    assert b.allow()


def test_release_gives_back_an_unused_probe() -> None:
    b, clock = make(threshold=1, cooldown=1)
    b.record_failure()
    clock.now = 1
    assert b.allow()
    b.release()
    assert b.allow()


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"cooldown_s": -1}])
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]
