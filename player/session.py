"""The sans-IO playback engine.

A :class:`Session` is fed events (:mod:`player.states`) and answers with a
list of actions; it never touches sockets, clocks, threads or sleeps. Time
arrives inside events. The same engine runs under the replay driver
(:mod:`player.replay`, virtual time) and the real-time driver (wall clock).

    s = Session(video, policy, EngineConfig(...), abandon_rules=())
    actions = s.handle(Start(0.0))          # -> [FetchSegment(0, rung, size, ...)]
    actions = s.handle(DownloadComplete(t)) # -> [Play(t), Wait(...)|FetchSegment(...)]
    ...
    s.deadline_s   # the driver must send a Tick by then (stall-limit detection)
    s.result()     # SessionResult: per-segment records + QoE summary

Buffer model: the buffer holds whole segments' media seconds; while
playing it drains one second per second; a stall starts when it runs dry
before the last segment, and ends when a segment arrives and the buffer
reaches ``rebuffer_resume_s``. Startup (and a seek) ends when the buffer
reaches ``startup_threshold_s`` (or the rest of the video is in). After a
segment arrives with the buffer above ``buffer_max_s`` the engine waits
``ceil((buffer - max) / drain_step_s) * drain_step_s`` seconds in one Wait
before deciding again (Pensieve's 0.5 s sleeps, in one go).

Rebuffer time is attributed to the segment whose arrival ended it (Pensieve's
per-chunk rebuffer). A stall, startup or seek wait reaching ``stall_limit_s``
fails the session, dated when the limit was reached even if the next event
comes later (so a driver may deliver a very late DownloadComplete; a
real-time driver sets a timer at :attr:`Session.deadline_s`).

Other rules: a seek is segment-aligned (playback restarts at the start of
the segment holding the position), flushes the buffer and cancels the
download in flight; while paused downloads go on until the buffer cap; a
DownloadFailed is retried at the same rung up to ``max_download_retries``
times; a policy ``Decision.wait_s`` becomes a Wait, then the decided rung is
fetched without asking again; an abandon rule's lower rung refetches the
same segment at once. Wall time is always ``played + stalled + startup +
seeking + paused`` (see :class:`SessionResult`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from abr.base import AbrContext, Decision, DownloadReport, ThroughputSample
from abr.base import DownloadProgress as AbrProgress
from telemetry.qoe import QoeAccumulator

from .errors import IllegalEventError, SessionError
from .states import (
    TRANSITIONS,
    Abandon,
    Action,
    DownloadComplete,
    DownloadFailed,
    DownloadProgress,
    End,
    EngineConfig,
    Event,
    Fail,
    FetchSegment,
    Pause,
    Play,
    Resume,
    Seek,
    SegmentRecord,
    SessionResult,
    StallEnded,
    StallStarted,
    Start,
    State,
    Stop,
    Tick,
    Wait,
    fast_constructor,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from abr.base import AbandonRule, Policy

    from .video import Video

__all__ = ["EngineConfig", "SegmentRecord", "Session", "SessionResult"]

_EPS = 1e-9
# Enum attribute access and hashing run Python code; the hot path uses these plain names.
IDLE, STARTUP, PLAYING, REBUFFERING = State.IDLE, State.STARTUP, State.PLAYING, State.REBUFFERING
PAUSED, SEEKING, ENDED, FAILED = State.PAUSED, State.SEEKING, State.ENDED, State.FAILED
_ALLOWED: dict[str, frozenset[type]] = {
    st.value: frozenset(ev for (s0, ev) in TRANSITIONS if s0 is st) for st in State
}


_new_context = fast_constructor(AbrContext)
_new_sample = fast_constructor(ThroughputSample)
_new_fetch = fast_constructor(FetchSegment)
_new_wait = fast_constructor(Wait)
_new_progress = fast_constructor(AbrProgress)


class _InFlight:
    __slots__ = ("index", "rung", "size", "start", "buffer", "rule", "reason")

    def __init__(
        self, index: int, rung: int, size: int, start: float, buffer: float, d: Decision
    ) -> None:
        self.index = index
        self.rung = rung
        self.size = size
        self.start = start
        self.buffer = buffer
        self.rule = d.rule
        self.reason = d.reason


_START_DECISION_RULE = "start"


class Session:
    """The playback engine for one session of one video. See the module docstring."""

    __slots__ = (
        "video", "policy", "config", "rules", "_observe", "_state", "_paused_from",
        "t", "start_t", "end_t", "buffer", "position", "next_index", "in_flight", "last_rung",
        "samples", "records", "abandoned", "acc", "played", "stalled", "startup_wait", "seek_wait",
        "paused", "stall_start", "wait_start", "stall_chunk", "waiting", "wait_until", "pending",
        "retries", "failure", "_count", "_durations", "_starts", "_rates", "_sizes", "_ctx_sizes",
        "_top", "_handlers", "_event", "_state_name", "_allowed", "_max_samples",
    )  # fmt: skip

    def __init__(
        self,
        video: Video,
        policy: Policy,
        config: EngineConfig | None = None,
        abandon_rules: Sequence[AbandonRule] = (),
    ) -> None:
        self.video = video
        self.policy = policy
        self.config = cfg = config or EngineConfig()
        self.rules = tuple(abandon_rules)
        observe = getattr(policy, "observe", None)
        self._observe = observe if callable(observe) else None
        self._rates = video.bitrates_bps
        self._sizes = video.sizes
        self._ctx_sizes = video.known_sizes  # may extend past segment_count (lookahead rows)
        self._count = video.segment_count
        self._durations = video.segment_durations_s
        self._starts = [0.0, *accumulate(self._durations)]
        top = len(self._rates) - 1
        self._top = top if cfg.max_rung is None else max(0, min(top, cfg.max_rung))
        if cfg.start_rung is not None and not 0 <= cfg.start_rung <= top:
            raise SessionError(f"start_rung {cfg.start_rung} is outside the ladder 0..{top}")
        self._state = IDLE
        self._state_name = "idle"
        self._allowed = _ALLOWED["idle"]
        self._paused_from = PLAYING
        self._event: type = Start
        self.t = self.start_t = self.end_t = 0.0
        self.buffer = 0.0
        self.position = 0.0
        self.next_index = 0
        self.in_flight: _InFlight | None = None
        self.last_rung = cfg.start_rung if cfg.start_rung is not None else 0
        self.samples: list[ThroughputSample] = []
        self._max_samples = cfg.max_samples
        self.records: list[SegmentRecord] = []
        self.abandoned: list[tuple[float, int, int, str, str]] = []
        self.acc = QoeAccumulator(self._rates, cfg.first_scored_chunk)
        self.played = self.stalled = self.startup_wait = self.seek_wait = self.paused = 0.0
        self.stall_start = self.wait_start = 0.0
        self.stall_chunk = 0.0
        self.waiting: str | None = None
        self.wait_until = 0.0
        self.pending: Decision | None = None
        self.retries = 0
        self.failure: str | None = None
        self._handlers: dict[type, Callable[[Any, list[Action]], None]] = {
            Start: self._on_start,
            DownloadProgress: self._on_progress,
            DownloadComplete: self._on_complete,
            DownloadFailed: self._on_failed,
            Tick: self._on_tick,
            Seek: self._on_seek,
            Pause: self._on_pause,
            Resume: self._on_resume,
            Stop: self._on_stop,
        }

    # ----- public -------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def finished(self) -> bool:
        return self._state is ENDED or self._state is FAILED

    @property
    def deadline_s(self) -> float:
        """Latest time for the next event so a stall-limit failure is detected on time."""
        st = self._state
        limit = self.config.stall_limit_s
        if st is PLAYING:
            return self.t + self.buffer + limit if self.in_flight is not None else math.inf
        if st is REBUFFERING:
            return self.stall_start + limit
        if st is STARTUP or st is SEEKING:
            return self.wait_start + limit
        return math.inf

    def handle(self, event: Event) -> list[Action]:
        """Process one event and return the actions it causes (possibly none)."""
        kind = type(event)
        if kind not in self._allowed:
            raise IllegalEventError(self._state.value, kind.__name__)
        self._event = kind
        out: list[Action] = []
        was_finished = self._state is ENDED or self._state is FAILED
        self._advance(event.t, out)
        if not was_finished and (self._state is ENDED or self._state is FAILED):
            return out
        self._handlers[kind](event, out)
        return out

    # ----- state changes ---------------------------------------------
    def _set(self, new: State) -> None:
        if new not in TRANSITIONS[(self._state, self._event)]:  # pragma: no cover - a bug guard
            raise SessionError(f"internal: {self._state} -> {new} on {self._event.__name__}")
        self._state = new
        self._state_name = name = new.value
        self._allowed = _ALLOWED[name]

    def _fail(self, t: float, reason: str, out: list[Action]) -> None:
        if self.in_flight is not None:
            out.append(Abandon(self.in_flight.index, self.in_flight.rung, "session failed"))
            self.in_flight = None
        self._set(FAILED)
        self.failure = reason
        self.end_t = t
        out.append(Fail(t, reason))

    def _end(self, t: float, out: list[Action]) -> None:
        self._set(ENDED)
        self.end_t = t
        out.append(End(t))

    def _advance(self, t: float, out: list[Action]) -> None:
        """Let time pass from ``self.t`` to ``t``; a stall-limit failure is dated when due."""
        last = self.t
        dt = t - last
        if dt < 0:
            if dt < -1e-6:
                raise SessionError(f"time went backwards: {t!r} after {last!r}")
            return
        self.t = t
        st = self._state
        if st is PLAYING:
            b = self.buffer
            done = self.in_flight is None and self.next_index >= self._count
            if dt <= b and not (done and dt >= b - _EPS):
                self.buffer = b - dt
                self.played += dt
                self.position += dt
                return
            self.played += b
            self.position += b
            self.buffer = 0.0
            if done:
                self._end(last + b, out)
                return
            self.stall_start = last = last + b
            self._set(REBUFFERING)
            self.acc.stall()
            out.append(StallStarted(last))
            st = REBUFFERING
        limit = self.config.stall_limit_s
        if st is REBUFFERING:
            lim_t = self.stall_start + limit
            stall = (lim_t if t >= lim_t - _EPS else t) - last
            if stall > 0:
                self.stalled += stall
                self.stall_chunk += stall
            if t >= lim_t - _EPS:
                self._fail(lim_t, f"stalled for the stall limit ({limit:g} s)", out)
        elif st is STARTUP or st is SEEKING:
            lim_t = self.wait_start + limit
            wait = (lim_t if t >= lim_t - _EPS else t) - last
            if st is STARTUP:
                self.startup_wait += max(wait, 0.0)
            else:
                self.seek_wait += max(wait, 0.0)
            if t >= lim_t - _EPS:
                self._fail(lim_t, f"{st.value} took the stall limit ({limit:g} s)", out)
        elif st is PAUSED:
            self.paused += dt

    # ----- requests ----------------------------------------------------
    def _next(self, out: list[Action]) -> None:
        """Decide what to do now that no download is in flight."""
        if self._state is PAUSED and self.buffer > self.config.buffer_max_s:
            return  # nothing drains while paused; Resume re-runs this
        t = self.t
        if self.next_index >= self._count:
            if self._state is PLAYING:
                self.waiting = "end-of-stream"
                self.wait_until = t + self.buffer
                out.append(_new_wait(self.wait_until, "end-of-stream"))
            return
        cfg = self.config
        excess = self.buffer - cfg.buffer_max_s
        if excess > 0:
            step = cfg.drain_step_s
            sleep = math.ceil(excess / step) * step if step > 0 else excess
            self.waiting = "buffer-full"
            self.wait_until = t + sleep
            out.append(_new_wait(self.wait_until, "buffer-full"))
            return
        self._decide(out)

    def _decide(self, out: list[Action]) -> None:
        cfg = self.config
        idx = self.next_index
        if cfg.start_rung is not None and not self.records:
            d = Decision(cfg.start_rung, _START_DECISION_RULE, "configured start rung")
        else:
            d = self.policy.decide(
                _new_context(
                    self._rates,
                    idx,
                    self._count,
                    self.video.segment_duration_s,
                    self.buffer,
                    cfg.buffer_max_s,
                    self.last_rung,
                    tuple(self.samples),
                    self.t,
                    self._state_name,
                    cfg.max_rung,
                    self._ctx_sizes,
                    self.stalled,
                    cfg.startup_threshold_s,
                )
            )
            if not isinstance(d, Decision):
                raise self._bad_answer(d)
            if d.wait_s > 0:
                self.pending = d
                self.waiting = "policy"
                self.wait_until = self.t + d.wait_s
                out.append(Wait(self.wait_until, "policy"))
                return
        self._fetch(d, out)

    def _bad_answer(self, d: object) -> SessionError:
        name = getattr(self.policy, "name", type(self.policy).__name__)
        return SessionError(f"policy {name!r} returned {d!r}, not a Decision with an int rung")

    def _fetch(self, d: Decision, out: list[Action]) -> None:
        idx = self.next_index
        try:
            rung = d.rung
            if rung < 0 or rung > self._top:
                rung = 0 if rung < 0 else self._top
            size = self._sizes[idx][rung]
        except (AttributeError, TypeError):
            raise self._bad_answer(d) from None
        self.in_flight = _InFlight(idx, rung, size, self.t, self.buffer, d)
        self.next_index = idx + 1
        v = self.video
        if v.urls is None:
            out.append(_new_fetch(idx, rung, size, None, None))
        else:
            br = v.byte_ranges[idx][rung] if v.byte_ranges is not None else None
            out.append(_new_fetch(idx, rung, size, v.urls[idx][rung], br))

    # ----- event handlers ---------------------------------------------
    def _on_start(self, ev: Start, out: list[Action]) -> None:
        self.start_t = self.wait_start = ev.t
        if not 0 <= ev.position_s < self._starts[-1]:
            if ev.position_s >= self._starts[-1]:
                self._end(ev.t, out)
                return
            raise SessionError(f"start position {ev.position_s!r} is negative")
        self.next_index = bisect_right(self._starts, ev.position_s) - 1
        self.position = self._starts[self.next_index]
        self._set(STARTUP)
        self._next(out)

    def _on_tick(self, ev: Tick, out: list[Action]) -> None:
        if self.waiting is not None and self.in_flight is None and ev.t >= self.wait_until - _EPS:
            kind = self.waiting
            self.waiting = None
            st = self._state
            if st is ENDED or st is FAILED:
                return
            if kind == "end-of-stream":
                if st is PLAYING and self.buffer <= 1e-6:
                    self.played += self.buffer
                    self.position += self.buffer
                    self.buffer = 0.0
                    self._end(ev.t, out)
                elif st is not PAUSED:
                    self._next(out)
            elif kind == "policy":
                d, self.pending = self.pending, None
                assert d is not None
                self._fetch(d, out)
            else:
                self._decide(out)

    def _on_complete(self, ev: DownloadComplete, out: list[Action]) -> None:
        f = self.in_flight
        if f is None:
            raise SessionError("DownloadComplete without a download in flight")
        self.in_flight = None
        self.retries = 0
        t = ev.t
        nbytes = f.size if ev.bytes is None else ev.bytes
        seconds = t - f.start
        sample = _new_sample(nbytes, seconds, t)
        samples = self.samples
        samples.append(sample)
        if len(samples) > self._max_samples:
            del samples[0]
        if self._observe is not None:
            self._observe(DownloadReport(f.index, f.rung, nbytes, seconds, f.start, t, self.buffer))
        dur = self._durations[f.index]
        self.buffer += dur
        rebuf = self.stall_chunk
        self.stall_chunk = 0.0
        self.acc.chunk(f.rung, dur, rebuf)
        self.last_rung = f.rung
        self.records.append(
            SegmentRecord(
                f.index, f.rung, self._rates[f.rung], nbytes, f.start, t, f.buffer, self.buffer,
                rebuf, f.rule, f.reason, 8.0 * nbytes / seconds if seconds > 0 else math.inf,
            )
        )  # fmt: skip
        st = self._state
        done = self.next_index >= self._count
        cfg = self.config
        if st is STARTUP or st is SEEKING:
            if self.buffer >= cfg.startup_threshold_s - _EPS or done:
                if st is STARTUP:
                    self.acc.startup(t - self.start_t)
                self._set(PLAYING)
                out.append(Play(t))
        elif st is REBUFFERING and (self.buffer >= cfg.rebuffer_resume_s - _EPS or done):
            self._set(PLAYING)
            out.append(StallEnded(t, t - self.stall_start))
        self._next(out)

    def _on_progress(self, ev: DownloadProgress, out: list[Action]) -> None:
        f = self.in_flight
        if f is None or not self.rules:
            return
        elapsed = ev.t - f.start
        p = _new_progress(
            f.index, f.rung, ev.bytes_done, f.size, elapsed, self.buffer,
            self._rates, self.video.segment_duration_s, self._sizes,
        )  # fmt: skip
        for rule in self.rules:
            d = rule.check(p)
            if d is None or d.rung >= f.rung:
                continue
            self.abandoned.append((ev.t, f.index, f.rung, d.rule, d.reason))
            if self._observe is not None:
                self._observe(
                    DownloadReport(
                        f.index, f.rung, ev.bytes_done, elapsed, f.start, ev.t, self.buffer, True
                    )
                )
            if ev.bytes_done > 0 and elapsed > 0:
                self.samples.append(ThroughputSample(ev.bytes_done, elapsed, ev.t))
                if len(self.samples) > self.config.max_samples:
                    del self.samples[0]
            out.append(Abandon(f.index, f.rung, f"{d.rule}: {d.reason}"))
            self.in_flight = None
            self.next_index = f.index
            self._fetch(Decision(max(0, d.rung), d.rule, d.reason), out)
            return

    def _on_failed(self, ev: DownloadFailed, out: list[Action]) -> None:
        f = self.in_flight
        if f is None:
            raise SessionError("DownloadFailed without a download in flight")
        self.in_flight = None
        self.retries += 1
        if self.retries > self.config.max_download_retries:
            self._fail(ev.t, f"segment {f.index} failed {self.retries} times: {ev.reason}", out)
            return
        self.next_index = f.index
        self._fetch(Decision(f.rung, f.rule, f"retry {self.retries}: {ev.reason}"), out)

    def _on_seek(self, ev: Seek, out: list[Action]) -> None:
        if ev.position_s < 0:
            raise SessionError(f"seek position {ev.position_s!r} is negative")
        if self.in_flight is not None:
            out.append(Abandon(self.in_flight.index, self.in_flight.rung, "seek"))
            self.in_flight = None
        if self._state is REBUFFERING:
            out.append(StallEnded(ev.t, ev.t - self.stall_start))
        self.acc.seek(self.played)
        self.buffer = 0.0
        self.waiting = None
        self.pending = None
        self.wait_start = ev.t
        if ev.position_s >= self._starts[-1]:
            self._end(ev.t, out)
            return
        self.next_index = bisect_right(self._starts, ev.position_s) - 1
        self.position = self._starts[self.next_index]
        if self._state is PAUSED:
            self._paused_from = SEEKING
        else:
            self._set(SEEKING)
        self._next(out)

    def _on_pause(self, ev: Pause, out: list[Action]) -> None:
        st = self._state
        if st is REBUFFERING:
            out.append(StallEnded(ev.t, ev.t - self.stall_start))
        self._paused_from = st
        self._set(PAUSED)
        if self.waiting == "buffer-full" or self.waiting == "end-of-stream":
            self.waiting = None

    def _on_resume(self, ev: Resume, out: list[Action]) -> None:
        back = self._paused_from
        if back is STARTUP or back is SEEKING:
            self.wait_start = ev.t
            self._set(back)
        elif self.buffer > 0:
            self._set(PLAYING)
            out.append(Play(ev.t))
        elif self.in_flight is None and self.next_index >= self._count:
            self._end(ev.t, out)
            return
        else:
            self._set(REBUFFERING)
            self.stall_start = ev.t
            self.acc.stall()
            out.append(StallStarted(ev.t))
        if self.in_flight is None and self.waiting is None:
            self._next(out)

    def _on_stop(self, ev: Stop, out: list[Action]) -> None:
        if self.finished:
            return
        if self.in_flight is not None:
            out.append(Abandon(self.in_flight.index, self.in_flight.rung, "stopped"))
            self.in_flight = None
        if self._state is REBUFFERING:
            out.append(StallEnded(ev.t, ev.t - self.stall_start))
        self._end(ev.t, out)

    # ----- results -----------------------------------------------------
    def result(self) -> SessionResult:
        """The session so far (complete once :attr:`finished`)."""
        segs = tuple(self.records)
        end = self.end_t if self.finished else self.t
        return SessionResult(
            state=self._state_name,
            failure=self.failure,
            segments=segs,
            qoe=self.acc.summary(self.played, self.stalled),
            start_s=self.start_t,
            end_s=end,
            played_s=self.played,
            stalled_s=self.stalled,
            startup_s=self.startup_wait,
            seeking_s=self.seek_wait,
            paused_s=self.paused,
            abandoned=tuple(self.abandoned),
        )
