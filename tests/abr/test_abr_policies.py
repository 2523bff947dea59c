"""Each policy's decisions on hand-built contexts (numbers worked out from the papers' formulas)."""

import math

import pytest

from abr import DownloadReport, ThroughputSample
from abr.policies import (
    BbaConfig,
    BbaPolicy,
    BolaConfig,
    BolaEConfig,
    BolaEPolicy,
    BolaPolicy,
    DynamicPolicy,
    RulesPolicy,
    ThroughputConfig,
    ThroughputPolicy,
)
from tests.support.abr_context import make_ctx

PENSIEVE = (300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3)


def ctx(buffer_s=10.0, *, bitrates=PENSIEVE, index=5, count=48, last=1, **kw):
    return make_ctx(buffer_s, bitrates=bitrates, index=index, count=count, last=last, **kw)


def mbit_sample(mbps, seconds=2.0, end=0.0):
    return ThroughputSample(int(mbps * 1e6 / 8 * seconds), seconds, end)


# -- BBA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buffer_s", "rung"),
    [(0.0, 0), (4.99, 0), (5.0, 0), (7.0, 1), (9.9, 2), (12.0, 3), (14.99, 4), (15.0, 5), (50, 5)],
)
def test_bba_pensieve_map(buffer_s, rung):
    # Pensieve bb.py: floor(5 * (buffer - 5) / 10) between 5 s and 15 s
    assert BbaPolicy().decide(ctx(buffer_s)).rung == rung


def test_bba_first_chunk_at_rung_one():
    d = BbaPolicy().decide(ctx(0.0, index=0, last=3))
    assert d.rung == 1 and d.rule == "bba"
    assert BbaPolicy(BbaConfig(first_rung=None)).decide(ctx(0.0, index=0, last=3)).rung == 3


def test_bba_generalises_to_ladder_and_cap():
    three = (1e6, 2e6, 3e6)
    assert BbaPolicy().decide(ctx(10.0, bitrates=three)).rung == 1  # floor(2 * 5 / 10)
    assert BbaPolicy().decide(ctx(12.0, max_rung=3)).rung == 2  # floor(3 * 7 / 10)
    assert BbaPolicy().decide(ctx(20.0, max_rung=3)).rung == 3
    custom = BbaPolicy(BbaConfig(reservoir_s=2.0, cushion_s=4.0))
    assert custom.decide(ctx(4.0)).rung == 2  # floor(5 * 2 / 4)


# -- throughput --------------------------------------------------------------------------------


def test_throughput_single_sample():
    # 4 Mbit/s x 0.9 = 3.6 Mbit/s -> 2850 kbit/s (rung 4)
    d = ThroughputPolicy().decide(ctx(samples=[mbit_sample(4.0)]))
    assert d.rung == 4 and d.rule == "throughput"
    assert "3.6 Mbps" in d.reason


def test_throughput_two_samples_fast_ewma_wins():
    # fast (3 s) 2.159 Mbit/s < slow (8 s) 2.370 Mbit/s; x 0.9 = 1.943 -> 1850 kbit/s (rung 3)
    s = [mbit_sample(4.0, end=2.0), mbit_sample(1.0, end=4.0)]
    assert ThroughputPolicy().decide(ctx(samples=s)).rung == 3


def test_throughput_default_estimate_and_incremental_feed():
    p = ThroughputPolicy(ThroughputConfig(default_bps=1e6))
    assert p.decide(ctx()).rung == 1  # 0.9 Mbit/s -> 750 kbit/s
    s1 = mbit_sample(4.0, end=2.0)
    p.decide(ctx(samples=[s1]))
    # the same sample seen again is not fed twice
    assert p.decide(ctx(samples=[s1])).rung == 4
    s2 = mbit_sample(1.0, end=4.0)
    assert p.decide(ctx(samples=[s1, s2])).rung == 3


def test_throughput_respects_max_rung():
    assert ThroughputPolicy().decide(ctx(samples=[mbit_sample(100)], max_rung=2)).rung == 2


# -- BOLA-BASIC --------------------------------------------------------------------------------

LADDER3 = (1e6, 2e6, 4e6)


def test_bola_basic_by_hand():
    # u = [0, ln 2, ln 4]; V = (25 - 4) / (ln 4 + 5) = 3.28829
    # Q=10: scores 6.44, 4.36, 2.75 -> 0;  Q=16: 0.44, 1.36, 1.25 -> 1;  Q=17: -0.56, 0.86, 1.0 -> 2
    p = BolaPolicy()
    assert p.decide(ctx(10.0, bitrates=LADDER3)).rung == 0
    assert p.decide(ctx(16.0, bitrates=LADDER3)).rung == 1
    d = p.decide(ctx(17.0, bitrates=LADDER3))
    assert d.rung == 2 and d.wait_s == 0.0


def test_bola_basic_waits_above_target():
    # V (u_top + gp) = 25 - 4 = 21 s: at 23 s wait 2 s
    d = BolaPolicy().decide(ctx(23.0, bitrates=LADDER3))
    assert d.rung == 2
    assert d.wait_s == pytest.approx(2.0)
    assert "wait" in d.reason


def test_bola_basic_target_capped_by_engine_buffer():
    # buffer_max 13 s: V = 9 / (ln 4 + 5); top rung threshold 9 s
    d = BolaPolicy().decide(ctx(10.0, bitrates=LADDER3, buffer_max=13.0))
    assert d.rung == 2 and d.wait_s == pytest.approx(1.0)
    # target 30 s: V = 26 / (ln 4 + 5) = 4.0712; at Q = 10 scores 10.36, 6.59, 4.0 -> rung 0
    big = BolaPolicy(BolaConfig(buffer_target_s=30))
    assert big.decide(ctx(10.0, bitrates=LADDER3)).rung == 0
    assert big.decide(ctx(27.0, bitrates=LADDER3)).wait_s == pytest.approx(1.0)


# -- BOLA-E ------------------------------------------------------------------------------------


def test_bola_e_parameters():
    p = BolaEPolicy()
    p.decide(ctx(0.0, bitrates=LADDER3, index=0, last=0))
    # utilities 1, 1 + ln 2, 1 + ln 4; buffer max(10 + 2*3, 25) = 25 s
    gp = math.log(4) / (25 / 10 - 1)
    assert p._gp == pytest.approx(gp)
    assert p._v == pytest.approx(10 / gp)


def test_bola_e_startup_then_throughput_rung():
    p = BolaEPolicy()
    d = p.decide(ctx(0.0, bitrates=LADDER3, index=0, last=1))
    assert d.rung == 1 and "startup" in d.reason
    d = p.decide(ctx(4.0, bitrates=LADDER3, index=1, samples=[mbit_sample(2.5)]))
    assert d.rung == 1  # 2.5 Mbit/s -> 2 Mbit/s rung
    # placeholder = min buffer for rung 1 minus buffer: V (gp + (b1 u0 - b0 u1)/(b1 - b0)) - 4
    gp, v = p._gp, p._v
    u1 = 1 + math.log(2)
    want = v * (gp + (2e6 * 1 - 1e6 * u1) / (2e6 - 1e6)) - 4.0
    assert p._placeholder == pytest.approx(max(0.0, want))


def test_bola_e_insufficient_buffer_rule():
    p = BolaEPolicy()
    p.decide(ctx(0.0, bitrates=LADDER3, index=0, last=0))
    p.decide(ctx(4.0, bitrates=LADDER3, index=1, samples=[mbit_sample(50)]))
    d = p.decide(ctx(0.1, bitrates=LADDER3, index=2, samples=[mbit_sample(50)]))
    # 0.81 * 0.1 * 50e6 = 4.05 Mbit < 2e6 * 4 = 8 Mbit -> rung 0
    assert d.rung == 0
    assert "insufficient buffer" in d.reason


def test_bola_e_oscillation_guard():
    cfg = BolaEConfig(insufficient_buffer_rule=False)
    p = BolaEPolicy(cfg)
    p.decide(ctx(0.0, bitrates=LADDER3, index=0, last=0))
    p.decide(ctx(4.0, bitrates=LADDER3, index=1, samples=[mbit_sample(1.2)]))  # -> rung 0
    # plenty of buffer but only 1.2 Mbit/s: at most max(last 0, tput rung 0) + 1 = 1
    d = p.decide(ctx(30.0, bitrates=LADDER3, index=2, samples=[mbit_sample(1.2)]))
    assert d.rung == 1
    strict = BolaEPolicy(BolaEConfig(insufficient_buffer_rule=False, strict_oscillation=True))
    strict.decide(ctx(0.0, bitrates=LADDER3, index=0, last=0))
    strict.decide(ctx(4.0, bitrates=LADDER3, index=1, samples=[mbit_sample(1.2)]))
    assert strict.decide(ctx(30.0, bitrates=LADDER3, index=2, samples=[mbit_sample(1.2)])).rung == 0


def test_bola_e_waits_and_observes():
    p = BolaEPolicy()
    p.decide(ctx(0.0, bitrates=LADDER3, index=0, last=0))
    p.decide(ctx(4.0, bitrates=LADDER3, index=1, samples=[mbit_sample(50)]))
    d = p.decide(ctx(59.0, bitrates=LADDER3, index=2, samples=[mbit_sample(50)]))
    assert d.rung == 2 and d.wait_s > 0
    p.observe(DownloadReport(2, 2, 2_000_000, 0.5, 0.0, 0.5, 50.0))
    p.observe(DownloadReport(3, 2, 1_000_000, 0.5, 0.0, 0.5, 50.0, abandoned=True))
    assert p._placeholder >= 0.0


# -- DYNAMIC -----------------------------------------------------------------------------------


def test_dynamic_hysteresis_dashjs_thresholds():
    p = DynamicPolicy()
    s = [mbit_sample(3.0)]
    assert p.decide(ctx(8.0, samples=s)).rule == "dynamic/throughput"
    assert p.decide(ctx(12.0, samples=s)).rule == "dynamic/throughput"  # needs > 12 s
    d = p.decide(ctx(12.5, samples=s))
    assert d.rule == "dynamic/bola-e" and "switched" in d.reason
    assert p.decide(ctx(7.0, samples=s)).rule == "dynamic/bola-e"  # stays until <= 6 s
    assert p.decide(ctx(6.0, samples=s)).rule == "dynamic/throughput"


# -- rules -------------------------------------------------------------------------------------

WIDE = (0.3e6, 0.75e6, 1.2e6, 1.85e6, 2.85e6, 4.3e6, 6e6, 7.8e6, 12e6, 20e6)


def test_rules_rows_in_priority_order():
    fast = [mbit_sample(30.0)]
    medium = [mbit_sample(10.0)]
    p = RulesPolicy()
    d = p.decide(ctx(35.0, bitrates=WIDE, samples=fast, last=5))
    assert (d.rung, d.rule) == (9, "rules/rich")
    d = p.decide(ctx(20.0, bitrates=WIDE, samples=fast, last=9))
    assert (d.rung, d.rule) == (7, "rules/good")  # 1080p class: <= 7.8 Mbit/s
    d = p.decide(ctx(9.0, bitrates=WIDE, samples=fast, last=9))  # falling from 20 s
    assert (d.rung, d.rule) == (5, "rules/falling-buffer")  # 720p class: <= 4.5 Mbit/s
    d = p.decide(ctx(4.0, bitrates=WIDE, samples=fast, last=5))
    assert (d.rung, d.rule) == (0, "rules/low-buffer")
    p = RulesPolicy()  # fresh estimator
    d = p.decide(ctx(8.0, bitrates=WIDE, samples=medium, last=0))  # not falling: no row
    assert d.rule == "rules/throughput" and d.rung == 7  # 0.9 x 10 = 9 -> 7.8 Mbit/s
    d = p.decide(ctx(7.0, bitrates=WIDE, samples=medium, last=2))  # falling, below 720p class
    assert (d.rung, d.rule) == (2, "rules/falling-buffer")
