"""Engine vocabulary: states, events in, actions out, the one transition table, and the
engine's config and result records.

Everything the playback engine (:class:`player.session.Session`) can be told
is an *event*; everything it asks for is an *action*. Times (``t``) are
seconds on the driver's clock (virtual in replay, wall-clock in real time);
the engine never reads a clock.

Transition table: :data:`TRANSITIONS` maps ``(state, event type)`` to the set
of states the engine may be in after handling it. A pair that is missing is
an illegal event for that state (:class:`~player.errors.IllegalEventError`).
Some transitions happen *inside* an event because time passed: the buffer
ran dry (playing -> rebuffering or ended), a stall or a startup lasted longer
than the stall limit (-> failed), enough media arrived (startup, seeking,
rebuffering -> playing).

    idle ── Start ──> startup ── buffer >= startup threshold ──> playing
    playing ── buffer empty ──> rebuffering ── segment in ──> playing
    playing ── buffer empty after the last segment ──> ended
    startup/playing/rebuffering/seeking ── Seek ──> seeking ── segment in ──> playing
    startup/playing/rebuffering/seeking ── Pause ──> paused ── Resume ──> (back)
    startup/rebuffering/seeking ── stall limit ──> failed;  any live state ── Stop ──> ended
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from manifest.model import ByteRange
    from telemetry.qoe import QoeSummary

__all__ = [
    "Abandon",
    "Action",
    "EngineConfig",
    "SegmentRecord",
    "SessionResult",
    "fast_constructor",
    "DownloadComplete",
    "DownloadFailed",
    "DownloadProgress",
    "End",
    "Event",
    "Fail",
    "FetchSegment",
    "Pause",
    "Play",
    "Resume",
    "Seek",
    "Stall",
    "StallEnded",
    "StallStarted",
    "Start",
    "State",
    "Stop",
    "Tick",
    "TRANSITIONS",
    "Wait",
]


class State(StrEnum):
    IDLE = "idle"
    STARTUP = "startup"
    PLAYING = "playing"
    REBUFFERING = "rebuffering"
    PAUSED = "paused"
    SEEKING = "seeking"
    ENDED = "ended"
    FAILED = "failed"


# ----- events (driver -> engine) -------------------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    """The user pressed play. ``position_s``: where to start (resume position)."""

    t: float
    position_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """The in-flight download has ``bytes_done`` bytes so far."""

    t: float
    bytes_done: int


@dataclass(frozen=True, slots=True)
class DownloadComplete:
    """The in-flight download finished with ``bytes`` bytes (None: the requested size)."""

    t: float
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class DownloadFailed:
    """The in-flight download failed for good (after the transport's own retries)."""

    t: float
    reason: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (the playhead advances, the buffer drains, stalls are detected)."""

    t: float


@dataclass(frozen=True, slots=True)
class Seek:
    t: float
    position_s: float


@dataclass(frozen=True, slots=True)
class Pause:
    t: float


@dataclass(frozen=True, slots=True)
class Resume:
    t: float


@dataclass(frozen=True, slots=True)
class Stop:
    t: float


Event = (
    Start
    | DownloadProgress
    | DownloadComplete
    | DownloadFailed
    | Tick
    | Seek
    | Pause
    | Resume
    | Stop
)


# ----- actions (engine -> driver) ------------------------------------------
@dataclass(frozen=True, slots=True)
class FetchSegment:
    """Download ``segment_index`` at ``rung``. ``size_bytes`` when known; URL and range
    when the video came from a manifest."""

    segment_index: int
    rung: int
    size_bytes: int | None
    url: str | None = None
    byte_range: ByteRange | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to fetch before ``until_s``; send a Tick then. ``reason``: "buffer-full",
    "policy" (the policy asked to wait) or "end-of-stream" (the buffer plays out)."""

    until_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Abandon:
    """Cancel the in-flight download of ``segment_index`` at ``rung``."""

    segment_index: int
    rung: int
    reason: str


@dataclass(frozen=True, slots=True)
class StallStarted:
    t: float


@dataclass(frozen=True, slots=True)
class StallEnded:
    t: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Play:
    """Playback (re)starts: after startup, a seek, or a resume."""

    t: float


@dataclass(frozen=True, slots=True)
class End:
    t: float


@dataclass(frozen=True, slots=True)
class Fail:
    t: float
    reason: str


Stall = StallStarted | StallEnded
Action = FetchSegment | Wait | Abandon | StallStarted | StallEnded | Play | End | Fail

# ----- the transition table --------------------------------------------------
S = State
_LIVE = (S.STARTUP, S.PLAYING, S.REBUFFERING, S.SEEKING)
# What passing time can do in each state (part of every event's outcome).
_TIME = {
    S.STARTUP: {S.STARTUP, S.FAILED},
    S.PLAYING: {S.PLAYING, S.REBUFFERING, S.ENDED},
    S.REBUFFERING: {S.REBUFFERING, S.FAILED},
    S.SEEKING: {S.SEEKING, S.FAILED},
    S.PAUSED: {S.PAUSED},
}


def _build() -> dict[tuple[State, type], frozenset[State]]:
    t: dict[tuple[State, type], set[State]] = {
        (S.IDLE, Start): {S.STARTUP, S.ENDED},
        (S.IDLE, Tick): {S.IDLE},
        (S.IDLE, Stop): {S.ENDED},
        (S.ENDED, Tick): {S.ENDED},
        (S.ENDED, Stop): {S.ENDED},
        (S.FAILED, Tick): {S.FAILED},
        (S.FAILED, Stop): {S.FAILED},
    }
    arrive = {S.PLAYING, S.FAILED}  # a segment arriving may start playback; failures may fail
    for st in (*_LIVE, S.PAUSED):
        time = _TIME[st]
        t[(st, Tick)] = set(time)
        t[(st, DownloadProgress)] = set(time)
        t[(st, DownloadComplete)] = time | (arrive if st is not S.PAUSED else {S.FAILED})
        t[(st, DownloadFailed)] = time | {S.FAILED}
        t[(st, Seek)] = time | {S.SEEKING, S.ENDED}
        t[(st, Stop)] = time | {S.ENDED}
    for st in _LIVE:
        t[(st, Pause)] = _TIME[st] | {S.PAUSED}
    t[(S.PAUSED, Resume)] = {S.STARTUP, S.PLAYING, S.REBUFFERING, S.SEEKING, S.ENDED}
    return {k: frozenset(v) for k, v in t.items()}


TRANSITIONS: dict[tuple[State, type], frozenset[State]] = _build()
"""``(state, event type) -> states possible after the event``; missing pairs are illegal."""


# ----- configuration and results ------------------------------------------
@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine knobs. Seconds everywhere.

    ``startup_threshold_s``: buffer needed to start (and to resume after a
    seek); 0 = as soon as the first segment is in. ``rebuffer_resume_s``:
    buffer needed to leave a stall; 0 = the next segment. ``buffer_max_s``:
    no request while the buffer is above it. ``drain_step_s``: waits for the
    buffer are whole multiples of it (0 = exactly down to the cap).
    ``start_rung``: the first segment's rung without asking the policy (None =
    ask). ``stall_limit_s``: a stall, startup or seek wait this long fails
    the session. ``max_samples``: throughput samples handed to the policy.
    ``max_download_retries``: DownloadFailed events tolerated per segment.
    ``first_scored_chunk``: first chunk counted in QoE scores.
    """

    startup_threshold_s: float = 0.0
    rebuffer_resume_s: float = 0.0
    buffer_max_s: float = 60.0
    drain_step_s: float = 0.5
    start_rung: int | None = None
    stall_limit_s: float = 60.0
    max_samples: int = 20
    max_download_retries: int = 3
    max_rung: int | None = None
    first_scored_chunk: int = 0

    def __post_init__(self) -> None:
        for name in ("startup_threshold_s", "rebuffer_resume_s", "drain_step_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"EngineConfig.{name} must be a finite number >= 0, got {v!r}")
        for name in ("buffer_max_s", "stall_limit_s"):
            v = getattr(self, name)
            if not v > 0:
                raise ValueError(f"EngineConfig.{name} must be > 0, got {v!r}")
        if self.max_samples < 1 or self.max_download_retries < 0 or self.first_scored_chunk < 0:
            raise ValueError(
                "EngineConfig: max_samples >= 1, retries >= 0, first_scored_chunk >= 0"
            )
        for name in ("startup_threshold_s", "rebuffer_resume_s"):
            if getattr(self, name) > self.buffer_max_s:
                raise ValueError(
                    f"EngineConfig.{name} ({getattr(self, name)!r} s) is above buffer_max_s"
                    f" ({self.buffer_max_s!r} s): playback could never start"
                )


class SegmentRecord(NamedTuple):
    """One downloaded segment, for telemetry and analysis (a named tuple: cheap to build)."""

    segment_index: int
    rung: int
    bitrate_bps: float
    bytes: int
    download_start_s: float
    download_end_s: float
    buffer_before_s: float  # at request time
    buffer_after_s: float  # after the segment was added
    rebuffer_s: float  # stall ended by this segment's arrival
    rule: str
    reason: str
    throughput_bps: float

    @property
    def download_s(self) -> float:
        return self.download_end_s - self.download_start_s


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What a session produced: its end state, records, QoE and time accounting."""

    state: str
    failure: str | None
    segments: tuple[SegmentRecord, ...]
    qoe: QoeSummary
    start_s: float
    end_s: float
    played_s: float
    stalled_s: float
    startup_s: float
    seeking_s: float
    paused_s: float
    abandoned: tuple[tuple[float, int, int, str, str], ...] = field(
        default=()
    )  # t, seg, rung, rule, reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failure": self.failure,
            "qoe": self.qoe.to_dict(),
            "segments": [r._asdict() for r in self.segments],
            "start_s": self.start_s,
            "end_s": self.end_s,
            "abandoned": [list(a) for a in self.abandoned],
        }


def fast_constructor(cls: type) -> Any:
    """A positional constructor for a frozen slots dataclass without ``__post_init__``.

    Frozen dataclasses set each field through ``object.__setattr__``, which
    costs about twice as much as writing the slots directly; the engine builds
    a context, a sample and an action per segment, so it uses these. The
    result is an ordinary, equal instance of ``cls``.
    """
    names = [f.name for f in fields(cls)]
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, n in enumerate(names):
        ns[f"_s{i}"] = getattr(cls, n).__set__
    args = ", ".join(f"a{i}" for i in range(len(names)))
    body = "".join(f"    _s{i}(o, a{i})\n" for i in range(len(names)))
    exec(f"def make({args}):\n    o = _new(_cls)\n{body}    return o\n", ns)  # noqa: S102
    return ns["make"]
