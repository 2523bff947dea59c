"""Trace loaders: the shared sets load; bad input raises TraceError naming file and line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from player.errors import PlayerError, ReplayError, TraceError
from player.traces import Trace, load_trace, load_trace_dir, parse_pensieve_trace, parse_sabre_trace

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TRACES = SHARED / "traces"


def test_error_tree():
    assert issubclass(TraceError, ReplayError)
    assert issubclass(ReplayError, PlayerError)


def test_pensieve_train_loads_sorted_and_skips_source():
    traces = load_trace_dir(TRACES / "pensieve_train")
    assert len(traces) == 127
    names = [t.name for t in traces]
    assert names == sorted(names)
    assert "SOURCE.md" not in names
    for t in traces:
        assert t.times_s[0] == 0.0
        assert t.duration_s > 0


def test_pensieve_values():
    t = load_trace(
        TRACES / "pensieve_train" / "bus.ljansbakken-oslo-report.2010-09-28_1407CEST.log"
    )
    assert t.times_s[:3] == (0.0, 1.01, 2.011)
    assert t.bandwidth_bps[0] == pytest.approx(2.29085714286e6)
    assert t.latency_s is None


def test_sabre_json_loads_with_cumulative_times_and_latency():
    traces = load_trace_dir(TRACES / "sabre_3glogs")
    assert len(traces) == 86
    t = traces[0]
    assert t.latency_s is not None and len(t.latency_s) == len(t.times_s)
    data = json.loads((TRACES / "sabre_3glogs" / t.name).read_text())
    assert t.times_s[1] == pytest.approx(data[0]["duration_ms"] / 1000)
    assert t.times_s[2] == pytest.approx((data[0]["duration_ms"] + data[1]["duration_ms"]) / 1000)
    assert t.bandwidth_bps[1] == pytest.approx(
        data[0]["bandwidth_kbps"] * 1000
    )  # holds over (0, t1]
    assert t.latency_s[1] == pytest.approx(data[0]["latency_ms"] / 1000)


def test_sabre_network_json():
    t = load_trace(TRACES / "sabre_movies" / "network.json")
    assert t.times_s == (0.0, 30.0, 60.0, 90.0, 120.0)
    assert t.bandwidth_bps[1:] == (5e6, 3e6, 1.5e6, 3e6)


def test_crlf_blank_lines_and_offset_start():
    t = parse_pensieve_trace("5.0\t1.0\r\n\r\n6.0\t2.0\r\n8.0\t0.5\r\n", "x")
    assert t.times_s == (0.0, 1.0, 3.0)
    assert t.bandwidth_bps == (1e6, 2e6, 0.5e6)


def test_mean_bps():
    t = Trace.from_mbps("m", [0, 1, 3], [9, 1, 4])
    assert t.mean_bps == pytest.approx((1 * 1e6 + 2 * 4e6) / 3)


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("", "empty", None),
        ("\n\n", "empty", None),
        ("0\t1\n", "at least 2", 1),
        ("0\t1\n-1\t2\n", "negative time|backwards", 2),
        ("0\t1\n2\t1\n1\t1\n", "backwards", 3),
        ("0\t1\n1\tnan\n", "not finite", 2),
        ("0\t1\n1\tinf\n", "not finite", 2),
        ("0\t1\nnan\t1\n", "not finite", 2),
        ("0\t1\n1\t-3\n", "negative bandwidth", 2),
        ("0\t1\n1\tabc\n", "not a number", 2),
        ("0\t1\n1\t2\t3\n", "expected", 2),
        ("0\t0\n1\t0\n2\t0\n", "zero over the whole trace", None),
        ("0\t1\n0\t1\n", "spans no time", 2),
    ],
)
def test_bad_pensieve_text(tmp_path, text, match, line):
    f = tmp_path / "bad.log"
    f.write_text(text)
    with pytest.raises(TraceError, match=match) as info:
        load_trace(f)
    assert str(f) in str(info.value)
    assert info.value.line == line or line is None
    if line is not None:
        assert f"{f}:{line}" in str(info.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "empty"),
        ({}, "list"),
        ([{"duration_ms": 1000}], "missing 'bandwidth_kbps'"),
        ([{"duration_ms": 1000, "bandwidth_kbps": -5}], "negative"),
        ([{"duration_ms": 1000, "bandwidth_kbps": "fast"}], "not a finite number"),
        (
            [{"duration_ms": 1000, "bandwidth_kbps": 0, "latency_ms": 5}],
            "zero over the whole trace",
        ),
        ([{"duration_ms": 0, "bandwidth_kbps": 10}], "span no time"),
        ([5], "period 0"),
    ],
)
def test_bad_sabre(data, match):
    with pytest.raises(TraceError, match=match):
        parse_sabre_trace(data, "s.json")


def test_bad_json_file(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("[{]")
    with pytest.raises(TraceError, match="invalid JSON"):
        load_trace(f)


def test_missing_file_and_dir(tmp_path):
    with pytest.raises(TraceError, match="cannot read"):
        load_trace(tmp_path / "nope")
    with pytest.raises(TraceError, match="not a directory"):
        load_trace_dir(tmp_path / "nope")
    (tmp_path / "SOURCE.md").write_text("# x")
    with pytest.raises(TraceError, match="no trace files"):
        load_trace_dir(tmp_path)


def test_trace_constructor_validates():
    with pytest.raises(TraceError, match="first time"):
        Trace("x", (1.0, 2.0), (1.0, 1.0))
    with pytest.raises(TraceError, match="2 times but 1"):
        Trace("x", (0.0, 2.0), (1.0,))
    with pytest.raises(TraceError, match="latenc"):
        Trace("x", (0.0, 2.0), (1.0, 1.0), (0.1,))
    with pytest.raises(TraceError, match="latency"):
        Trace("x", (0.0, 2.0), (1.0, 1.0), (0.1, math.nan))
    with pytest.raises(TraceError, match="sample 1"):
        Trace("x", (0.0, math.inf), (1.0, 1.0))


def test_zero_after_some_point_is_accepted():
    t = parse_pensieve_trace("0\t1\n1\t1\n2\t0\n100\t0\n", "z")
    assert t.bandwidth_bps[-1] == 0.0
