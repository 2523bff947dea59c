"""LongMPC's adaptive planning risk (``risk_*`` options; docs/policy-longmpc.md): on a link
the window selector marks FCC-like (window 3's summed log error below ``risk_ratio`` ×
window 5's) the plan uses its own rebuffer penalty, reserve and fresh-stretch errors."""

from __future__ import annotations

import math
import random

import pytest

from abr import ThroughputSample
from abr.errors import PolicyConfigError
from abr.estimators.levelshift import LevelShiftHarmonic
from abr.estimators.selector import SelectedHarmonic
from abr.policies.longmpc import LongMpcConfig, LongMpcPolicy
from tests.support.abr_context import make_ctx

LADDER = (300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3)
M = 1e6


def sample(mbps, seconds=4.0, end=0.0):
    return ThroughputSample(int(round(mbps * 1e6 / 8 * seconds)), seconds, end)


def steps(n, seed=3):
    """Long flat stretches at very different levels (FCC-like): window 3 predicts better."""
    rng = random.Random(seed)
    out, level = [], 1.0
    for k in range(n):
        if k % 8 == 0:
            level = 3.5 if level == 1.0 else 1.0
        out.append(level * (1.0 + 0.02 * rng.random()))
    return out


def iid(n, seed=5):
    """Independent draws (window 5 predicts at least as well as window 3)."""
    rng = random.Random(seed)
    return [math.exp(rng.gauss(0.6, 0.5)) for _ in range(n)]


def run(cfg, rates, buffers):
    """Decisions (rung, prediction) of a fresh policy on growing sample lists."""
    p = LongMpcPolicy(cfg)
    out, risky = [], []
    for i, buf in zip(range(1, len(rates) + 1), buffers, strict=False):
        samples = [sample(x, end=4.0 * k) for k, x in enumerate(rates[:i])]
        c = make_ctx(buf, bitrates=LADDER, index=i, count=200, last=2, samples=samples)
        d = p.decide(c)
        out.append((d.rung, p.prediction_bps))
        risky.append(p._risky)
    return out, risky


BUFFERS = [(3.0 * k) % 17.0 for k in range(60)]
OFF = {"risk_ratio": 0.0}  # the level-shift default before the risk options, bit for bit
NONE = {  # risk on, every risk setting as the plain one
    "risk_rebuffer_penalty": None,
    "risk_reserve_segments": None,
    "risk_fresh_error": None,
    "risk_fresh_error_down": None,
}


def test_selector_score_ratio_and_scored():
    s = SelectedHarmonic((5, 3), selection_window=4)
    assert s.scored == 0 and s.score_ratio() == math.inf
    s.add(1.0)
    assert s.scored == 1 and s.score_ratio() == math.inf  # first sample scores 0
    for x in (1.0, 1.0, 4.0, 4.0, 4.0):
        s.add(x)
    assert s.scored == 4
    assert s.score_ratio() == pytest.approx(s._totals[1] / s._totals[0], rel=1e-12)
    assert s.score_ratio() < 1.0  # after a step the short window is better


def test_level_shift_errors_with_replaced_fresh_errors():
    ls = LevelShiftHarmonic(threshold=0.5, fresh_error=0.8, fresh_error_down=0.3, fresh_samples=3)
    for x in (20 * M, 2 * M):  # a downward shift
        ls.add(x)
    assert ls.errors() == [0.3]
    assert ls.errors((0.5, 0.1)) == [0.1]
    ls.add(20 * M)  # upward
    assert ls.errors((0.5, 0.1)) == [0.5] and ls.errors() == [0.8]


def test_defaults():
    cfg = LongMpcConfig()
    assert cfg.risk_on and cfg.risk_ratio == 0.8 and cfg.risk_min_samples == 5
    assert (cfg.risk_rebuffer_penalty, cfg.risk_reserve_segments) == (4.9, 1.5)
    assert (cfg.risk_fresh_error, cfg.risk_fresh_error_down) == (0.5, None)
    assert not LongMpcConfig(**OFF).risk_on
    assert not LongMpcConfig(predictor="select").risk_on  # "levelshift" only
    assert not LongMpcConfig(predictor="hm").risk_on


def test_risk_ratio_without_overrides_decides_as_risk_off():
    rates = steps(60)
    got, risky = run(LongMpcConfig(**NONE), rates, BUFFERS)
    assert any(risky)
    assert got == run(LongMpcConfig(**OFF), rates, BUFFERS)[0]


def test_fcc_like_link_plans_with_the_risk_settings():
    rates = steps(60)
    kw = dict(NONE, risk_min_samples=10, risk_rebuffer_penalty=9.0, risk_reserve_segments=2.0)
    got, risky = run(LongMpcConfig(**kw), rates, BUFFERS)
    assert not any(risky[:9])  # fewer than risk_min_samples scored
    assert sum(risky) > 40
    plain, _ = run(LongMpcConfig(**OFF), rates, BUFFERS)
    same, _ = run(LongMpcConfig(**OFF, rebuffer_penalty=9.0, reserve_segments=2.0), rates, BUFFERS)
    # while risky the decisions are those of the risk settings; the prediction is the same
    assert [g[1] for g in got] == [p[1] for p in plain]
    assert all(g == s for g, s, r in zip(got, same, risky, strict=True) if r)
    assert all(g == p for g, p, r in zip(got, plain, risky, strict=True) if not r)
    assert got != plain


def test_risk_fresh_errors_change_the_discount_only_while_risky():
    rates = steps(60)
    base = LongMpcConfig(**OFF)
    risk = LongMpcConfig(**dict(NONE, risk_fresh_error=0.5, risk_fresh_error_down=0.1))
    plain, _ = run(base, rates, BUFFERS)
    got, risky = run(risk, rates, BUFFERS)
    lowered = [g[1] > p[1] for g, p in zip(got, plain, strict=True)]
    assert any(lowered)
    assert all(r for r, lo in zip(risky, lowered, strict=True) if lo)
    assert all(g == p for g, p, r in zip(got, plain, risky, strict=True) if not r)


def test_link_with_independent_draws_stays_at_the_default_risk():
    rates = iid(60)
    risk = LongMpcConfig(**dict(NONE, risk_rebuffer_penalty=9.0, risk_reserve_segments=2.0))
    got, risky = run(risk, rates, BUFFERS)
    assert sum(risky) < 6
    plain, _ = run(LongMpcConfig(**OFF), rates, BUFFERS)
    assert all(g == p for g, p, r in zip(got, plain, risky, strict=True) if not r)


@pytest.mark.parametrize(
    "bad",
    [
        {"risk_ratio": -0.1},
        {"risk_ratio": True},
        {"predictor_windows": (5,)},  # the risk needs a second window
        {"risk_min_samples": 0},
        {"risk_rebuffer_penalty": -1.0},
        {"risk_reserve_segments": "2"},
        {"risk_fresh_error": -0.5},
        {"risk_fresh_error_down": float("nan")},
    ],
)
def test_config_validation(bad):
    with pytest.raises(PolicyConfigError):
        LongMpcConfig(**bad)
