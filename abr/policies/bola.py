"""BOLA (Spiteri, Urgaonkar, Sitaraman: "BOLA: Near-Optimal Bitrate
Adaptation for Online Videos", INFOCOM 2016 / IEEE/ACM ToN 2020; BOLA-E in
Spiteri, Sitaraman, Sparacio, "From Theory to Practice: Improving Bitrate
Adaptation in the DASH Reference Player", MMSys 2018 / ACM TOMM 2019).

BOLA maximises ``V·(utility + γp) − buffer`` per bit: for each rung m with
utility ``u_m = ln(S_m / S_0)`` it scores ``(V·(u_m + γp) − Q) / S_m`` and
picks the best; when even the best score is negative (buffer above the
target) it waits. ``V`` is set from the buffer target Q_max so that the top
rung is chosen up to ``Q_max − p``: ``V = (Q_max − p) / (u_top + γp)``.
Sizes S_m are the nominal bitrates (the Sabre reference implementation does
the same); with equal-duration segments this is the paper's size ratio.

- :class:`BolaPolicy` is BOLA-BASIC (Sabre ``Bola`` with ``--abr-basic``):
  defaults γp = 5 s and Q_max = 25 s are Sabre's command-line defaults.
- :class:`BolaEPolicy` is BOLA-E (Sabre ``BolaEnh``, dash.js ``BolaRule``):
  utilities ``ln(S_m/S_0) + 1``, a buffer target of at least 10 s + 2 s per
  rung with ``γp = (u_top − 1) / (Q/10 s − 1)`` and ``V = 10 s / γp``; a
  *placeholder* (virtual buffer) that starts from the throughput-chosen rung
  at startup and absorbs waits; oscillation avoidance (never step up past
  ``max(last rung, throughput rung) + 1``, or ``+0`` in the strict variant)
  and the insufficient-buffer rule (a rung must be downloadable within
  ``safety × buffer`` at the estimated throughput; safety starts at 0.9 and
  decays by 0.9 per decision to 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..base import AbrContext, Decision, DownloadReport
from ..errors import PolicyConfigError
from ..estimators.ewma import DualEwma, DualEwmaConfig
from ._common import SampleCursor, check_config, mbps, rung_for_rate


@dataclass(frozen=True, slots=True)
class BolaConfig:
    """BOLA-BASIC parameters (Sabre defaults).

    gamma_p_s: γp, the rebuffer-avoidance weight times segment length, in seconds (5 s: Sabre -gp).
    buffer_target_s: Q_max, the buffer BOLA steers to, in seconds (25 s: Sabre -b); capped at
        the engine's ``ctx.buffer_max_s`` when that is smaller.
    """

    gamma_p_s: float = 5.0
    buffer_target_s: float = 25.0

    def __post_init__(self) -> None:
        check_config(self)
        if self.gamma_p_s <= 0 or self.buffer_target_s <= 0:
            raise PolicyConfigError("BolaConfig: gamma_p_s and buffer_target_s must be > 0")


def _utilities(bitrates: list[float], offset: float) -> list[float]:
    base = math.log(bitrates[0])
    return [math.log(b) - base + offset for b in bitrates]


def _quality_from_buffer(
    bitrates: Sequence[float], utilities: list[float], v: float, gp: float, level: float
) -> int:
    best, best_score = 0, -math.inf
    for q in range(len(bitrates)):
        s = (v * (utilities[q] + gp) - level) / bitrates[q]
        if s > best_score:
            best, best_score = q, s
    return best


class BolaPolicy:
    """BOLA-BASIC: the buffer-only Lyapunov rule; waits above the buffer target."""

    name = "bola"

    def __init__(self, config: BolaConfig | None = None) -> None:
        self.config = config or BolaConfig()
        self._cache: tuple | None = None

    def _params(self, ctx: AbrContext) -> tuple[list[float], list[float], float]:
        """(bitrates, utilities, V) for this ladder, cap, segment length and buffer cap; cached."""
        key = (ctx.bitrates_bps, ctx.top_rung, ctx.segment_duration_s, ctx.buffer_max_s)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        cfg = self.config
        bitrates = [float(b) for b in ctx.bitrates_bps[: ctx.top_rung + 1]]
        p = ctx.segment_duration_s
        target = cfg.buffer_target_s
        if ctx.buffer_max_s > 0:
            target = min(target, ctx.buffer_max_s)
        target = max(target, p + 1e-9)
        utilities = _utilities(bitrates, 0.0)
        v = (target - p) / (utilities[-1] + cfg.gamma_p_s)
        params = (bitrates, utilities, v)
        self._cache = (key, params)
        return params

    def decide(self, ctx: AbrContext) -> Decision:
        gp = self.config.gamma_p_s
        bitrates, utilities, v = self._params(ctx)
        level = ctx.buffer_s
        rung = _quality_from_buffer(bitrates, utilities, v, gp, level)
        max_level = v * (utilities[rung] + gp)
        wait = level - max_level
        if wait > 0:
            return Decision(
                rung,
                self.name,
                f"buffer {level:.2f}s, V={v:.3f} -> rung {rung};"
                f" above its level {max_level:.2f}s: wait {wait:.2f}s",
                wait,
            )
        return Decision(
            rung, self.name, f"buffer {level:.2f}s, V={v:.3f}, gamma_p={gp:g}s -> rung {rung}"
        )


@dataclass(frozen=True, slots=True)
class BolaEConfig:
    """BOLA-E parameters (Sabre ``BolaEnh``; dash.js ``BolaRule``).

    buffer_target_s: configured buffer size (seconds); the effective target is
        max(this, minimum_buffer_s + minimum_buffer_per_rung_s x rungs) (25 s: Sabre -b).
    minimum_buffer_s: 10 s (Sabre ``minimum_buffer``, dash.js ``MINIMUM_BUFFER_S``).
    minimum_buffer_per_rung_s: 2 s (Sabre, dash.js ``MINIMUM_BUFFER_PER_BITRATE_LEVEL_S``).
    low_buffer_safety_init: 0.9 and low_buffer_safety: 0.5, the insufficient-buffer
        rule's safety factor start and floor (Sabre).
    insufficient_buffer_rule: apply that rule (True; Sabre ``--no-insufficient-buffer-rule``).
    strict_oscillation: Sabre ``--abr-osc``: step up to max(last, throughput rung) rather
        than one above it (False = Sabre default).
    wait_at_top: also wait when the top rung's buffer level is exceeded (True). Sabre zeroes
        that wait because its buffer cap equals the BOLA buffer; our engine's cap may be larger.
    fast_half_life_s / slow_half_life_s: throughput EWMA half-lives (3 s, 8 s: Sabre).
    """

    buffer_target_s: float = 25.0
    minimum_buffer_s: float = 10.0
    minimum_buffer_per_rung_s: float = 2.0
    low_buffer_safety_init: float = 0.9
    low_buffer_safety: float = 0.5
    insufficient_buffer_rule: bool = True
    strict_oscillation: bool = False
    wait_at_top: bool = True
    fast_half_life_s: float = 3.0
    slow_half_life_s: float = 8.0

    def __post_init__(self) -> None:
        check_config(self)
        if self.minimum_buffer_s <= 0 or self.buffer_target_s <= 0:
            raise PolicyConfigError("BolaEConfig: buffer sizes must be > 0")
        if not 0 < self.low_buffer_safety <= self.low_buffer_safety_init <= 1:
            raise PolicyConfigError(
                "BolaEConfig: need 0 < low_buffer_safety <= low_buffer_safety_init <= 1"
            )
        if self.fast_half_life_s <= 0 or self.slow_half_life_s <= 0:
            raise PolicyConfigError("BolaEConfig: half-lives must be > 0")


class BolaEPolicy:
    """BOLA-E: BOLA with placeholder buffer, oscillation guard and insufficient-buffer rule."""

    name = "bola-e"

    def __init__(self, config: BolaEConfig | None = None) -> None:
        self.config = config or BolaEConfig()
        self._estimator = DualEwma(
            DualEwmaConfig(
                fast_half_life_s=self.config.fast_half_life_s,
                slow_half_life_s=self.config.slow_half_life_s,
                min_sample_bytes=0,
                min_total_bytes=1,
            )
        )
        self._cursor = SampleCursor()
        self._steady = False
        self._placeholder = 0.0
        self._last_rung: int | None = None
        self._ibr_safety = self.config.low_buffer_safety_init
        self._ladder: tuple[float, ...] = ()
        self._utilities: list[float] = []
        self._v = 0.0
        self._gp = 0.0
        self._segment_s = 0.0
        self._ladder_key: tuple | None = None

    # -- parameters -------------------------------------------------------
    def _setup(self, bitrates: tuple[float, ...]) -> None:
        if bitrates == self._ladder:
            return
        cfg = self.config
        self._ladder = bitrates
        self._utilities = _utilities(list(bitrates), 1.0)
        buffer = cfg.minimum_buffer_s + cfg.minimum_buffer_per_rung_s * len(bitrates)
        buffer = max(buffer, cfg.buffer_target_s)
        u_top = self._utilities[-1]
        if u_top <= 1.0 or buffer <= cfg.minimum_buffer_s:
            # single-rung ladder: any positive V works; BOLA always picks rung 0
            self._gp, self._v = 1.0, cfg.minimum_buffer_s
        else:
            self._gp = (u_top - 1.0) / (buffer / cfg.minimum_buffer_s - 1.0)
            self._v = cfg.minimum_buffer_s / self._gp

    def _min_buffer_for(self, q: int) -> float:
        b, u = self._ladder[q], self._utilities[q]
        level = 0.0
        for r in range(q):
            if self._utilities[r] < u:
                br, ur = self._ladder[r], self._utilities[r]
                level = max(level, self._v * (self._gp + (b * ur - br * u) / (b - br)))
        return level

    def _max_buffer_for(self, q: int) -> float:
        return self._v * (self._utilities[q] + self._gp)

    def feed(self, ctx: AbrContext) -> float | None:
        """Feed new samples; return the throughput estimate (bps) or None before any."""
        for s in self._cursor.new(ctx.samples):
            self._estimator.add(s.bytes, s.seconds)
        return self._estimator.estimate_bps() if self._estimator.has_estimate else None

    # -- decisions --------------------------------------------------------
    def decide(self, ctx: AbrContext) -> Decision:
        cfg = self.config
        top = ctx.top_rung
        ladder_key = self._ladder_key
        if ladder_key is None or ladder_key[0] is not ctx.bitrates_bps or ladder_key[1] != top:
            self._setup(tuple(float(b) for b in ctx.bitrates_bps[: top + 1]))
            self._ladder_key = (ctx.bitrates_bps, top)
        bitrates = self._ladder
        self._segment_s = ctx.segment_duration_s
        tput = self.feed(ctx)
        level = ctx.buffer_s
        last = ctx.last_rung if self._last_rung is None else self._last_rung
        last = min(max(last, 0), top)
        if not self._steady:
            if tput is None:
                return Decision(last, self.name, f"startup, no throughput yet: rung {last}")
            self._steady = True
            self._ibr_safety = cfg.low_buffer_safety_init
            rung = rung_for_rate(bitrates, tput, top)
            self._placeholder = max(0.0, self._min_buffer_for(rung) - level)
            self._last_rung = rung
            return Decision(
                rung,
                self.name,
                f"startup: throughput {mbps(tput)} -> rung {rung};"
                f" placeholder {self._placeholder:.2f}s",
            )
        assert tput is not None
        rung = _quality_from_buffer(
            bitrates, self._utilities, self._v, self._gp, level + self._placeholder
        )
        why = f"buffer {level:.2f}s + placeholder {self._placeholder:.2f}s -> rung {rung}"
        rung_t = rung_for_rate(bitrates, tput, top)
        if rung > last and rung > rung_t:
            rung = max(last, rung_t) + (0 if cfg.strict_oscillation else 1)
            why += f"; oscillation guard (throughput rung {rung_t}) -> {rung}"
        delay = level + self._placeholder - self._max_buffer_for(rung)
        if delay > 0:
            if delay <= self._placeholder:
                self._placeholder -= delay
                delay = 0.0
            else:
                delay -= self._placeholder
                self._placeholder = 0.0
        else:
            delay = 0.0
        if rung == top and not cfg.wait_at_top:
            delay = 0.0
        if cfg.insufficient_buffer_rule:
            safe_bits = self._ibr_safety * level * tput
            self._ibr_safety = max(
                self._ibr_safety * cfg.low_buffer_safety_init, cfg.low_buffer_safety
            )
            for q in range(rung):
                if bitrates[q + 1] * ctx.segment_duration_s > safe_bits:
                    why += f"; insufficient buffer for rung {q + 1} -> {q}"
                    rung = q
                    delay = 0.0
                    max_ph = max(0.0, self._min_buffer_for(q) - level)
                    self._placeholder = min(max_ph, self._placeholder)
                    break
        if delay > 0:
            self._placeholder += delay  # the wait moves buffer into the placeholder
            why += f"; wait {delay:.2f}s"
        self._last_rung = rung
        return Decision(rung, self.name, why, delay)

    def observe(self, report: DownloadReport) -> None:
        if not self._ladder or report.rung >= len(self._ladder):
            return
        self._last_rung = report.rung
        if report.abandoned:
            # Sabre lowers the placeholder to the abandon target's minimum level; the report
            # names the abandoned rung, not the target, so use the conservative minimum buffer.
            want = self.config.minimum_buffer_s
            self._placeholder = min(self._placeholder, max(0.0, want - report.buffer_s))
            return
        level = report.buffer_s + self._segment_s
        level_was = level + report.seconds
        max_ph = max(0.0, self._max_buffer_for(report.rung) - level_was)
        self._placeholder = min(self._placeholder, max_ph)
        if level > 0:
            self._placeholder = max(
                self._placeholder, self._min_buffer_for(report.rung) - level_was
            )
