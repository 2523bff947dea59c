"""Bandwidth schedules for the edge's per-connection rate limit.

A schedule answers one question: a response that started sending at
``t0`` (seconds on the edge's clock) has sent ``n`` bytes; when may byte
``n`` leave? Constant rates and piecewise-constant traces (Pensieve text
``time_s<TAB>Mbps``, Sabre JSON ``[{duration_ms, bandwidth_kbps,
latency_ms}]``) both implement it. Trace files are read with the replay
loaders (:mod:`player.traces`), so a file means the same on the edge as in
replay: line ``i`` of a Pensieve trace holds over ``(t[i-1], t[i]]``, the trace
wraps at its last time, and a Sabre step's ``latency_ms`` delays the first
byte of a response that starts in that step while the trace runs on (replay's
``latency_advances_trace``). Pure code: no clock, no I/O except the loaders
reading a file.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass
from pathlib import Path

from player.errors import TraceError
from player.traces import Trace, parse_pensieve_trace, parse_sabre_trace
from server.errors import ServerError

__all__ = [
    "ConstantRate",
    "ShapingError",
    "TraceRate",
    "load_trace",
    "load_trace_rate",
    "read_trace",
    "trace_steps",
]


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
    ``time_scale`` > 1 plays the trace faster (durations and latencies divided
    by it). ``latencies_s[i]`` (optional): a response starting in step ``i``
    sends its first byte that much later, the trace running on meanwhile."""

    durations_s: tuple[float, ...]
    bytes_per_s: tuple[float, ...]
    origin: float = 0.0
    time_scale: float = 1.0
    latencies_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.durations_s or len(self.durations_s) != len(self.bytes_per_s):
            raise ShapingError("trace: needs at least one (duration, bandwidth) step")
        if self.time_scale <= 0:
            raise ShapingError(f"trace: time_scale must be > 0, got {self.time_scale!r}")
        if any(d <= 0 for d in self.durations_s) or any(b < 0 for b in self.bytes_per_s):
            raise ShapingError("trace: durations must be > 0 and bandwidths >= 0")
        if not any(b > 0 for b in self.bytes_per_s):
            raise ShapingError("trace: every step has zero bandwidth")
        lats = self.latencies_s
        if lats is not None and (
            len(lats) != len(self.durations_s) or not all(math.isfinite(x) and x >= 0 for x in lats)
        ):
            raise ShapingError("trace: needs one finite latency >= 0 per step")
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
        if self.latencies_s is not None:
            t += self.latencies_s[self._step_at(t0)] / self.time_scale
        remaining = float(n_bytes)
        if remaining > 2 * per_period:
            # any whole period, from any phase, delivers exactly per_period bytes
            k = int(remaining // per_period) - 1
            t += k * period
            remaining -= k * per_period
        if remaining <= 0:
            return t
        rel = (t - self.origin) % period
        i = self._step_at(t)
        n = len(self.durations_s)
        seg_left = max(starts[i + 1] - rel, 0.0)
        while True:  # at most ~2 periods of steps, thanks to the skip above
            rate = self.bytes_per_s[i]
            if rate > 0 and rate * seg_left >= remaining:
                return t + remaining / rate
            remaining -= rate * seg_left
            t += seg_left
            i = (i + 1) % n
            seg_left = starts[i + 1] - starts[i]

    def _step_at(self, t: float) -> int:
        """The step the edge time ``t`` falls in: ``[start, end)``, like replay."""
        starts: tuple[float, ...] = self._starts  # type: ignore[attr-defined]
        rel = (t - self.origin) % starts[-1]
        return min(max(bisect.bisect_right(starts, rel) - 1, 0), len(self.durations_s) - 1)


def trace_steps(trace: Trace) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """A replay :class:`~player.traces.Trace` as edge steps ``(durations_s,
    bytes_per_s, latencies_s)``: step ``i`` is ``(t[i], t[i+1]]`` at sample ``i+1``'s
    bandwidth and latency, exactly the replay convention; zero-length samples are
    dropped (they hold no time)."""
    t, bw = trace.times_s, trace.bandwidth_bps
    lat = trace.latency_s or (0.0,) * len(t)
    steps = [(t[i] - t[i - 1], bw[i] / 8.0, lat[i]) for i in range(1, len(t)) if t[i] > t[i - 1]]
    durs, rates, lats = zip(*steps, strict=True)
    return tuple(durs), tuple(rates), tuple(lats)


def read_trace(path: str | Path, *, fmt: str = "auto") -> Trace:
    """Read a trace file with the replay loaders of :mod:`player.traces`, so the
    edge and replay play the same file identically.

    ``fmt`` is ``"pensieve"`` (lines ``time_s<TAB>Mbps``; line ``i``'s bandwidth
    holds over ``(t[i-1], t[i]]``, the first line's is never used, the trace
    wraps at the last time), ``"sabre"`` (JSON list of ``{duration_ms,
    bandwidth_kbps, latency_ms}``) or ``"auto"`` (JSON if the first non-blank
    character is ``[``). Raises :class:`ShapingError` naming the file and line.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShapingError(
            f"{p}: cannot read trace: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    if fmt == "auto":
        fmt = "sabre" if text.lstrip().startswith("[") else "pensieve"
    try:
        if fmt == "sabre":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ShapingError(f"{p}:{exc.lineno}: bad JSON: {exc.msg}") from exc
            return parse_sabre_trace(data, p.name, str(p))
        if fmt == "pensieve":
            return parse_pensieve_trace(text, p.name, str(p))
    except TraceError as exc:
        raise ShapingError(str(exc)) from exc
    raise ShapingError(f"{p}: unknown trace format {fmt!r} (pensieve, sabre, auto)")


def load_trace(
    path: str | Path, *, fmt: str = "auto"
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Read a trace file into ``(durations_s, bytes_per_s)`` (see :func:`read_trace`)."""
    durs, rates, _ = trace_steps(read_trace(path, fmt=fmt))
    return durs, rates


def load_trace_rate(
    path: str | Path, *, fmt: str = "auto", origin: float = 0.0, time_scale: float = 1.0
) -> TraceRate:
    """The edge schedule of a trace file, with its per-step latency (Sabre's
    ``latency_ms``; 0 for Pensieve text)."""
    durs, rates, lats = trace_steps(read_trace(path, fmt=fmt))
    return TraceRate(
        durs, rates, origin=origin, time_scale=time_scale, latencies_s=lats if any(lats) else None
    )
