"""The oracle MPC's planned download times are the replay's real ones (benchmarks/oracle_mpc.py)."""

from __future__ import annotations

import pytest

from benchmarks.bench_policy_eval import _load
from benchmarks.oracle_mpc import OracleDpMpc, OracleMpc
from player.replay import replay


@pytest.mark.parametrize("make", [OracleMpc, lambda t: OracleDpMpc(t, horizon=8)])
def test_oracle_knows_the_true_download_times(make):
    traces, video, preset = _load("pensieve_train", 40, 3)
    for t in traces:
        policy = make(t)
        res = replay(t, video, lambda p=policy: p, preset)
        assert res.state == "ended"
        real = [s.download_s for s in res.segments[1:]]  # segment 0: the preset's start rung
        assert len(policy.predicted_s) == len(real)
        assert policy.predicted_s == pytest.approx(real, rel=1e-6, abs=1e-6)


def test_horizon_must_be_positive():
    traces, _, _ = _load("pensieve_train", 100, 0)
    with pytest.raises(ValueError, match="horizon"):
        OracleMpc(traces[0], horizon=0)


def test_dp_grid_must_be_positive():
    traces, _, _ = _load("pensieve_train", 100, 0)
    with pytest.raises(ValueError, match="grid_s"):
        OracleDpMpc(traces[0], horizon=8, grid_s=0.0)
