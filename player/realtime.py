"""The real-time driver: the sans-IO :class:`~player.session.Session` on a clock.

It pumps the same engine the replay driver does, the same way, but waits on a
clock instead of computing download times::

    clock = ScaledClock(speed=4.0)                   # media seconds = wall seconds x 4
    driver = RealtimeDriver(session, fetch, clock, start_position_s=0.0)
    result = await driver.run()                      # -> SessionResult

``FetchSegment`` starts ``fetch(action, on_progress)`` as a task (an async
callable returning :class:`Fetched` or raising); its progress reports become
``DownloadProgress`` events (at most one per ``progress_interval_s`` media
seconds, so abandonment rules can act) and its end a ``DownloadComplete`` or
``DownloadFailed``. ``Abandon`` cancels the task. ``Wait`` is a sleep until
the engine's time; the driver also wakes by :attr:`Session.deadline_s` (stall
limit) and at least every ``tick_interval_s`` with a ``Tick`` so observers
(heartbeats, status lines, resume reports) get regular calls. ``seek``,
``pause``, ``resume`` and ``stop`` queue user events.

Time is injected (STYLE.md 4): a :class:`Clock` gives ``now()`` in media
seconds and ``sleep(media_seconds)``. :class:`ScaledClock` wraps a monotonic
function and an async sleep (``--speed N`` scales both);
:class:`AutojumpClock` is virtual time for tests and benchmarks: when every
task is waiting, time jumps to the earliest sleeper.

Observers are objects with any of ``before_event(event)`` (about to be
handed to the engine), ``on_event(event)`` (just handled),
``on_actions(actions, event)``, ``on_segment(action, fetched, t)`` (a
download completed, before the engine hears of it) and ``on_tick(t)``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .session import Session, SessionResult
from .states import (
    Abandon,
    Action,
    DownloadComplete,
    DownloadFailed,
    DownloadProgress,
    End,
    Event,
    Fail,
    FetchSegment,
    Pause,
    Resume,
    Seek,
    Start,
    State,
    Stop,
    Tick,
    Wait,
)

__all__ = [
    "AutojumpClock",
    "Clock",
    "Fetched",
    "FetchFn",
    "RealtimeDriver",
    "ScaledClock",
]


class Clock(Protocol):
    """Media-time clock: ``now()`` seconds, ``await sleep(seconds)``."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class ScaledClock:
    """Wall clock scaled by ``speed`` (media seconds per wall second), zero at creation."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._monotonic = monotonic
        self._sleep = sleep
        self._t0 = monotonic()

    def now(self) -> float:
        return (self._monotonic() - self._t0) * self.speed

    def wall_s(self, media_s: float) -> float:
        """Wall seconds that ``media_s`` media seconds take."""
        return media_s / self.speed

    async def sleep(self, seconds: float) -> None:
        await self._sleep(max(0.0, seconds) / self.speed)


class AutojumpClock:
    """Virtual time: ``sleep`` parks the caller; once every task has been idle for a
    few loop turns, time jumps to the earliest sleeper. Use inside one event loop."""

    def __init__(self, start: float = 0.0, idle_turns: int = 8) -> None:
        self.t = float(start)
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._idle_turns = idle_turns
        self._runner: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        """Same time, for components that want a plain clock function."""
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.t + max(0.0, seconds), next(self._seq), fut))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        await fut

    async def _run(self) -> None:
        while self._heap:
            for _ in range(self._idle_turns):
                await asyncio.sleep(0)
            while self._heap and self._heap[0][2].done():  # cancelled sleepers
                heapq.heappop(self._heap)
            if not self._heap:
                return
            when, _, fut = heapq.heappop(self._heap)
            self.t = max(self.t, when)
            fut.set_result(None)


@dataclass(frozen=True)
class Fetched:
    """A finished download: media bytes (what the engine is told), where it came from,
    and whatever the fetch function wants observers to see (``payload``)."""

    bytes: int
    edge: str | None = None
    payload: Any = None


ProgressFn = Callable[[int], None]
FetchFn = Callable[[FetchSegment, ProgressFn], Awaitable[Fetched]]


class _Msg:
    __slots__ = ("kind", "gen", "t", "value", "extra")

    def __init__(self, kind: str, gen: int, t: float, value: Any = None, extra: Any = None):
        self.kind, self.gen, self.t, self.value, self.extra = kind, gen, t, value, extra


class RealtimeDriver:
    """Drive one :class:`Session` on a :class:`Clock` until it ends or fails."""

    def __init__(
        self,
        session: Session,
        fetch: FetchFn,
        clock: Clock,
        *,
        start_position_s: float = 0.0,
        progress_interval_s: float = 0.5,
        tick_interval_s: float = 1.0,
        observers: Sequence[Any] = (),
        error_reason: Callable[[BaseException], str] | None = None,
    ) -> None:
        self.session = session
        self.fetch = fetch
        self.clock = clock
        self.start_position_s = start_position_s
        self.progress_interval_s = progress_interval_s
        self.tick_interval_s = tick_interval_s
        self.observers = list(observers)
        self._reason = error_reason or _default_reason
        self._queue: asyncio.Queue[_Msg] = asyncio.Queue()
        self._gen = 0
        self._task: asyncio.Task[None] | None = None
        self._in_flight: FetchSegment | None = None
        self._wait_until = math.inf
        self._last_progress = -math.inf
        self._last_tick = 0.0

    # --- user commands (call on the driver's loop) --------------------------------------
    def seek(self, position_s: float) -> None:
        self._queue.put_nowait(_Msg("seek", 0, 0.0, float(position_s)))

    def pause(self) -> None:
        self._queue.put_nowait(_Msg("pause", 0, 0.0))

    def resume(self) -> None:
        self._queue.put_nowait(_Msg("resume", 0, 0.0))

    def stop(self) -> None:
        self._queue.put_nowait(_Msg("stop", 0, 0.0))

    # --- state --------------------------------------------------------------------------
    @property
    def in_flight(self) -> FetchSegment | None:
        return self._in_flight

    def playhead(self, now: float | None = None) -> float:
        """The media position at clock time ``now`` (default: the clock's now)."""
        s = self.session
        if s.state is not State.PLAYING:
            return s.position
        t = self.clock.now() if now is None else now
        return s.position + min(max(0.0, t - s.t), s.buffer)

    def buffer_s(self, now: float | None = None) -> float:
        s = self.session
        if s.state is not State.PLAYING:
            return s.buffer
        t = self.clock.now() if now is None else now
        return max(0.0, s.buffer - max(0.0, t - s.t))

    # --- the loop -----------------------------------------------------------------------
    async def run(self) -> SessionResult:
        s = self.session
        try:
            self._last_tick = self.clock.now()
            self._handle(Start(self._last_tick, self.start_position_s))
            while not s.finished:
                now = self.clock.now()
                due = min(self._wait_until, s.deadline_s, self._last_tick + self.tick_interval_s)
                msg = await self._next(max(0.0, due - now))
                if msg is None:
                    self._tick()
                    continue
                self._dispatch(msg)
        finally:
            self._cancel_download()
        return s.result()

    def _tick(self) -> None:
        t = max(self.clock.now(), self.session.t)
        self._last_tick = t
        if t >= self._wait_until - 1e-9:
            self._wait_until = math.inf
        self._handle(Tick(t))
        for o in self.observers:
            f = getattr(o, "on_tick", None)
            if f is not None:
                f(t)

    def _dispatch(self, m: _Msg) -> None:
        s = self.session
        now = max(self.clock.now(), s.t)
        kind = m.kind
        if kind in ("progress", "done", "failed"):
            if m.gen != self._gen or self._in_flight is None:
                return  # a cancelled download's late news
            t = max(m.t, s.t)
            if kind == "progress":
                self._handle(DownloadProgress(t, m.value))
                return
            action = self._in_flight
            self._in_flight = None
            self._task = None
            if kind == "done":
                fetched: Fetched = m.value
                for o in self.observers:
                    f = getattr(o, "on_segment", None)
                    if f is not None:
                        f(action, fetched, t)
                self._handle(DownloadComplete(t, fetched.bytes))
            else:
                self._handle(DownloadFailed(t, m.value))
            return
        if s.finished:
            return
        if kind == "seek":
            self._handle(Seek(now, m.value))
        elif kind == "pause":
            if s.state is not State.PAUSED and s.state is not State.IDLE:
                self._handle(Pause(now))
        elif kind == "resume":
            if s.state is State.PAUSED:
                self._handle(Resume(now))
        elif kind == "stop":
            self._handle(Stop(now))

    def _handle(self, event: Event) -> None:
        for o in self.observers:
            f = getattr(o, "before_event", None)
            if f is not None:
                f(event)
        actions = self.session.handle(event)
        for o in self.observers:
            f = getattr(o, "on_event", None)
            if f is not None:
                f(event)
        self._apply(actions)
        for o in self.observers:
            f = getattr(o, "on_actions", None)
            if f is not None:
                f(actions, event)

    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, FetchSegment):
                self._start_download(a)
            elif isinstance(a, Wait):
                self._wait_until = a.until_s
            elif isinstance(a, Abandon | Fail | End):
                self._cancel_download()

    # --- downloads ----------------------------------------------------------------------
    def _start_download(self, action: FetchSegment) -> None:
        self._cancel_download()
        self._gen += 1
        self._in_flight = action
        self._wait_until = math.inf
        self._last_progress = self.clock.now()
        self._task = asyncio.create_task(self._download(self._gen, action))

    def _cancel_download(self) -> None:
        task, self._task = self._task, None
        self._in_flight = None
        if task is not None and not task.done():
            task.cancel()

    async def _download(self, gen: int, action: FetchSegment) -> None:
        q = self._queue
        clock = self.clock

        def progress(done: int) -> None:
            t = clock.now()
            if t - self._last_progress >= self.progress_interval_s and gen == self._gen:
                self._last_progress = t
                q.put_nowait(_Msg("progress", gen, t, int(done)))

        try:
            fetched = await self.fetch(action, progress)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a DownloadFailed with a reason
            q.put_nowait(_Msg("failed", gen, clock.now(), self._reason(exc), exc))
            return
        q.put_nowait(_Msg("done", gen, clock.now(), fetched))

    async def _next(self, timeout: float) -> _Msg | None:
        q = self._queue
        if not q.empty():
            return q.get_nowait()
        if timeout <= 0:
            return None
        getter = asyncio.ensure_future(q.get())
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({getter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (getter, sleeper):
                if not t.done():
                    t.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        return None


def _default_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(exc) or type(exc).__name__
    return f"{reason}: {text}" if isinstance(reason, str) else text
