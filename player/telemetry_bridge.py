"""Engine actions and driver outcomes -> telemetry events; CMCD for segment requests.

:class:`TelemetryBridge` is a driver observer (:mod:`player.realtime`): it
sees every event handed to the engine and every action the engine answers
with, and turns them into :mod:`telemetry.events`:

    Start                    -> play
    Play (first)             -> startup (startup_s: press-play to playback start)
    FetchSegment, new rung   -> rendition_switch (the policy's rule and reason)
    StallStarted/StallEnded  -> stall_start / stall_end (stall_s)
    Seek / Pause / Resume    -> seek / pause / resume
    DownloadFailed           -> error (fatal=False, the transport's reason code)
    Fail                     -> error (fatal=True)
    End/Fail                 -> session_end with the engine's QoE summary (the shared
                                QoeAccumulator), after the driver returns
    every heartbeat_interval_s of media time -> heartbeat (position, buffer, bitrate,
                                cumulative played/rebuffer, throughput, edge)

Failovers and steering updates come from the player (``failover``,
``steering_update``). Event ids are ``sequence_event_id(session_id, n)``, so a
re-sent event deduplicates at the collector; ``ts`` is wall-clock Unix time
from the injected ``wall`` function. Each event goes to every sink and to
every :meth:`subscribe` queue (``Player.events()``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from telemetry.cmcd import CmcdData
from telemetry.events import (
    ErrorEvent,
    Event,
    FailoverEvent,
    HeartbeatEvent,
    PauseEvent,
    PlayEvent,
    RenditionSwitchEvent,
    ResumeEvent,
    SeekEvent,
    SessionEndEvent,
    StallEndEvent,
    StallStartEvent,
    StartupEvent,
    SteeringUpdateEvent,
    sequence_event_id,
)

from .states import (
    DownloadFailed,
    Fail,
    FetchSegment,
    Pause,
    Play,
    Resume,
    Seek,
    StallEnded,
    StallStarted,
    Start,
    State,
)

if TYPE_CHECKING:
    from .session import Session, SessionResult

__all__ = ["TelemetryBridge", "cmcd_for"]


class TelemetryBridge:
    """Builds and ships one session's telemetry events. See the module docstring."""

    def __init__(
        self,
        session_id: str,
        sinks: Sequence[Any] = (),
        *,
        wall: Callable[[], float] = time.time,
        heartbeat_interval_s: float = 10.0,
    ) -> None:
        self.session_id = session_id
        self.sinks = list(sinks)
        self.wall = wall
        self.heartbeat_interval_s = heartbeat_interval_s
        self.session: Session | None = None
        self.position: Callable[[], float] = lambda: 0.0
        self.edge: Callable[[], str | None] = lambda: None
        self.throughput: Callable[[], float | None] = lambda: None
        self.emitted: list[Event] = []
        self.sink_errors = 0
        self._seq = 0
        self._queues: list[asyncio.Queue[Event | None]] = []
        self._started = False
        self._last_rung: int | None = None
        self._last_heartbeat = -math.inf
        self._paused_at: float | None = None
        self._ended = False
        self._seek_from = 0.0

    # --- plumbing -----------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue receiving every later event; ``None`` marks the end of the session."""
        q: asyncio.Queue[Event | None] = asyncio.Queue()
        for e in self.emitted:
            q.put_nowait(e)
        if self._ended:
            q.put_nowait(None)
        self._queues.append(q)
        return q

    def emit(self, cls: type[Event], **fields: Any) -> Event:
        fields.setdefault("position_s", max(0.0, self.position()))
        event = cls(
            session_id=self.session_id,
            ts=self.wall(),
            id=sequence_event_id(self.session_id, self._seq),
            **fields,
        )
        self._seq += 1
        self.emitted.append(event)
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception:  # a broken sink must not stop playback
                self.sink_errors += 1
        for q in self._queues:
            q.put_nowait(event)
        return event

    def finish(self) -> None:
        self._ended = True
        for q in self._queues:
            q.put_nowait(None)

    # --- driver observer ----------------------------------------------------------------
    def before_event(self, event: Any) -> None:
        if type(event) is Seek:
            self._seek_from = max(0.0, self.position())

    def on_event(self, event: Any) -> None:
        kind = type(event)
        s = self.session
        if kind is Start:
            self.emit(PlayEvent, position_s=event.position_s)
        elif kind is Seek:
            self.emit(SeekEvent, position_s=event.position_s, from_s=self._seek_from,
                      to_s=event.position_s)
        elif kind is Pause and s is not None and s.state is State.PAUSED:
            self._paused_at = event.t
            self.emit(PauseEvent)
        elif kind is Resume and self._paused_at is not None:
            self.emit(ResumeEvent, paused_s=max(0.0, event.t - self._paused_at))
            self._paused_at = None
        elif kind is DownloadFailed:
            code = event.reason.split(":", 1)[0].strip() or "download"
            self.emit(ErrorEvent, code=code, message=event.reason, fatal=False)

    def on_actions(self, actions: list[Any], event: Any) -> None:
        s = self.session
        for a in actions:
            kind = type(a)
            if kind is FetchSegment:
                if a.rung != self._last_rung and s is not None:
                    rates = s.video.bitrates_bps
                    f = s.in_flight
                    prev = self._last_rung
                    self.emit(
                        RenditionSwitchEvent,
                        from_rung=prev,
                        to_rung=a.rung,
                        from_bitrate_bps=None if prev is None else int(rates[prev]),
                        to_bitrate_bps=int(rates[a.rung]),
                        rule=f.rule if f is not None else "",
                        reason=f.reason if f is not None else "",
                    )
                self._last_rung = a.rung
            elif kind is Play and not self._started:
                self._started = True
                start = s.start_t if s is not None else 0.0
                self.emit(StartupEvent, startup_s=max(0.0, a.t - start))
            elif kind is StallStarted:
                self.emit(StallStartEvent)
            elif kind is StallEnded:
                self.emit(StallEndEvent, stall_s=max(0.0, a.duration_s))
            elif kind is Fail:
                self.emit(ErrorEvent, code="playback_failed", message=a.reason, fatal=True)

    def on_tick(self, t: float) -> None:
        if t - self._last_heartbeat >= self.heartbeat_interval_s:
            self._last_heartbeat = t
            self.heartbeat()

    def heartbeat(self) -> None:
        s = self.session
        if s is None:
            return
        rung = self._last_rung if self._last_rung is not None else 0
        tp = self.throughput()
        self.emit(
            HeartbeatEvent,
            buffer_s=max(0.0, s.buffer),
            bitrate_bps=int(s.video.bitrates_bps[rung]),
            played_s=s.played,
            rebuffer_s=s.stalled,
            throughput_bps=tp if tp is not None and math.isfinite(tp) else None,
            edge=self.edge(),
        )

    # --- from the player ------------------------------------------------------------------
    def failover(self, from_edge: str, to_edge: str, reason: str) -> None:
        self.emit(FailoverEvent, from_pathway=from_edge, to_pathway=to_edge, reason=reason)

    def steering(self, pathways: Sequence[str], ttl_s: float) -> None:
        self.emit(SteeringUpdateEvent, pathways=tuple(pathways), ttl_s=ttl_s)

    def error(self, code: str, message: str, *, fatal: bool) -> None:
        self.emit(ErrorEvent, code=code, message=message, fatal=fatal)

    def session_end(self, result: SessionResult | None) -> None:
        qoe = result.qoe.to_dict() if result is not None else {}
        self.emit(SessionEndEvent, qoe=qoe)


def cmcd_for(
    session: Session,
    action: FetchSegment,
    *,
    session_id: str,
    content_id: str | None,
    buffer_s: float,
    throughput_bps: float | None,
    object_type: str = "v",
    next_url: str | None = None,
) -> CmcdData:
    """CMCD keys for one segment request, from the engine's state."""
    v = session.video
    st = session.state
    urgent = st in (State.STARTUP, State.SEEKING, State.REBUFFERING)
    top = v.bitrates_bps[-1] if session.config.max_rung is None else v.bitrates_bps[
        max(0, min(len(v.bitrates_bps) - 1, session.config.max_rung))]
    return CmcdData(
        bitrate_bps=v.bitrates_bps[action.rung] if object_type == "v" else None,
        buffer_length_s=max(0.0, buffer_s),
        buffer_starvation=st is State.REBUFFERING,
        content_id=(content_id or None) and content_id[:64],
        object_duration_s=v.segment_durations_s[action.segment_index],
        measured_throughput_bps=(
            throughput_bps if throughput_bps is not None and math.isfinite(throughput_bps)
            else None
        ),
        next_object_request=next_url,
        object_type=object_type,
        session_id=session_id[:64],
        stream_type="v",
        startup=urgent,
        top_bitrate_bps=top,
    )
