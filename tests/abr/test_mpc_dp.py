"""The DP plan search (abr/policies/mpc_dp.py) against brute-force enumeration."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from abr.policies.mpc_dp import dp_plan

RATES = [300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3]


def brute(rates, dl, buffer_s, seg, last, cap, penalty=4.3, terminal=0.0):
    """Every plan with the exact (capped) buffer: {first rung: best score}."""
    best: dict[int, float] = {}
    r = [x / 1e6 for x in rates]
    for combo in itertools.product(range(len(rates)), repeat=len(dl)):
        b, score, prev = buffer_s, 0.0, last
        for k, c in enumerate(combo):
            d = dl[k][c]
            score += r[c] - penalty * max(d - b, 0.0) - abs(r[c] - r[prev])
            b = min(max(b - d, 0.0) + seg, cap)
            prev = c
        score += terminal * b
        best[combo[0]] = max(best.get(combo[0], -np.inf), score)
    return best


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("terminal", [0.0, 0.3])
def test_dp_matches_brute_force_within_the_grid(seed, terminal):
    rng = random.Random(seed)
    h = rng.randint(1, 4)
    n = rng.randint(2, 6)
    rates = RATES[:n]
    seg = rng.choice([2.0, 4.0])
    cap = rng.choice([10.0, 20.0, 60.0])
    mbps = rng.uniform(0.2, 5.0)
    dl = [
        [seg * rates[r] / (mbps * 1e6) * rng.uniform(0.5, 1.5) for r in range(n)] for _ in range(h)
    ]
    buf = rng.uniform(0.0, cap)
    last = rng.randrange(n)
    grid = 0.001
    per_first = brute(rates, dl, buf, seg, last, cap, terminal=terminal)
    exact = max(per_first.values())
    rung, score = dp_plan(
        rates, dl, buf, seg, last, buffer_max_s=cap, grid_s=grid, terminal_value=terminal
    )
    tol = (4.3 + terminal) * grid * h * (h + 1) / 2 + 1e-9
    assert exact - tol <= score <= exact + 1e-9
    runner_up = max((v for r, v in per_first.items() if r != rung), default=-np.inf)
    if exact - runner_up > 2 * tol:  # no near-tie: the same first rung
        assert per_first[rung] == exact


def test_coarse_grid_is_pessimistic_and_close():
    dl = [[4.0 * r / 2.0e6 for r in RATES] for _ in range(3)]
    exact = max(brute(RATES, dl, 5.0, 4.0, 2, 60.0).values())
    _, score = dp_plan(RATES, dl, 5.0, 4.0, 2, buffer_max_s=60.0, grid_s=0.5)
    assert exact - 4.3 * 0.5 * 6 <= score <= exact + 1e-9


def test_long_horizon_runs_and_keeps_a_safe_first_rung():
    # 12 chunks at 1 Mbps from an empty buffer: the top rungs would stall every chunk
    dl = [[4.0 * r / 1.0e6 for r in RATES] for _ in range(12)]
    rung, _ = dp_plan(RATES, dl, 0.0, 4.0, 0, buffer_max_s=60.0)
    assert RATES[rung] <= 1.0e6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"download_s": [[1.0, 2.0]]}, "rungs"),
        ({"download_s": []}, "chunks"),
        ({"grid_s": 0.0}, "grid_s"),
        ({"buffer_max_s": 1.0}, "buffer_max_s"),
        ({"last_rung": 9}, "last_rung"),
        ({"rebuffer_penalty": -1.0}, "rebuffer_penalty"),
        ({"download_s": [[-1.0] * 6]}, ">= 0"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    args = {
        "download_s": [[1.0] * 6],
        "buffer_s": 2.0,
        "segment_s": 4.0,
        "last_rung": 0,
        "buffer_max_s": 60.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dp_plan(RATES, **args)
