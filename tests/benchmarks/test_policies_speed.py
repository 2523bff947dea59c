"""The policy speed bench: interleaved rounds, figures for every policy."""

from pathlib import Path

import pytest

from benchmarks import bench_policies_speed as bench
from player.traces import load_trace_dir
from player.video import load_pensieve_video

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


def test_rounds_are_interleaved_and_every_policy_gets_figures(monkeypatch):
    assert SHARED.is_dir(), f"../shared beside the repository is required: {SHARED} is missing"
    traces = load_trace_dir(SHARED / "pensieve_train")[:2]
    video = load_pensieve_video(SHARED / "pensieve_video")
    order: list[str] = []
    real = bench._Subject.policy_round

    def logged(self):
        order.append(self.name)
        real(self)

    monkeypatch.setattr(bench._Subject, "policy_round", logged)
    out = bench.measure_all(["bba", "robustmpc"], traces, video, rounds=2)
    assert order == ["bba", "robustmpc", "bba", "robustmpc"]
    for name in ("bba", "robustmpc"):
        m = out[name]
        assert m["sessions_cpu"] > 0 and m["us_per_decision"] > 0
        assert m["decisions"] == pytest.approx(47, abs=1)
    assert bench.measure("bba", traces, video, 1)["qoe"] == out["bba"]["qoe"]
