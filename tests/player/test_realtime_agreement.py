"""Replay and the real-time driver agree: the same engine, the same network model.

The real-time driver runs on virtual time (AutojumpClock) with a fetch
function that takes as long as the replay network model says; its sessions
must be the replay driver's, segment for segment.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from abr.registry import policy_factory
from player.network import Link
from player.presets import PENSIEVE
from player.realtime import AutojumpClock, Fetched, RealtimeDriver
from player.replay import replay
from player.session import Session
from player.states import FetchSegment, Start
from player.traces import Trace
from player.video import PENSIEVE_BITRATES_KBPS, Video


def _video(seed: int = 1, n: int = 48) -> Video:
    rng = random.Random(seed)
    rates = tuple(k * 1000.0 for k in PENSIEVE_BITRATES_KBPS)
    sizes = tuple(tuple(int(r * 4 / 8 * rng.uniform(0.8, 1.2)) for r in rates) for _ in range(n))
    return Video(rates, 4.0, sizes)


def _trace(seed: int) -> Trace:
    rng = random.Random(seed)
    times = [float(i) for i in range(200)]
    bw = [rng.choice((0.3e6, 0.8e6, 1.5e6, 3e6, 5e6)) for _ in times]
    return Trace(f"t{seed}", tuple(times), tuple(bw))


def realtime_on_link(trace: Trace, video: Video, factory: Any) -> Any:
    """The real-time driver over the replay network model, on virtual time."""
    preset = PENSIEVE
    link = Link.for_trace(trace, preset.network)
    clock = AutojumpClock()
    state = {"pos": 0.0, "end_t": 0.0}

    async def fetch(a: FetchSegment, progress: Any) -> Fetched:
        pos = link.advance(state["pos"], clock.now() - state["end_t"])
        delay, state["pos"] = link.request(pos, a.size_bytes or 0)
        await clock.sleep(delay)
        state["end_t"] = clock.now()
        return Fetched(a.size_bytes or 0)

    session = Session(video.truncated(preset.segments or video.segment_count), factory(),
                      preset.engine)
    driver = RealtimeDriver(session, fetch, clock, tick_interval_s=float("inf"))
    return asyncio.run(driver.run())


@pytest.mark.parametrize("policy", ["bola", "throughput", "robustmpc"])
@pytest.mark.parametrize("seed", [1, 2])
def test_realtime_driver_matches_replay(policy: str, seed: int) -> None:
    video, trace = _video(seed), _trace(seed)
    factory = policy_factory(policy)
    want = replay(trace, video, factory, PENSIEVE, abandon_rules=())
    got = realtime_on_link(trace, video, factory)
    assert [r.rung for r in got.segments] == [r.rung for r in want.segments]
    assert got.stalled_s == pytest.approx(want.stalled_s, abs=1e-6)
    assert got.qoe.qoe_lin.total == pytest.approx(want.qoe.qoe_lin.total, abs=1e-6)
    assert got.end_s == pytest.approx(want.end_s, abs=1e-6)


def test_start_event_is_the_first_event() -> None:
    seen: list[Any] = []

    class Obs:
        def on_event(self, e: Any) -> None:
            seen.append(e)

    clock = AutojumpClock()

    async def fetch(a: FetchSegment, progress: Any) -> Fetched:
        await clock.sleep(0.1)
        return Fetched(a.size_bytes or 0)

    s = Session(_video(n=3), policy_factory("bba")(), PENSIEVE.engine)
    asyncio.run(RealtimeDriver(s, fetch, clock, observers=[Obs()]).run())
    assert isinstance(seen[0], Start)
