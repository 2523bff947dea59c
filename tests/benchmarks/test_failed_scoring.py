"""A failed session's unplayed remainder is charged to QoE_lin as rebuffering."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness import run_sessions
from player.presets import PENSIEVE, REALISTIC
from player.replay import replay
from player.traces import Trace
from player.video import load_sabre_movie
from telemetry.qoe import failed_session_penalty, unplayed_seconds

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MOVIE = SHARED / "traces" / "sabre_movies" / "bbb.json"
DEAD_TAIL = Trace.from_mbps("dead-tail", [0.0, 60.0, 5000.0], [3.0, 3.0, 0.0])
GOOD = Trace.from_mbps("good", [0.0, 5000.0], [20.0, 20.0])


@pytest.fixture(scope="module")
def movie():
    return load_sabre_movie(MOVIE)


def test_penalty_is_the_rebuffer_penalty_times_the_remainder():
    assert failed_session_penalty(0.0) == 0.0
    assert failed_session_penalty(10.0) == pytest.approx(43.0)
    assert failed_session_penalty(2.0, rebuffer_penalty=1.0) == 2.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="unplayed"):
            failed_session_penalty(bad)


def test_unplayed_seconds_of_failed_and_ended_sessions(movie):
    failed = replay(DEAD_TAIL, movie, _bola(), REALISTIC)
    assert failed.state == "failed"
    left = unplayed_seconds(failed, movie)
    assert left == pytest.approx((movie.segment_count - len(failed.segments)) * 3.0)
    assert 0 < left < movie.segment_count * 3.0
    assert unplayed_seconds(failed, movie, segments=len(failed.segments)) == 0.0
    ended = replay(GOOD, movie, _bola(), REALISTIC)
    assert ended.state == "ended" and unplayed_seconds(ended, movie) == 0.0


def test_harness_rows_charge_failed_sessions_only(movie):
    run = run_sessions([("t", DEAD_TAIL), ("t", GOOD)], movie, ["bola-e"], REALISTIC)
    dead, good = run.rows
    raw = replay(DEAD_TAIL, movie, _bola(), REALISTIC).qoe.qoe_lin.total
    assert dead.state == "failed" and dead.unplayed_s > 0
    assert dead.qoe_lin == pytest.approx(raw - 4.3 * dead.unplayed_s)
    assert good.unplayed_s == 0.0
    assert good.qoe_lin == replay(GOOD, movie, _bola(), REALISTIC).qoe.qoe_lin.total
    # the JSON/CSV session record carries the charged remainder
    from benchmarks.results_io import session_dict

    assert session_dict(dead)["unplayed_s"] == pytest.approx(dead.unplayed_s)
    assert session_dict(good)["unplayed_s"] == 0.0
    # the pensieve preset never fails on these: nothing charged
    run_p = run_sessions([("t", GOOD)], movie, ["bola-e"], PENSIEVE)
    assert run_p.rows[0].unplayed_s == 0.0


def _bola():
    from abr import policy_factory

    return policy_factory("bola-e")
