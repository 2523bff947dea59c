"""The offline-optimal bound: the best rung schedule with the whole future trace known.

Every ABR policy is reported as a share of this ceiling, so it has to be

* **honest** — :func:`optimal_schedule` returns a real rung sequence and its
  score comes from :func:`~abr.optimal_sim.simulate_schedule`, the exact
  chunk-level model, never from the solver's approximation;
* **tight** — a dynamic program over chunk × rung × (trace position, buffer)
  keeps, for each cell of a ``grid_s`` grid, the best path together with its
  *exact* continuous position and buffer (the grid only merges near-duplicate
  states; every transition is computed from real values); states dominated by
  another of the same rung (earlier position, no lower score, no lower score
  plus 4.3 x dry-buffer time) or unable to beat the best constant-rung schedule
  are cut; a second pass on a finer grid and a local search (re-simulated
  exactly) follow, and the best exact score wins. It equals brute force on small
  instances and reproduces QOE.md's calibration figures in ~0.5 s per trace;
* **fast** — each chunk's expansion is one numpy pass over all states × rungs
  on the trace's cumulative-bytes curve.

Pure: no I/O and no clock (pass ``clock=time.perf_counter`` to have the solve
time measured).

Example (the Pensieve setup; ``sizes[segment][rung]`` in bytes)::

    res = optimal_schedule(times, [mbps * 1e6 for mbps in bw], sizes,
                           [300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3])
    res.score, res.rungs
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .optimal_polish import polish_schedule
from .optimal_sim import (
    PENSIEVE,
    ChunkOutcome,
    CumulativeCurve,
    FloatSeq,
    OptimalConfig,
    OptimalError,
    SimulationResult,
    SizeTable,
    simulate_schedule,
    validate_inputs,
)

__all__ = [
    "PENSIEVE",
    "ChunkOutcome",
    "OptimalConfig",
    "OptimalError",
    "OptimalResult",
    "SimulationResult",
    "optimal_schedule",
    "simulate_schedule",
]


@dataclass(frozen=True, slots=True)
class OptimalResult:
    """The best schedule found and its exactly simulated outcome."""

    rungs: tuple[int, ...]
    score: float  # exact score of ``rungs`` (simulate_schedule)
    chunks: tuple[ChunkOutcome, ...]  # per-chunk delay, rebuffer, buffer, reward...
    dp_score: float  # the first DP pass's own estimate of its best path (nan: none beat the floor)
    grid_s: float
    states: int  # largest number of DP states kept after one chunk
    solve_s: float | None  # wall time of the solve, when a clock was given

    @property
    def rebuffer_s(self) -> float:
        return sum(c.rebuffer_s for c in self.chunks if c.scored)

    @property
    def switches(self) -> int:
        return sum(1 for a, b in zip(self.rungs, self.rungs[1:], strict=False) if a != b)


def optimal_schedule(
    times_s: FloatSeq,
    bandwidth_bps: FloatSeq,
    sizes: SizeTable,
    bitrates_bps: FloatSeq,
    config: OptimalConfig | None = None,
    *,
    clock: Callable[[], float] | None = None,
    **overrides: Any,
) -> OptimalResult:
    """Best schedule of ``len(sizes)`` segments over the trace, with the future known.

    ``times_s``/``bandwidth_bps``: the trace (bandwidth of line i holds over
    ``(times_s[i-1], times_s[i]]``; it wraps). ``sizes[segment][rung]`` in
    bytes; ``bitrates_bps`` ascending. ``config`` defaults to the Pensieve
    setup; keyword ``overrides`` replace its fields (e.g. ``grid_s=0.1``,
    ``latency_advances_trace=True``, ``first_rung=None``).
    """
    cfg = config if config is not None else PENSIEVE
    if overrides:
        try:
            cfg = dataclasses.replace(cfg, **overrides)
        except TypeError as exc:
            raise OptimalError(str(exc)) from None
    start = clock() if clock is not None else None
    t, bw, sz, rates = validate_inputs(times_s, bandwidth_bps, sizes, bitrates_bps, cfg)
    q = cfg.utilities(rates)
    curve = CumulativeCurve(t, bw, cfg.payload_factor)
    best_rungs, best = _best_constant(t, bw, sz, rates, cfg)
    dp_score, states = float("nan"), 0
    for grid in (cfg.grid_s, *cfg.refine_grids_s):
        pass_cfg = dataclasses.replace(cfg, grid_s=grid)
        found, score, n_states = _dynamic_program(curve, sz, q, pass_cfg, best.score)
        states = max(states, n_states)
        if found is None:  # nothing beats the floor under the DP's arithmetic
            continue
        if grid == cfg.grid_s:
            dp_score = score
        if cfg.polish:
            found = polish_schedule(t, bw, sz, q, found, cfg)
        sim = simulate_schedule(t, bw, sz, rates, found, cfg)
        if sim.score > best.score:
            best_rungs, best = found, sim
    elapsed = clock() - start if clock is not None and start is not None else None
    return OptimalResult(
        rungs=tuple(best_rungs),
        score=best.score,
        chunks=best.chunks,
        dp_score=dp_score,
        grid_s=cfg.grid_s,
        states=states,
        solve_s=elapsed,
    )


def _best_constant(
    t: np.ndarray, bw: np.ndarray, sz: np.ndarray, rates: np.ndarray, cfg: OptimalConfig
) -> tuple[list[int], SimulationResult]:
    """Best constant-rung schedule, exactly scored: the floor every DP state must beat."""
    n_seg, n_rungs = sz.shape
    best: tuple[list[int], SimulationResult] | None = None
    for rung in range(n_rungs):
        rungs = [rung] * n_seg
        if cfg.first_rung is not None:
            rungs[0] = cfg.first_rung
        sim = simulate_schedule(t, bw, sz, rates, rungs, cfg)
        if best is None or sim.score > best[1].score:
            best = (rungs, sim)
    assert best is not None
    return best


def _dynamic_program(
    curve: CumulativeCurve, sz: np.ndarray, q: np.ndarray, cfg: OptimalConfig, floor_score: float
) -> tuple[list[int] | None, float, int]:
    """Forward DP over states (last rung, exact position u, exact buffer b, score)."""
    n_seg, n_rungs = sz.shape
    all_rungs = np.arange(n_rungs)
    # one start state: no previous rung (-1), position 0, empty buffer
    r = np.array([-1])
    u = np.zeros(1)
    b = np.zeros(1)
    s = np.zeros(1)
    parents: list[np.ndarray] = []
    chosen: list[np.ndarray] = []
    max_states = 1
    for k in range(n_seg):
        cand = all_rungs if (k > 0 or cfg.first_rung is None) else np.array([cfg.first_rung])
        r, u, b, s, parent = _expand(curve, sz[k], q, cfg, k, r, u, b, s, cand)
        # cut states whose score plus the best conceivable future cannot reach the floor
        # (a chunk's reward is at most q.max(): the penalties are non-negative)
        future = max(n_seg - max(k + 1, cfg.first_scored_chunk), 0) * float(q.max())
        alive = s + future >= floor_score - 1e-6
        r, u, b, s, parent = r[alive], u[alive], b[alive], s[alive], parent[alive]
        if len(r) == 0:
            return None, float("nan"), max_states
        r, u, b, s, parent = _merge(r, u, b, s, parent, cfg)
        if len(r) > cfg.max_states:  # beam guard for very large instances
            top = np.sort(np.argpartition(-s, cfg.max_states - 1)[: cfg.max_states])
            r, u, b, s, parent = r[top], u[top], b[top], s[top], parent[top]
        parents.append(parent.astype(np.int32))
        chosen.append(r.astype(np.int16))
        max_states = max(max_states, len(r))
    best = int(np.argmax(s))
    dp_score = float(s[best])
    rungs = [0] * n_seg
    idx = best
    for k in range(n_seg - 1, -1, -1):
        rungs[k] = int(chosen[k][idx])
        idx = int(parents[k][idx])
    return rungs, dp_score, max_states


def _expand(
    curve: CumulativeCurve,
    sizes_k: np.ndarray,
    q: np.ndarray,
    cfg: OptimalConfig,
    k: int,
    r: np.ndarray,
    u: np.ndarray,
    b: np.ndarray,
    s: np.ndarray,
    cand: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every state × every candidate rung for chunk ``k``, computed from exact values."""
    n, m = len(r), len(cand)
    lat = cfg.latency_s
    u0 = u + lat if cfg.latency_advances_trace else u
    c0 = curve.bytes_at(u0)
    target = (c0[:, None] + sizes_k[cand][None, :]).ravel()
    u1 = curve.time_at(target)
    u0r = np.repeat(u0, m)
    br = np.repeat(b, m)
    delay = u1 - u0r + lat
    rebuf = np.maximum(delay - br, 0.0)
    b1 = np.maximum(br - delay, 0.0) + cfg.segment_duration_s
    over = b1 > cfg.buffer_cap_s
    if over.any():
        step = cfg.sleep_step_s
        sleep = np.where(over, np.ceil((b1 - cfg.buffer_cap_s) / step) * step, 0.0)
        b1 = b1 - sleep
        u1 = u1 + sleep
    r1 = np.tile(cand, n)
    s1 = np.repeat(s, m)
    if k >= cfg.first_scored_chunk:
        rprev = np.repeat(r, m)
        switch = np.where(rprev >= 0, np.abs(q[r1] - q[np.maximum(rprev, 0)]), 0.0)
        s1 = s1 + q[r1] - cfg.rebuffer_penalty * rebuf - cfg.switch_penalty * switch
    parent = np.repeat(np.arange(n), m)
    return r1, u1, b1, s1, parent


def _merge(
    r: np.ndarray,
    u: np.ndarray,
    b: np.ndarray,
    s: np.ndarray,
    parent: np.ndarray,
    cfg: OptimalConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the best ``per_cell`` states of each (rung, position cell, buffer cell)."""
    g = cfg.grid_s
    uc = np.floor(u / g).astype(np.int64)
    bc = np.floor(b / g).astype(np.int64)
    uc -= uc.min()
    nb = int(bc.max()) + 1
    nu = int(uc.max()) + 1
    key = (r.astype(np.int64) * nu + uc) * nb + bc
    if cfg.per_cell == 1:  # one sort, then each cell's (first) best state
        order = np.argsort(key)
        ks = key[order]
        first = np.ones(len(ks), dtype=bool)
        first[1:] = ks[1:] != ks[:-1]
        starts = np.flatnonzero(first)
        so = s[order]
        grp = np.cumsum(first) - 1
        cand = np.flatnonzero(so >= np.maximum.reduceat(so, starts)[grp])
        # among equal best scores prefer the most slack: buffer minus position
        gc = grp[cand]
        lead = np.ones(len(cand), dtype=bool)
        lead[1:] = gc[1:] != gc[:-1]
        slack = (b - u)[order[cand]]
        cstarts = np.flatnonzero(lead)
        cgrp = np.cumsum(lead) - 1
        best = np.flatnonzero(slack >= np.maximum.reduceat(slack, cstarts)[cgrp])
        bg = cgrp[best]
        lead2 = np.ones(len(best), dtype=bool)
        lead2[1:] = bg[1:] != bg[:-1]
        keep = order[cand[best[lead2]]]
    else:
        order = np.lexsort((-s, key))
        ks = key[order]
        first = np.ones(len(ks), dtype=bool)
        first[1:] = ks[1:] != ks[:-1]
        starts = np.flatnonzero(first)
        group_start = starts[np.cumsum(first) - 1]
        rank = np.arange(len(ks)) - group_start
        keep = order[rank < cfg.per_cell]
    r, u, b, s, parent = r[keep], u[keep], b[keep], s[keep], parent[keep]
    keep = _pareto(r, u, b, s, cfg)
    r, u, b, s, parent = r[keep], u[keep], b[keep], s[keep], parent[keep]
    if cfg.cross_cell:
        keep = _cross_cell(r, u, b, s, cfg)
        r, u, b, s, parent = r[keep], u[keep], b[keep], s[keep], parent[keep]
    return r, u, b, s, parent


def _cross_cell(
    r: np.ndarray, u: np.ndarray, b: np.ndarray, s: np.ndarray, cfg: OptimalConfig
) -> np.ndarray:
    """Mask of states not dominated by a same-rung state from a strictly earlier position cell.

    The dominance rule of :func:`_pareto` applied across cells of a coarser
    (position, dry-buffer time D) grid: B is cut when some A in an earlier
    position cell has (a) a higher D cell and ``s_A >= s_B``, or (b) a lower D
    cell and ``s_A + p * D_A >= s_B + p * D_B`` (which implies ``s_A > s_B``).
    Two cumulative-maximum tables per rung answer both questions at once.
    """
    if len(s) < 2:
        return np.ones(len(s), dtype=bool)
    pen = cfg.rebuffer_penalty
    d = u + b
    v = s + pen * d
    n_r = int(r.max()) + 1
    h = 5.0 * cfg.grid_s
    span_u, span_d = float(np.ptp(u)), float(np.ptp(d))
    cells = n_r * (span_u / h + 1.0) * (span_d / h + 1.0)
    if cells > 2e6:  # keep the tables small: coarser cells only prune less
        h *= float(np.sqrt(cells / 2e6))
    iu = ((u - u.min()) / h).astype(np.int64)
    jd = ((d - d.min()) / h).astype(np.int64)
    nu, nd = int(iu.max()) + 1, int(jd.max()) + 1
    if nu < 2 or nd < 2:
        return np.ones(len(s), dtype=bool)
    # hi[r, i, j] = max s over position cells <= i and D cells >= j
    hi = np.full((n_r, nu, nd), -np.inf)
    np.maximum.at(hi, (r, iu, jd), s)
    np.maximum.accumulate(hi, axis=1, out=hi)
    hi = np.maximum.accumulate(hi[:, :, ::-1], axis=2)[:, :, ::-1]
    # lo[r, i, j] = max v over position cells <= i and D cells <= j
    lo = np.full((n_r, nu, nd), -np.inf)
    np.maximum.at(lo, (r, iu, jd), v)
    np.maximum.accumulate(lo, axis=1, out=lo)
    np.maximum.accumulate(lo, axis=2, out=lo)
    earlier = iu >= 1
    dominated = np.zeros(len(s), dtype=bool)
    m = earlier & (jd + 1 < nd)
    dominated[m] = hi[r[m], iu[m] - 1, jd[m] + 1] >= s[m]
    m = earlier & (jd >= 1) & ~dominated
    dominated[m] = lo[r[m], iu[m] - 1, jd[m] - 1] >= v[m]
    return ~dominated


def _pareto(
    r: np.ndarray, u: np.ndarray, b: np.ndarray, s: np.ndarray, cfg: OptimalConfig
) -> np.ndarray:
    """Indices of states not dominated within their (rung, position cell).

    A state A dominates B from the same position when ``s_A >= s_B`` and
    ``s_A + p * D_A >= s_B + p * D_B`` where ``D = u + b`` is the trace time at
    which the buffer would run dry and ``p`` the rebuffer penalty: following
    B's future schedule A finishes every download no later, and rebuffers at
    most ``D_B - D_A`` seconds more than B does.
    """
    if len(s) == 0:
        return np.arange(0)
    uc = np.floor(u / cfg.grid_s).astype(np.int64)
    uc -= uc.min()
    group = r.astype(np.int64) * (int(uc.max()) + 1) + uc
    v = s + cfg.rebuffer_penalty * (u + b)
    by_score = np.lexsort((-v, -s))
    order = by_score[np.argsort(group[by_score], kind="stable")]
    g = group[order]
    vs = v[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = g[1:] != g[:-1]
    rank = np.cumsum(new) - 1
    span = float(vs.max() - vs.min()) + 1.0
    shifted = (vs - vs.min()) + rank * span
    runmax = np.maximum.accumulate(shifted)
    prev = np.empty_like(runmax)
    prev[0] = -np.inf
    prev[1:] = runmax[:-1]
    prev[new] = -np.inf
    keep = shifted > prev + 1e-9
    return np.sort(order[keep])
