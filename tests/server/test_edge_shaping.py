from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.edge.shaping import ConstantRate, ShapingError, TraceRate, load_trace

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
    assert durs == pytest.approx((1.0, 1.0, 0.5, 1.0))  # last step: the median gap
    assert rates == pytest.approx((1e6, 2e6, 1e6, 0.5e6))
    s = tmp_path / "s.json"
    s.write_text(json.dumps([{"duration_ms": 500, "bandwidth_kbps": 800, "latency_ms": 20}]))
    assert load_trace(s) == ((0.5,), (100_000.0,))


@pytest.mark.parametrize(
    ("text", "match"),
    [("0.0 x\n", ":1:"), ("", "empty"), ("[{}]", "item 0"), ("[", "bad JSON")],
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
