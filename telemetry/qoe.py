"""The QoE accumulator shared by replay and real playback.

Feed it as a session runs (the playback engine does)::

    acc = QoeAccumulator(bitrates_bps, first_scored_chunk=1)
    acc.startup(seconds)                       # time to first frame (replay: first segment in)
    acc.chunk(rung, duration_s, rebuffer_s)    # each segment, in download order, with the
                                               # stall time that ended when it arrived
    acc.stall()                                # a stall started (after startup)
    acc.seek(played_s)                         # buffered-but-unplayed chunks are flushed
    summary = acc.summary(played_s, stalled_s) # frozen QoeSummary, .to_dict()

Scores (QOE.md), per chunk ``k`` from ``first_scored_chunk`` on, R in Mbps:

* QoE_lin: ``R_k - 4.3 * rebuf_k - |R_k - R_{k-1}|``
* QoE_log: ``log(R_k/R_min) - 2.66 * rebuf_k - |log(R_k/R_min) - log(R_{k-1}/R_min)|``
* QoE_hd: rungs mapped to 1, 2, 3, 12, 15, 20 (6-rung ladders only),
  ``q_k - 8 * rebuf_k - |q_k - q_{k-1}|``

``R_{k-1}`` of the first scored chunk is the chunk before it (none: no
smoothness term). Each :class:`QoeScore` keeps its components and per-chunk
values so that ``bitrate - rebuffer_penalty - smoothness_penalty == total``
and ``sum(per_chunk) == total`` (up to float rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "HD_REWARDS",
    "QoeAccumulator",
    "QoeScore",
    "QoeSummary",
    "failed_session_penalty",
    "score_chunks",
    "unplayed_seconds",
]

HD_REWARDS = (1.0, 2.0, 3.0, 12.0, 15.0, 20.0)
LIN_REBUFFER_PENALTY = 4.3
LOG_REBUFFER_PENALTY = 2.66
HD_REBUFFER_PENALTY = 8.0


@dataclass(frozen=True, slots=True)
class QoeScore:
    """One QoE variant: total and its three components, plus their per-chunk values
    (scored chunks only; ``per_chunk[i] = bitrate - rebuffer - smoothness`` of chunk
    ``first_scored_chunk + i``)."""

    name: str
    total: float
    bitrate: float
    rebuffer_penalty: float
    smoothness_penalty: float
    per_chunk: tuple[float, ...]
    per_chunk_bitrate: tuple[float, ...] = ()
    per_chunk_rebuffer: tuple[float, ...] = ()
    per_chunk_smoothness: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QoeSummary:
    """Everything a session reports. Times in seconds, bitrates in bits per second."""

    startup_delay_s: float
    rebuffer_count: int
    rebuffer_s: float
    rebuffer_ratio: float
    played_s: float
    average_bitrate_bps: float
    switches: int
    switch_magnitude_bps: float
    time_per_rung_s: tuple[float, ...]
    chunks: int
    first_scored_chunk: int
    qoe_lin: QoeScore
    qoe_log: QoeScore
    qoe_hd: QoeScore | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time_per_rung_s"] = list(self.time_per_rung_s)
        return d


def _score(
    name: str,
    values: Sequence[float],
    rebufs: Sequence[float],
    first: int,
    penalty: float,
) -> QoeScore:
    n = len(values)
    if first >= n:
        return QoeScore(name, 0.0, 0.0, 0.0, 0.0, (), (), (), ())
    v = values[first:]
    prev = values[first - 1 : n - 1] if first else [values[0], *values[: n - 1]]
    rb = [penalty * r for r in rebufs[first:]]
    sm = [abs(a - b) for a, b in zip(v, prev, strict=True)]
    per = tuple([a - r - m for a, r, m in zip(v, rb, sm, strict=True)])
    b, r, m = sum(v), sum(rb), sum(sm)
    return QoeScore(name, b - r - m, b, r, m, per, tuple(v), tuple(rb), tuple(sm))


def score_chunks(
    rungs: Sequence[int],
    rebuffers_s: Sequence[float],
    bitrates_bps: Sequence[float],
    first_scored_chunk: int = 0,
) -> tuple[QoeScore, QoeScore, QoeScore | None]:
    """QoE_lin, QoE_log and QoE_hd (None unless the ladder has 6 rungs) of a chunk sequence."""
    rungs = list(rungs)
    rebuffers_s = list(rebuffers_s)
    mbps = [b / 1e6 for b in bitrates_bps]
    logs = [math.log(m / mbps[0]) for m in mbps]
    first = first_scored_chunk
    lin = _score("qoe_lin", [mbps[q] for q in rungs], rebuffers_s, first, LIN_REBUFFER_PENALTY)
    log = _score("qoe_log", [logs[q] for q in rungs], rebuffers_s, first, LOG_REBUFFER_PENALTY)
    hd = None
    if len(bitrates_bps) == len(HD_REWARDS):
        hd_values = [HD_REWARDS[q] for q in rungs]
        hd = _score("qoe_hd", hd_values, rebuffers_s, first, HD_REBUFFER_PENALTY)
    return lin, log, hd


class QoeAccumulator:
    """Collects one session's playback facts; :meth:`summary` computes the metrics."""

    __slots__ = (
        "bitrates_bps",
        "first_scored_chunk",
        "rungs",
        "durations",
        "rebuffers",
        "startup_s",
        "stalls",
        "_cut",
        "chunk",
    )

    chunk: Callable[[int, float, float], None]

    def __init__(self, bitrates_bps: Sequence[float], first_scored_chunk: int = 0) -> None:
        if first_scored_chunk < 0:
            raise ValueError(f"first_scored_chunk must be >= 0, got {first_scored_chunk}")
        self.bitrates_bps = tuple(bitrates_bps)
        self.first_scored_chunk = first_scored_chunk
        self.rungs: list[int] = []
        self.durations: list[float] = []
        self.rebuffers: list[float] = []
        self.startup_s = 0.0
        self.stalls = 0
        self._cut: dict[int, float] = {}  # chunk -> seconds it can play (cut by a seek)
        self.chunk = self._chunk  # bound once: the engine calls it per segment

    def _chunk(self, rung: int, duration_s: float, rebuffer_s: float) -> None:
        """A segment entered the buffer (download order) after ``rebuffer_s`` of stall."""
        self.rungs.append(rung)
        self.durations.append(duration_s)
        self.rebuffers.append(rebuffer_s)

    def startup(self, seconds: float) -> None:
        self.startup_s = seconds

    def stall(self) -> None:
        """A stall (after startup) began."""
        self.stalls += 1

    def seek(self, played_s: float) -> None:
        """A seek flushed the buffer after ``played_s`` seconds of playback in total:
        the chunk being played is cut where the playhead was, later ones never play."""
        played = self._played_chunks(played_s)
        cut = self._cut
        for k, p in enumerate(played):
            if p < cut.get(k, self.durations[k]):
                cut[k] = p

    def _played_chunks(self, played_s: float) -> list[float]:
        """Seconds played of each chunk, given the total played time (chunks play in order)."""
        out = [0.0] * len(self.rungs)
        left = played_s
        cut = self._cut
        for k, d in enumerate(self.durations):
            if left <= 1e-9:
                break
            if cut:
                d = cut.get(k, d)
            take = d if d < left else left
            out[k] = take
            left -= take
        return out

    def summary(self, played_s: float, stalled_s: float) -> QoeSummary:
        """The metrics, given the session's total played and stalled seconds."""
        rates = self.bitrates_bps
        rungs = self.rungs
        dur = self.durations
        total_d = sum(dur)
        avg = (
            sum(rates[q] * d for q, d in zip(rungs, dur, strict=True)) / total_d if total_d else 0.0
        )
        switches = 0
        magnitude = 0.0
        for a, b in zip(rungs, rungs[1:], strict=False):
            if a != b:
                switches += 1
                magnitude += abs(rates[b] - rates[a])
        per_rung = [0.0] * len(rates)
        played = self._played_chunks(played_s)
        for q, p in zip(rungs, played, strict=True):
            per_rung[q] += p
        lin, log, hd = score_chunks(rungs, self.rebuffers, rates, self.first_scored_chunk)
        denom = stalled_s + played_s
        return QoeSummary(
            startup_delay_s=self.startup_s,
            rebuffer_count=self.stalls,
            rebuffer_s=stalled_s,
            rebuffer_ratio=stalled_s / denom if denom > 0 else 0.0,
            played_s=played_s,
            average_bitrate_bps=avg,
            switches=switches,
            switch_magnitude_bps=magnitude,
            time_per_rung_s=tuple(per_rung),
            chunks=len(rungs),
            first_scored_chunk=self.first_scored_chunk,
            qoe_lin=lin,
            qoe_log=log,
            qoe_hd=hd,
        )


def unplayed_seconds(result: Any, video: Any, segments: int | None = None) -> float:
    """Seconds of video a *failed* session never played (0.0 when it ended normally).

    ``result``: a ``SessionResult`` (``state``, ``segments``); ``video``: its
    ``Video``; ``segments``: the preset's segment limit (None: the whole video).
    The remainder is every segment after the last one downloaded.
    """
    if result.state == "ended":
        return 0.0
    n = video.segment_count if segments is None else min(segments, video.segment_count)
    durs = video.segment_durations_s or (video.segment_duration_s,) * video.segment_count
    return math.fsum(durs[len(result.segments) : n])


def failed_session_penalty(
    unplayed: float, rebuffer_penalty: float = LIN_REBUFFER_PENALTY
) -> float:
    """QoE_lin charge for a failed session's unplayed remainder: that much rebuffering.

    A session that fails (the realistic preset's stall limit) stops being
    scored; without a charge, giving up early would score better than
    finishing the video through long stalls. The viewer who never sees the
    rest of the video is treated as having waited through it stalled:
    ``rebuffer_penalty`` (QoE_lin's 4.3 per second) times ``unplayed`` seconds,
    subtracted from QoE_lin in the session rows (``benchmarks/sessions.py``).
    """
    if not (math.isfinite(unplayed) and unplayed >= 0):
        raise ValueError(f"unplayed seconds must be a finite number >= 0, got {unplayed!r}")
    return rebuffer_penalty * unplayed
