"""Prepared size-table searches (one C struct per policy): exactly search_table's answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abr import ThroughputSample
from abr.policies import mpc_kernel, mpc_search
from abr.policies.robustmpc import RobustMpcPolicy, brute_force_plan
from tests.support.abr_context import make_ctx

needs_kernel = mpc_kernel.KERNEL is not None


@st.composite
def problems(draw):
    n = draw(st.integers(1, 7))
    h = draw(st.integers(1, 5))
    rows = draw(st.integers(1, 9))
    rates = tuple(sorted(draw(st.lists(st.floats(1e5, 2e7), min_size=n, max_size=n))))
    cols = n + draw(st.integers(0, 2))
    sizes = draw(
        st.lists(st.lists(st.floats(1e3, 5e7), min_size=cols, max_size=cols), min_size=rows,
                 max_size=rows)
    )  # fmt: skip
    return {
        "rates": rates,
        "h": h,
        "table": np.array(sizes, dtype=float),
        "first": draw(st.integers(-1, rows + 1)),
        "bytes_per_s": draw(st.floats(1e3, 1e7)),
        "buffer_s": draw(st.sampled_from([0.0, 0.5, 2.0, 4.0]) | st.floats(0.0, 60.0)),
        "segment_s": draw(st.sampled_from([1.0, 2.0, 4.0])),
        "last": draw(st.integers(0, n - 1)),
        "penalty": draw(st.sampled_from([0.0, 4.3, 4.9, 160.0])),
        "formula": draw(st.sampled_from(mpc_search.FORMULAS)),
        "last_wins": draw(st.booleans()),
    }


def _reference(p):
    """brute force over the clamped rows, as search_table documents."""
    rows = p["table"].shape[0]
    idx = np.clip(np.arange(p["first"], p["first"] + p["h"]), 0, rows - 1)
    dl = p["table"][idx, : len(p["rates"])] / p["bytes_per_s"]
    return brute_force_plan(
        p["rates"], dl.tolist(), p["buffer_s"], p["segment_s"], p["last"],
        formula=p["formula"], last_wins=p["last_wins"], rebuffer_penalty=p["penalty"],
    )  # fmt: skip


def _prepared(p):
    lad = mpc_search.ladder(p["rates"], p["h"], 1e6)
    run = mpc_search.prepare_table_search(lad, p["table"], p["formula"], p["last_wins"])
    args = (p["first"], p["bytes_per_s"], p["buffer_s"], p["segment_s"], p["last"], p["penalty"])
    return run, run(*args)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_prepared_search_equals_brute_force_with_and_without_the_kernel(p):
    expected = _reference(p)
    run, got = _prepared(p)
    assert got == expected
    if needs_kernel:
        assert isinstance(run, mpc_kernel.PreparedSearch)
    try:
        mpc_search.use_kernel(False)
        run, got = _prepared(p)
        assert not isinstance(run, mpc_kernel.PreparedSearch)
        assert got == expected
    finally:
        mpc_search.use_kernel(True)


def test_prepared_search_is_reusable_across_calls():
    """Fields left from one call must not leak into the next (every per-call field is set)."""
    rng = np.random.default_rng(5)
    rates = (3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6)
    table = np.array(rates) * 4 / 8 * rng.uniform(0.7, 1.3, size=(48, 6))
    lad = mpc_search.ladder(rates, 5, 1e6)
    run = mpc_search.prepare_table_search(lad, table, "pensieve", True)
    for _ in range(200):
        p = {
            "rates": rates, "h": 5, "table": table, "first": int(rng.integers(0, 49)),
            "bytes_per_s": float(rng.uniform(2e4, 8e5)), "buffer_s": float(rng.uniform(0, 40)),
            "segment_s": 4.0, "last": int(rng.integers(0, 6)),
            "penalty": float(rng.choice([4.3, 4.9])), "formula": "pensieve", "last_wins": True,
        }  # fmt: skip
        args = (p["first"], p["bytes_per_s"], p["buffer_s"], 4.0, p["last"], p["penalty"])
        assert run(*args) == _reference(p)


def test_prepared_search_bad_input_is_a_clear_error():
    lad = mpc_search.ladder((1e6, 2e6), 3, 1e6)
    table = np.ones((4, 2)) * 1e5
    run = mpc_search.prepare_table_search(lad, table, "exact", False)
    with pytest.raises(ValueError, match="rebuffer penalty must be >= 0"):
        run(0, 1e5, 4.0, 4.0, 0, -1.0)
    with pytest.raises(ValueError, match="formula must be one of"):
        mpc_search.prepare_table_search(lad, table, "fast", False)
    with pytest.raises(ValueError, match="size table must be"):
        mpc_search.prepare_table_search(lad, np.ones((4, 1)), "exact", False)
    if needs_kernel:
        with pytest.raises(ValueError, match=r"rejected a \(3, 2\) plan .* last rung 2"):
            run(0, 1e5, 4.0, 4.0, 2, 4.3)
        with pytest.raises(ValueError, match="C-contiguous float64"):
            mpc_kernel.KERNEL.prepare(3, 2, np.ones((4, 2), dtype=np.float32),
                                      lad.rates_array, False, False, 1e6)  # fmt: skip


def test_policy_follows_a_switch_of_implementation_mid_session():
    """A policy re-prepares its search when use_kernel changes: same decisions either way."""
    rates = [3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6]
    sizes = [[int(r * 4 / 8) for r in rates] for _ in range(48)]
    pol, ref = RobustMpcPolicy(), RobustMpcPolicy()
    samples = []
    for i in range(20):
        samples.append(ThroughputSample(1_000_000 + 37_000 * (i % 7), 1.0 + 0.25 * (i % 3), i))
        ctx = make_ctx(
            10.0 + (i % 5), bitrates=rates, index=i + 1, count=48, last=2,
            samples=list(samples), sizes=sizes,
        )  # fmt: skip
        if needs_kernel and i == 10:
            mpc_search.use_kernel(False)
        try:
            a, b = pol.decide(ctx), ref.decide(ctx)
        finally:
            mpc_search.use_kernel(True)
        assert a.rung == b.rung and a.reason == b.reason
        kind = pol._prepared[5]
        assert isinstance(kind, mpc_kernel.PreparedSearch) == (needs_kernel and i != 10)


def test_reason_names_the_best_plan_with_its_score_across_cached_decodings():
    """Plan decodings are cached per ladder; the reason must still name each decision's plan."""
    rng = np.random.default_rng(11)
    rates = [3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6]
    sizes = (np.array(rates) * 4 / 8 * rng.uniform(0.8, 1.2, size=(48, 6))).astype(int).tolist()
    for trial in range(60):
        pol = RobustMpcPolicy()
        buf = float(rng.uniform(0, 30))
        last = int(rng.integers(0, 6))
        smp = [ThroughputSample(int(rng.integers(50_000, 2_000_000)), 1.0, 0.0)]
        d = pol.decide(
            make_ctx(buf, bitrates=rates, index=5, count=48, last=last, samples=smp, sizes=sizes)
        )
        pred_bytes = pol.prediction_bps / 8.0
        dl = (np.array(sizes[5:10], dtype=float) / pred_bytes).tolist()
        idx, score = brute_force_plan(rates, dl, buf, 4.0, last, formula="exact")
        plan = [int(c) for c in np.base_repr(idx, 6).rjust(5, "0")]
        assert d.rung == plan[0], trial
        assert f"best 5-chunk plan {plan} scores {score:.3f}" in d.reason, (trial, d.reason)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_best_by_first_rung_matches_brute_force_per_first_rung(p):
    import itertools

    rates, h = p["rates"], p["h"]
    n = len(rates)
    rows = p["table"].shape[0]
    idx = np.clip(np.arange(p["first"], p["first"] + h), 0, rows - 1)
    dl = np.ascontiguousarray(p["table"][idx, :n] / p["bytes_per_s"])
    lad = mpc_search.ladder(rates, h, 1e6)
    got = mpc_search.best_by_first_rung(
        lad, dl, p["buffer_s"], p["segment_s"], p["last"], p["formula"], p["penalty"], range(n)
    )
    best = [-np.inf] * n
    for plan in itertools.product(range(n), repeat=h):
        best[plan[0]] = max(best[plan[0]], _plan_score(rates, dl, plan, p))
    assert got == pytest.approx(best, rel=1e-9, abs=1e-9)
    overall = brute_force_plan(
        rates, dl.tolist(), p["buffer_s"], p["segment_s"], p["last"], formula=p["formula"],
        rebuffer_penalty=p["penalty"],
    )[1]  # fmt: skip
    assert max(got) == pytest.approx(overall, rel=1e-9, abs=1e-9)


def _plan_score(rates, dl, plan, p):
    """One plan's QoE_lin score, Pensieve's loop written out (the reference's terms)."""
    buf, reb, bsum, ssum, last = p["buffer_s"], 0.0, 0.0, 0.0, p["last"]
    for k, r in enumerate(plan):
        d = dl[k, r]
        if buf < d:
            reb += d - buf
            buf = 0.0
        else:
            buf -= d
        buf += p["segment_s"]
        bsum += rates[r]
        ssum += abs(rates[r] - rates[last])
        last = r
    if p["formula"] == "pensieve":
        return (bsum / 1e6 - p["penalty"] * reb) - ssum / 1e6
    return (bsum - ssum) / 1e6 - p["penalty"] * reb


def test_best_by_first_rung_bad_input():
    lad = mpc_search.ladder((1e6, 2e6), 2, 1e6)
    dl = np.ones((2, 2))
    with pytest.raises(ValueError, match="rung 2 is not in"):
        mpc_search.best_by_first_rung(lad, dl, 4.0, 4.0, 0, "exact", 4.3, [2])
    with pytest.raises(ValueError, match="download_s must be"):
        mpc_search.best_by_first_rung(lad, np.ones((3, 2)), 4.0, 4.0, 0, "exact", 4.3, [0])
    with pytest.raises(ValueError, match="last_rung"):
        mpc_search.best_by_first_rung(lad, dl, 4.0, 4.0, 5, "exact", 4.3, [0])


def test_rebound_search_answers_for_its_new_ladder():
    """A policy's prepared search is rebound when its horizon shrinks (a session's end):
    it must then answer for the new ladder exactly as a fresh one."""
    rng = np.random.default_rng(17)
    rates = (3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6)
    table = np.array(rates) * 4 / 8 * rng.uniform(0.7, 1.3, size=(48, 6))
    run = mpc_search.prepare_table_search(mpc_search.ladder(rates, 5, 1e6), table, "exact", False)
    for h, n in ((4, 6), (3, 4), (1, 2), (5, 6)):
        lad = mpc_search.ladder(rates[:n], h, 1e6)
        again = mpc_search.prepare_table_search(lad, table, "exact", False, reuse=run)
        assert (again is run) == needs_kernel
        fresh = mpc_search.prepare_table_search(lad, table, "exact", False)
        for _ in range(20):
            args = (int(rng.integers(0, 48)), float(rng.uniform(2e4, 8e5)),
                    float(rng.uniform(0, 30)), 4.0, int(rng.integers(0, n)), 4.3)  # fmt: skip
            assert again(*args) == fresh(*args)
        run = again


def test_policies_in_threads_decide_as_sequentially():
    """Each policy owns its prepared search: sessions on several threads at once (ctypes
    releases the GIL during the search) decide exactly as one after another."""
    import threading

    rates = [3e5, 7.5e5, 1.2e6, 1.85e6, 2.85e6, 4.3e6]
    sizes = [[int(r * 4 / 8 * (1 + 0.1 * ((k + j) % 3))) for j, r in enumerate(rates)]
             for k in range(48)]  # fmt: skip

    def session(seed: int) -> list:
        rng = np.random.default_rng(seed)
        pol, samples, out = RobustMpcPolicy(), [], []
        for i in range(48):
            samples.append(ThroughputSample(int(rng.integers(60_000, 2_500_000)), 1.0, i))
            ctx = make_ctx(
                float(rng.uniform(0, 30)), bitrates=rates, index=i, count=48,
                last=out[-1] if out else 0, samples=list(samples), sizes=sizes,
            )  # fmt: skip
            out.append(pol.decide(ctx).rung)
        return out

    expected = {s: session(s) for s in range(6)}
    got: dict[int, list] = {}

    def work(s: int) -> None:
        for _ in range(5):
            got[s] = session(s)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected
