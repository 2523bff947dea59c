"""ABR policy speed: sessions/s with the full engine, and the policy's own cost per decision.

    python -m benchmarks.bench_policies_speed [--rounds 3] [--cpu 0] [--policies bba,robustmpc]
                                              [--numpy-search]
                                              [--out benchmarks/results/policies_speed.md]

Workload: the 127 traces of ``pensieve_train`` with ``pensieve_video`` under
the ``pensieve`` preset (48 chunks, 47 policy decisions per session), a
fresh policy per session from :func:`abr.policy_factory`.

For each registered policy:

- **sessions/s**: full engine + replay driver over all traces; a warm-up
  pass, then ``--rounds`` timed passes; the best pass, in process CPU time
  (robust to other jobs on the machine) and wall time;
- **µs per decision**: the policy alone. The contexts of one replay are
  recorded, then fed again to fresh policies in session order, timed the
  same way (best pass, CPU time);
- the mean QoE_lin (chunks 1..47) of the replay, as a sanity check.

The MPC policies run the compiled plan search when the install built it
(``abr.policies.mpc_search.implementation()``, printed in the report);
``--numpy-search`` measures the numpy fallback instead.

Targets (brief): BB and BOLA >= 1,000 sessions/s, RobustMPC >= 200 sessions/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from abr import available_policies, policy_factory
from abr.base import AbrContext, Decision
from abr.policies import mpc_search
from benchmarks.machine import machine_line
from player.presets import PENSIEVE
from player.replay import replay
from player.traces import load_trace_dir
from player.video import load_pensieve_video

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class _Recorder:
    """Wraps a policy and records the contexts it is asked about."""

    def __init__(self, policy, log: list[AbrContext]) -> None:
        self.policy = policy
        self.name = policy.name
        self.log = log
        obs = getattr(policy, "observe", None)
        if obs is not None:
            self.observe = obs

    def decide(self, ctx: AbrContext) -> Decision:
        self.log.append(ctx)
        return self.policy.decide(ctx)


class _Subject:
    """One policy under measurement: its factory, recorded contexts and best times."""

    def __init__(self, name: str, traces, video) -> None:
        self.name = name
        self.factory = policy_factory(name)
        results = [replay(t, video, self.factory, PENSIEVE) for t in traces]  # warm-up
        self.qoe = statistics.fmean(r.qoe.qoe_lin.total for r in results)
        self.sessions: list[list[AbrContext]] = []
        for t in traces:
            log: list[AbrContext] = []
            replay(t, video, lambda log=log: _Recorder(self.factory(), log), PENSIEVE)
            self.sessions.append(log)
        self.best_cpu = self.best_wall = self.best_policy = float("inf")

    def engine_round(self, traces, video) -> None:
        c0, w0 = time.process_time(), time.perf_counter()
        for t in traces:
            replay(t, video, self.factory, PENSIEVE)
        self.best_cpu = min(self.best_cpu, time.process_time() - c0)
        self.best_wall = min(self.best_wall, time.perf_counter() - w0)

    def policy_round(self) -> None:
        c0 = time.process_time()
        for log in self.sessions:
            p = self.factory()
            for ctx in log:
                p.decide(ctx)
        self.best_policy = min(self.best_policy, time.process_time() - c0)

    def figures(self, n: int) -> dict[str, float]:
        decisions = sum(len(s) for s in self.sessions)
        return {
            "sessions_cpu": n / self.best_cpu,
            "sessions_wall": n / self.best_wall,
            "us_per_decision": self.best_policy / decisions * 1e6,
            "decisions": decisions / n,
            "qoe": self.qoe,
        }


def measure_all(names: list[str], traces, video, rounds: int) -> dict[str, dict[str, float]]:
    """Best of ``rounds`` for every policy, the rounds interleaved (round r of every
    policy runs before round r + 1 of any): a slow spell of a shared machine then
    lands on every policy alike instead of on whichever was being measured."""
    subjects = [_Subject(name, traces, video) for name in names]
    for _ in range(rounds):
        for sub in subjects:
            sub.engine_round(traces, video)
            sub.policy_round()
    return {sub.name: sub.figures(len(traces)) for sub in subjects}


def measure(name: str, traces, video, rounds: int) -> dict[str, float]:
    """:func:`measure_all` for one policy."""
    return measure_all([name], traces, video, rounds)[name]


TARGETS = {"bba": 1000, "bola": 1000, "robustmpc": 200}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: no pinning)")
    ap.add_argument("--policies", default=",".join(available_policies()))
    ap.add_argument("--traces", type=Path, default=SHARED / "traces" / "pensieve_train")
    ap.add_argument("--video", type=Path, default=SHARED / "traces" / "pensieve_video")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--numpy-search", action="store_true", help="MPC policies: the numpy search, not the kernel"
    )
    args = ap.parse_args(argv)
    mpc_search.use_kernel(not args.numpy_search)
    pinned = False
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {args.cpu})
            pinned = True
        except OSError:
            pass
    traces = load_trace_dir(args.traces)
    video = load_pensieve_video(args.video)
    rows = []
    names = [p.strip() for p in args.policies.split(",") if p.strip()]
    for name, m in measure_all(names, traces, video, args.rounds).items():
        target = TARGETS.get(name)
        rows.append(
            f"| {name} | {m['sessions_cpu']:.0f} | {m['sessions_wall']:.0f} |"
            f" {m['us_per_decision']:.1f} | {m['decisions']:.0f} | {m['qoe']:.2f} |"
            f" {'' if target is None else f'>= {target}'} |"
        )
        print(rows[-1], flush=True)
    cmd = "python -m benchmarks.bench_policies_speed " + " ".join(argv or sys.argv[1:])
    text = "\n".join(
        [
            "# ABR policy speed",
            "",
            f"Command: `{cmd.strip()}`",
            "",
            machine_line(
                "pinned to one CPU" if pinned else "not pinned",
                "CPU-time figures are the honest ones, still inflated by a busy sibling core",
            ),
            "",
            f"Workload: {len(traces)} traces of `{args.traces.name}`, `{args.video.name}`,"
            " pensieve preset, full engine + replay driver, fresh policy per session; best of"
            f" {args.rounds} timed passes after a warm-up, the passes of all policies"
            " interleaved. µs/decision: the policy alone on the"
            " recorded contexts (CPU time). MPC plan search:"
            f" {mpc_search.implementation()}.",
            "",
            "| policy | sessions/s (CPU) | sessions/s (wall) | µs/decision (policy only)"
            " | decisions/session | mean QoE_lin | target sessions/s |",
            "|---|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
        ]
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
