"""Bandwidth traces for replay: the :class:`Trace` model and its loaders.

A trace is piecewise-constant bandwidth over time, in Pensieve's convention:
samples ``(times_s[i], bandwidth_bps[i])`` with ``times_s[0] == 0``; the
bandwidth of sample ``i`` holds over ``(times_s[i-1], times_s[i]]`` (so sample
0's bandwidth is never used) and the trace repeats with period
``times_s[-1]``. :mod:`player.network` turns it into download times.

Formats:

* Pensieve / cooked Mahimahi text: one ``time_s<TAB>Mbps`` line per sample.
  A first time other than 0 is treated as an offset and subtracted.
* Sabre JSON: a list of ``{"duration_ms", "bandwidth_kbps", "latency_ms"}``
  periods; durations become cumulative times and each period's latency is kept
  (``Trace.latency_s``, used when :class:`~player.network.NetworkConfig` has
  ``latency_s=None``).

Bad input raises :class:`~player.errors.TraceError` naming the file and line
(text) or period index (JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import TraceError

__all__ = ["Trace", "load_trace", "load_trace_dir", "parse_pensieve_trace", "parse_sabre_trace"]

_SKIP_NAMES = {"SOURCE.md", "README.md", "README", "LICENSE"}


@dataclass(frozen=True, slots=True)
class Trace:
    """Piecewise-constant bandwidth: ``bandwidth_bps[i]`` holds over ``(times_s[i-1], times_s[i]]``.

    ``latency_s`` is an optional per-sample request latency (seconds), same
    indexing as the bandwidth. Construction validates everything and raises
    :class:`TraceError`: at least two samples, ``times_s[0] == 0``, times
    finite and non-decreasing with a positive span, bandwidths finite and
    non-negative, and some bandwidth > 0 over the span.
    """

    name: str
    times_s: tuple[float, ...]
    bandwidth_bps: tuple[float, ...]
    latency_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        name = self.name
        times, bws = self.times_s, self.bandwidth_bps
        if len(times) != len(bws):
            raise TraceError(f"{len(times)} times but {len(bws)} bandwidths", name)
        if len(times) < 2:
            raise TraceError(f"needs at least 2 samples, got {len(times)}", name)
        if self.latency_s is not None and len(self.latency_s) != len(times):
            raise TraceError(f"{len(self.latency_s)} latencies for {len(times)} samples", name)
        if times[0] != 0.0:
            raise TraceError(f"first time must be 0, got {times[0]!r} (sample 0)", name)
        prev = 0.0
        for i, (t, b) in enumerate(zip(times, bws, strict=True)):
            if not math.isfinite(t):
                raise TraceError(f"time {t!r} is not finite (sample {i})", name)
            if t < prev:
                raise TraceError(f"time {t!r} goes backwards from {prev!r} (sample {i})", name)
            if not math.isfinite(b) or b < 0:
                raise TraceError(
                    f"bandwidth {b!r} is not a finite non-negative number (sample {i})", name
                )
            prev = t
        if times[-1] <= 0:
            raise TraceError("the samples span no time", name)
        if not any(b > 0 and times[i] > times[i - 1] for i, b in enumerate(bws) if i > 0):
            raise TraceError(
                "bandwidth is zero over the whole trace: no download could finish", name
            )
        if self.latency_s is not None:
            for i, lat in enumerate(self.latency_s):
                if not math.isfinite(lat) or lat < 0:
                    raise TraceError(
                        f"latency {lat!r} is not a finite non-negative number (sample {i})", name
                    )

    @property
    def duration_s(self) -> float:
        """The period after which the trace wraps."""
        return self.times_s[-1]

    @property
    def mean_bps(self) -> float:
        """Time-weighted mean bandwidth over one period."""
        t, b = self.times_s, self.bandwidth_bps
        return sum(b[i] * (t[i] - t[i - 1]) for i in range(1, len(t))) / t[-1]

    @classmethod
    def from_mbps(cls, name: str, times_s: Sequence[float], mbps: Sequence[float]) -> Trace:
        """A trace from times and Mbps values (Pensieve's units)."""
        return cls(name, tuple(float(t) for t in times_s), tuple(float(m) * 1e6 for m in mbps))


def _number(text: str, what: str, source: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{what} {text!r} is not a number", source, line) from None
    if not math.isfinite(value):
        raise TraceError(f"{what} {text!r} is not finite", source, line)
    return value


def _checked(
    src: str, name: str, times: list[float], bws: list[float], lats: list[float] | None = None
) -> Trace:
    """Build the Trace; a whole-trace problem is reported against the file."""
    try:
        return Trace(name, tuple(times), tuple(bws), None if lats is None else tuple(lats))
    except TraceError as exc:
        raise TraceError(exc.detail, src) from None


def parse_pensieve_trace(text: str, name: str = "<trace>", source: str | None = None) -> Trace:
    """Parse ``time_s<TAB>Mbps`` lines (blank lines ignored; CRLF accepted)."""
    src = source or name
    times: list[float] = []
    bws: list[float] = []
    lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise TraceError(f"expected 'time_s<TAB>Mbps', got {raw.strip()!r}", src, lineno)
        t = _number(fields[0], "time", src, lineno)
        mbps = _number(fields[1], "bandwidth", src, lineno)
        if t < 0:
            raise TraceError(f"negative time {t!r}", src, lineno)
        if times and t < times[-1]:
            raise TraceError(f"time {t!r} goes backwards from {times[-1]!r}", src, lineno)
        if mbps < 0:
            raise TraceError(f"negative bandwidth {mbps!r} Mbps", src, lineno)
        times.append(t)
        bws.append(mbps * 1e6)
        lines.append(lineno)
    if not times:
        raise TraceError("empty trace: no samples", src)
    if len(times) < 2:
        raise TraceError("a trace needs at least 2 samples", src, lines[0])
    t0 = times[0]
    if t0 != 0.0:
        times = [t - t0 for t in times]
    if times[-1] <= 0:
        raise TraceError("all samples have the same time: the trace spans no time", src, lines[-1])
    return _checked(src, name, times, bws)


def parse_sabre_trace(data: object, name: str = "<trace>", source: str | None = None) -> Trace:
    """Build a trace from Sabre's parsed JSON (a list of period objects)."""
    src = source or name
    if not isinstance(data, list):
        raise TraceError(f"expected a JSON list of periods, got {type(data).__name__}", src)
    if not data:
        raise TraceError("empty trace: no periods", src)
    times = [0.0]
    bws: list[float] = []
    lats: list[float] = []
    for i, period in enumerate(data):
        where = f"period {i}"
        if not isinstance(period, dict):
            raise TraceError(f"{where}: expected an object, got {type(period).__name__}", src)
        values = []
        for key in ("duration_ms", "bandwidth_kbps", "latency_ms"):
            if key not in period:
                if key == "latency_ms":
                    values.append(0.0)
                    continue
                raise TraceError(f"{where}: missing {key!r}", src)
            v = period[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise TraceError(f"{where}: {key} {v!r} is not a finite number", src)
            if v < 0:
                raise TraceError(f"{where}: negative {key} {v!r}", src)
            values.append(float(v))
        dur_ms, kbps, lat_ms = values
        times.append(times[-1] + dur_ms / 1000.0)
        bws.append(kbps * 1000.0)
        lats.append(lat_ms / 1000.0)
    # sample i (i >= 1) carries period i-1; sample 0 is never used, copy period 0.
    bws.insert(0, bws[0])
    lats.insert(0, lats[0])
    return _checked(src, name, times, bws, lats)


def load_trace(path: str | Path) -> Trace:
    """Load one trace file: Sabre JSON (``.json`` or text starting with ``[``) or Pensieve text."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"cannot read: {exc}", str(p)) from None
    if p.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"invalid JSON: {exc.msg}", str(p), exc.lineno) from None
        return parse_sabre_trace(data, p.name, str(p))
    return parse_pensieve_trace(text, p.name, str(p))


def load_trace_dir(directory: str | Path) -> list[Trace]:
    """Load every trace file of ``directory`` in sorted name order.

    Skips ``SOURCE.md``/README/LICENSE, hidden files and sub-directories.
    """
    d = Path(directory)
    if not d.is_dir():
        raise TraceError("not a directory", str(d))
    files = sorted(
        f
        for f in d.iterdir()
        if f.is_file() and not f.name.startswith(".") and f.name not in _SKIP_NAMES
    )
    if not files:
        raise TraceError("no trace files in directory", str(d))
    return [load_trace(f) for f in files]
