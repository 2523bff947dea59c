"""The agreement benchmark's mismatch classes and pooled breakdown (pure)."""

from __future__ import annotations

from benchmarks.agreement_report import breakdown, classify, markdown


def _row(real: list[int], rep: list[int], **kw: object) -> dict:
    diffs = [[i, a, b] for i, (a, b) in enumerate(zip(real, rep, strict=True)) if a != b]
    n = len(real)
    same = n - len(diffs)
    near = sum(1 for i, a in enumerate(real) if a in rep[max(0, i - 1) : i + 2])
    row = {
        "trace": "t",
        "policy": "bba",
        "segments": n,
        "same": same,
        "share": same / n,
        "share_within_1_segment": near / n,
        "diffs": diffs,
        "real_rungs": real,
        "replay_rungs": rep,
        "real_segs": [[i, r] for i, r in enumerate(real)],
        "replay_segs": [[i, r] for i, r in enumerate(rep)],
        "real_abandons": [],
        "replay_abandons": [],
        "real_abandoned": 0,
        "replay_abandoned": 0,
        "replay_self_agreement": {"+5ms": 1.0, "+10ms": 1.0, "+20ms": 1.0},
    }
    row.update(kw)
    return row


def test_classes() -> None:
    # index 2: real switched one segment early (shift); index 5: one rung apart;
    # index 7: two rungs apart (other)
    real = [0, 0, 1, 1, 1, 2, 1, 3, 1]
    rep = [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert classify(_row(real, rep)) == {
        "after_abandonment": 0,
        "shifted_switch": 1,
        "one_rung": 1,
        "other": 1,
    }
    # a real abandonment of segment 1 that replay did not make: later mismatches follow it
    ab = _row(real, rep, real_abandons=[[3.0, 1, 0, "buffer", "slow"]], real_abandoned=1)
    assert classify(ab)["after_abandonment"] == 3


def test_breakdown_pools_by_segments_and_sensitivity() -> None:
    a = _row([0] * 10, [0] * 9 + [1])
    b = _row(
        [1] * 30,
        [1] * 30,
        policy="robustmpc",
        replay_self_agreement={"+5ms": 0.9, "+10ms": 0.8, "+20ms": 0.7},
    )
    out = breakdown([a, b])
    assert out["pooled"] == {"sessions": 2, "segments": 40, "identical": 0.975}
    assert out["per_policy"]["bba"]["identical"] == 0.9
    assert out["timing_sensitive_sessions"]["sessions"] == 1
    assert out["replay_self_pooled"]["+5ms"] == 0.925
    assert out["mismatches"] == 1 and out["sessions_below_90"] == 0
    md = markdown(
        {
            "command": "x",
            "machine_start": {"utc": "u", "loadavg": [1, 1, 1]},
            "machine_end": {"loadavg": [1, 1, 1]},
            "speed": 4.0,
            "latency_ms": 80.0,
            "request_overhead_wall_ms": 3.0,
            "edge_wait_wall_ms": [17.0, 17.0],
            "min_share": 0.9,
            "breakdown": out,
            "rows": [
                dict(
                    r,
                    real={"stalls": 0, "avg_bitrate_kbps": 1.0, "switches": 0},
                    replay={"stalls": 0, "avg_bitrate_kbps": 1.0, "switches": 0},
                    download_diff_s=None,
                    best_replay_latency_ms=80,
                    best_share=1.0,
                )
                for r in (a, b)
            ],
        }
    )
    assert "**pooled 97.5 %**" in md and "| t | robustmpc | 30/30 (100.0 %)" in md


def test_in_session_overhead_of_replay_itself_is_zero() -> None:
    """The overhead measure compares a session's downloads with the network model:
    on a replay session (which *is* the model) it is 0, and it grows by exactly the
    latency a replay adds on top."""
    from dataclasses import replace

    from benchmarks.bench_agreement import engine, in_session_overhead, network, replay_session
    from benchmarks.bench_concurrency import headless_config
    from player.traces import Trace
    from player.video import Video

    cfg = headless_config(policy="bba", engine=engine())
    video = Video((210e3, 424e3, 799e3), 2.0, tuple((52_000, 106_000, 200_000) for _ in range(30)))
    trace = Trace("t", (0.0, 7.0, 13.0, 30.0), (0.0, 2e6, 0.3e6, 1.2e6))
    net = network(0.08)
    own = replay_session(trace, video, "bba", cfg, net)
    assert abs(in_session_overhead(trace, net, own)) < 1e-9
    slower = replay_session(trace, video, "bba", cfg, replace(net, latency_s=0.1))
    assert in_session_overhead(trace, net, slower) > 0.015
