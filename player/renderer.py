"""A headless renderer: presents decoded frames on the playback clock and counts them.

Frames arrive per segment (:meth:`HeadlessRenderer.add`) or one at a time as
they decode (:meth:`HeadlessRenderer.stream`), with their media times;
:meth:`run` wakes when the playhead reaches the next frame's time or when a
new frame arrives (no fixed tick), and "presents" it (records its time). A
frame presented more than ``late_after_s`` after its time is *late*; one the
playhead passed by more than ``drop_after_s`` before it could be shown is
*dropped*. While playback is
stalled or paused the playhead does not move, so nothing is presented.

Frame times are put on the media timeline per segment: the first frame of a
segment is shown at the segment's start (this removes the container's
composition offset, e.g. two frames of B-frame delay).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["FrameStats", "HeadlessRenderer"]

#: Longest the renderer sleeps with frames queued (media seconds).
MAX_WAIT_S = 0.25


@dataclass(frozen=True)
class FrameStats:
    """Frame counts of a session; ``presented_pts`` in presentation order."""

    decoded: int
    presented: int
    late: int
    dropped: int
    out_of_order: int
    first_frame_s: float | None  # media-clock time the first frame was presented
    presented_pts: tuple[float, ...]


class HeadlessRenderer:
    """Presents frames when ``playhead()`` reaches them; see the module docstring."""

    def __init__(
        self,
        playhead: Callable[[], float],
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        *,
        late_after_s: float = 0.05,
        drop_after_s: float = 0.5,
        frame_interval_s: float = 1 / 30,
    ) -> None:
        self._playhead = playhead
        self._now = now
        self._sleep = sleep
        self.late_after_s = late_after_s
        self.drop_after_s = drop_after_s
        self.frame_interval_s = frame_interval_s
        self._pending: list[float] = []  # media times, sorted
        self.decoded = self.presented = self.late = self.dropped = self.out_of_order = 0
        self.presented_pts: list[float] = []
        self.first_frame_s: float | None = None
        self.on_first_frame: Callable[[float], None] | None = None
        self._arrived = asyncio.Event()  # a frame was queued (or the queue flushed)

    def add(self, segment_start_s: float, frame_times_s: tuple[float, ...]) -> None:
        """Queue one segment's frames (container times) starting at ``segment_start_s``."""
        if not frame_times_s:
            return
        push = self.stream(segment_start_s)
        for t in frame_times_s:
            push(t)

    def stream(self, segment_start_s: float) -> Callable[[float], None]:
        """A function that queues one frame of the segment starting at
        ``segment_start_s`` (container time); the first frame given, the
        segment's first in presentation order, fixes the segment's offset."""
        offset: list[float] = []

        def push(t: float) -> None:
            if not offset:
                offset.append(t - segment_start_s)
            bisect.insort(self._pending, round(t - offset[0], 6))
            self.decoded += 1
            self._arrived.set()

        return push

    def flush(self) -> None:
        """Forget queued frames (a seek)."""
        self._pending.clear()
        self._arrived.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def present_due(self, playhead: float | None = None) -> None:
        """Present every queued frame whose time the playhead has reached."""
        pos = self._playhead() if playhead is None else playhead
        pending = self._pending
        while pending and pending[0] <= pos + 1e-6:
            pts = pending.pop(0)
            lateness = pos - pts
            if lateness > self.drop_after_s:
                self.dropped += 1
                continue
            if lateness > self.late_after_s:
                self.late += 1
            if self.presented_pts and pts <= self.presented_pts[-1]:
                self.out_of_order += 1
            self.presented += 1
            self.presented_pts.append(pts)
            if self.first_frame_s is None:
                self.first_frame_s = self._now()
                if self.on_first_frame is not None:
                    self.on_first_frame(self.first_frame_s)

    async def run(self) -> None:
        """Present frames until cancelled: wake at the next frame's time (media
        seconds, on the injected ``sleep``) or when a frame arrives."""
        while True:
            pos = self._playhead()
            self._arrived.clear()
            self.present_due(pos)
            if not self._pending:
                await self._arrived.wait()
                continue
            # floor: a paused playhead just short of a frame must not spin;
            # cap: a seek or resume moves the playhead without a frame arriving
            wait = min(max(self._pending[0] - pos, self.frame_interval_s / 8), MAX_WAIT_S)
            sleeper = asyncio.ensure_future(self._sleep(wait))
            arrival = asyncio.ensure_future(self._arrived.wait())
            try:
                await asyncio.wait((sleeper, arrival), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                arrival.cancel()

    def stats(self) -> FrameStats:
        return FrameStats(
            self.decoded, self.presented, self.late, self.dropped, self.out_of_order,
            self.first_frame_s, tuple(self.presented_pts),
        )  # fmt: skip
