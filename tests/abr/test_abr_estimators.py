"""Estimator math, worked by hand."""

import math

import pytest

from abr.errors import PolicyConfigError
from abr.estimators import DualEwma, DualEwmaConfig, Ewma, HarmonicMean, SlidingPercentile
from abr.estimators.harmonic import harmonic_mean


def test_single_ewma_sample_is_unbiased():
    e = Ewma(3.0)
    e.sample(2.0, 4e6)
    assert e.estimate() == pytest.approx(4e6)
    assert e.total_weight_s == 2.0


def test_ewma_two_samples_by_hand():
    # half-life 3 s: alpha = 0.5 ** (2 / 3) per 2-second sample
    e = Ewma(3.0)
    e.sample(2.0, 4e6)
    e.sample(2.0, 1e6)
    a = 0.5 ** (2 / 3)
    raw = a * ((1 - a) * 4e6) + (1 - a) * 1e6
    assert e.estimate() == pytest.approx(raw / (1 - 0.5 ** (4 / 3)))
    assert e.estimate() == pytest.approx(2.15946e6, rel=1e-4)


def test_ewma_rejects_bad_half_life():
    with pytest.raises(PolicyConfigError):
        Ewma(0.0)


def test_dual_ewma_lower_wins_and_default():
    cfg = DualEwmaConfig(
        fast_half_life_s=3,
        slow_half_life_s=8,
        min_sample_bytes=0,
        min_total_bytes=1,
        default_bps=5e5,
    )
    d = DualEwma(cfg)
    assert d.estimate_bps() == 5e5  # default before any sample
    d.add(1_000_000, 2.0)  # 4 Mbit/s
    d.add(250_000, 2.0)  # 1 Mbit/s
    # fast (3 s) 2.15946 Mbit/s, slow (8 s) 2.37035 Mbit/s -> fast wins
    assert d.estimate_bps() == pytest.approx(2.15946e6, rel=1e-4)


def test_dual_ewma_rising_throughput_slow_wins():
    d = DualEwma(DualEwmaConfig(min_sample_bytes=0, min_total_bytes=1))
    d.add(250_000, 2.0)
    d.add(1_000_000, 2.0)
    fast = Ewma(2.0)
    slow = Ewma(5.0)
    for e in (fast, slow):
        e.sample(2.0, 1e6)
        e.sample(2.0, 4e6)
    assert d.estimate_bps() == pytest.approx(min(fast.estimate(), slow.estimate()))
    assert slow.estimate() < fast.estimate()


def test_dual_ewma_ignores_small_samples_and_waits_for_bytes():
    d = DualEwma()  # shaka defaults: 16 kB per sample, 128 kB total, 1 Mbit/s default
    assert d.add(10_000, 0.01) is False
    assert d.estimate_bps() == 1e6
    assert d.add(100_000, 0.1) is True  # 8 Mbit/s, but only 100 kB seen
    assert d.estimate_bps() == 1e6
    d.add(100_000, 0.1)
    assert d.has_estimate
    assert d.estimate_bps() == pytest.approx(8e6)


def test_dual_ewma_ignores_zero_duration():
    d = DualEwma(DualEwmaConfig(min_sample_bytes=0, min_total_bytes=1))
    assert d.add(1000, 0.0) is False


def test_harmonic_mean_by_hand():
    assert harmonic_mean([1e6, 2e6, 4e6]) == pytest.approx(3 / (1 / 1e6 + 1 / 2e6 + 1 / 4e6))
    assert harmonic_mean([]) == 0.0
    h = HarmonicMean(window=2)
    assert h.estimate_bps() is None
    h.add(125_000, 1.0)  # 1 Mbit/s, falls out of the window
    h.add(250_000, 1.0)  # 2 Mbit/s
    h.add(500_000, 1.0)  # 4 Mbit/s
    assert len(h) == 2
    assert h.estimate_bps() == pytest.approx(2 / (1 / 2e6 + 1 / 4e6))
    assert h.add(0, 1.0) is False


def test_harmonic_rejects_bad_window():
    with pytest.raises(PolicyConfigError):
        HarmonicMean(0)


@pytest.mark.parametrize(
    ("pct", "expected"), [(50, 3e6), (25, 2e6), (10, 1.4e6), (100, 5e6), (0, 1e6)]
)
def test_sliding_percentile_linear(pct, expected):
    p = SlidingPercentile(window=5, percentile=pct)
    for mbit in (5, 1, 4, 2, 3):
        p.add(int(mbit * 125_000), 1.0)
    assert p.estimate_bps() == pytest.approx(expected)


def test_sliding_percentile_window_and_errors():
    p = SlidingPercentile(window=2, percentile=0)
    assert p.estimate_bps() is None
    for mbit in (1, 8, 9):
        p.add(mbit * 125_000, 1.0)
    assert p.estimate_bps() == pytest.approx(8e6)
    with pytest.raises(PolicyConfigError):
        SlidingPercentile(window=3, percentile=101)
    with pytest.raises(PolicyConfigError):
        SlidingPercentile(window=0)
    assert math.isfinite(p.estimate_bps())
