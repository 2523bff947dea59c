"""Harmonic mean of the last N throughput samples (RobustMPC's predictor).

Yin et al., "A Control-Theoretic Approach for Dynamic Adaptive Video
Streaming over HTTP", SIGCOMM 2015, use the harmonic mean of the past 5
chunks' throughput; it is robust to single outliers on the high side.
"""

from __future__ import annotations

from collections import deque

from ..errors import PolicyConfigError
from .ewma import MIN_SECONDS


def harmonic_mean(values: list[float] | tuple[float, ...]) -> float:
    """Harmonic mean of positive values (0.0 for an empty input)."""
    if not values:
        return 0.0
    inv = 0.0
    for v in values:
        inv += 1.0 / v
    return len(values) / inv


class HarmonicMean:
    """Harmonic mean of the last ``window`` samples, in bits per second."""

    __slots__ = ("_values", "window")

    def __init__(self, window: int = 5) -> None:
        if not (isinstance(window, int) and window >= 1):
            raise PolicyConfigError(f"HarmonicMean: window must be an int >= 1, got {window!r}")
        self.window = window
        self._values: deque[float] = deque(maxlen=window)

    def add(self, nbytes: int, seconds: float) -> bool:
        """Feed one download; samples with no bytes or no duration are ignored."""
        if nbytes <= 0 or not seconds >= MIN_SECONDS:
            return False
        self._values.append(8.0 * nbytes / seconds)
        return True

    def __len__(self) -> int:
        return len(self._values)

    def estimate_bps(self) -> float | None:
        """The harmonic mean, or None before any sample."""
        if not self._values:
            return None
        return harmonic_mean(tuple(self._values))
