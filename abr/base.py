"""The contract between the playback engine and ABR policies.

A policy is a small, pure, per-session object::

    policy.decide(ctx: AbrContext) -> Decision        # before each segment request
    policy.observe(report: DownloadReport) -> None    # after each download (optional)

No I/O and no clock: everything a policy may know arrives in the frozen
context, time included (``ctx.now_s``). The engine makes one policy instance
per session (``Policy`` objects may keep state such as error history).

Abandonment is separate: an :class:`AbandonRule` looks at a
:class:`DownloadProgress` mid-download and may ask for a lower rung.

Units: seconds, bytes, bits per second. Rung index 0 is the lowest bitrate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ThroughputSample:
    """One completed download: ``bytes`` transferred in ``seconds`` (latency included)."""

    bytes: int
    seconds: float
    end_s: float = 0.0  # when it completed, on the session clock

    @property
    def bps(self) -> float:
        return 8.0 * self.bytes / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class AbrContext:
    """Everything a policy may look at when choosing the next segment's rung.

    ``sizes`` is the whole table of known segment sizes (bytes), indexed
    ``sizes[segment][rung]``; it is shared, not copied, between decisions.
    It may be empty when sizes are unknown (a live manifest without them):
    policies then fall back to ``bitrates_bps * segment_duration_s / 8``.
    """

    bitrates_bps: Sequence[float]  # ascending nominal bitrates of the ladder
    segment_index: int  # index of the segment about to be requested
    segment_count: int  # total segments (VOD); large for live
    segment_duration_s: float  # nominal duration of one segment
    buffer_s: float  # media buffered ahead of the playhead
    buffer_max_s: float  # the engine's buffer goal/cap
    last_rung: int  # rung of the previous segment (the start rung before the first)
    samples: Sequence[ThroughputSample]  # recent downloads, oldest first (may be empty)
    now_s: float  # session clock
    state: str = "playing"  # engine state name: "startup", "playing", "rebuffering", ...
    max_rung: int | None = None  # device cap (highest allowed rung), None = no cap
    sizes: Sequence[Sequence[int]] = ()
    rebuffer_s: float = 0.0  # total stall time so far in this session
    startup_threshold_s: float = 0.0

    def segment_bytes(self, segment: int, rung: int) -> float:
        """Size of ``segment`` at ``rung``: known size, else nominal bitrate x duration."""
        if 0 <= segment < len(self.sizes):
            return self.sizes[segment][rung]
        return self.bitrates_bps[rung] * self.segment_duration_s / 8.0

    @property
    def top_rung(self) -> int:
        top = len(self.bitrates_bps) - 1
        return top if self.max_rung is None else min(top, self.max_rung)


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer: which rung, which rule decided, and why (goes to telemetry).

    ``wait_s`` > 0 asks the engine to wait that long before requesting
    (e.g. BOLA when the buffer is above its target).
    """

    rung: int
    rule: str
    reason: str
    wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """Handed to ``observe`` after every finished (or abandoned) download."""

    segment_index: int
    rung: int
    bytes: int
    seconds: float  # request to last byte, latency included
    start_s: float
    end_s: float
    buffer_s: float  # buffer level when the download finished (before adding the segment)
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """A download in flight, for abandonment rules."""

    segment_index: int
    rung: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float
    buffer_s: float  # buffer level now
    bitrates_bps: Sequence[float]
    segment_duration_s: float
    sizes: Sequence[Sequence[int]] = ()


@runtime_checkable
class Policy(Protocol):
    name: str

    def decide(self, ctx: AbrContext) -> Decision: ...


@runtime_checkable
class Observer(Protocol):
    def observe(self, report: DownloadReport) -> None: ...


@runtime_checkable
class AbandonRule(Protocol):
    name: str

    def check(self, progress: DownloadProgress) -> Decision | None:
        """Return a Decision with a lower rung to abandon and refetch, or None to continue."""
        ...
