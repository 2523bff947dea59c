"""Sliding-window percentile of throughput samples.

A low percentile (e.g. the 20th of the last 20 downloads) is a conservative
estimate that ignores short bursts; percentile-based bandwidth estimation is
used e.g. by Puffer's and Netflix-style clients. Interpolation is linear
between closest ranks (numpy's default "linear" method).
"""

from __future__ import annotations

import math
from collections import deque

from ..errors import PolicyConfigError
from .ewma import MIN_SECONDS


class SlidingPercentile:
    """The ``percentile`` (0..100) of the last ``window`` samples, in bits per second."""

    __slots__ = ("_values", "percentile", "window")

    def __init__(self, window: int = 20, percentile: float = 50.0) -> None:
        if not (isinstance(window, int) and window >= 1):
            raise PolicyConfigError(
                f"SlidingPercentile: window must be an int >= 1, got {window!r}"
            )
        if not (0.0 <= percentile <= 100.0):
            raise PolicyConfigError(
                f"SlidingPercentile: percentile must be in [0, 100], got {percentile!r}"
            )
        self.window = window
        self.percentile = float(percentile)
        self._values: deque[float] = deque(maxlen=window)

    def add(self, nbytes: int, seconds: float) -> bool:
        if nbytes <= 0 or not seconds >= MIN_SECONDS:
            return False
        self._values.append(8.0 * nbytes / seconds)
        return True

    def __len__(self) -> int:
        return len(self._values)

    def estimate_bps(self) -> float | None:
        """Linear-interpolated percentile, or None before any sample."""
        if not self._values:
            return None
        ordered = sorted(self._values)
        pos = (len(ordered) - 1) * self.percentile / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        frac = pos - lo
        return ordered[lo] + (ordered[hi] - ordered[lo]) * frac
