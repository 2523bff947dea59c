"""Local search on a schedule, scored by the exact model (helper of :mod:`abr.optimal`).

Starting from the dynamic program's schedule, try every single-chunk rung
change, then changes of two adjacent chunks by at most one rung each,
re-simulating exactly from the changed chunk on; accept strict improvements
until none is left (or ``max_rounds``).
"""

from __future__ import annotations

import math

import numpy as np

from .optimal_sim import OptimalConfig, _TraceCursor

_State = tuple[int, float, float, float, int]  # pointer, last_time, buffer, score, prev rung


class _Replayer:
    """Exact simulation with the state before every chunk cached, so a suffix can be replayed."""

    def __init__(
        self, t: np.ndarray, bw: np.ndarray, sz: np.ndarray, q: np.ndarray, cfg: OptimalConfig
    ) -> None:
        self.cursor = _TraceCursor(t, bw, cfg.payload_factor)
        self.sz = sz.tolist()
        self.q = q.tolist()
        self.cfg = cfg

    def run(self, state: _State, k0: int, rungs: list[int], record: list[_State] | None) -> float:
        cfg, q, sz, cur = self.cfg, self.q, self.sz, self.cursor
        cur.ptr, cur.last = state[0], state[1]
        buffer, score, prev = state[2], state[3], state[4]
        lat, dur, cap, step = (
            cfg.latency_s,
            cfg.segment_duration_s,
            cfg.buffer_cap_s,
            cfg.sleep_step_s,
        )
        pen, swp, first_scored = cfg.rebuffer_penalty, cfg.switch_penalty, cfg.first_scored_chunk
        adv = cfg.latency_advances_trace and lat > 0
        for k in range(k0, len(rungs)):
            if record is not None:
                record[k] = (cur.ptr, cur.last, buffer, score, prev)
            r = rungs[k]
            if adv:
                cur.wait(lat)
            delay = cur.transfer(sz[k][r]) + lat
            rebuffer = delay - buffer if delay > buffer else 0.0
            buffer = (buffer - delay if buffer > delay else 0.0) + dur
            if buffer > cap:
                sleep = math.ceil((buffer - cap) / step) * step
                buffer -= sleep
                cur.wait(sleep)
            if k >= first_scored:
                switch = abs(q[r] - q[prev]) if prev >= 0 else 0.0
                score += q[r] - pen * rebuffer - swp * switch
            prev = r
        return score


def _near(rung: int, m: int) -> range:
    return range(max(rung - 1, 0), min(rung + 2, m))


def polish_schedule(
    t: np.ndarray,
    bw: np.ndarray,
    sz: np.ndarray,
    q: np.ndarray,
    rungs: list[int],
    cfg: OptimalConfig,
    max_rounds: int = 20,
) -> list[int]:
    """Improve ``rungs`` by exact-scored single and adjacent-pair changes."""
    rep = _Replayer(t, bw, sz, q, cfg)
    n, m = len(rungs), sz.shape[1]
    rungs = list(rungs)
    start: _State = (1, float(t[0]), 0.0, 0.0, -1)
    states: list[_State] = [start] * n
    best = rep.run(start, 0, rungs, states)
    lo = 1 if cfg.first_rung is not None else 0
    for _ in range(max_rounds):
        improved = False
        for width in (1, 2):
            k = lo
            while k + width <= n:
                base = states[k]
                orig = rungs[k : k + width]
                best_combo = None
                combos: list[tuple[int, ...]]
                if width == 1:
                    combos = [(a,) for a in range(m)]
                else:  # each of the two moves by at most one rung
                    combos = [(a, c) for a in _near(orig[0], m) for c in _near(orig[1], m)]
                for combo in combos:
                    if list(combo) == orig:
                        continue
                    rungs[k : k + width] = combo
                    score = rep.run(base, k, rungs, None)
                    if score > best + 1e-9:
                        best, best_combo = score, combo
                if best_combo is not None:
                    rungs[k : k + width] = best_combo
                    rep.run(base, k, rungs, states)
                    improved = True
                else:
                    rungs[k : k + width] = orig
                k += 1
        if not improved:
            break
    return rungs
