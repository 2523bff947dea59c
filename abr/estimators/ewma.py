"""Exponentially weighted moving averages of throughput.

Weights are seconds of download time, as in shaka-player's ``lib/abr/ewma.js``
and Sabre's ``Ewma`` history (Spiteri et al., MMSys 2018): a sample that took
``s`` seconds decays the old estimate by ``0.5 ** (s / half_life_s)``. The
zero-bias factor ``1 - 0.5 ** (total_weight / half_life_s)`` corrects the
start-up bias of an average initialised at zero.

:class:`DualEwma` keeps a fast and a slow average and reports the lower one
(conservative), ignores samples below ``min_sample_bytes`` (they measure
latency rather than bandwidth) and reports ``default_bps`` until
``min_total_bytes`` have been seen. Defaults follow shaka-player
(``abr.bandwidthEstimate``: fast 2 s, slow 5 s, 16 kB per sample, 128 kB
total, 1 Mbit/s default estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import PolicyConfigError

MIN_SECONDS = 1e-6  # shorter downloads carry no usable rate (and would overflow)


class Ewma:
    """One EWMA with a half-life in seconds of download time; values in bits per second."""

    __slots__ = ("_estimate", "_total_weight", "half_life_s")

    def __init__(self, half_life_s: float) -> None:
        if not half_life_s > 0:
            raise PolicyConfigError(f"Ewma: half_life_s must be > 0, got {half_life_s!r}")
        self.half_life_s = float(half_life_s)
        self._estimate = 0.0
        self._total_weight = 0.0

    def sample(self, weight_s: float, value: float) -> None:
        """Add ``value`` observed over ``weight_s`` seconds."""
        alpha = 0.5 ** (weight_s / self.half_life_s)
        self._estimate = alpha * self._estimate + (1.0 - alpha) * value
        self._total_weight += weight_s

    @property
    def total_weight_s(self) -> float:
        return self._total_weight

    def estimate(self) -> float:
        """Zero-bias-corrected average (0.0 before any sample)."""
        if self._total_weight <= 0.0:
            return 0.0
        zero_factor = 1.0 - 0.5 ** (self._total_weight / self.half_life_s)
        if zero_factor <= 0.0:  # only negligibly short samples so far
            return 0.0
        return self._estimate / zero_factor


@dataclass(frozen=True, slots=True)
class DualEwmaConfig:
    """Parameters of :class:`DualEwma` (defaults: shaka-player ``abr`` settings)."""

    fast_half_life_s: float = 2.0
    slow_half_life_s: float = 5.0
    min_sample_bytes: int = 16_000
    min_total_bytes: int = 128_000
    default_bps: float = 1_000_000.0

    def __post_init__(self) -> None:
        for name in ("fast_half_life_s", "slow_half_life_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise PolicyConfigError(f"DualEwmaConfig.{name} must be a positive number")
        if self.min_sample_bytes < 0 or self.min_total_bytes < 0:
            raise PolicyConfigError("DualEwmaConfig byte thresholds must be >= 0")
        if not self.default_bps > 0:
            raise PolicyConfigError("DualEwmaConfig.default_bps must be > 0")


class DualEwma:
    """Fast and slow EWMA of throughput in bits per second; the lower one wins."""

    __slots__ = ("_bytes", "_cached", "_fast", "_slow", "config")

    def __init__(self, config: DualEwmaConfig | None = None) -> None:
        self.config = config or DualEwmaConfig()
        self._fast = Ewma(self.config.fast_half_life_s)
        self._slow = Ewma(self.config.slow_half_life_s)
        self._bytes = 0
        self._cached: float | None = None

    def add(self, nbytes: int, seconds: float) -> bool:
        """Feed one download; returns False when the sample was ignored."""
        if nbytes < self.config.min_sample_bytes or not seconds >= MIN_SECONDS:
            return False
        bps = 8.0 * nbytes / seconds
        self._fast.sample(seconds, bps)
        self._slow.sample(seconds, bps)
        self._bytes += nbytes
        self._cached = None
        return True

    @property
    def has_estimate(self) -> bool:
        return self._bytes >= self.config.min_total_bytes and self._bytes > 0

    def estimate_bps(self) -> float:
        """min(fast, slow), or ``default_bps`` until enough bytes were seen."""
        if not self.has_estimate:
            return self.config.default_bps
        est = self._cached
        if est is None:
            est = self._cached = min(self._fast.estimate(), self._slow.estimate())
        return est
