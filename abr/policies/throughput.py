"""Rate-based policy: the highest rung whose bitrate fits under safety x estimate.

The classic throughput rule (dash.js ``ThroughputRule``; Sabre's
``ThroughputRule``, Spiteri et al. MMSys 2018): estimate throughput with a
conservative dual EWMA and pick the highest rung whose nominal bitrate is at
most ``safety_factor`` times the estimate. Both dash.js
(``bandwidthSafetyFactor``) and Sabre use a safety factor of 0.9; Sabre's
EWMA half-lives are 3 s and 8 s of download time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ..estimators.ewma import DualEwma, DualEwmaConfig
from ._common import SampleCursor, check_config, mbps, rung_for_rate


@dataclass(frozen=True, slots=True)
class ThroughputConfig:
    """Throughput rule parameters.

    safety_factor: fraction of the estimate a rung's bitrate may use (0.9: dash.js, Sabre).
    fast_half_life_s / slow_half_life_s: EWMA half-lives in seconds of download (3, 8: Sabre).
    min_sample_bytes: smaller downloads are ignored by the estimator (bytes).
    min_total_bytes: bytes needed before the estimate replaces ``default_bps``.
    default_bps: estimate before enough bytes are seen (bits per second, shaka-player's 1 Mbit/s).
    """

    safety_factor: float = 0.9
    fast_half_life_s: float = 3.0
    slow_half_life_s: float = 8.0
    min_sample_bytes: int = 0
    min_total_bytes: int = 1
    default_bps: float = 1_000_000.0

    def __post_init__(self) -> None:
        check_config(self)
        if not 0 < self.safety_factor <= 1.5:
            raise PolicyConfigError("ThroughputConfig.safety_factor must be in (0, 1.5]")
        if self.fast_half_life_s <= 0 or self.slow_half_life_s <= 0:
            raise PolicyConfigError("ThroughputConfig half-lives must be > 0")
        if self.default_bps <= 0:
            raise PolicyConfigError("ThroughputConfig.default_bps must be > 0")

    def estimator(self) -> DualEwma:
        return DualEwma(
            DualEwmaConfig(
                fast_half_life_s=self.fast_half_life_s,
                slow_half_life_s=self.slow_half_life_s,
                min_sample_bytes=self.min_sample_bytes,
                min_total_bytes=self.min_total_bytes,
                default_bps=self.default_bps,
            )
        )


class ThroughputPolicy:
    """Pick the highest rung with bitrate <= safety_factor x (dual-EWMA estimate)."""

    name = "throughput"

    def __init__(self, config: ThroughputConfig | None = None) -> None:
        self.config = config or ThroughputConfig()
        self._estimator = self.config.estimator()
        self._cursor = SampleCursor()

    def estimate_bps(self, ctx: AbrContext) -> float:
        """Feed new samples of ``ctx`` and return the current estimate (bits per second)."""
        est = self._estimator
        for s in self._cursor.new(ctx.samples):
            est.add(s.bytes, s.seconds)
        return est.estimate_bps()

    def decide(self, ctx: AbrContext) -> Decision:
        estimate = self.estimate_bps(ctx)
        budget = self.config.safety_factor * estimate
        top = ctx.top_rung
        rung = rung_for_rate(ctx.bitrates_bps, budget, top)
        source = "estimate" if self._estimator.has_estimate else "default estimate"
        return Decision(
            rung,
            self.name,
            f"{source} {mbps(estimate)} x {self.config.safety_factor:g} = {mbps(budget)}"
            f" -> rung {rung} ({mbps(ctx.bitrates_bps[rung])})",
        )
