"""Oracle-predictor MPC: how much of the gap to the offline optimum is prediction.

    python -m benchmarks.oracle_mpc [--horizon 5] [--stride 1] [--offset 0]

An MPC that plans ``horizon`` chunks ahead with QoE_lin, exactly like
RobustMPC's search, but knows the *true* download time of every candidate
plan: it replays the trace itself from the session's trace position (the
``pensieve`` preset's network: 0.95 payload, 80 ms latency that does not move
the trace, 60 s buffer cap drained in 0.5 s steps). What it lacks compared
with the offline optimum is only the horizon (it does not see beyond 5
chunks and re-plans every chunk); what RobustMPC lacks compared with it is
the prediction. Benchmark only: it needs the trace, so it is no policy of
``abr/``. Prints the share of the optimum on pensieve_train
(``benchmarks/results/optimal_pensieve_train.json``) next to RobustMPC's and
longmpc's from the same run.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics

import numpy as np

from abr.base import AbrContext, Decision
from abr.registry import policy_factory
from player.network import Link
from player.presets import PENSIEVE
from player.replay import replay
from player.traces import Trace

from .bench_policy_eval import _load, _optima

REBUFFER_PENALTY = 4.3


class OracleMpc:
    """MPC over the true future download times (pensieve preset only)."""

    name = "oracle-mpc"

    def __init__(self, trace: Trace, horizon: int = 5) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon!r}")
        self.link = Link.for_trace(trace, PENSIEVE.network)
        self.horizon = horizon
        net, eng = PENSIEVE.network, PENSIEVE.engine
        self.latency, self.cap, self.drain = net.latency_s, eng.buffer_max_s, eng.drain_step_s
        self.predicted_s: list[float] = []  # true delay of each chosen segment, as planned

    def decide(self, ctx: AbrContext) -> Decision:
        link, lat = self.link, self.latency
        # the latency does not move the trace (pensieve preset): position = clock - latencies
        pos0 = link.advance(0.0, ctx.now_s - lat * ctx.segment_index)
        rates = np.asarray(ctx.bitrates_bps, dtype=float) / 1e6
        n_r = len(rates)
        h = min(self.horizon, ctx.segment_count - ctx.segment_index)
        pos = np.array([pos0])
        buf = np.array([ctx.buffer_s])
        last = np.array([ctx.last_rung])
        score = np.zeros(1)
        first = np.zeros(1, dtype=int)
        first_delay = np.zeros(1)
        for step in range(h):
            seg = ctx.segment_index + step
            sizes = np.array([ctx.segment_bytes(seg, r) for r in range(n_r)], dtype=float)
            rung = np.tile(np.arange(n_r), len(pos))
            pos, buf, last, score = (np.repeat(a, n_r) for a in (pos, buf, last, score))
            first = rung.copy() if step == 0 else np.repeat(first, n_r)
            secs, end = link.transfer_many(pos, sizes[rung])
            delay = secs + lat
            first_delay = delay if step == 0 else np.repeat(first_delay, n_r)
            rebuf = np.maximum(delay - buf, 0.0)
            buf = np.maximum(buf - delay, 0.0) + ctx.segment_duration_s
            over = buf > self.cap
            sleep = np.where(over, np.ceil((buf - self.cap) / self.drain) * self.drain, 0.0)
            buf = buf - sleep
            pos = np.mod(end + sleep, link.period_s)
            score = (
                score + rates[rung] - REBUFFER_PENALTY * rebuf - np.abs(rates[rung] - rates[last])
            )
            last = rung
        k = int(np.argmax(score))
        best = int(first[k])
        self.predicted_s.append(float(first_delay[k]))
        return Decision(best, "oracle-mpc", f"true download times over {h} chunks")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0)
    args = ap.parse_args(argv)
    traces, video, preset = _load("pensieve_train", args.stride, args.offset)
    optima = _optima()
    opt = [optima[t.name] for t in traces]
    rows: dict[str, list[float]] = {"oracle-mpc": [], "robustmpc": [], "longmpc": []}
    for t in traces:
        f = functools.partial(OracleMpc, t, args.horizon)
        rows["oracle-mpc"].append(replay(t, video, f, preset).qoe.qoe_lin.total)
        for p in ("robustmpc", "longmpc"):
            rows[p].append(replay(t, video, policy_factory(p), preset).qoe.qoe_lin.total)
    print(f"pensieve_train, {len(traces)} traces, optimum mean {statistics.fmean(opt):.3f}")
    for name, q in rows.items():
        share = math.fsum(q) / math.fsum(opt)
        print(f"{name:11s} mean QoE_lin {statistics.fmean(q):7.3f}  share of optimum {share:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
