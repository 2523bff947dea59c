"""Small helpers shared by the policies (not exported)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from ..base import AbrContext, ThroughputSample
from ..errors import PolicyConfigError


class SampleCursor:
    """Yields the samples of ``ctx.samples`` not seen by a previous call.

    ``ctx.samples`` may be a bounded window rebuilt by the engine, so the
    cursor remembers the last sample it returned and looks for it (by value)
    from the end of the new sequence.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: ThroughputSample | None = None

    def new(self, samples: Sequence[ThroughputSample]) -> Sequence[ThroughputSample]:
        n = len(samples)
        if n == 0:
            return ()
        last = self._last
        if last is None:
            fresh: Sequence[ThroughputSample] = samples
        else:
            i = n - 1
            while i >= 0:
                s = samples[i]
                if s is last or s == last:
                    break
                i -= 1
            fresh = samples[i + 1 :] if i >= 0 else samples
        if len(fresh):
            self._last = samples[-1]
        return fresh


def clamp_rung(rung: int, ctx: AbrContext) -> int:
    top = ctx.top_rung
    if rung > top:
        return top
    return max(rung, 0)


def rung_for_rate(bitrates_bps: Sequence[float], rate_bps: float, top: int) -> int:
    """Highest rung in [0, top] whose nominal bitrate is <= ``rate_bps`` (0 if none)."""
    rung = 0
    for i in range(1, top + 1):
        if bitrates_bps[i] <= rate_bps:
            rung = i
        else:
            break
    return rung


def check_config(obj: Any) -> None:
    """Reject non-finite or negative numbers in a config dataclass (bools/str/None allowed)."""
    name = type(obj).__name__
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int | float):
            if not math.isfinite(value) or value < 0:
                raise PolicyConfigError(
                    f"{name}.{f.name} must be a finite number >= 0, got {value!r}"
                )
        elif isinstance(value, tuple):
            for v in value:
                if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                    raise PolicyConfigError(f"{name}.{f.name}: bad element {v!r}")
        else:
            raise PolicyConfigError(f"{name}.{f.name}: unsupported value {value!r}")


def mbps(bps: float) -> str:
    return f"{bps / 1e6:.3g} Mbps"
