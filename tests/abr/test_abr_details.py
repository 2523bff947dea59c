"""Smaller behaviours: sample feeding, BOLA-E placeholder bookkeeping, rule-table edges."""

import math

import pytest

from abr import DownloadReport, ThroughputSample
from abr.policies import BolaEPolicy, RulesConfig, RulesPolicy, ThroughputPolicy
from abr.policies._common import SampleCursor, rung_for_rate
from tests.support.abr_context import make_ctx

LADDER3 = (1e6, 2e6, 4e6)


def ctx(buffer_s=10.0, *, bitrates=LADDER3, index=3, last=0, **kw):
    return make_ctx(buffer_s, bitrates=bitrates, index=index, count=48, last=last, **kw)


def s(mbps, end):
    return ThroughputSample(int(mbps * 1e6 / 8 * 2.0), 2.0, end)


def test_sample_cursor_bounded_window():
    c = SampleCursor()
    a, b, d, e = s(1, 1.0), s(2, 2.0), s(3, 3.0), s(4, 4.0)
    assert list(c.new([a, b])) == [a, b]
    assert list(c.new([a, b])) == []
    # the engine dropped the oldest sample and added two
    assert list(c.new([b, d, e])) == [d, e]
    # rebuilt (equal, not identical) objects are recognised
    assert list(c.new([ThroughputSample(e.bytes, e.seconds, e.end_s)])) == []
    assert list(c.new(())) == []


def test_rung_for_rate():
    assert rung_for_rate(LADDER3, 0.5e6, 2) == 0
    assert rung_for_rate(LADDER3, 2e6, 2) == 1
    assert rung_for_rate(LADDER3, 1e9, 1) == 1


def test_throughput_reason_names_default_before_samples():
    d = ThroughputPolicy().decide(ctx())
    assert "default estimate" in d.reason


def bola_e_steady(tput_mbps=2.5):
    p = BolaEPolicy()
    p.decide(ctx(0.0, index=0))
    p.decide(ctx(4.0, index=1, samples=[s(tput_mbps, 1.0)]))
    return p


def test_bola_e_observe_clamps_placeholder_to_rung_levels():
    p = bola_e_steady()
    gp, v = p._gp, p._v
    u = [1.0, 1 + math.log(2), 1 + math.log(4)]
    p._placeholder = 100.0
    # download of rung 1 took 1 s, buffer 6 s before adding the 4 s segment:
    # level = 10, level_was = 11; max placeholder = V (u1 + gp) - 11
    p.observe(DownloadReport(2, 1, 1_000_000, 1.0, 0.0, 1.0, 6.0))
    assert p._placeholder == pytest.approx(max(0.0, v * (u[1] + gp) - 11.0))
    p._placeholder = 0.0
    # min level for rung 2 (against rungs 0 and 1), minus level_was
    p.observe(DownloadReport(3, 2, 2_000_000, 1.0, 0.0, 1.0, 6.0))
    lvl = max(
        v * (gp + (4e6 * u[0] - 1e6 * u[2]) / (4e6 - 1e6)),
        v * (gp + (4e6 * u[1] - 2e6 * u[2]) / (4e6 - 2e6)),
    )
    assert p._placeholder == pytest.approx(max(0.0, lvl - 11.0))


def test_bola_e_abandon_lowers_placeholder():
    p = bola_e_steady()
    p._placeholder = 50.0
    p.observe(DownloadReport(2, 2, 300_000, 2.0, 0.0, 2.0, 3.0, abandoned=True))
    assert p._placeholder == pytest.approx(10.0 - 3.0)


def test_bola_e_respects_max_rung():
    p = bola_e_steady(tput_mbps=50)
    d = p.decide(ctx(40.0, index=2, samples=[s(50, 1.0)], max_rung=1))
    assert d.rung <= 1


def test_rules_no_rung_under_class_cap_uses_lowest():
    high = (6e6, 9e6, 15e6)  # nothing at or below 4.5 Mbit/s (720p class)
    p = RulesPolicy()
    p.decide(ctx(9.5, bitrates=high, last=2, samples=[s(30, 1.0)]))
    d = p.decide(ctx(9.0, bitrates=high, last=2, samples=[s(30, 1.0)]))
    assert (d.rung, d.rule) == (0, "rules/falling-buffer")


def test_rules_custom_thresholds():
    cfg = RulesConfig(rich_buffer_s=10.0, rich_throughput_bps=5e6)
    d = RulesPolicy(cfg).decide(ctx(12.0, samples=[s(6, 1.0)]))
    assert (d.rung, d.rule) == (2, "rules/rich")
