"""The exact chunk-level network and buffer model used to score offline schedules.

This is the model of Pensieve's ``fixed_env.py`` (SIGCOMM 2017), in seconds and
bits per second, generalised by :class:`OptimalConfig`:

* A trace is ``times_s[i]`` / ``bandwidth_bps[i]``; the bandwidth on line ``i``
  holds over ``(times_s[i-1], times_s[i]]``. The session starts with a pointer at
  line 1 and ``last_time = times_s[0]``. When the pointer passes the last line it
  wraps to line 1 with ``last_time = 0``.
* Downloading ``S`` bytes consumes ``bandwidth/8 * payload_factor`` bytes per
  second over each interval from ``last_time`` on (fractional at the end). The
  chunk's delay is that transfer time plus ``latency_s``. With
  ``latency_advances_trace`` False (Pensieve) the latency does not move the trace
  position; with True it elapses on the trace *before* the transfer starts
  (request, then first byte).
* Buffer per chunk: ``rebuffer = max(delay - buffer, 0)``;
  ``buffer = max(buffer - delay, 0) + segment_duration``; above ``buffer_cap_s``
  the player sleeps ``ceil((buffer - cap) / sleep_step) * sleep_step`` seconds,
  the buffer drops by that much and the trace position advances by it.
* Score (QoE_lin by default) over chunks ``k >= first_scored_chunk``:
  ``q[R_k] - rebuffer_penalty * rebuffer_k - switch_penalty * |q[R_k] - q[R_{k-1}]|``
  with ``q`` the rung's bitrate in Mbps (or ``config.quality``). Chunk 0 has no
  predecessor and hence no switch term.

Pure: no I/O, no clock. :func:`simulate_schedule` is a straight loop (the
reference); :class:`CumulativeCurve` is the vectorised equivalent the dynamic
program uses to explore, whose results are always re-scored by the loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import AbrError

FloatSeq = Sequence[float] | np.ndarray
SizeTable = Sequence[Sequence[float]] | np.ndarray


class OptimalError(AbrError, ValueError):
    """The trace, ladder, sizes or configuration given to the optimum are invalid."""


@dataclass(frozen=True, slots=True)
class OptimalConfig:
    """Network model, player model, score and solver settings of the offline optimum.

    The defaults are the Pensieve setup (see ``docs/QOE.md``): 0.95 payload
    factor, 80 ms per chunk that does not advance the trace, 60 s buffer cap
    drained in 0.5 s sleeps, chunk 0 fixed at rung 1 and unscored, QoE_lin.
    """

    segment_duration_s: float = 4.0
    payload_factor: float = 0.95  # share of the trace bandwidth carrying payload
    latency_s: float = 0.08  # added once per chunk to its delay
    latency_advances_trace: bool = False  # Pensieve: the 80 ms does not move the trace
    buffer_cap_s: float = 60.0
    sleep_step_s: float = 0.5
    first_rung: int | None = 1  # rung of chunk 0, or None to optimise it too
    first_scored_chunk: int = 1
    rebuffer_penalty: float = 4.3  # score per second of rebuffering
    switch_penalty: float = 1.0  # score per unit of |q_k - q_{k-1}|
    quality: tuple[float, ...] | None = None  # per-rung utility; None = bitrate in Mbps
    # solver
    grid_s: float = 0.2  # cell size of trace position and buffer in the DP
    per_cell: int = 1  # states kept per (rung, position, buffer) cell
    cross_cell: bool = True  # also prune states dominated from earlier position cells
    max_states: int = 200_000  # beam guard: keep at most this many best-scored states per chunk
    refine_grids_s: tuple[float, ...] = (0.1,)  # further DP passes (best exact result wins)
    polish: bool = True  # local search on the DP's schedule, re-simulated exactly

    def __post_init__(self) -> None:
        checks = {
            "segment_duration_s": self.segment_duration_s > 0,
            "payload_factor": self.payload_factor > 0,
            "latency_s": self.latency_s >= 0,
            "buffer_cap_s": self.buffer_cap_s > 0,
            "sleep_step_s": self.sleep_step_s > 0,
            "first_scored_chunk": self.first_scored_chunk >= 0,
            "rebuffer_penalty": self.rebuffer_penalty >= 0,
            "switch_penalty": self.switch_penalty >= 0,
            "grid_s": self.grid_s > 0,
            "per_cell": self.per_cell >= 1,
            "max_states": self.max_states >= 1,
            "refine_grids_s": all(g > 0 for g in self.refine_grids_s),
        }
        for name, ok in checks.items():
            if not ok:
                raise OptimalError(f"OptimalConfig.{name} is out of range: {getattr(self, name)!r}")

    def utilities(self, bitrates_bps: FloatSeq) -> np.ndarray:
        if self.quality is not None:
            if len(self.quality) != len(bitrates_bps):
                raise OptimalError("OptimalConfig.quality needs one value per rung")
            return np.asarray(self.quality, dtype=np.float64)
        return np.asarray(bitrates_bps, dtype=np.float64) / 1e6


PENSIEVE = OptimalConfig()


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """What happened to one chunk of a simulated schedule."""

    rung: int
    delay_s: float  # transfer + latency
    rebuffer_s: float
    buffer_s: float  # after the chunk is added and any sleep
    sleep_s: float
    quality: float  # q[R_k]
    switch: float  # |q[R_k] - q[R_{k-1}]| (0 for chunk 0)
    reward: float  # the chunk's score term (0 when unscored)
    scored: bool


@dataclass(frozen=True, slots=True)
class SimulationResult:
    score: float
    chunks: tuple[ChunkOutcome, ...] = field(default=())

    @property
    def rebuffer_s(self) -> float:
        return sum(c.rebuffer_s for c in self.chunks if c.scored)


def validate_inputs(
    times_s: FloatSeq,
    bandwidth_bps: FloatSeq,
    sizes: SizeTable,
    bitrates_bps: FloatSeq,
    config: OptimalConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(times_s, dtype=np.float64)
    bw = np.asarray(bandwidth_bps, dtype=np.float64)
    if t.ndim != 1 or t.shape != bw.shape or len(t) < 2:
        raise OptimalError("a trace needs at least two (time, bandwidth) lines of equal length")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(bw))):
        raise OptimalError("trace times and bandwidths must be finite")
    if np.any(np.diff(t) < 0) or t[0] < 0:
        raise OptimalError("trace times must be non-negative and non-decreasing")
    if np.any(bw < 0):
        raise OptimalError("trace bandwidths must be non-negative")
    # bytes per wrapped pass (intervals 1..n-1 from 0): must be > 0 or downloads never end
    lengths = np.diff(np.concatenate(([0.0], t[1:])))
    if not np.any((bw[1:] > 0) & (lengths > 0)):
        raise OptimalError("the trace carries no bytes after it wraps; downloads would never end")
    rates = np.asarray(bitrates_bps, dtype=np.float64)
    if rates.ndim != 1 or len(rates) == 0:
        raise OptimalError("bitrates_bps must list at least one rung")
    sz = np.asarray(sizes, dtype=np.float64)
    if sz.ndim != 2 or sz.shape[1] != len(rates) or sz.shape[0] == 0:
        raise OptimalError("sizes must be sizes[segment][rung] with one column per rung")
    if np.any(sz <= 0) or not np.all(np.isfinite(sz)):
        raise OptimalError("segment sizes must be positive")
    if config.first_rung is not None and not 0 <= config.first_rung < len(rates):
        raise OptimalError(f"first_rung {config.first_rung} is not a rung of the ladder")
    return t, bw, sz, rates


class _TraceCursor:
    """Pensieve's (pointer, last_time) walk over a wrapping trace: the reference semantics."""

    __slots__ = ("t", "bw", "n", "ptr", "last", "pf")

    def __init__(self, t: FloatSeq, bw: FloatSeq, payload_factor: float) -> None:
        self.t = list(map(float, t))
        self.bw = list(map(float, bw))
        self.n = len(self.t)
        self.ptr = 1
        self.last = self.t[0]
        self.pf = payload_factor

    def _advance_pointer(self) -> None:
        self.last = self.t[self.ptr]
        self.ptr += 1
        if self.ptr >= self.n:
            self.ptr = 1
            self.last = 0.0

    def transfer(self, nbytes: float) -> float:
        """Move the cursor over the time ``nbytes`` take; return that time in seconds."""
        t, bw, pf = self.t, self.bw, self.pf
        sent = 0.0
        elapsed = 0.0
        while True:
            throughput = bw[self.ptr] / 8.0
            duration = t[self.ptr] - self.last
            payload = throughput * duration * pf
            if sent + payload > nbytes:
                fractional = (nbytes - sent) / throughput / pf
                elapsed += fractional
                self.last += fractional
                return elapsed
            sent += payload
            elapsed += duration
            self._advance_pointer()

    def wait(self, seconds: float) -> None:
        """Move the cursor ``seconds`` forward without transferring."""
        t = self.t
        remaining = seconds
        while True:
            duration = t[self.ptr] - self.last
            if duration > remaining:
                self.last += remaining
                return
            remaining -= duration
            self._advance_pointer()


def _check_rungs(
    rungs: Sequence[int], n_segments: int, n_rungs: int, config: OptimalConfig
) -> None:
    if len(rungs) != n_segments:
        raise OptimalError(f"a schedule needs {n_segments} rungs, got {len(rungs)}")
    if any(not 0 <= int(r) < n_rungs for r in rungs):
        raise OptimalError("schedule contains a rung outside the ladder")
    if config.first_rung is not None and int(rungs[0]) != config.first_rung:
        raise OptimalError(f"chunk 0 must be at first_rung {config.first_rung}")


def simulate_schedule(
    times_s: FloatSeq,
    bandwidth_bps: FloatSeq,
    sizes: SizeTable,
    bitrates_bps: FloatSeq,
    rungs: Sequence[int],
    config: OptimalConfig = PENSIEVE,
) -> SimulationResult:
    """Play ``rungs`` (one per segment) through the exact model and score it.

    This is the reference every optimum is reported with: a straight loop over
    the trace lines in the order Pensieve's ``fixed_env.py`` walks them.
    """
    t, bw, sz, rates = validate_inputs(times_s, bandwidth_bps, sizes, bitrates_bps, config)
    _check_rungs(rungs, len(sz), len(rates), config)
    q = config.utilities(rates).tolist()
    cursor = _TraceCursor(t, bw, config.payload_factor)
    cap, step, dur, lat = (
        config.buffer_cap_s,
        config.sleep_step_s,
        config.segment_duration_s,
        config.latency_s,
    )
    buffer = 0.0
    prev: int | None = None
    score = 0.0
    out: list[ChunkOutcome] = []
    for k, r in enumerate(int(x) for x in rungs):
        if config.latency_advances_trace and lat > 0:
            cursor.wait(lat)
        delay = cursor.transfer(float(sz[k, r])) + lat
        rebuffer = max(delay - buffer, 0.0)
        buffer = max(buffer - delay, 0.0) + dur
        sleep = 0.0
        if buffer > cap:
            sleep = math.ceil((buffer - cap) / step) * step
            buffer -= sleep
            cursor.wait(sleep)
        switch = 0.0 if prev is None else abs(q[r] - q[prev])
        scored = k >= config.first_scored_chunk
        reward = 0.0
        if scored:
            reward = q[r] - config.rebuffer_penalty * rebuffer - config.switch_penalty * switch
            score += reward
        out.append(ChunkOutcome(r, delay, rebuffer, buffer, sleep, q[r], switch, reward, scored))
        prev = r
    return SimulationResult(score, tuple(out))


class CumulativeCurve:
    """Cumulative payload bytes against unwrapped session time, for vectorised downloads.

    ``u`` is seconds since the session started (u = 0 is ``times_s[0]``); pass 0
    covers ``(times_s[0], times_s[-1]]``, every later pass ``(0, times_s[-1]]``.
    The curve is extended with further passes on demand.
    """

    def __init__(self, t: np.ndarray, bw: np.ndarray, payload_factor: float) -> None:
        rate = bw[1:] / 8.0 * payload_factor
        first_len = np.diff(t)
        wrap_len = np.diff(np.concatenate(([0.0], t[1:])))
        self._first = (first_len, rate)
        self._wrap = (wrap_len, rate)
        self.B = np.concatenate(([0.0], np.cumsum(first_len)))
        self.C = np.concatenate(([0.0], np.cumsum(first_len * rate)))
        self.R = np.concatenate(([0.0], rate))  # R[j] = rate over (B[j-1], B[j]]

    def _extend(self) -> None:
        lengths, rate = self._wrap
        passes = max(1, len(self.B) // max(len(lengths), 1))  # double the curve
        lengths = np.tile(lengths, passes)
        rate = np.tile(rate, passes)
        self.B = np.concatenate((self.B, self.B[-1] + np.cumsum(lengths)))
        self.C = np.concatenate((self.C, self.C[-1] + np.cumsum(lengths * rate)))
        self.R = np.concatenate((self.R, rate))

    def bytes_at(self, u: np.ndarray) -> np.ndarray:
        while u.size and u.max() >= self.B[-1]:
            self._extend()
        return np.interp(u, self.B, self.C)

    def time_at(self, target: np.ndarray) -> np.ndarray:
        """Where cumulative bytes reach ``target``: the end of any flat stretch at that level.

        This matches the reference loop, which only stops inside an interval
        whose payload strictly exceeds what is left to send.
        """
        while target.size and target.max() >= self.C[-1]:
            self._extend()
        j = np.searchsorted(self.C, target, side="right")
        return self.B[j - 1] + (target - self.C[j - 1]) / self.R[j]
