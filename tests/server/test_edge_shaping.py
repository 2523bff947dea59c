from __future__ import annotations

import json
from pathlib import Path

import pytest

from player import traces as player_traces
from player.network import Link, NetworkConfig
from server.edge.shaping import ConstantRate, ShapingError, TraceRate, load_trace, load_trace_rate

TRACES = Path("/work/shared/traces")


def test_constant_rate() -> None:
    assert ConstantRate(1000).send_time(5.0, 500) == pytest.approx(5.5)
    with pytest.raises(ShapingError):
        ConstantRate(0)


def test_trace_integrates_steps_and_wraps() -> None:
    tr = TraceRate((1.0, 1.0), (100.0, 300.0))
    assert tr.send_time(0.0, 50) == pytest.approx(0.5)
    assert tr.send_time(0.0, 100) == pytest.approx(1.0)
    assert tr.send_time(0.0, 250) == pytest.approx(1.5)
    assert tr.send_time(0.0, 400 + 100) == pytest.approx(3.0)  # wrapped once
    assert tr.send_time(1.5, 150) == pytest.approx(2.0)  # 0.5 s left at 300 B/s
    assert tr.send_time(1.5, 200) == pytest.approx(2.5)  # then 50 B at 100 B/s


def test_trace_origin_and_time_scale() -> None:
    tr = TraceRate((1.0, 1.0), (100.0, 300.0), origin=10.0, time_scale=2.0)
    # steps now last 0.5 s each, starting at t=10
    assert tr.send_time(10.0, 50) == pytest.approx(10.5)
    assert tr.send_time(10.5, 150) == pytest.approx(11.0)


def test_zero_bandwidth_steps_are_skipped() -> None:
    tr = TraceRate((1.0, 1.0), (0.0, 100.0))
    assert tr.send_time(0.0, 50) == pytest.approx(1.5)
    with pytest.raises(ShapingError):
        TraceRate((1.0,), (0.0,))


def test_load_formats(tmp_path: Path) -> None:
    p = tmp_path / "p.log"
    p.write_text("0.0\t8.0\n1.0\t16.0\n2.0\t8.0\n2.5\t4.0\n")
    durs, rates = load_trace(p)
    # replay's convention: line i holds over (t[i-1], t[i]]; line 0's bandwidth is never
    # used and the trace wraps at the last time (2.5 s)
    assert durs == pytest.approx((1.0, 1.0, 0.5))
    assert rates == pytest.approx((2e6, 1e6, 0.5e6))
    s = tmp_path / "s.json"
    s.write_text(json.dumps([{"duration_ms": 500, "bandwidth_kbps": 800, "latency_ms": 20}]))
    assert load_trace(s) == ((0.5,), (100_000.0,))
    rate = load_trace_rate(s, time_scale=2.0)
    assert rate.latencies_s == (0.02,)


def test_sabre_latency_delays_the_first_byte_while_the_trace_runs_on() -> None:
    # 1 s at 100 B/s with 0.2 s latency, then 1 s at 300 B/s with 0.4 s latency
    tr = TraceRate((1.0, 1.0), (100.0, 300.0), latencies_s=(0.2, 0.4))
    assert tr.send_time(0.0, 50) == pytest.approx(0.7)  # 0.2 + 0.5
    assert tr.send_time(0.5, 100) == pytest.approx(1.0 + 70 / 300)  # 30 B by 1.0, 70 at 300
    assert tr.send_time(1.0, 30) == pytest.approx(1.5)  # step 1: 0.4 s, then 0.1 s
    scaled = TraceRate((1.0, 1.0), (100.0, 300.0), time_scale=2.0, latencies_s=(0.2, 0.4))
    assert scaled.send_time(0.0, 0) == pytest.approx(0.1)
    with pytest.raises(ShapingError, match="latency"):
        TraceRate((1.0,), (1.0,), latencies_s=(-1.0,))


def _replay_delay(trace: player_traces.Trace, pos: float, nbytes: int) -> float:
    link = Link(
        trace,
        NetworkConfig(
            payload_factor=1.0, latency_s=0.0, latency_advances_trace=True, use_trace_latency=True
        ),
    )
    return link.request(pos, nbytes)[0]


@pytest.mark.parametrize("sub", ["pensieve_train", "sabre_3glogs"])
def test_edge_plays_a_shared_trace_exactly_like_replay(sub: str) -> None:
    """The edge's schedule and replay's network model give the same delivery time for
    the same file, from the same position, across steps and across the wrap."""
    assert TRACES.is_dir(), f"../shared beside the repository is required: {TRACES} is missing"
    f = sorted(x for x in (TRACES / sub).iterdir() if x.name != "SOURCE.md")[0]
    trace = player_traces.load_trace(f)
    edge = load_trace_rate(f)
    assert edge.durations_s == pytest.approx(
        [b - a for a, b in zip(trace.times_s, trace.times_s[1:], strict=False) if b > a]
    )
    if sub == "sabre_3glogs":
        assert edge.latencies_s is not None and any(edge.latencies_s)
    period = trace.duration_s
    for pos in (0.0, 0.3, 1.0, 7.77, period / 2, period - 0.4):
        for nbytes in (1, 20_000, 300_000, 3_000_000):
            want = _replay_delay(trace, pos, nbytes)
            assert edge.send_time(pos, nbytes) - pos == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_edge_and_replay_read_a_pensieve_file_with_the_same_errors(tmp_path: Path) -> None:
    p = tmp_path / "one.log"
    p.write_text("0.0\t1.0\n")
    with pytest.raises(player_traces.TraceError):
        player_traces.load_trace(p)
    with pytest.raises(ShapingError, match="at least 2 samples"):
        load_trace(p)


@pytest.mark.parametrize(
    ("text", "match"),
    [("0.0 x\n", ":1:"), ("", "empty"), ("[{}]", "period 0"), ("[", "bad JSON")],
)
def test_load_errors_say_where(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ShapingError, match=match):
        load_trace(p)


def test_load_shared_traces() -> None:
    assert TRACES.is_dir(), f"../shared beside the repository is required: {TRACES} is missing"
    for sub in ("pensieve_train", "sabre_hd_fs"):
        files = sorted(f for f in (TRACES / sub).iterdir() if f.name != "SOURCE.md")[:3]
        for f in files:
            durs, rates = load_trace(f)
            assert durs and all(d > 0 for d in durs) and any(r > 0 for r in rates)
            TraceRate(durs, rates).send_time(0.0, 2_000_000)
