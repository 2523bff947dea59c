"""Retry timing: capped exponential backoff with full jitter, bounded by a deadline.

``RetryPolicy`` says how often and how long; ``Retrier`` applies it to one
operation with an injected clock and RNG (no sleeping here: it answers "how
long to wait before the next attempt, or give up"). The delay before retry
``n`` (0-based) is ``uniform(0, min(cap_s, base_s * 2**n))`` ("full jitter").
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["RetryPolicy", "Retrier", "backoff_delay_s"]

Clock = Callable[[], float]


def backoff_delay_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Full-jitter delay before retry number ``attempt`` (0 for the first retry)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return rng.uniform(0.0, min(cap_s, base_s * (2.0 ** min(attempt, 62))))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry.

    max_attempts: attempts in all, the first included (1 = no retry).
    base_s, cap_s: backoff base and cap, seconds.
    deadline_s: total time budget from the first attempt, seconds (None = no limit).
    """

    max_attempts: int = 3
    base_s: float = 0.1
    cap_s: float = 2.0
    deadline_s: float | None = 15.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError("RetryPolicy.base_s and cap_s must be >= 0")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError(f"RetryPolicy.deadline_s must be > 0, got {self.deadline_s}")

    def delays(self, rng: random.Random) -> Iterator[float]:
        """The ``max_attempts - 1`` delays between attempts (ignores the deadline)."""
        for n in range(self.max_attempts - 1):
            yield backoff_delay_s(n, self.base_s, self.cap_s, rng)


class Retrier:
    """Tracks one operation's attempts against a RetryPolicy.

    Usage::

        r = Retrier(policy, clock=clock, rng=rng)
        while True:
            try: return await op()
            except Retryable:
                delay = r.next_delay_s()
                if delay is None: raise
                await sleep(delay)
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self.started_at = clock()
        self.attempts = 1  # the attempt in progress counts

    @property
    def deadline(self) -> float | None:
        """Absolute clock time after which no attempt may start (None = unbounded)."""
        d = self.policy.deadline_s
        return None if d is None else self.started_at + d

    def remaining_s(self) -> float | None:
        d = self.deadline
        return None if d is None else max(0.0, d - self._clock())

    def next_delay_s(self) -> float | None:
        """The wait before the next attempt, or None when attempts or time ran out."""
        if self.attempts >= self.policy.max_attempts:
            return None
        delay = backoff_delay_s(self.attempts - 1, self.policy.base_s, self.policy.cap_s,
                                self._rng)
        d = self.deadline
        if d is not None and self._clock() + delay >= d:
            return None
        self.attempts += 1
        return delay
