"""The oracle MPC's planned download times are the replay's real ones (benchmarks/oracle_mpc.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_policy_eval import _load
from benchmarks.oracle_mpc import OracleDpMpc, OracleMpc
from player.presets import PENSIEVE
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


def test_noise_blurs_the_foresight_reproducibly():
    traces, video, preset = _load("pensieve_train", 40, 3)
    lat = PENSIEVE.network.latency_s
    logs = []
    for t in traces:
        runs = []
        for _ in range(2):
            policy = OracleMpc(t, noise=0.3, seed=7)
            res = replay(t, video, lambda p=policy: p, preset)
            runs.append(([s.rung for s in res.segments], list(policy.predicted_s), res))
        assert runs[0][:2] == runs[1][:2]  # seeded: the same draws, the same session
        res = runs[0][2]
        real = [s.download_s - lat for s in res.segments[1:]]
        planned = [p - lat for p in runs[0][1]]
        logs += [np.log(p / r) for p, r in zip(planned, real, strict=True) if r > 0]
    assert len(logs) > 100
    assert abs(float(np.mean(logs))) < 0.1
    assert 0.2 < float(np.std(logs)) < 0.4  # the planned first chunk is off by ~sigma


def test_noise_must_be_a_sigma():
    traces, _, _ = _load("pensieve_train", 100, 0)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise"):
            OracleMpc(traces[0], noise=bad)
