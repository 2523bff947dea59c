"""The compiled search's bound (``_mpc_kernel.c``, header "Bound") never prunes a winner or a tie.

The bound prices the remaining download time at multipliers between 0 and the
rebuffer penalty; these cases stress where it is tightest and where rounding
matters: buffers of 0 to 1 segment, wide and equal bitrates (exact ties),
penalty 0 and very large penalties, horizons 1..8 and up to 10 rungs, both
score orders and both tie rules, Pensieve's clamped size rows, and
non-finite download times (no pruning at all). Every answer must be
:func:`brute_force_plan`'s, bit for bit.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abr.policies import mpc_kernel, mpc_search
from abr.policies.robustmpc import brute_force_plan

pytestmark = pytest.mark.skipif(mpc_kernel.KERNEL is None, reason="the kernel was not built")

#: brute force enumerates n^h plans in Python: keep each example quick
MAX_PLANS = 4096
PENALTIES = [0.0, 0.5, 2.66, 4.3, 4.9, 160.0, 1e4]


@st.composite
def ladders(draw, n):
    """n bitrates: realistic, very wide, equal (ties) or arbitrary (not sorted)."""
    kind = draw(st.sampled_from(["real", "wide", "equal", "any"]))
    if kind == "real":
        kbps = sorted(draw(st.sets(st.integers(50, 20_000), min_size=n, max_size=n)))
    elif kind == "wide":
        kbps = [
            draw(st.sampled_from([20, 50, 100])) * 10 ** (4 * i // max(n - 1, 1)) for i in range(n)
        ]
    elif kind == "equal":
        kbps = [draw(st.sampled_from([300, 300, 1200, 4300])) for _ in range(n)]
    else:
        kbps = draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n))
    return [1000.0 * k for k in kbps]


@st.composite
def problems(draw):
    n = draw(st.integers(1, 10))
    max_h = max(h for h in range(1, 9) if n**h <= MAX_PLANS)
    h = draw(st.integers(1, max_h))
    rates = draw(ladders(n))
    segment_s = draw(st.sampled_from([1.0, 2.0, 4.0, 6.0]))
    kind = draw(st.sampled_from(["proportional", "rounded", "random", "steps"]))
    if kind in ("proportional", "rounded"):
        # sizes ~ bitrate x segment, at a throughput near the ladder (buffer-limited plans)
        bps = draw(st.floats(0.3, 3.0)) * rates[n // 2] / 8
        noise = draw(
            st.lists(st.floats(0.8, 1.2), min_size=h * n, max_size=h * n) | st.just([1.0] * (h * n))
        )
        dl = [
            [r * segment_s / 8 * noise[k * n + i] / bps for i, r in enumerate(rates)]
            for k in range(h)
        ]
        if kind == "rounded":  # exact ties between plans
            dl = [[round(x, 1) for x in row] for row in dl]
    elif kind == "random":
        scale = draw(st.sampled_from([0.01, 0.5, 2.0, 8.0]))
        dl = [[scale * draw(st.floats(0, 3)) for _ in range(n)] for _ in range(h)]
    else:
        dl = [[0.5 * draw(st.integers(0, 12)) for _ in range(n)] for _ in range(h)]
    buffer_s = draw(
        st.sampled_from([0.0, segment_s])
        | st.floats(0.0, segment_s)
        | st.floats(0.0, 3 * segment_s)
        | st.floats(0.0, 60.0)
    )
    last = draw(st.integers(0, n - 1))
    return rates, dl, buffer_s, segment_s, last


def _both(rates, dl, buffer_s, segment_s, last, formula, last_wins, penalty):
    kw = {"formula": formula, "last_wins": last_wins, "rebuffer_penalty": penalty}
    expected = brute_force_plan(rates, dl, buffer_s, segment_s, last, **kw)
    got = mpc_kernel.KERNEL.search(
        np.array(dl, dtype=float),
        np.array(rates, dtype=float),
        buffer_s,
        segment_s,
        last,
        formula == "pensieve",
        last_wins,
        penalty,
        1e6,
    )
    return got, expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problems(),
    st.sampled_from(["pensieve", "exact"]),
    st.booleans(),
    st.sampled_from(PENALTIES),
)
def test_kernel_equals_brute_force_under_stress(problem, formula, last_wins, penalty):
    got, expected = _both(*problem, formula, last_wins, penalty)
    assert got == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.floats(0.0, 1.0),
    st.sampled_from(["pensieve", "exact"]),
    st.booleans(),
    st.sampled_from(PENALTIES),
)
def test_low_buffer_real_ladder(n, h, buffer_segments, formula, last_wins, penalty):
    """Pensieve's ladder, throughput around the middle rung, 0..1 segment of buffer: the
    plans trade rebuffer against bitrate chunk by chunk (many near-ties)."""
    if n**h > MAX_PLANS:
        h = max(k for k in range(1, h) if n**k <= MAX_PLANS)
    rates = [300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3][:n]
    rng = np.random.default_rng(n * 100 + h)
    bps = rates[n // 2] / 8 * rng.uniform(0.5, 1.5)
    dl = (np.array(rates) * 4 / 8 * rng.uniform(0.8, 1.2, size=(h, n)) / bps).tolist()
    got, expected = _both(rates, dl, 4.0 * buffer_segments, 4.0, n - 1, formula, last_wins, penalty)
    assert got == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 8),
    st.integers(-2, 10),
    st.floats(1e4, 1e6),
    st.floats(0, 8),
    st.sampled_from(["pensieve", "exact"]),
    st.booleans(),
    st.sampled_from(PENALTIES),
    st.data(),
)
def test_search_table_clamped_rows(n, h, rows, first, bps, buf, formula, last_wins, penalty, data):
    """search_table through the kernel (downloads divided in C), Pensieve's clamped rows,
    low buffers: brute force over the same rows."""
    cols = n + data.draw(st.integers(0, 2))
    rates = tuple(sorted(data.draw(st.sets(st.integers(100, 8000), min_size=n, max_size=n))))
    rates = tuple(1e3 * r for r in rates)
    table = np.array(
        [[rates[min(r, n - 1)] * 4 / 8 * data.draw(st.floats(0.7, 1.3)) for r in range(cols)]
         for _ in range(rows)]
    )  # fmt: skip
    last = data.draw(st.integers(0, n - 1))
    block = [[table[min(max(first + k, 0), rows - 1)][r] / bps for r in range(n)] for k in range(h)]
    kw = {"formula": formula, "last_wins": last_wins, "rebuffer_penalty": penalty}
    expected = brute_force_plan(list(rates), block, buf, 4.0, last, **kw)
    lad = mpc_search.ladder(rates, h, 1e6)
    assert mpc_search.use_kernel(True)
    got = mpc_search.search_table(
        lad, table, table.ctypes.data, first, bps, buf, 4.0, last, formula, last_wins, penalty
    )
    assert got == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e308])
@pytest.mark.parametrize("formula", ["pensieve", "exact"])
def test_non_finite_download_times_turn_pruning_off(bad, formula):
    """A NaN download leaves the reference's rebuffer where it was (NaN < x is false) and
    an infinite one makes it infinite: the bound's argument does not hold, so the kernel
    scores every plan, as the reference does."""
    rates = [300e3, 1200e3, 4300e3]
    rng = np.random.default_rng(5)
    for trial in range(20):
        dl = rng.uniform(0.2, 6.0, size=(4, 3))
        dl[rng.integers(0, 4), rng.integers(0, 3)] = bad
        for last_wins in (False, True):
            got, expected = _both(
                rates, dl.tolist(), float(trial % 5), 4.0, trial % 3, formula, last_wins, 4.3
            )
            assert got[0] == expected[0]
            assert got[1] == expected[1] or (math.isnan(got[1]) and math.isnan(expected[1]))


def test_longest_horizon_equals_brute_force():
    """h = 16 (the kernel's most chunks), two rungs, a buffer that runs dry: 65,536 plans."""
    rng = np.random.default_rng(11)
    rates = [1e6, 3e6]
    dl = (np.array(rates) * 4 / 8 * rng.uniform(0.8, 1.2, size=(16, 2)) / (2e6 / 8)).tolist()
    for formula in ("pensieve", "exact"):
        got, expected = _both(rates, dl, 2.0, 4.0, 1, formula, False, 4.3)
        assert got == expected


def test_widest_shape_is_searched_and_one_more_chunk_is_rejected():
    """64 rungs x 10 chunks (64^10 plans, the most cells the kernel takes) with no
    rebuffer possible: the bound prunes all but the top rung's plan; 11 chunks overflow
    the plan index and are rejected."""
    rates = np.arange(1.0, 65.0) * 1e5
    top = 63
    lex, score = mpc_kernel.KERNEL.search(
        np.zeros((10, 64)), rates, 0.0, 4.0, top, True, False, 4.3, 1e6
    )
    assert lex == sum(top * 64**k for k in range(10))
    assert score == pytest.approx(10 * rates[top] / 1e6)
    with pytest.raises(ValueError, match=r"rejected a \(11, 64\) download table"):
        mpc_kernel.KERNEL.search(np.zeros((11, 64)), rates, 0.0, 4.0, top, True, False, 4.3, 1e6)
