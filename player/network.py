"""The replay network model: a :class:`~player.traces.Trace` turned into download times.

This is the one network model of abrkit's replay; the offline optimum
(``abr.optimal``) must simulate exactly this. It is Pensieve's simulator
made explicit and stateless:

* A *position* ``pos`` is a point of the trace's period ``[0, T)``,
  ``T = times_s[-1]``. Pensieve's ``(mahimahi_ptr, last_mahimahi_time)`` is
  the same thing: the pointer is the sample whose interval contains ``pos``.
  The trace wraps: position ``T`` is position ``0`` (Pensieve: pointer 1,
  last time 0).
* Bytes flow at ``bandwidth_bps[i] / 8 * payload_factor`` bytes/s over
  ``(times_s[i-1], times_s[i]]``; sample 0's bandwidth is never used.
* A request for ``N`` bytes at ``pos``: first a latency ``L``
  (``NetworkConfig.latency_s``, or the trace's per-sample latency at ``pos``
  when the trace has one and ``use_trace_latency``). If ``latency_advances_trace``
  the position moves by
  ``L`` with no bytes flowing; if not (Pensieve), the position stays. Then
  bytes flow from the position until ``N`` are delivered (an exact fit ends
  after any following zero-bandwidth samples, as in Pensieve's loop).
  The request's delay is ``L + transfer``, the new position where the bytes
  ended.
* Idle time (the player sleeping with a full buffer) moves the position by
  the time slept: ``advance(pos, s) = (pos + s) mod T``.

Public functions (all positions/seconds are floats, bytes may be int/float)::

    link = Link.for_trace(trace, config)           # cached precomputation, O(n) once
    link.request(pos, nbytes) -> (delay_s, end_pos) # latency + transfer
    link.transfer(pos, nbytes) -> (seconds, end_pos)# bytes only, no latency
    link.delivered(pos, seconds) -> bytes           # bytes that flow in ``seconds`` from ``pos``
    link.bytes_at(pos), link.bytes_until(x)         # cumulative bytes from 0 (x unwrapped)
    link.advance(pos, seconds) -> pos               # idle/sleep
    link.latency_at(pos) -> seconds
    link.transfer_many(pos_array, bytes_array) -> (seconds_array, end_pos_array)  # numpy

Floating-point results equal Pensieve's incremental loop up to rounding
(relative 1e-12), not bit for bit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .traces import Trace

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NetworkConfig", "Link", "PENSIEVE_NETWORK", "REALISTIC_NETWORK"]


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """How a trace becomes download times.

    ``payload_factor``: fraction of the trace bandwidth carrying payload (Pensieve 0.95).
    ``latency_s``: per-request latency in seconds.
    ``use_trace_latency``: when the trace carries per-sample latency (Sabre
    JSON), use the latency of the sample at the request's position instead.
    ``latency_advances_trace``: whether the latency moves the trace position
    (realistic: yes; Pensieve: no, the 80 ms is added to the delay only).
    """

    payload_factor: float = 0.95
    latency_s: float = 0.08
    latency_advances_trace: bool = True
    use_trace_latency: bool = True

    def __post_init__(self) -> None:
        if not (0 < self.payload_factor <= 1.0):
            raise ValueError(f"payload_factor must be in (0, 1], got {self.payload_factor!r}")
        if not (math.isfinite(self.latency_s) and self.latency_s >= 0):
            raise ValueError(f"latency_s must be a finite number >= 0, got {self.latency_s!r}")


PENSIEVE_NETWORK = NetworkConfig(0.95, 0.08, latency_advances_trace=False, use_trace_latency=False)
"""Pensieve's simulator: 0.95 payload, 80 ms per chunk that does not move the trace."""
REALISTIC_NETWORK = NetworkConfig(0.95, 0.08, latency_advances_trace=True, use_trace_latency=True)
"""The default: the latency (the trace's own when it has one) takes trace time."""

_CACHE: OrderedDict[tuple[int, NetworkConfig], tuple[Trace, Link]] = OrderedDict()
_CACHE_SIZE = 2048


class Link:
    """A trace under a :class:`NetworkConfig`, precomputed for O(log n) queries."""

    __slots__ = (
        "trace",
        "config",
        "times",
        "rate",
        "cum",
        "period_s",
        "period_bytes",
        "_lat",
        "_fixed_lat",
    )

    def __init__(self, trace: Trace, config: NetworkConfig) -> None:
        self.trace = trace
        self.config = config
        times = list(trace.times_s)
        factor = config.payload_factor / 8.0
        rate = [b * factor for b in trace.bandwidth_bps]
        cum = [0.0] * len(times)
        acc = 0.0
        for i in range(1, len(times)):
            acc += rate[i] * (times[i] - times[i - 1])
            cum[i] = acc
        self.times = times
        self.rate = rate
        self.cum = cum
        self.period_s = times[-1]
        self.period_bytes = acc
        if config.use_trace_latency and trace.latency_s is not None:
            self._fixed_lat: float | None = None
            self._lat: list[float] | None = list(trace.latency_s)
        else:
            self._fixed_lat = config.latency_s
            self._lat = None

    @classmethod
    def for_trace(cls, trace: Trace, config: NetworkConfig) -> Link:
        """The link for ``trace`` under ``config``, from a small LRU cache."""
        key = (id(trace), config)
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is trace:
            _CACHE.move_to_end(key)
            return hit[1]
        link = cls(trace, config)
        _CACHE[key] = (trace, link)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return link

    # ----- queries -------------------------------------------------------
    def bytes_at(self, pos: float) -> float:
        """Bytes delivered from position 0 to ``pos`` (``0 <= pos <= T``)."""
        times = self.times
        i = bisect_right(times, pos)
        if i >= len(times):
            return self.period_bytes
        return self.cum[i - 1] + self.rate[i] * (pos - times[i - 1])

    def _pos_of(self, b: float) -> float:
        """First position after which the cumulative bytes exceed ``b`` (0 <= b < period_bytes)."""
        cum = self.cum
        i = bisect_right(cum, b)
        if i >= len(cum):  # rounding at the very end of the period
            return 0.0
        pos = self.times[i - 1] + (b - cum[i - 1]) / self.rate[i]
        return pos if pos < self.period_s else 0.0

    def transfer(self, pos: float, nbytes: float) -> tuple[float, float]:
        """Seconds to deliver ``nbytes`` starting at ``pos`` (no latency), and the end position."""
        times, cum, rate = self.times, self.cum, self.rate
        i = bisect_right(times, pos)  # inline bytes_at/_pos_of: this is the replay hot path
        if i < len(times):
            target = cum[i - 1] + rate[i] * (pos - times[i - 1]) + nbytes
        else:
            target = self.period_bytes + nbytes
        total = self.period_bytes
        if target < total:
            j = bisect_right(cum, target)
            if j < len(cum):
                end = times[j - 1] + (target - cum[j - 1]) / rate[j]
                if end < self.period_s:
                    return end - pos, end
            return self.period_s - pos, 0.0
        periods = math.floor(target / total)
        rem = target - periods * total
        if rem < 0:  # rounding
            periods -= 1
            rem += total
        elif rem >= total:
            periods += 1
            rem -= total
        end = self._pos_of(rem)
        return periods * self.period_s + end - pos, end

    def latency_at(self, pos: float) -> float:
        """The request latency at position ``pos``."""
        if self._fixed_lat is not None:
            return self._fixed_lat
        lat = self._lat
        assert lat is not None
        i = bisect_right(self.times, pos)
        return lat[i if i < len(lat) else -1]

    def request(self, pos: float, nbytes: float) -> tuple[float, float]:
        """A whole request at ``pos``: ``(delay_s, end_pos)``, delay = latency + transfer."""
        lat = self.latency_at(pos)
        if lat and self.config.latency_advances_trace:
            pos = self.advance(pos, lat)
        seconds, end = self.transfer(pos, nbytes)
        return lat + seconds, end

    def advance(self, pos: float, seconds: float) -> float:
        """The position after ``seconds`` of idle time (wrapping)."""
        p = pos + seconds
        if p < self.period_s:
            return p
        p = math.fmod(p, self.period_s)
        return p if p < self.period_s else 0.0

    def delivered(self, pos: float, seconds: float) -> float:
        """Bytes delivered during ``seconds`` of transfer starting at ``pos`` (wrapping)."""
        return self.bytes_until(pos + seconds) - self.bytes_at(pos)

    def bytes_until(self, x: float) -> float:
        """Bytes delivered from position 0 to the unwrapped position ``x >= 0`` (whole
        periods included)."""
        period = self.period_s
        if x < period:
            return self.bytes_at(x)
        periods = math.floor(x / period)
        rem = x - periods * period
        if rem >= period:
            periods += 1
            rem -= period
        elif rem < 0:
            periods -= 1
            rem += period
        return periods * self.period_bytes + self.bytes_at(rem)

    # ----- vectorised ----------------------------------------------------
    def transfer_many(self, pos: np.ndarray, nbytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`transfer` over arrays of positions and sizes (broadcasting)."""
        import numpy as np

        times = np.asarray(self.times)
        rate = np.asarray(self.rate)
        cum = np.asarray(self.cum)
        pos = np.asarray(pos, dtype=float)
        nbytes = np.asarray(nbytes, dtype=float)
        n = len(times)
        i = np.clip(np.searchsorted(times, pos, side="right"), 1, n - 1)
        start_b = cum[i - 1] + rate[i] * (pos - times[i - 1])
        target = start_b + nbytes
        periods = np.floor(target / self.period_bytes)
        rem = target - periods * self.period_bytes
        low = rem < 0
        periods = np.where(low, periods - 1, periods)
        rem = np.where(low, rem + self.period_bytes, rem)
        j = np.searchsorted(cum, rem, side="right")
        over = j >= n
        j = np.clip(j, 1, n - 1)
        rate_j = rate[j]
        safe = np.where(rate_j > 0, rate_j, 1.0)
        end = np.where(over, 0.0, times[j - 1] + (rem - cum[j - 1]) / safe)
        end = np.where(end >= self.period_s, 0.0, end)
        return periods * self.period_s + end - pos, end
