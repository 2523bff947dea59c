"""Property tests of the engine and the replay driver (hypothesis, modest example counts).

Invariants: the buffer is never negative; played + stalled + startup + seeking + paused
time equals the session's wall time; QoE components sum to the totals; replay is
deterministic; an always-lowest policy never scores below the lowest-rung bound.

Lowest-rung bound. Every chunk is at R_min, so the bitrate term is n·R_min and there is
no smoothness penalty. A scored chunk's rebuffer is at most its own download delay (the
stall it ends began after the previous chunk arrived, and buffer-full waits never stall).
A trace is periodic with period T carrying C bytes, so from any position N bytes have
arrived after (⌊N/C⌋+1)·T seconds. Hence QoE_lin ≥ n·R_min − 4.3·Σ_k (L + (⌊N_k/C⌋+1)·T)
with L the request latency. The bound needs no simulation of the schedule.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abr.base import AbrContext, Decision
from player.errors import IllegalEventError
from player.network import Link, NetworkConfig
from player.presets import PENSIEVE, REALISTIC
from player.replay import replay
from player.session import EngineConfig, Session
from player.states import (
    DownloadComplete,
    DownloadFailed,
    DownloadProgress,
    Pause,
    Resume,
    Seek,
    State,
    Stop,
    Tick,
    Wait,
)
from player.traces import Trace
from player.video import Video

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def traces(draw) -> Trace:
    n = draw(st.integers(2, 25))
    steps = draw(
        st.lists(
            st.sampled_from([0.25, 0.5, 1.0, 1.013, 5.0, 20.0]), min_size=n - 1, max_size=n - 1
        )
    )
    mbps = draw(st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0, 2.5, 8.0]), min_size=n, max_size=n))
    if not any(m > 0 for m in mbps[1:]):
        mbps[-1] = 0.5
    times = [0.0]
    for s in steps:
        times.append(times[-1] + s)
    return Trace.from_mbps("h", times, mbps)


@st.composite
def videos(draw) -> Video:
    rungs = draw(st.integers(1, 4))
    segs = draw(st.integers(1, 12))
    dur = draw(st.sampled_from([1.0, 2.0, 4.0]))
    rates = tuple(300e3 * (2.2**r) for r in range(rungs))
    jitter = draw(st.lists(st.floats(0.5, 1.5), min_size=segs, max_size=segs))
    sizes = tuple(tuple(max(1, int(r * dur / 8 * j)) for r in rates) for j in jitter)
    return Video(rates, dur, sizes, "h")


class Lowest:
    name = "lowest"

    def decide(self, ctx: AbrContext) -> Decision:
        assert ctx.buffer_s >= 0.0
        return Decision(0, "lowest", "")


class BufferBased:
    name = "bb"

    def decide(self, ctx: AbrContext) -> Decision:
        assert ctx.buffer_s >= 0.0
        top = ctx.top_rung
        return Decision(min(top, int(ctx.buffer_s // 3)), "bb", f"{ctx.buffer_s:.2f}")


class Noisy:
    """Deterministic pseudo-random rungs and occasional waits."""

    name = "noisy"

    def __init__(self) -> None:
        self.rng = random.Random(1)

    def decide(self, ctx: AbrContext) -> Decision:
        assert ctx.buffer_s >= 0.0
        wait = 1.0 if self.rng.random() < 0.2 else 0.0
        return Decision(self.rng.randint(0, ctx.top_rung), "noisy", "", wait_s=wait)


POLICIES = {"lowest": Lowest, "bb": BufferBased, "noisy": Noisy}


@st.composite
def presets(draw):
    base = draw(st.sampled_from([PENSIEVE, REALISTIC]))
    cap = draw(st.sampled_from([3.0, 10.0, 60.0]))
    engine = replace(
        base.engine,
        buffer_max_s=cap,
        startup_threshold_s=min(cap, draw(st.sampled_from([0.0, 4.0, 10.0]))),
        rebuffer_resume_s=min(cap, draw(st.sampled_from([0.0, 4.0]))),
        stall_limit_s=draw(st.sampled_from([5.0, 60.0, 1e6])),
        start_rung=draw(st.sampled_from([None, 0])),
        first_scored_chunk=draw(st.integers(0, 1)),
    )
    return replace(base, engine=engine, segments=None)


def check_invariants(r) -> None:
    for s in r.segments:
        assert s.buffer_before_s >= 0.0 and s.buffer_after_s >= 0.0 and s.rebuffer_s >= 0.0
        assert s.download_end_s >= s.download_start_s
    total = r.played_s + r.stalled_s + r.startup_s + r.seeking_s + r.paused_s
    assert total == pytest.approx(r.end_s - r.start_s, abs=1e-6)
    for score in (r.qoe.qoe_lin, r.qoe.qoe_log, r.qoe.qoe_hd):
        if score is None:
            continue
        assert score.bitrate - score.rebuffer_penalty - score.smoothness_penalty == pytest.approx(
            score.total, abs=1e-6
        )
        assert sum(score.per_chunk) == pytest.approx(score.total, abs=1e-6)
    assert sum(r.qoe.time_per_rung_s) == pytest.approx(r.played_s, abs=1e-6)
    assert r.state in ("ended", "failed")


@SETTINGS
@given(traces(), videos(), presets(), st.sampled_from(sorted(POLICIES)))
def test_replay_invariants_and_determinism(trace, video, preset, policy):
    r = replay(trace, video, POLICIES[policy], preset)
    check_invariants(r)
    if r.state == "ended":
        assert len(r.segments) == video.segment_count
        assert r.played_s == pytest.approx(video.duration_s, abs=1e-6)
    assert replay(trace, video, POLICIES[policy], preset) == r


def lowest_rung_bound(trace: Trace, video: Video, net: NetworkConfig, first: int) -> float:
    link = Link(trace, net)
    lat = max(link.latency_at(p) for p in trace.times_s)
    period, carried = trace.duration_s, link.period_bytes
    bound = 0.0
    for k in range(first, video.segment_count):
        n = video.sizes[k][0]
        worst = lat + (math.floor(n / carried) + 1) * period
        bound += video.bitrates_bps[0] / 1e6 - 4.3 * worst
    return bound


@SETTINGS
@given(traces(), videos(), st.sampled_from([PENSIEVE, REALISTIC]), st.integers(0, 2))
def test_lowest_rung_never_below_the_bound(trace, video, preset, first):
    engine = replace(preset.engine, start_rung=0, stall_limit_s=1e9, first_scored_chunk=first)
    preset = replace(preset, engine=engine, segments=None)
    r = replay(trace, video, Lowest, preset)
    assert r.state == "ended"
    assert all(s.rung == 0 for s in r.segments)
    bound = lowest_rung_bound(trace, video, preset.network, first)
    assert r.qoe.qoe_lin.total >= bound - 1e-6
    assert r.qoe.qoe_lin.smoothness_penalty == 0.0


@settings(max_examples=80, deadline=None)
@given(
    videos(), st.lists(st.tuples(st.integers(0, 9), st.floats(0.0, 6.0)), min_size=1, max_size=60)
)
def test_random_event_sequences_keep_the_books(video, script):
    """Any legal sequence of user and network events: buffer >= 0, time adds up."""
    s = Session(
        video,
        BufferBased(),
        EngineConfig(buffer_max_s=10.0, stall_limit_s=20.0, startup_threshold_s=2.0),
    )
    from player.states import Start

    acts = s.handle(Start(0.0))
    wait = next((a.until_s for a in acts if type(a) is Wait), None)
    for choice, dt in script:
        if s.finished:
            break
        fetch = s.in_flight is not None
        t = s.t + dt
        if choice <= 3 and fetch:
            ev = DownloadComplete(t)
        elif choice == 4 and fetch:
            ev = DownloadProgress(t, 10)
        elif choice == 5 and fetch:
            ev = DownloadFailed(t, "x")
        elif choice == 6:
            ev = Seek(t, dt * 3)
        elif choice == 7:
            ev = Pause(t) if s.state is not State.PAUSED else Resume(t)
        elif choice == 8 and wait is not None:
            ev = Tick(max(wait, s.t))
        elif choice == 9 and dt > 5.9:
            ev = Stop(t)
        else:
            ev = Tick(t)
        try:
            acts = s.handle(ev)
        except IllegalEventError:
            assert s.state in (State.IDLE, State.PAUSED, State.ENDED, State.FAILED) or type(ev) in (
                Pause,
                Resume,
            )
            continue
        w = [a.until_s for a in acts if type(a) is Wait]
        if w:
            wait = w[-1]
        assert s.buffer >= 0.0
        r = s.result()
        total = r.played_s + r.stalled_s + r.startup_s + r.seeking_s + r.paused_s
        end = r.end_s if s.finished else s.t
        assert total == pytest.approx(end - r.start_s, abs=1e-6)
