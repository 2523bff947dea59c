"""A per-edge circuit breaker with an injected clock.

    CLOSED ──N consecutive failures──▶ OPEN ──cooldown_s elapsed──▶ HALF_OPEN
      ▲                                  ▲                              │
      └────────── probe succeeds ────────┼──────── probe fails ─────────┘

While OPEN the edge is skipped. In HALF_OPEN one probe request at a time is
let through (``allow()`` reserves it); its success closes the breaker, its
failure re-opens it for another cool-down.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerState", "BreakerConfig", "CircuitBreaker"]

Clock = Callable[[], float]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerConfig:
    """failure_threshold: consecutive failures that open the breaker;
    cooldown_s: seconds open before a half-open probe is allowed."""

    failure_threshold: int = 3
    cooldown_s: float = 10.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {self.cooldown_s}")


class CircuitBreaker:
    """Closed -> open -> half-open -> closed, per edge."""

    def __init__(self, config: BreakerConfig | None = None, *, clock: Clock = time.monotonic):
        self.config = config or BreakerConfig()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.cooldown_s
        ):
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_at(self) -> float | None:
        """When an OPEN breaker lets a probe through (clock time); None if not open."""
        if self.state is BreakerState.OPEN:
            return self._opened_at + self.config.cooldown_s
        return None

    def allow(self) -> bool:
        """May a request go to this edge now? In HALF_OPEN this reserves the one probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._failures >= self.config.failure_threshold
        ):
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._probe_in_flight = False

    def release(self) -> None:
        """Give back a reserved half-open probe that was never used (e.g. cancelled)."""
        self._probe_in_flight = False
