"""benchmarks.optimum_gap: the gap to the offline optimum, broken down."""

import json

import pytest

from benchmarks import optimum_gap

D = "/x/pensieve_train"


def _doc(scores, optimum):
    sessions = [
        {"trace_dir": D, "trace": t, "policy": p, "qoe_lin": q}
        for p, per in scores.items()
        for t, q in per.items()
    ]
    per_trace = [
        {"trace_dir": D, "trace": t, "qoe_lin": q, "rebuffer_s": reb, "switches": 1}
        for t, (q, reb) in optimum.items()
    ]
    return {"sessions": sessions, "optimum": {"traces": len(optimum), "per_trace": per_trace}}


# trace c is an outage: the optimum itself stalls 20 s there
OPT = {"a": (50.0, 0.0), "b": (30.0, 0.0), "c": (-40.0, 20.0)}
SCORES = {"p": {"a": 40.0, "b": 30.0, "c": -40.0}, "q": {"a": 45.0, "b": 20.0, "c": -50.0}}


def test_figures():
    rep = optimum_gap.gap_report(_doc(SCORES, OPT), target=0.93, policy="p")
    assert rep.traces == 3 and rep.outage_traces == 1 and rep.outage_sum == -40.0
    p, q = rep.rows["p"], rep.rows["q"]
    assert p["share"] == pytest.approx(30 / 40) and q["share"] == pytest.approx(15 / 40)
    assert p["mean_ratio"] == pytest.approx((40 / 50 + 1.0) / 2)  # traces with optimum > 0
    assert q["mean_ratio"] == pytest.approx((45 / 50 + 20 / 30) / 2)
    assert p["calm_share"] == pytest.approx(70 / 80) and q["calm_share"] == pytest.approx(65 / 80)
    assert rep.target_mean == pytest.approx(0.93 * 40 / 3)
    assert p["needed_factor"] == pytest.approx(0.93 * 40 / 3 / 10)
    assert q["needed_factor"] == pytest.approx(0.93 * 40 / 3 / 5)
    assert rep.envelope_share == pytest.approx((45 + 30 - 40) / 40)  # best policy per trace
    assert rep.focus["gap_per_trace"] == pytest.approx(10 / 3)
    assert rep.focus["half_gap_traces"] == 1
    assert rep.focus["worst"][0][:3] == ("a", 50.0, 40.0)
    md = optimum_gap.render(rep)
    assert "| p | 10.00 | 0.750 | 0.900 | 0.875 | 1.240 |" in md
    assert "share 0.875" in md and "| a | 50.0 | 40.0 | q 45.0 |" in md


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no offline optimum"):
        optimum_gap.gap_report({"sessions": [], "optimum": None})
    partial = _doc({"p": {"a": 1.0, "b": 2.0}}, OPT)  # no session on trace c
    with pytest.raises(ValueError, match="without a session on every trace: p"):
        optimum_gap.gap_report(partial)
    with pytest.raises(ValueError, match="not in the run"):
        optimum_gap.gap_report(_doc(SCORES, OPT), policy="zzz")
    negative = _doc({"p": {"a": -5.0}}, {"a": (-10.0, 9.0)})
    with pytest.raises(ValueError, match="not positive"):
        optimum_gap.gap_report(negative)


def test_main(tmp_path, capsys):
    good = tmp_path / "run.json"
    good.write_text(json.dumps(_doc(SCORES, OPT)))
    assert optimum_gap.main([str(good), "--policy", "q", "--target", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "A share of 0.9 needs a mean QoE_lin of 12.00." in out
    assert "q: gap" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"sessions": []}')
    assert optimum_gap.main([str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
