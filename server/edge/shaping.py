"""Bandwidth schedules for the edge's per-connection rate limit.

A schedule answers one question: a response that started sending at
``t0`` (seconds on the edge's clock) has sent ``n`` bytes; when may byte
``n`` leave? Constant rates and piecewise-constant traces (Pensieve text
``time_s<TAB>Mbps``, Sabre JSON ``[{duration_ms, bandwidth_kbps,
latency_ms}]``) both implement it. Traces wrap when they end. Pure code: no
clock, no I/O except :func:`load_trace` reading a file.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass
from pathlib import Path

from server.errors import ServerError

__all__ = ["ConstantRate", "ShapingError", "TraceRate", "load_trace"]


class ShapingError(ServerError):
    """A rate or trace given to the edge is unusable (file, line, value)."""


@dataclass(frozen=True)
class ConstantRate:
    bytes_per_s: float

    def __post_init__(self) -> None:
        if not (self.bytes_per_s > 0 and math.isfinite(self.bytes_per_s)):
            raise ShapingError(f"rate: bytes_per_s must be > 0, got {self.bytes_per_s!r}")

    def send_time(self, t0: float, n_bytes: int) -> float:
        """Time at which ``n_bytes`` sent since ``t0`` have all left."""
        return t0 + n_bytes / self.bytes_per_s


@dataclass(frozen=True)
class TraceRate:
    """Piecewise-constant bandwidth: segment ``i`` lasts ``durations_s[i]``
    at ``bytes_per_s[i]``. ``origin`` is the edge time the trace starts at;
    ``time_scale`` > 1 plays the trace faster (durations divided by it)."""

    durations_s: tuple[float, ...]
    bytes_per_s: tuple[float, ...]
    origin: float = 0.0
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.durations_s or len(self.durations_s) != len(self.bytes_per_s):
            raise ShapingError("trace: needs at least one (duration, bandwidth) step")
        if self.time_scale <= 0:
            raise ShapingError(f"trace: time_scale must be > 0, got {self.time_scale!r}")
        if any(d <= 0 for d in self.durations_s) or any(b < 0 for b in self.bytes_per_s):
            raise ShapingError("trace: durations must be > 0 and bandwidths >= 0")
        if not any(b > 0 for b in self.bytes_per_s):
            raise ShapingError("trace: every step has zero bandwidth")
        starts = [0.0]
        for d in self.durations_s:
            starts.append(starts[-1] + d / self.time_scale)
        per_period = sum(
            r * d / self.time_scale for r, d in zip(self.bytes_per_s, self.durations_s, strict=True)
        )
        if not per_period > 0:
            raise ShapingError("trace: delivers no bytes over a whole period")
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_per_period", per_period)

    def send_time(self, t0: float, n_bytes: int) -> float:
        starts: tuple[float, ...] = self._starts  # type: ignore[attr-defined]
        per_period: float = self._per_period  # type: ignore[attr-defined]
        period = starts[-1]
        t = t0
        remaining = float(n_bytes)
        if remaining > 2 * per_period:
            # any whole period, from any phase, delivers exactly per_period bytes
            k = int(remaining // per_period) - 1
            t += k * period
            remaining -= k * per_period
        if remaining <= 0:
            return t
        n = len(self.durations_s)
        rel = (t - self.origin) % period
        i = min(max(bisect.bisect_right(starts, rel) - 1, 0), n - 1)
        seg_left = max(starts[i + 1] - rel, 0.0)
        while True:  # at most ~2 periods of steps, thanks to the skip above
            rate = self.bytes_per_s[i]
            if rate > 0 and rate * seg_left >= remaining:
                return t + remaining / rate
            remaining -= rate * seg_left
            t += seg_left
            i = (i + 1) % n
            seg_left = starts[i + 1] - starts[i]


def load_trace(
    path: str | Path, *, fmt: str = "auto"
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Read a trace file into (durations_s, bytes_per_s).

    ``fmt`` is ``"pensieve"`` (lines ``time_s<TAB>Mbps``; each line holds
    until the next line's time), ``"sabre"`` (JSON list of
    ``{duration_ms, bandwidth_kbps, latency_ms}``) or ``"auto"`` (JSON if
    the first non-blank character is ``[``).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ShapingError(f"{p}: cannot read trace: {exc.strerror or exc}") from exc
    if fmt == "auto":
        fmt = "sabre" if text.lstrip().startswith("[") else "pensieve"
    if fmt == "sabre":
        return _parse_sabre(text, p)
    if fmt == "pensieve":
        return _parse_pensieve(text, p)
    raise ShapingError(f"{p}: unknown trace format {fmt!r} (pensieve, sabre, auto)")


def _parse_sabre(text: str, p: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShapingError(f"{p}:{exc.lineno}: bad JSON: {exc.msg}") from exc
    if not isinstance(data, list) or not data:
        raise ShapingError(f"{p}: Sabre trace must be a non-empty JSON list")
    durs: list[float] = []
    rates: list[float] = []
    for i, step in enumerate(data):
        try:
            d = float(step["duration_ms"]) / 1000.0
            r = float(step["bandwidth_kbps"]) * 1000.0 / 8.0
        except (KeyError, TypeError, ValueError) as exc:
            raise ShapingError(
                f"{p}: item {i}: needs numeric duration_ms and bandwidth_kbps"
            ) from exc
        if d > 0:
            durs.append(d)
            rates.append(max(r, 0.0))
    return tuple(durs), tuple(rates)


def _parse_pensieve(text: str, p: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    times: list[float] = []
    mbps: list[float] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            t, bw = float(parts[0]), float(parts[1])
        except (IndexError, ValueError) as exc:
            raise ShapingError(f"{p}:{lineno}: expected 'time_s<TAB>Mbps', got {line!r}") from exc
        times.append(t)
        mbps.append(bw)
    if not times:
        raise ShapingError(f"{p}: empty trace")
    if len(times) == 1:
        return (1.0,), (mbps[0] * 1e6 / 8,)
    durs: list[float] = []
    rates: list[float] = []
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    last_gap = sorted(gaps)[len(gaps) // 2] if gaps else 1.0
    for i, (t, bw) in enumerate(zip(times, mbps, strict=True)):
        d = (times[i + 1] - t) if i + 1 < len(times) else last_gap
        if d > 0:
            durs.append(d)
            rates.append(max(bw, 0.0) * 1e6 / 8)
    return tuple(durs), tuple(rates)
