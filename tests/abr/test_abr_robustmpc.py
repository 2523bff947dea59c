"""RobustMPC: hand-worked decisions, predictor, Pensieve quirks, exactness vs brute force."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abr import ThroughputSample
from abr.errors import PolicyConfigError
from abr.policies import RobustMpcConfig, RobustMpcPolicy, mpc_kernel, mpc_search
from abr.policies.robustmpc import best_plan, brute_force_plan
from tests.support.abr_context import make_ctx

TWO = (1e6, 2e6)


def ctx(buffer_s, *, bitrates=TWO, index=1, count=3, last=0, **kw):
    return make_ctx(buffer_s, bitrates=bitrates, index=index, count=count, last=last, **kw)


def sample(mbps, seconds=4.0, end=0.0):
    return ThroughputSample(int(round(mbps * 1e6 / 8 * seconds)), seconds, end)


def test_no_sample_keeps_current_rung():
    d = RobustMpcPolicy().decide(ctx(0.0, last=1, index=0))
    assert d.rung == 1 and "no throughput" in d.reason


def test_two_chunk_plan_without_rebuffer():
    # prediction 1.5 Mbit/s; downloads 2.67 s (1 Mbit/s) and 5.33 s (2 Mbit/s); buffer 20 s:
    # [0,0] = 2, [0,1] = 3 - 1 = 2, [1,0] = 3 - 1 - 1 = 1, [1,1] = 4 - 1 = 3 -> rung 1
    p = RobustMpcPolicy()
    d = p.decide(ctx(20.0, samples=[sample(1.5)]))
    assert d.rung == 1
    assert p.prediction_bps == pytest.approx(1.5e6)
    assert "[1, 1]" in d.reason


def test_two_chunk_plan_with_rebuffer():
    # buffer 3 s: [0,0] no stall = 2; [0,1] stalls 1 s = 3 - 1 - 4.3 = -2.3;
    # [1,0] stalls 2.33 s = -9.03; [1,1] stalls 3.67 s = -12.77 -> rung 0
    assert RobustMpcPolicy().decide(ctx(3.0, samples=[sample(1.5)])).rung == 0


def test_prediction_discounted_by_max_error():
    p = RobustMpcPolicy()
    s1, s2 = sample(1.0, end=4.0), sample(2.0, end=8.0)
    p.decide(ctx(10.0, samples=[s1]))
    assert p.prediction_bps == pytest.approx(1e6)  # first error is 0
    p.decide(ctx(10.0, samples=[s1, s2], index=2))
    # error |1 - 2| / 2 = 0.5; harmonic(1, 2) = 4/3 Mbit/s; / 1.5
    assert p.prediction_bps == pytest.approx((4 / 3) / 1.5 * 1e6)
    # the same samples again: no new error, same prediction
    p.decide(ctx(10.0, samples=[s1, s2], index=2))
    assert p.prediction_bps == pytest.approx((4 / 3) / 1.5 * 1e6)


def test_harmonic_window_and_error_window():
    p = RobustMpcPolicy()
    samples = []
    for i, mbps in enumerate([8, 1, 1, 1, 1, 1, 1]):
        samples.append(sample(mbps, end=float(i)))
        p.decide(ctx(10.0, samples=samples, index=1, count=48))
    # window of 5 ones -> 1 Mbit/s; errors: ..., |h_prev - 1| / 1 for the last five decisions
    assert p._window == [1e6] * 5
    assert len(p._errors) == 5
    harmonic_after_2 = 2 / (1 / 8e6 + 1 / 1e6)
    assert max(p._errors) == pytest.approx(abs(harmonic_after_2 - 1e6) / 1e6)


def test_fresh_history_per_instance():
    a = RobustMpcPolicy()
    a.decide(ctx(10.0, samples=[sample(1.0)]))
    a.decide(ctx(10.0, samples=[sample(1.0), sample(5.0, end=1.0)]))
    b = RobustMpcPolicy()
    b.decide(ctx(10.0, samples=[sample(1.0)]))
    assert b._errors == [0.0]


def test_pensieve_mode_uses_sizes_one_later():
    # segment 1's top rung is enormous, segment 2 is normal
    sizes = ((500_000, 1_000_000), (500_000, 100_000_000), (500_000, 1_000_000))
    c = ctx(20.0, samples=[sample(1.5)], sizes=sizes)
    assert RobustMpcPolicy().decide(c).rung == 0
    # pensieve mode plans with segments 2 and 3 (clamped to 2): [1, 1] scores 3
    assert RobustMpcPolicy(RobustMpcConfig(mode="pensieve")).decide(c).rung == 1


def test_ties_first_best_vs_last_best():
    # last segment, big buffer: R_c - |R_c - R_0| = 1 Mbit/s for every rung -> a 3-way tie
    three = (1e6, 2e6, 3e6)
    c = ctx(30.0, bitrates=three, index=2, count=3, samples=[sample(10.0)])
    assert RobustMpcPolicy().decide(c).rung == 0
    assert RobustMpcPolicy(RobustMpcConfig(mode="pensieve")).decide(c).rung == 2


def test_max_rung_cap_and_end_of_video():
    c = ctx(30.0, samples=[sample(100.0)], bitrates=(1e6, 2e6, 4e6), max_rung=1, count=48)
    assert RobustMpcPolicy().decide(c).rung == 1
    end = ctx(30.0, samples=[sample(1.0)], index=3, count=3)
    assert RobustMpcPolicy().decide(end).rung == 0  # nothing left to plan: keep last


def test_config_validation():
    for bad in (
        {"horizon": 0},
        {"mode": "x"},
        {"rebuffer_penalty": -1.0},
        {"score_order": "y"},
        {"horizon": 9},
        {"throughput_window": 1.5},
    ):
        with pytest.raises(PolicyConfigError):
            RobustMpcConfig(**bad)


# -- exactness of the fast search (compiled kernel and numpy search) ---------------------------

#: the searches to check: the compiled kernel wherever it was built, and always the numpy one
SEARCHES = ["kernel", "numpy"] if mpc_kernel.KERNEL is not None else ["numpy"]


@pytest.fixture(params=SEARCHES)
def search_impl(request):
    assert mpc_search.use_kernel(request.param == "kernel") == (request.param == "kernel")
    yield request.param
    mpc_search.use_kernel(True)


@st.composite
def plan_problems(draw):
    n = draw(st.integers(1, 6))
    max_h = max(h for h in range(1, 6) if n**h <= 7776)
    h = draw(st.integers(1, max_h))
    kbps = sorted(draw(st.sets(st.integers(50, 20_000), min_size=n, max_size=n)))
    bitrates = [1000.0 * k for k in kbps]
    segment_s = draw(st.sampled_from([1.0, 2.0, 4.0, 6.0]))
    scale = draw(st.sampled_from([0.01, 0.5, 2.0, 8.0]))
    dl = draw(
        st.lists(
            st.lists(st.floats(0, 3, allow_nan=False), min_size=n, max_size=n),
            min_size=h,
            max_size=h,
        )
    )
    dl = [[scale * x for x in row] for row in dl]
    if draw(st.booleans()):  # sizes grow with the rung, as in real ladders
        dl = [sorted(row) for row in dl]
    if draw(st.booleans()):  # exact ties in the download times (equal sizes, equal rates)
        dl = [[round(x, 1) for x in row] for row in dl]
    buffer_s = draw(
        st.sampled_from([0.0, 0.5, 4.0, 10.0, 30.0, 100.0]) | st.floats(0, 60, allow_nan=False)
    )
    last = draw(st.integers(0, n - 1))
    return bitrates, dl, buffer_s, segment_s, last


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan_problems(),
    st.sampled_from(["pensieve", "exact"]),
    st.booleans(),
    st.sampled_from([4.3, 4.3, 0.0, 0.5, 160.0]),
)
def test_fast_search_equals_brute_force(problem, formula, last_wins, penalty):
    """Random ladders, download tables, buffers, last rungs, both formulas, both tie rules;
    both searches (the kernel where built), bit for bit."""
    bitrates, dl, buffer_s, segment_s, last = problem
    kw = {"formula": formula, "last_wins": last_wins, "rebuffer_penalty": penalty}
    slow = brute_force_plan(bitrates, dl, buffer_s, segment_s, last, **kw)
    try:
        for impl in SEARCHES:
            mpc_search.use_kernel(impl == "kernel")
            fast = best_plan(bitrates, np.array(dl), buffer_s, segment_s, last, **kw)
            assert fast == slow, impl
    finally:
        mpc_search.use_kernel(True)


def test_search_rejects_bad_input(search_impl):
    with pytest.raises(ValueError, match="download_s"):
        best_plan(TWO, np.zeros((0, 2)), 1.0, 4.0, 0)
    with pytest.raises(ValueError, match="download_s"):
        best_plan(TWO, np.zeros((2, 3)), 1.0, 4.0, 0)
    with pytest.raises(ValueError, match="penalty"):
        best_plan(TWO, np.ones((2, 2)), 1.0, 4.0, 0, rebuffer_penalty=-1.0)


def test_fast_search_equals_brute_force_full_size_random(search_impl):
    rng = np.random.default_rng(7)
    bitrates = [300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3]
    for _ in range(12):
        pred = rng.uniform(0.2e6, 6e6) / 8
        sizes = np.array(bitrates) * 4 / 8 * rng.uniform(0.8, 1.2, size=(5, 6))
        dl = sizes / pred
        buf = float(rng.uniform(0, 40))
        last = int(rng.integers(0, 6))
        for formula, last_wins in itertools.product(["pensieve", "exact"], [False, True]):
            assert best_plan(
                bitrates, dl, buf, 4.0, last, formula=formula, last_wins=last_wins
            ) == brute_force_plan(
                bitrates, dl.tolist(), buf, 4.0, last, formula=formula, last_wins=last_wins
            )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(1, 8),
    st.integers(-2, 10),
    st.floats(1e3, 1e7),
    st.floats(0, 40),
    st.data(),
)
def test_search_table_equals_brute_force_on_the_clamped_rows(n, h, rows, first, bps, buf, data):
    """search_table (kernel: division in C; numpy: sliced table) = brute force over the
    rows first..first+h-1 clamped to the table, as Pensieve's quirk reads them."""
    cols = n + data.draw(st.integers(0, 2))
    table = np.array(
        [[float(data.draw(st.integers(0, 3_000_000))) for _ in range(cols)] for _ in range(rows)]
    )
    rates = tuple(1e5 * (i + 1) for i in range(n))
    last = data.draw(st.integers(0, n - 1))
    block = [[table[min(max(first + k, 0), rows - 1)][r] / bps for r in range(n)] for k in range(h)]
    lad = mpc_search.ladder(rates, h, 1e6)
    expected = brute_force_plan(list(rates), block, buf, 4.0, last)
    try:
        for impl in SEARCHES:
            mpc_search.use_kernel(impl == "kernel")
            got = mpc_search.search_table(
                lad, table, table.ctypes.data, first, bps, buf, 4.0, last, "pensieve", False, 4.3
            )
            assert got == expected, impl
    finally:
        mpc_search.use_kernel(True)
