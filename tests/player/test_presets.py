"""The ``sabre`` replay preset reproduces Sabre's default simulator (player/presets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from abr.base import AbrContext, Decision
from player.presets import PRESETS, SABRE, get_preset
from player.replay import replay
from player.traces import Trace
from player.video import load_sabre_movie

MOVIES = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "sabre_movies"


class Top:
    """Always the highest rung (the engine decides the first one in the sabre preset)."""

    name = "top"

    def decide(self, ctx: AbrContext) -> Decision:
        return Decision(len(ctx.bitrates_bps) - 1, "top", "")


@pytest.fixture(scope="module")
def movie():
    return load_sabre_movie(MOVIES / "bbb.json")


def _flat(mbps: float, latency_s: float, span_s: float = 4000.0) -> Trace:
    return Trace("flat", (0.0, span_s), (mbps * 1e6, mbps * 1e6), (latency_s, latency_s))


def test_sabre_preset_is_registered_with_sabres_defaults():
    assert get_preset("sabre") is SABRE and PRESETS["sabre"] is SABRE
    e = SABRE.engine
    assert (e.startup_threshold_s, e.rebuffer_resume_s, e.start_rung) == (0.0, 0.0, 0)
    assert e.buffer_max_s + 3.0 == 25.0 and e.drain_step_s == 0.0
    assert SABRE.network.payload_factor == 1.0 and SABRE.network.latency_advances_trace
    assert SABRE.network.use_trace_latency and not SABRE.abandonment


def test_sabre_session_timing_matches_sabres_loop(movie):
    lat = 0.1
    r = replay(_flat(100.0, lat), movie, Top, SABRE)
    assert r.state == "ended" and len(r.segments) == movie.segment_count
    first, second = r.segments[0], r.segments[1]
    assert first.rung == 0  # Abr.get_first_quality() == 0
    # latency then the bytes at the full bandwidth (no payload factor)
    assert first.download_s == pytest.approx(lat + first.bytes * 8 / 100e6, rel=1e-9)
    assert second.rung == len(movie.bitrates_bps) - 1
    # a request starts only when buffer + one segment <= 25 s
    assert max(s.buffer_before_s for s in r.segments) <= 22.0 + 1e-9
    assert max(s.buffer_after_s for s in r.segments) <= 25.0 + 1e-6
    assert r.stalled_s == pytest.approx(0.0, abs=1e-9)


def test_sabre_stall_ends_with_the_next_segment(movie):
    # 0.2 Mbps: the lowest rung (230 kbps) cannot keep up, so stalls happen
    r = replay(_flat(0.2, 0.05), movie, Top, SABRE)
    assert r.state == "ended" and r.stalled_s > 0
    stalled = [s for s in r.segments if s.rebuffer_s > 0]
    assert stalled and all(s.buffer_after_s == pytest.approx(3.0, abs=1e-6) for s in stalled)
