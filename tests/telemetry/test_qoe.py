"""QoE accumulator: QOE.md definitions on hand-computed sessions; components add up."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.qoe import HD_REWARDS, QoeAccumulator, score_chunks

LADDER = (300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3)


def feed(rungs, rebufs, first=0, dur=4.0):
    acc = QoeAccumulator(LADDER, first)
    for q, rb in zip(rungs, rebufs, strict=True):
        acc.chunk(q, dur, rb)
    return acc


def test_qoe_lin_by_hand():
    acc = feed([1, 3, 3, 0], [2.0, 0.5, 0.0, 1.0], first=1)
    s = acc.summary(played_s=16.0, stalled_s=1.5)
    # chunk 1: 1.85 - 4.3*0.5 - |1.85-0.75|; chunk 2: 1.85; chunk 3: 0.3 - 4.3 - 1.55
    expected = (1.85 - 2.15 - 1.1) + 1.85 + (0.3 - 4.3 - 1.55)
    assert s.qoe_lin.total == pytest.approx(expected)
    assert s.qoe_lin.bitrate == pytest.approx(1.85 + 1.85 + 0.3)
    assert s.qoe_lin.rebuffer_penalty == pytest.approx(4.3 * 1.5)
    assert s.qoe_lin.smoothness_penalty == pytest.approx(1.1 + 1.55)
    assert s.qoe_lin.per_chunk == pytest.approx((1.85 - 2.15 - 1.1, 1.85, 0.3 - 4.3 - 1.55))


def test_qoe_log_and_hd_by_hand():
    acc = feed([0, 5], [0.0, 1.0])
    s = acc.summary(8.0, 1.0)
    lg = math.log(4300 / 300)
    assert s.qoe_log.total == pytest.approx(0.0 + lg - 2.66 - lg)
    assert s.qoe_hd is not None
    assert s.qoe_hd.total == pytest.approx(1 + 20 - 8 - 19)
    assert HD_REWARDS == (1, 2, 3, 12, 15, 20)


def test_hd_only_for_six_rungs():
    acc = QoeAccumulator((1e6, 2e6))
    acc.chunk(0, 4.0, 0.0)
    assert acc.summary(4.0, 0.0).qoe_hd is None


def test_session_metrics():
    acc = feed([0, 2, 2, 1], [0.0, 1.0, 0.0, 0.5])
    acc.startup(1.25)
    acc.stall()
    acc.stall()
    s = acc.summary(played_s=14.0, stalled_s=1.5)
    assert s.startup_delay_s == 1.25
    assert s.rebuffer_count == 2
    assert s.rebuffer_ratio == pytest.approx(1.5 / 15.5)
    assert s.average_bitrate_bps == pytest.approx((300e3 + 2 * 1200e3 + 750e3) / 4)
    assert s.switches == 2
    assert s.switch_magnitude_bps == pytest.approx(900e3 + 450e3)
    assert s.time_per_rung_s == pytest.approx((4.0, 2.0, 8.0, 0, 0, 0))
    assert s.chunks == 4
    d = s.to_dict()
    assert d["qoe_lin"]["total"] == s.qoe_lin.total and d["time_per_rung_s"][2] == 8.0


def test_seek_drops_unplayed_chunks_from_time_per_rung():
    acc = QoeAccumulator(LADDER)
    acc.chunk(0, 4.0, 0.0)
    acc.chunk(1, 4.0, 0.0)
    acc.chunk(2, 4.0, 0.0)
    acc.seek(played_s=5.0)  # chunk 0 played, 1 s of chunk 1; chunk 2 flushed
    acc.chunk(4, 4.0, 0.0)
    s = acc.summary(played_s=9.0, stalled_s=0.0)
    assert s.time_per_rung_s == pytest.approx((4.0, 1.0, 0.0, 0.0, 4.0, 0.0))


def test_weighted_average_bitrate_by_duration():
    acc = QoeAccumulator(LADDER)
    acc.chunk(0, 1.0, 0.0)
    acc.chunk(5, 3.0, 0.0)
    assert acc.summary(4.0, 0.0).average_bitrate_bps == pytest.approx((300e3 + 3 * 4300e3) / 4)


def test_empty_session():
    s = QoeAccumulator(LADDER, 1).summary(0.0, 0.0)
    assert s.qoe_lin.total == 0.0 and s.rebuffer_ratio == 0.0 and s.average_bitrate_bps == 0.0


def test_bad_first_chunk():
    with pytest.raises(ValueError):
        QoeAccumulator(LADDER, -1)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(0, 30, allow_nan=False)), min_size=0, max_size=60
    ),
    st.integers(0, 3),
)
def test_components_sum_to_total(chunks, first):
    rungs = [q for q, _ in chunks]
    rebufs = [r for _, r in chunks]
    for score in score_chunks(rungs, rebufs, LADDER, first):
        assert score is not None
        assert score.bitrate - score.rebuffer_penalty - score.smoothness_penalty == pytest.approx(
            score.total, abs=1e-6
        )
        assert sum(score.per_chunk) == pytest.approx(score.total, abs=1e-6)
        assert len(score.per_chunk) == max(0, len(chunks) - first)
        for k, total in enumerate(score.per_chunk):
            parts = score.per_chunk_bitrate[k] - score.per_chunk_rebuffer[k]
            assert parts - score.per_chunk_smoothness[k] == pytest.approx(total, abs=1e-9)
        assert sum(score.per_chunk_bitrate) == pytest.approx(score.bitrate, abs=1e-6)
        assert sum(score.per_chunk_rebuffer) == pytest.approx(score.rebuffer_penalty, abs=1e-6)
        assert sum(score.per_chunk_smoothness) == pytest.approx(score.smoothness_penalty, abs=1e-6)
