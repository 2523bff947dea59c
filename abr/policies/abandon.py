"""Abandonment: give up a download that would stall the player.

If the bytes still to come, at the rate observed so far in this download,
would take longer than the buffer minus a safety margin, and a lower rung's
whole segment would arrive in time at that rate (and is smaller than what
remains), abandon and refetch at the highest such rung. No abandonment in
the first ``grace_s`` of a download (500 ms: Sabre's ``abandon_grace_time``),
once ``near_done_fraction`` of it has arrived, or at rung 0. The idea is
dash.js's ``AbandonRequestsRule`` and Sabre's ``check_abandon``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Decision, DownloadProgress
from ..errors import PolicyConfigError
from ._common import check_config


@dataclass(frozen=True, slots=True)
class BufferAbandonConfig:
    """Abandonment thresholds.

    safety_margin_s: buffer (seconds) kept in reserve when judging "in time" (1 s).
    grace_s: minimum elapsed time before judging a download (0.5 s: Sabre).
    near_done_fraction: never abandon once this fraction of the bytes arrived (0.8).
    min_bytes: bytes needed before the observed rate is trusted (16 kB: shaka's min sample).
    """

    safety_margin_s: float = 1.0
    grace_s: float = 0.5
    near_done_fraction: float = 0.8
    min_bytes: int = 16_000

    def __post_init__(self) -> None:
        check_config(self)
        if not 0 < self.near_done_fraction <= 1:
            raise PolicyConfigError("BufferAbandonConfig.near_done_fraction must be in (0, 1]")


class BufferAbandonRule:
    """Abandon to the highest lower rung that would still arrive before the buffer runs dry."""

    name = "abandon"

    def __init__(self, config: BufferAbandonConfig | None = None) -> None:
        self.config = config or BufferAbandonConfig()

    def check(self, progress: DownloadProgress) -> Decision | None:
        cfg = self.config
        p = progress
        if p.rung <= 0 or p.bytes_total <= 0 or p.elapsed_s < cfg.grace_s:
            return None
        if p.bytes_done < cfg.min_bytes or p.bytes_done <= 0:
            return None
        if p.bytes_done >= cfg.near_done_fraction * p.bytes_total:
            return None
        rate = p.bytes_done / p.elapsed_s  # bytes per second
        remaining = p.bytes_total - p.bytes_done
        t_left = remaining / rate
        budget = p.buffer_s - cfg.safety_margin_s
        if t_left <= budget:
            return None
        for r in range(min(p.rung, len(p.bitrates_bps)) - 1, -1, -1):
            if 0 <= p.segment_index < len(p.sizes):
                size = float(p.sizes[p.segment_index][r])
            else:
                size = p.bitrates_bps[r] * p.segment_duration_s / 8.0
            t_new = size / rate
            if size < remaining and t_new <= budget:
                return Decision(
                    r,
                    self.name,
                    f"remaining {remaining} B at {8 * rate / 1e6:.3g} Mbps needs {t_left:.2f}s >"
                    f" buffer {p.buffer_s:.2f}s - margin {cfg.safety_margin_s:g}s;"
                    f" rung {r} needs {t_new:.2f}s",
                )
        return None
