"""DYNAMIC: dash.js's hybrid of a throughput rule and BOLA (Spiteri et al.,
MMSys 2018, "From Theory to Practice"; dash.js ``AbrController``,
``ABRStrategy = 'abrDynamic'``).

At low buffer the throughput rule decides (BOLA has little information
there); once the buffer is rich BOLA decides. Hysteresis as in dash.js
``_updateDynamicAbrStrategy``: switch to BOLA when the buffer exceeds
``stableBufferTime`` (12 s, dash.js default) and back to throughput when it
falls to half of it (6 s). Sabre's ``DynamicDash`` uses 10 s / 5 s; set
``switch_on_buffer_s`` / ``switch_off_buffer_s`` to reproduce it. The BOLA
side is BOLA-E (dash.js ``BolaRule`` is BOLA-E), the throughput side the
0.9-safety throughput rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..base import AbrContext, Decision, DownloadReport
from ..errors import PolicyConfigError
from .bola import BolaEConfig, BolaEPolicy
from .throughput import ThroughputConfig, ThroughputPolicy


@dataclass(frozen=True, slots=True)
class DynamicConfig:
    """DYNAMIC parameters.

    switch_on_buffer_s: use BOLA once the buffer is above this (12 s: dash.js stableBufferTime).
    switch_off_buffer_s: go back to throughput at or below this (6 s: 0.5 x stableBufferTime).
    bola: BOLA-E configuration; throughput: throughput-rule configuration.
    """

    switch_on_buffer_s: float = 12.0
    switch_off_buffer_s: float = 6.0
    bola: BolaEConfig = field(default_factory=BolaEConfig)
    throughput: ThroughputConfig = field(default_factory=ThroughputConfig)

    def __post_init__(self) -> None:
        if not (0 <= self.switch_off_buffer_s <= self.switch_on_buffer_s):
            raise PolicyConfigError(
                "DynamicConfig: need 0 <= switch_off_buffer_s <= switch_on_buffer_s"
            )
        if not isinstance(self.bola, BolaEConfig) or not isinstance(
            self.throughput, ThroughputConfig
        ):
            raise PolicyConfigError("DynamicConfig: bola/throughput must be config dataclasses")


class DynamicPolicy:
    """Throughput rule at low buffer, BOLA-E at high buffer, with hysteresis."""

    name = "dynamic"

    def __init__(self, config: DynamicConfig | None = None) -> None:
        self.config = config or DynamicConfig()
        self._bola = BolaEPolicy(self.config.bola)
        self._tput = ThroughputPolicy(self.config.throughput)
        self._use_bola = False

    def decide(self, ctx: AbrContext) -> Decision:
        cfg = self.config
        was = self._use_bola
        threshold = cfg.switch_off_buffer_s if was else cfg.switch_on_buffer_s
        self._use_bola = ctx.buffer_s > threshold
        # keep both estimators current whichever side decides
        self._tput.estimate_bps(ctx)
        self._bola.feed(ctx)
        inner = self._bola.decide(ctx) if self._use_bola else self._tput.decide(ctx)
        side = "BOLA-E" if self._use_bola else "throughput"
        switch = ""
        if was != self._use_bola:
            switch = f" (switched at buffer {ctx.buffer_s:.2f}s vs {threshold:g}s)"
        return Decision(
            inner.rung, f"{self.name}/{inner.rule}", f"{side}{switch}: {inner.reason}", inner.wait_s
        )

    def observe(self, report: DownloadReport) -> None:
        self._bola.observe(report)
