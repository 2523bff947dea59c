"""Oracle-predictor MPC: how much of the gap to the offline optimum is prediction.

    python -m benchmarks.oracle_mpc [--horizon 5] [--stride 1] [--offset 0]
        [--planner enum|dp] [--grid 0.25] [--oracle-only] [--noise 0.0] [--seed 0]

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

``--noise SIGMA`` blurs the foresight: at each decision the download time of
the plan's k-th chunk is multiplied by exp(SIGMA x z_k), z_k standard normal
(one draw per step, shared by every candidate plan; seeded per trace by
``--seed``), i.e. a forecast of each future chunk's throughput that is off by
SIGMA in log terms. The chunk actually fetched still takes its true time.
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

    def __init__(self, trace: Trace, horizon: int = 5, noise: float = 0.0, seed: int = 0) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon!r}")
        if not (noise >= 0.0 and math.isfinite(noise)):
            raise ValueError(f"noise must be a finite sigma >= 0, got {noise!r}")
        self.noise = noise
        # one generator per session, seeded by the trace's name: the same draws for a run
        self.rng = np.random.default_rng([seed, *trace.name.encode()])
        self.link = Link.for_trace(trace, PENSIEVE.network)
        self.horizon = horizon
        net, eng = PENSIEVE.network, PENSIEVE.engine
        self.latency, self.cap, self.drain = net.latency_s, eng.buffer_max_s, eng.drain_step_s
        self.predicted_s: list[float] = []  # true delay of each chosen segment, as planned

    def _keep(self, rung: np.ndarray, buf: np.ndarray, score: np.ndarray) -> np.ndarray | None:
        """Indices of the partial plans to keep after a chunk (None: all)."""
        return None

    def decide(self, ctx: AbrContext) -> Decision:
        link, lat = self.link, self.latency
        # the latency does not move the trace (pensieve preset): position = clock - latencies
        pos = np.array([link.advance(0.0, ctx.now_s - lat * ctx.segment_index)])
        rates = np.asarray(ctx.bitrates_bps, dtype=float) / 1e6
        n_r = len(rates)
        h = min(self.horizon, ctx.segment_count - ctx.segment_index)
        buf = np.array([ctx.buffer_s])
        last = np.array([ctx.last_rung])
        score = np.zeros(1)
        blur = np.exp(self.noise * self.rng.standard_normal(h)) if self.noise else None
        first = np.zeros(1, dtype=int)
        first_delay = np.zeros(1)
        for step in range(h):
            seg = ctx.segment_index + step
            sizes = np.array([ctx.segment_bytes(seg, r) for r in range(n_r)], dtype=float)
            rung = np.tile(np.arange(n_r), len(pos))
            pos, buf, last, score, first, first_delay = (
                np.repeat(a, n_r) for a in (pos, buf, last, score, first, first_delay)
            )
            secs, end = link.transfer_many(pos, sizes[rung])
            if blur is not None:
                secs = secs * blur[step]
            delay = secs + lat
            if step == 0:
                first, first_delay = rung.copy(), delay
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
            keep = self._keep(rung, buf, score)
            if keep is not None:
                pos, buf, last, score, first, first_delay = (
                    a[keep] for a in (pos, buf, last, score, first, first_delay)
                )
        k = int(np.argmax(score))
        best = int(first[k])
        self.predicted_s.append(float(first_delay[k]))
        return Decision(best, self.name, f"true download times over {h} chunks")


class OracleDpMpc(OracleMpc):
    """The oracle MPC planned by a DP over (chunk, rung, buffer bin): long horizons.

    Per (rung, buffer bin of ``grid_s``) only the best-scoring partial plan is
    kept, with its *exact* buffer level and trace position, so every kept plan
    is scored exactly and only the pruning is approximate (two plans in one
    bin with different positions in the trace are not both kept).
    """

    name = "oracle-dp"

    def __init__(
        self,
        trace: Trace,
        horizon: int = 5,
        grid_s: float = 0.25,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(trace, horizon, noise, seed)
        if not grid_s > 0:
            raise ValueError(f"grid_s must be > 0, got {grid_s!r}")
        self.grid_s = grid_s

    def _keep(self, rung: np.ndarray, buf: np.ndarray, score: np.ndarray) -> np.ndarray | None:
        key = rung * 1_000_000 + np.floor(buf / self.grid_s).astype(int)
        order = np.lexsort((-score, key))  # by key, best score first
        ks = key[order]
        return order[np.r_[True, ks[1:] != ks[:-1]]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument(
        "--planner",
        choices=("enum", "dp"),
        default=None,
        help="enum (n^h plans) or dp; default enum up to horizon 5, dp beyond",
    )
    ap.add_argument("--grid", type=float, default=0.25, help="buffer bin of the dp planner, s")
    ap.add_argument("--oracle-only", action="store_true", help="skip robustmpc and longmpc")
    ap.add_argument(
        "--noise", type=float, default=0.0, help="sigma of the foresight's log error (0: exact)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the foresight's errors")
    args = ap.parse_args(argv)
    planner = args.planner or ("enum" if args.horizon <= 5 else "dp")
    traces, video, preset = _load("pensieve_train", args.stride, args.offset)
    optima = _optima()
    opt = [optima[t.name] for t in traces]
    others = () if args.oracle_only else ("robustmpc", "longmpc")
    rows: dict[str, list[float]] = {"oracle-mpc": [], **{p: [] for p in others}}
    for t in traces:
        if planner == "dp":
            f = functools.partial(OracleDpMpc, t, args.horizon, args.grid, args.noise, args.seed)
        else:
            f = functools.partial(OracleMpc, t, args.horizon, args.noise, args.seed)
        rows["oracle-mpc"].append(replay(t, video, f, preset).qoe.qoe_lin.total)
        for p in others:
            rows[p].append(replay(t, video, policy_factory(p), preset).qoe.qoe_lin.total)
    print(
        f"pensieve_train, {len(traces)} traces, optimum mean {statistics.fmean(opt):.3f};"
        f" oracle horizon {args.horizon}, planner {planner}"
        + (f" (grid {args.grid} s)" if planner == "dp" else "")
        + (f"; foresight log error sigma {args.noise:g}, seed {args.seed}" if args.noise else "")
    )
    for name, q in rows.items():
        share = math.fsum(q) / math.fsum(opt)
        print(f"{name:11s} mean QoE_lin {statistics.fmean(q):7.3f}  share of optimum {share:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
