"""Pure parts of the edge: fault parsing, ranges, path safety, trace maths."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.edge.app import BadPath, Unsatisfiable, parse_range, safe_relative_path
from server.edge.faults import FaultError, FaultSet, FaultState, parse_faults
from server.edge.shaping import ConstantRate, TraceRate


# ---------------------------------------------------------------- faults
def test_parse_merges_into_current() -> None:
    a = parse_faults({"latency_ms": 100}, current=FaultSet(), now=0.0)
    b = parse_faults({"error": {"probability": 0.5, "seed": 3}}, current=a, now=0.0)
    assert b.latency_ms == 100 and b.error is not None and b.error.status == 503
    assert set(b.raw) == {"latency_ms", "error"}
    assert b.active and not FaultSet().active


def test_rate_forms(tmp_path: Path) -> None:
    fs = parse_faults({"rate": {"bytes_per_s": 1000}}, current=FaultSet(), now=0.0)
    assert isinstance(fs.rate, ConstantRate)
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps([{"duration_ms": 1000, "bandwidth_kbps": 80}]))
    fs = parse_faults({"rate": {"trace": str(trace), "time_scale": 2}}, current=fs, now=5.0)
    assert isinstance(fs.rate, TraceRate)
    assert fs.rate.origin == 5.0 and fs.rate.time_scale == 2
    with pytest.raises(FaultError, match="rate"):
        parse_faults({"rate": {}}, current=FaultSet(), now=0.0)


def test_down_is_not_a_lasting_fault() -> None:
    fs = parse_faults({"down": {"for_s": 2}}, current=FaultSet(), now=0.0)
    assert fs.down_for_s == 2 and "down" not in fs.raw
    with pytest.raises(FaultError, match="down.for_s"):
        parse_faults({"down": {"for_s": 0}}, current=FaultSet(), now=0.0)


@pytest.mark.parametrize(
    "body",
    [[], "x", {"match": ""}, {"health": "great"}, {"error": {"seed": 1.5}}, {"truncate": 5}],
)
def test_bad_bodies(body: object) -> None:
    with pytest.raises(FaultError):
        parse_faults(body, current=FaultSet(), now=0.0)


def test_match_glob() -> None:
    fs = parse_faults({"match": "*.m4s", "latency_ms": 1}, current=FaultSet(), now=0.0)
    assert fs.applies_to("/demo/video/v0/seg-00001.m4s")
    assert not fs.applies_to("/demo/master.m3u8")
    fs = parse_faults({"match": "demo/audio/*"}, current=fs, now=0.0)
    assert fs.applies_to("/demo/audio/a0/init.mp4")


def test_fault_state_seeded_and_clear() -> None:
    state = FaultState()
    assert state.roll_error() is None
    fs = parse_faults({"error": {"probability": 0.5, "seed": 9}}, current=FaultSet(), now=0.0)
    state.set(fs)
    first = [state.roll_error() for _ in range(50)]
    state.set(parse_faults({"error": {"probability": 0.5, "seed": 9}}, current=FaultSet(), now=0))
    assert [state.roll_error() for _ in range(50)] == first
    assert set(first) == {None, 503}
    state.set(parse_faults({"latency_ms": 5}, current=state.faults, now=0.0))
    state.clear("error")
    assert state.faults.error is None and state.faults.latency_ms == 5
    assert set(state.faults.raw) == {"latency_ms"}
    with pytest.raises(FaultError):
        state.clear("nope")
    state.clear()
    assert not state.faults.active


# ---------------------------------------------------------- properties
@given(size=st.integers(1, 10_000), a=st.integers(0, 20_000), b=st.integers(0, 20_000))
def test_parse_range_properties(size: int, a: int, b: int) -> None:
    try:
        r = parse_range(f"bytes={a}-{b}", size)
    except Unsatisfiable:
        assert a >= size
        return
    if r is None:
        assert b < a
        return
    first, last = r
    assert first == a and 0 <= first <= last <= size - 1
    assert last == min(b, size - 1)


@given(size=st.integers(1, 10_000), n=st.integers(1, 20_000))
def test_suffix_range_properties(size: int, n: int) -> None:
    first, last = parse_range(f"bytes=-{n}", size) or (None, None)
    assert last == size - 1 and first == max(0, size - n)


_SEG = st.text(alphabet="abc.%2e/\\\x00", min_size=0, max_size=12)


@given(st.lists(_SEG, min_size=1, max_size=5))
def test_safe_path_never_escapes(parts: list[str]) -> None:
    raw = "/" + "/".join(parts)
    try:
        rel = safe_relative_path(raw.encode("latin-1"), raw)
    except BadPath:
        return
    assert not rel.startswith("/")
    assert ".." not in rel.split("/")
    norm = posixpath.normpath("/root/" + rel)
    assert norm.startswith("/root/")


_STEPS = st.lists(
    st.tuples(st.floats(0.05, 5.0), st.one_of(st.just(0.0), st.floats(1.0, 1e6))),
    min_size=1,
    max_size=8,
).filter(lambda steps: any(b > 0 for _, b in steps))


@given(steps=_STEPS, t0=st.floats(0, 100), n1=st.integers(0, 10**7), n2=st.integers(0, 10**7))
def test_trace_send_time_is_monotonic_and_additive(
    steps: list[tuple[float, float]], t0: float, n1: int, n2: int
) -> None:
    tr = TraceRate(tuple(d for d, _ in steps), tuple(b for _, b in steps))
    t1 = tr.send_time(t0, n1)
    assert t1 >= t0
    assert tr.send_time(t0, n1 + n2) >= t1 - 1e-9
    # sending n1 then n2 more from where n1 ended takes as long as n1 + n2 at once
    assert tr.send_time(t1, n2) == pytest.approx(tr.send_time(t0, n1 + n2), rel=1e-6, abs=1e-6)
