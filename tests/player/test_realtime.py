"""The real-time driver on virtual time (AutojumpClock) with fake fetch functions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from abr.base import Decision
from abr.registry import make_abandon_rule
from player.realtime import AutojumpClock, Fetched, RealtimeDriver, ScaledClock
from player.session import Session
from player.states import EngineConfig, FetchSegment, StallEnded, StallStarted
from player.video import Video

RATES = (100_000.0, 200_000.0, 400_000.0)
SEG_S = 2.0


def video(n: int = 6) -> Video:
    return Video(RATES, SEG_S, tuple(tuple(int(r * SEG_S / 8) for r in RATES) for _ in range(n)))


class Fixed:
    name = "fixed"

    def __init__(self, rung: int) -> None:
        self.rung = rung

    def decide(self, ctx: Any) -> Decision:
        return Decision(self.rung, "fixed", f"always {self.rung}")


class Recorder:
    def __init__(self) -> None:
        self.actions: list[Any] = []
        self.events: list[Any] = []
        self.segments: list[tuple[int, int]] = []
        self.ticks = 0

    def on_event(self, e: Any) -> None:
        self.events.append(e)

    def on_actions(self, actions: list[Any], e: Any) -> None:
        self.actions.extend(actions)

    def on_segment(self, a: FetchSegment, f: Fetched, t: float) -> None:
        self.segments.append((a.segment_index, a.rung))

    def on_tick(self, t: float) -> None:
        self.ticks += 1


def fetcher(clock: AutojumpClock, bps: float, *, step_s: float = 0.1, log: list | None = None):
    async def fetch(a: FetchSegment, progress: Any) -> Fetched:
        size = a.size_bytes or 1
        done = 0.0
        try:
            while done < size:
                await clock.sleep(step_s)
                done = min(size, done + bps / 8 * step_s)
                progress(int(done))
        except asyncio.CancelledError:
            if log is not None:
                log.append(("cancelled", a.segment_index, a.rung))
            raise
        return Fetched(size, "edge-1")

    return fetch


def run(driver: RealtimeDriver) -> Any:
    return asyncio.run(driver.run())


ENGINE = EngineConfig(startup_threshold_s=2.0, rebuffer_resume_s=2.0, buffer_max_s=6.0,
                      stall_limit_s=20.0, max_download_retries=1)


def test_plays_to_the_end_on_virtual_time() -> None:
    clock = AutojumpClock()
    s = Session(video(), Fixed(1), ENGINE)
    rec = Recorder()
    res = run(RealtimeDriver(s, fetcher(clock, 2_000_000), clock, observers=[rec]))
    assert res.state == "ended"
    assert res.stalled_s == 0
    assert res.played_s == pytest.approx(12.0)
    assert [r.segment_index for r in res.segments] == list(range(6))
    assert rec.segments == [(i, 1) for i in range(6)]
    assert rec.ticks > 0
    # 12 s of media plus the startup download: the virtual clock moved accordingly
    assert 12.0 < clock.now() < 13.0


def test_slow_network_stalls_and_recovers() -> None:
    clock = AutojumpClock()
    s = Session(video(4), Fixed(2), ENGINE)
    rec = Recorder()
    res = run(RealtimeDriver(s, fetcher(clock, 300_000), clock, observers=[rec]))
    assert res.state == "ended"
    assert res.stalled_s > 0
    kinds = [type(a) for a in rec.actions]
    assert StallStarted in kinds and StallEnded in kinds


def test_failures_become_download_failed_then_fail() -> None:
    clock = AutojumpClock()
    calls = []

    async def fetch(a: FetchSegment, progress: Any) -> Fetched:
        calls.append(a.segment_index)
        await clock.sleep(0.1)
        raise OSError("boom")

    s = Session(video(), Fixed(0), ENGINE)
    res = run(RealtimeDriver(s, fetch, clock))
    assert res.state == "failed"
    assert "boom" in (res.failure or "")
    assert calls == [0, 0]  # the first try and max_download_retries=1


def test_hanging_download_fails_at_the_stall_limit() -> None:
    clock = AutojumpClock()

    async def fetch(a: FetchSegment, progress: Any) -> Fetched:
        await clock.sleep(1e9)
        raise AssertionError("unreachable")

    s = Session(video(), Fixed(0), ENGINE)
    res = run(RealtimeDriver(s, fetch, clock))
    assert res.state == "failed"
    assert res.end_s == pytest.approx(ENGINE.stall_limit_s)


def test_progress_lets_the_abandon_rule_cancel_a_download() -> None:
    clock = AutojumpClock()
    log: list = []
    engine = EngineConfig(startup_threshold_s=4.0, rebuffer_resume_s=2.0, buffer_max_s=6.0)
    s = Session(video(), Fixed(2), engine, (make_abandon_rule("buffer"),))
    res = run(RealtimeDriver(s, fetcher(clock, 300_000, log=log), clock))
    assert res.abandoned, "the slow top-rung downloads should have been abandoned"
    assert log and log[0][0] == "cancelled"
    assert res.state == "ended" and res.stalled_s == 0
    assert any(r.rung < 2 for r in res.segments)


def test_pause_seek_and_stop_commands() -> None:
    clock = AutojumpClock()

    async def main() -> Any:
        s = Session(video(10), Fixed(0), ENGINE)
        d = RealtimeDriver(s, fetcher(clock, 4_000_000), clock)
        task = asyncio.ensure_future(d.run())
        while d.playhead() < 3.0:
            await clock.sleep(0.25)
        d.pause()
        await clock.sleep(5.0)
        d.resume()
        await clock.sleep(1.0)
        d.seek(14.0)
        while d.playhead() < 15.0:
            await clock.sleep(0.25)
        d.stop()
        return await task

    res = asyncio.run(main())
    assert res.state == "ended"
    assert res.paused_s == pytest.approx(5.0, abs=0.3)
    idx = [r.segment_index for r in res.segments]
    assert 7 in idx and idx.index(7) > 0  # restarted at the segment holding 14 s
    assert res.played_s < 20.0


def test_playhead_and_buffer_extrapolate_between_events() -> None:
    clock = AutojumpClock()

    async def main() -> tuple[float, float, float, float]:
        s = Session(video(), Fixed(0), ENGINE)
        d = RealtimeDriver(s, fetcher(clock, 8_000_000), clock, tick_interval_s=100.0)
        task = asyncio.ensure_future(d.run())
        while s.state.value != "playing":
            await clock.sleep(0.01)
        p0, b0 = d.playhead(), d.buffer_s()
        await clock.sleep(0.5)
        p1, b1 = d.playhead(), d.buffer_s()
        d.stop()
        await task
        return p0, b0, p1, b1

    p0, b0, p1, b1 = asyncio.run(main())
    assert p1 - p0 == pytest.approx(0.5, abs=0.05)
    assert b0 >= 0 and b1 >= 0


def test_scaled_clock_scales_now_and_sleep() -> None:
    t = [100.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        t[0] += s

    c = ScaledClock(4.0, monotonic=lambda: t[0], sleep=sleep)
    assert c.now() == 0.0
    asyncio.run(c.sleep(2.0))
    assert slept == [0.5]
    assert c.now() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        ScaledClock(0)
