"""A rule table from our design notes, evaluated in explicit priority order.

Rows (first match wins; ``priority`` order below):

1. ``low-buffer``: buffer below 5 s -> lowest rung.
2. ``falling-buffer``: buffer below 10 s and falling since the previous
   decision -> at most the 720p-class rung (never an up-switch).
3. ``rich``: buffer above 30 s and throughput above 20 Mbit/s -> top rung.
4. ``good``: buffer above 15 s and throughput above 8 Mbit/s -> 1080p-class rung.
5. default: the throughput rule (0.9 x dual-EWMA estimate).

The context carries bitrates only, so a "class" is the highest rung whose
nominal bitrate is at most the class cap: 4.5 Mbit/s for 720p and 7.8
Mbit/s for 1080p, the top 720p and 1080p (30 fps) rates of Apple's HLS
Authoring Specification example ladder. When no rung fits a cap the lowest
rung is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ._common import check_config, mbps, rung_for_rate
from .throughput import ThroughputConfig, ThroughputPolicy


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Thresholds of the rule table (seconds of buffer, bits per second)."""

    low_buffer_s: float = 5.0
    falling_buffer_s: float = 10.0
    rich_buffer_s: float = 30.0
    rich_throughput_bps: float = 20e6
    good_buffer_s: float = 15.0
    good_throughput_bps: float = 8e6
    class_720p_max_bps: float = 4.5e6
    class_1080p_max_bps: float = 7.8e6
    safety_factor: float = 0.9

    def __post_init__(self) -> None:
        check_config(self)
        if not 0 < self.safety_factor <= 1.5:
            raise PolicyConfigError("RulesConfig.safety_factor must be in (0, 1.5]")


class RulesPolicy:
    """The design-notes rule table; rows in priority order, throughput rule as default."""

    name = "rules"
    priority = ("low-buffer", "falling-buffer", "rich", "good", "throughput")

    def __init__(self, config: RulesConfig | None = None) -> None:
        self.config = config or RulesConfig()
        self._tput = ThroughputPolicy(ThroughputConfig(safety_factor=self.config.safety_factor))
        self._last_buffer: float | None = None

    def decide(self, ctx: AbrContext) -> Decision:
        cfg = self.config
        top = ctx.top_rung
        rates = ctx.bitrates_bps
        est = self._tput.estimate_bps(ctx)
        buf = ctx.buffer_s
        falling = self._last_buffer is not None and buf < self._last_buffer
        self._last_buffer = buf
        last = min(max(ctx.last_rung, 0), top)
        if buf < cfg.low_buffer_s:
            return Decision(
                0,
                f"{self.name}/low-buffer",
                f"buffer {buf:.2f}s < {cfg.low_buffer_s:g}s -> lowest rung",
            )
        if buf < cfg.falling_buffer_s and falling:
            cls = rung_for_rate(rates, cfg.class_720p_max_bps, top)
            rung = min(cls, last)
            return Decision(
                rung,
                f"{self.name}/falling-buffer",
                f"buffer {buf:.2f}s < {cfg.falling_buffer_s:g}s and falling ->"
                f" at most 720p-class rung {cls}: rung {rung}",
            )
        if buf > cfg.rich_buffer_s and est > cfg.rich_throughput_bps:
            return Decision(
                top,
                f"{self.name}/rich",
                f"buffer {buf:.2f}s > {cfg.rich_buffer_s:g}s and throughput"
                f" {mbps(est)} > {mbps(cfg.rich_throughput_bps)} -> top rung {top}",
            )
        if buf > cfg.good_buffer_s and est > cfg.good_throughput_bps:
            rung = rung_for_rate(rates, cfg.class_1080p_max_bps, top)
            return Decision(
                rung,
                f"{self.name}/good",
                f"buffer {buf:.2f}s > {cfg.good_buffer_s:g}s and throughput"
                f" {mbps(est)} > {mbps(cfg.good_throughput_bps)} ->"
                f" 1080p-class rung {rung}",
            )
        inner = self._tput.decide(ctx)
        return Decision(inner.rung, f"{self.name}/throughput", f"no row matched: {inner.reason}")
