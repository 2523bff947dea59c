"""The replay network model against a literal pointer/last-time walk of the trace (Pensieve)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from player.network import PENSIEVE_NETWORK, Link, NetworkConfig
from player.traces import Trace


class PointerWalk:
    """Pensieve's simulator walk: pointer starting at 1, last time t[0], wrap to (1, 0)."""

    def __init__(self, times: list[float], bps: list[float], payload: float) -> None:
        self.times, self.bps, self.payload = times, bps, payload
        self.ptr, self.last = 1, times[0]

    def download(self, nbytes: float) -> float:
        delay = sent = 0.0
        while True:
            rate = self.bps[self.ptr] / 8.0
            dur = self.times[self.ptr] - self.last
            got = rate * dur * self.payload
            if sent + got > nbytes:
                frac = (nbytes - sent) / rate / self.payload
                self.last += frac
                return delay + frac
            sent += got
            delay += dur
            self.last = self.times[self.ptr]
            self.ptr += 1
            if self.ptr >= len(self.bps):
                self.ptr, self.last = 1, 0.0

    def sleep(self, seconds: float) -> None:
        while True:
            dur = self.times[self.ptr] - self.last
            if dur > seconds:
                self.last += seconds
                return
            seconds -= dur
            self.last = self.times[self.ptr]
            self.ptr += 1
            if self.ptr >= len(self.bps):
                self.ptr, self.last = 1, 0.0

    @property
    def pos(self) -> float:
        return self.last


def _trace(times, mbps, lat=None) -> Trace:
    return Trace("t", tuple(float(t) for t in times), tuple(m * 1e6 for m in mbps), lat)


SIMPLE = _trace([0, 1, 2, 3], [9, 8, 0, 4])  # 1 s at 8 Mbps, 1 s at 0, 1 s at 4 Mbps; period 3 s


def test_transfer_within_one_interval():
    link = Link(SIMPLE, NetworkConfig(payload_factor=1.0, latency_s=0.0))
    seconds, end = link.transfer(0.0, 500_000)  # 8 Mbps = 1e6 B/s
    assert seconds == pytest.approx(0.5)
    assert end == pytest.approx(0.5)


def test_transfer_skips_zero_bandwidth_and_wraps():
    link = Link(SIMPLE, NetworkConfig(payload_factor=1.0, latency_s=0.0))
    # from 0.5: 0.5e6 B by t=1, nothing over (1,2], 0.5e6 B/s over (2,3] -> 1e6 B at t=3,
    # then wrap: 0.25e6 B more at 1e6 B/s = 0.25 s
    seconds, end = link.transfer(0.5, 1_250_000)
    assert seconds == pytest.approx(2.5 + 0.25)
    assert end == pytest.approx(0.25)


def test_download_longer_than_many_periods():
    link = Link(SIMPLE, NetworkConfig(payload_factor=1.0, latency_s=0.0))
    per_period = 1_500_000
    seconds, end = link.transfer(0.0, 10 * per_period + 500_000)
    assert seconds == pytest.approx(30.5)
    assert end == pytest.approx(0.5)


def test_exact_fit_ends_after_following_zero_interval_like_pensieve():
    link = Link(SIMPLE, NetworkConfig(payload_factor=1.0, latency_s=0.0))
    seconds, end = link.transfer(0.0, 1_000_000)  # exactly the first interval
    walk = PointerWalk(list(SIMPLE.times_s), list(SIMPLE.bandwidth_bps), 1.0)
    assert seconds == pytest.approx(walk.download(1_000_000))
    assert seconds == pytest.approx(2.0)  # the zero interval is consumed before finishing
    assert end == pytest.approx(2.0)


def test_latency_does_not_advance_trace_in_pensieve_mode():
    link = Link(SIMPLE, PENSIEVE_NETWORK)
    delay, end = link.request(0.0, 475_000)  # 0.95 payload of 1e6 B/s -> 0.5 s
    assert delay == pytest.approx(0.5 + 0.08)
    assert end == pytest.approx(0.5)


def test_latency_advances_trace_in_realistic_mode():
    cfg = NetworkConfig(payload_factor=1.0, latency_s=0.5, latency_advances_trace=True)
    link = Link(SIMPLE, cfg)
    delay, end = link.request(0.0, 250_000)
    assert delay == pytest.approx(0.5 + 0.25)
    assert end == pytest.approx(0.75)


def test_trace_latency_used_when_configured():
    tr = _trace([0, 1, 2], [1, 1, 1], lat=(0.1, 0.2, 0.3))
    assert Link(tr, NetworkConfig(latency_s=0.05)).latency_at(0.5) == pytest.approx(0.2)
    assert Link(tr, NetworkConfig(latency_s=0.05)).latency_at(1.5) == pytest.approx(0.3)
    assert Link(tr, NetworkConfig(latency_s=0.05, use_trace_latency=False)).latency_at(1.5) == 0.05
    assert Link(SIMPLE, NetworkConfig(latency_s=0.05)).latency_at(1.5) == 0.05


def test_advance_wraps():
    link = Link(SIMPLE, PENSIEVE_NETWORK)
    assert link.advance(2.5, 0.25) == pytest.approx(2.75)
    assert link.advance(2.5, 0.5) == pytest.approx(0.0)
    assert link.advance(2.5, 7.0) == pytest.approx(0.5)


def test_delivered_inverts_transfer():
    link = Link(SIMPLE, NetworkConfig(payload_factor=0.9, latency_s=0.0))
    for pos, n in [(0.0, 10), (0.3, 700_000), (1.5, 3_000_000), (2.9, 12_345_678)]:
        seconds, _ = link.transfer(pos, n)
        assert link.delivered(pos, seconds) == pytest.approx(n, rel=1e-9)


def test_cache_returns_same_link():
    assert Link.for_trace(SIMPLE, PENSIEVE_NETWORK) is Link.for_trace(SIMPLE, PENSIEVE_NETWORK)
    assert Link.for_trace(SIMPLE, PENSIEVE_NETWORK) is not Link.for_trace(SIMPLE, NetworkConfig())


def test_config_validation():
    with pytest.raises(ValueError, match="payload_factor"):
        NetworkConfig(payload_factor=0.0)
    with pytest.raises(ValueError, match="latency_s"):
        NetworkConfig(latency_s=-1.0)
    with pytest.raises(ValueError, match="latency_s"):
        NetworkConfig(latency_s=math.nan)


def _random_trace(rng: random.Random, n: int) -> Trace:
    times = [0.0]
    for _ in range(n - 1):
        times.append(times[-1] + rng.choice([0.5, 1.0, 1.013, 5.0]))
    mbps = [rng.choice([0.0, 0.1, 0.7, 2.3, 8.0]) for _ in range(n)]
    mbps[-1] = max(mbps[-1], 0.3)
    return _trace(times, mbps)


@pytest.mark.parametrize("seed", range(8))
def test_matches_pointer_walk_over_a_session(seed):
    """Download/sleep sequences give the same delays and positions as the pointer walk."""
    rng = random.Random(seed)
    tr = _random_trace(rng, rng.randint(2, 40))
    link = Link(tr, PENSIEVE_NETWORK)
    walk = PointerWalk(list(tr.times_s), list(tr.bandwidth_bps), 0.95)
    pos = 0.0
    for _ in range(60):
        n = rng.choice([1, 50_000, 400_000, 2_000_000, 9_000_000])
        delay, pos = link.request(pos, n)
        ref = walk.download(n) + 0.08
        assert delay == pytest.approx(ref, rel=1e-9, abs=1e-9)
        assert (
            pos == pytest.approx(walk.pos, abs=1e-6)
            or abs(abs(pos - walk.pos) - tr.duration_s) < 1e-6
        )
        if rng.random() < 0.3:
            s = rng.choice([0.5, 1.0, 3.5, 100.0])
            pos = link.advance(pos, s)
            walk.sleep(s)
            assert (
                pos == pytest.approx(walk.pos, abs=1e-6)
                or abs(abs(pos - walk.pos) - tr.duration_s) < 1e-6
            )


def test_matches_pointer_walk_on_real_trace(pensieve_trace):
    link = Link(pensieve_trace, PENSIEVE_NETWORK)
    walk = PointerWalk(list(pensieve_trace.times_s), list(pensieve_trace.bandwidth_bps), 0.95)
    pos = 0.0
    for k in range(300):
        n = 100_000 + 37_123 * (k % 50)
        delay, pos = link.request(pos, n)
        assert delay == pytest.approx(walk.download(n) + 0.08, rel=1e-9)


@pytest.fixture(scope="module")
def pensieve_trace():
    from pathlib import Path

    from player.traces import load_trace

    shared = Path(__file__).resolve().parents[2].parent / "shared"
    return load_trace(
        shared / "traces" / "pensieve_train" / "bus.ljansbakken-oslo-report.2010-09-30_1133CEST.log"
    )


def test_transfer_many_matches_scalar():
    rng = random.Random(7)
    tr = _random_trace(rng, 30)
    link = Link(tr, PENSIEVE_NETWORK)
    pos = np.array([rng.uniform(0, tr.duration_s * 0.999) for _ in range(200)])
    nbytes = np.array([rng.choice([1, 10_000, 900_000, 30_000_000]) for _ in range(200)])
    secs, ends = link.transfer_many(pos, nbytes)
    for p, n, s, e in zip(pos, nbytes, secs, ends, strict=True):
        s1, e1 = link.transfer(float(p), int(n))
        assert s == pytest.approx(s1, rel=1e-9, abs=1e-9)
        assert e == pytest.approx(e1, abs=1e-6)


def test_zero_length_intervals_are_harmless():
    tr = _trace([0, 1, 1, 2], [8, 8, 99, 8])  # the 99 Mbps sample spans no time
    link = Link(tr, NetworkConfig(payload_factor=1.0, latency_s=0.0))
    seconds, end = link.transfer(0.5, 1_000_000)
    assert seconds == pytest.approx(1.0)
    assert end == pytest.approx(1.5)
    walk = PointerWalk(list(tr.times_s), list(tr.bandwidth_bps), 1.0)
    walk.download(500_000)
    assert walk.download(1_000_000) == pytest.approx(seconds)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.2, 1.0, 3.0]), min_size=2, max_size=12),
    st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=11, max_size=11),
    st.floats(0.0, 0.999),
    st.integers(1, 5_000_000),
    st.booleans(),
)
def test_transfer_properties(mbps, steps, frac, nbytes, advances):
    if not any(m > 0 for m in mbps[1:]):
        mbps[-1] = 1.0
    times = [0.0]
    for s in steps[: len(mbps) - 1]:
        times.append(times[-1] + s)
    tr = _trace(times, mbps)
    link = Link(tr, NetworkConfig(0.95, 0.05, latency_advances_trace=advances))
    pos = frac * tr.duration_s
    seconds, end = link.transfer(pos, nbytes)
    assert seconds > 0 and 0.0 <= end < tr.duration_s
    assert link.delivered(pos, seconds) == pytest.approx(nbytes, rel=1e-9, abs=1e-6)
    assert (
        link.advance(pos, seconds) == pytest.approx(end, abs=1e-6)
        or abs(abs(link.advance(pos, seconds) - end) - tr.duration_s) < 1e-6
    )
    more, _ = link.transfer(pos, nbytes + 1000)
    assert more >= seconds
    delay, _ = link.request(pos, nbytes)
    assert delay >= seconds - 1e-9 if advances else delay == pytest.approx(seconds + 0.05)
