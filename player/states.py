"""Engine vocabulary: states, events in, actions out, and the one transition table.

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

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manifest.model import ByteRange

__all__ = [
    "Abandon",
    "Action",
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
