"""BBA: buffer-based rate adaptation (Huang et al., SIGCOMM 2014).

The rate is a function of the buffer alone: below the *reservoir* the lowest
rung, above reservoir + *cushion* the top rung, and in between a linear map
from buffer to rung. The defaults reproduce the BB baseline of Pensieve's
evaluation code (Mao et al., SIGCOMM 2017, ``test/bb.py``): reservoir 5 s,
cushion 10 s, rung = floor((top) x (buffer - 5) / 10) in between (top = 5 for
Pensieve's 6-rung ladder), and the first chunk at rung 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ._common import check_config


@dataclass(frozen=True, slots=True)
class BbaConfig:
    """BBA parameters.

    reservoir_s: below this buffer (seconds) fetch the lowest rung (5 s: Pensieve bb.py).
    cushion_s: width (seconds) of the linear region above the reservoir (10 s: Pensieve bb.py).
    first_rung: rung of the first segment (1: Pensieve's DEFAULT_QUALITY); None = ctx.last_rung.
    """

    reservoir_s: float = 5.0
    cushion_s: float = 10.0
    first_rung: int | None = 1

    def __post_init__(self) -> None:
        check_config(self)
        if self.cushion_s <= 0:
            raise PolicyConfigError("BbaConfig.cushion_s must be > 0")
        if self.first_rung is not None and not isinstance(self.first_rung, int):
            raise PolicyConfigError("BbaConfig.first_rung must be an int or None")


class BbaPolicy:
    """Reservoir/cushion map from buffer level to rung."""

    name = "bba"

    def __init__(self, config: BbaConfig | None = None) -> None:
        self.config = config or BbaConfig()

    def decide(self, ctx: AbrContext) -> Decision:
        cfg = self.config
        top = ctx.top_rung
        if ctx.segment_index == 0:
            first = ctx.last_rung if cfg.first_rung is None else cfg.first_rung
            rung = min(max(first, 0), top)
            return Decision(rung, self.name, f"first segment at start rung {rung}")
        buf = ctx.buffer_s
        if buf < cfg.reservoir_s:
            return Decision(
                0, self.name, f"buffer {buf:.2f}s < reservoir {cfg.reservoir_s:g}s -> rung 0"
            )
        if buf >= cfg.reservoir_s + cfg.cushion_s:
            return Decision(
                top,
                self.name,
                f"buffer {buf:.2f}s >= reservoir+cushion {cfg.reservoir_s + cfg.cushion_s:g}s"
                f" -> top rung {top}",
            )
        rung = min(int(math.floor(top * (buf - cfg.reservoir_s) / cfg.cushion_s)), top)
        return Decision(
            rung,
            self.name,
            f"buffer {buf:.2f}s in cushion: floor({top} x ({buf:.2f} - {cfg.reservoir_s:g})"
            f" / {cfg.cushion_s:g}) = rung {rung}",
        )
