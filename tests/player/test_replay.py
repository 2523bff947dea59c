"""The replay driver: Pensieve's figures reproduced, an independent reference simulator
matched chunk by chunk, failure on dead networks, determinism, other formats and presets."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from abr.base import AbrContext, Decision
from player.presets import PENSIEVE, PRESETS, REALISTIC, get_preset
from player.replay import replay, replay_many
from player.traces import Trace, load_trace, load_trace_dir
from player.video import load_pensieve_video, load_sabre_movie

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TRACES = SHARED / "traces"


class BB:
    """Pensieve's BB (reservoir 5 s, cushion 10 s), test-local."""

    name = "bb"

    def decide(self, ctx: AbrContext) -> Decision:
        b = ctx.buffer_s
        if b < 5.0:
            q = 0
        elif b >= 15.0:
            q = len(ctx.bitrates_bps) - 1
        else:
            q = int(5 * (b - 5.0) / 10.0)
        return Decision(q, "bb", f"buffer {b:.2f}s")


class Fixed:
    name = "fixed"

    def __init__(self, rung: int) -> None:
        self.rung = rung

    def decide(self, ctx: AbrContext) -> Decision:
        return Decision(self.rung, "fixed", "")


class Reference:
    """Pensieve's simulator loop restated literally (pointer/last time, ms-free floats)."""

    def __init__(self, trace: Trace, sizes, chunks: int = 48) -> None:
        self.t = list(trace.times_s)
        self.mbps = [b / 1e6 for b in trace.bandwidth_bps]
        self.sizes = sizes
        self.ptr, self.last, self.buffer, self.chunk = 1, self.t[0], 0.0, 0

    def _advance_sleep(self, sleep: float) -> None:
        while True:
            dur = self.t[self.ptr] - self.last
            if dur > sleep:
                self.last += sleep
                return
            sleep -= dur
            self.last = self.t[self.ptr]
            self.ptr += 1
            if self.ptr >= len(self.mbps):
                self.ptr, self.last = 1, 0.0

    def get_chunk(self, rung: int) -> tuple[float, float]:
        size = self.sizes[self.chunk][rung]
        delay = sent = 0.0
        while True:
            rate = self.mbps[self.ptr] * 1e6 / 8.0
            dur = self.t[self.ptr] - self.last
            payload = rate * dur * 0.95
            if sent + payload > size:
                frac = (size - sent) / rate / 0.95
                delay += frac
                self.last += frac
                break
            sent += payload
            delay += dur
            self.last = self.t[self.ptr]
            self.ptr += 1
            if self.ptr >= len(self.mbps):
                self.ptr, self.last = 1, 0.0
        delay += 0.08
        rebuf = max(delay - self.buffer, 0.0)
        self.buffer = max(self.buffer - delay, 0.0) + 4.0
        if self.buffer > 60.0:
            sleep = math.ceil((self.buffer - 60.0) / 0.5) * 0.5
            self.buffer -= sleep
            self._advance_sleep(sleep)
        self.chunk += 1
        return self.buffer, rebuf


def reference_session(trace: Trace, sizes, choose) -> tuple[list[int], list[float]]:
    ref = Reference(trace, sizes)
    rungs, rebufs = [], []
    rung = 1
    for _ in range(48):
        buf, rebuf = ref.get_chunk(rung)
        rungs.append(rung)
        rebufs.append(rebuf)
        rung = choose(buf)
    return rungs, rebufs


def bb_rung(b: float) -> int:
    return 0 if b < 5 else 5 if b >= 15 else int(5 * (b - 5) / 10)


def reference_qoe(rungs, rebufs) -> float:
    mbps = [(0.3, 0.75, 1.2, 1.85, 2.85, 4.3)[q] for q in rungs]
    return sum(mbps[k] - 4.3 * rebufs[k] - abs(mbps[k] - mbps[k - 1]) for k in range(1, 48))


@pytest.fixture(scope="module")
def traces():
    return load_trace_dir(TRACES / "pensieve_train")


@pytest.fixture(scope="module")
def video():
    return load_pensieve_video(TRACES / "pensieve_video")


def test_bb_reproduces_pensieve_figure(traces, video):
    results = replay_many(traces, video, BB, PENSIEVE)
    assert len(results) == 127
    assert all(r.state == "ended" for r in results)
    assert all(len(r.segments) == 48 for r in results)
    mean = statistics.mean(r.qoe.qoe_lin.total for r in results)
    assert mean == pytest.approx(15.68, rel=0.01)


def test_engine_matches_reference_simulator_chunk_by_chunk(traces, video):
    sizes = video.sizes
    for trace in traces:
        rungs, rebufs = reference_session(trace, sizes, bb_rung)
        r = replay(trace, video, BB, PENSIEVE)
        assert [s.rung for s in r.segments] == rungs, trace.name
        assert [s.rebuffer_s for s in r.segments[1:]] == pytest.approx(rebufs[1:], abs=1e-6), (
            trace.name
        )
        assert r.qoe.qoe_lin.total == pytest.approx(reference_qoe(rungs, rebufs), abs=1e-6)


@pytest.mark.parametrize("rung", [0, 3, 5])
def test_fixed_rung_matches_reference(traces, video, rung):
    for trace in traces[::9]:
        rungs, rebufs = reference_session(trace, video.sizes, lambda b: rung)
        r = replay(trace, video, lambda: Fixed(rung), PENSIEVE)
        assert [s.rung for s in r.segments] == rungs
        assert r.qoe.qoe_lin.total == pytest.approx(reference_qoe(rungs, rebufs), abs=1e-6)


def test_pensieve_startup_is_first_chunk_download(traces, video):
    r = replay(traces[0], video, BB, PENSIEVE)
    first = r.segments[0]
    assert first.rung == 1 and first.rule == "start"
    assert r.qoe.startup_delay_s == pytest.approx(first.download_s)
    assert first.rebuffer_s == 0.0  # startup is not rebuffering
    assert r.qoe.first_scored_chunk == 1 and len(r.qoe.qoe_lin.per_chunk) == 47


def test_buffer_cap_never_exceeded_after_waits(traces, video):
    r = replay(traces[50], video, lambda: Fixed(0), PENSIEVE)
    for s in r.segments:
        assert s.buffer_before_s <= 60.0 + 1e-9


def test_replay_is_deterministic(traces, video):
    a = replay(traces[3], video, BB, REALISTIC)
    b = replay(traces[3], video, BB, REALISTIC)
    assert a == b


DEAD_TAIL = Trace.from_mbps("dead-tail", [0.0, 10.0, 5000.0], [3.0, 3.0, 0.0])


@pytest.mark.parametrize("preset", [PENSIEVE, REALISTIC])
def test_dead_network_fails_after_stall_limit(video, preset):
    r = replay(DEAD_TAIL, video, BB, preset)
    assert r.state == "failed"
    assert r.failure is not None and "limit" in r.failure
    last_stall_start = r.end_s - preset.engine.stall_limit_s
    assert r.end_s < 5000.0
    assert last_stall_start >= 10.0 - 1e-6
    assert r.stalled_s >= preset.engine.stall_limit_s - 1e-6
    assert r.end_s - r.start_s == pytest.approx(r.played_s + r.stalled_s + r.startup_s)


def test_dead_network_during_startup_fails():
    video = load_pensieve_video(TRACES / "pensieve_video")
    tr = Trace.from_mbps("slow", [0.0, 0.001, 10_000.0], [1.0, 1.0, 0.0])
    r = replay(tr, video, BB, PENSIEVE)
    assert r.state == "failed" and "startup" in r.failure
    assert r.end_s == pytest.approx(PENSIEVE.engine.stall_limit_s)


def test_realistic_preset_with_abandonment(traces, video):
    from abr.policies.abandon import BufferAbandonRule

    assert REALISTIC.abandonment
    results = [replay(t, video, lambda: Fixed(5), REALISTIC) for t in traces[:20]]
    assert any(r.abandoned for r in results)
    for r in results:
        for s in r.segments:
            assert s.buffer_before_s >= 0.0
        assert r.end_s - r.start_s == pytest.approx(
            r.played_s + r.stalled_s + r.startup_s, abs=1e-6
        )
    explicit = replay(
        traces[0], video, lambda: Fixed(5), REALISTIC, abandon_rules=[BufferAbandonRule()]
    )
    assert explicit == results[0]
    none = replay(traces[0], video, lambda: Fixed(5), REALISTIC, abandon_rules=())
    assert not none.abandoned


def test_realistic_startup_threshold(traces, video):
    r = replay(traces[0], video, BB, REALISTIC)
    assert r.qoe.startup_delay_s == pytest.approx(r.segments[1].download_end_s)
    assert r.qoe.first_scored_chunk == 0


def test_sabre_trace_and_movie():
    movie = load_sabre_movie(TRACES / "sabre_movies" / "bbb.json")
    trace = load_trace(TRACES / "sabre_movies" / "network.json")
    r = replay(trace, movie, BB, REALISTIC)
    assert r.state == "ended"
    assert len(r.segments) == movie.segment_count
    assert r.qoe.qoe_hd is None  # 10-rung ladder
    # per-period latency from the trace is in the first download
    assert r.segments[0].download_s > 0.075


def test_latency_advances_trace_changes_results(traces, video):
    a = replay(traces[7], video, BB, PENSIEVE)
    from dataclasses import replace

    from player.network import NetworkConfig

    b = replay(
        traces[7], video, BB, replace(PENSIEVE, network=NetworkConfig(0.95, 0.08, True, False))
    )
    assert a.qoe.qoe_lin.total != b.qoe.qoe_lin.total


def test_replay_many_in_processes_matches_sequential(traces, video):
    few = traces[:6]
    parallel = replay_many(few, video, BB, PENSIEVE, processes=2)
    assert parallel == replay_many(few, video, BB, PENSIEVE)


def test_preset_by_name(traces, video):
    assert replay(traces[1], video, BB, "pensieve") == replay(traces[1], video, BB, PENSIEVE)
    with pytest.raises(ValueError, match="unknown preset"):
        replay(traces[1], video, BB, "fast")


def test_presets_registry():
    assert set(PRESETS) == {"pensieve", "realistic", "sabre"}
    assert get_preset("pensieve") is PENSIEVE
    with pytest.raises(ValueError, match="known: pensieve, realistic, sabre"):
        get_preset("nope")
    assert PENSIEVE.segments == 48 and PENSIEVE.engine.start_rung == 1
    assert PENSIEVE.network.payload_factor == 0.95 and not PENSIEVE.network.latency_advances_trace
    assert REALISTIC.network.latency_advances_trace and REALISTIC.engine.buffer_max_s == 30.0


class Schedule:
    """Plays a given rung per segment."""

    name = "schedule"

    def __init__(self, rungs: list[int]) -> None:
        self.rungs = rungs

    def decide(self, ctx: AbrContext) -> Decision:
        return Decision(self.rungs[ctx.segment_index], "schedule", "")


@pytest.mark.parametrize("advances", [False, True])
@pytest.mark.parametrize("cap", [60.0, 12.0])
def test_engine_agrees_with_the_offline_optimum_simulator(traces, video, advances, cap):
    """abr.optimal_sim re-implements this network/buffer model; both must agree exactly."""
    import random
    from dataclasses import replace

    from abr.optimal_sim import OptimalConfig, simulate_schedule
    from player.network import NetworkConfig

    rng = random.Random(int(cap) + advances)
    net = NetworkConfig(0.95, 0.08, latency_advances_trace=advances, use_trace_latency=False)
    engine = replace(PENSIEVE.engine, buffer_max_s=cap, stall_limit_s=1e9)
    preset = replace(PENSIEVE, network=net, engine=engine)
    cfg = OptimalConfig(latency_advances_trace=advances, buffer_cap_s=cap)
    v48 = video.truncated(48)
    for trace in traces[::16]:
        rungs = [1] + [rng.randint(0, 5) for _ in range(47)]
        mine = replay(trace, v48, lambda r=rungs: Schedule(r), preset)
        tr = (trace.times_s, trace.bandwidth_bps)
        ref = simulate_schedule(*tr, v48.sizes, v48.bitrates_bps, rungs, cfg)
        assert [s.rung for s in mine.segments] == rungs
        got = [s.rebuffer_s for s in mine.segments[1:]]
        assert got == pytest.approx([c.rebuffer_s for c in ref.chunks[1:]], abs=1e-6)
        assert mine.qoe.qoe_lin.total == pytest.approx(ref.score, abs=1e-6)
