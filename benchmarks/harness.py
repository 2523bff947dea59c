"""The replay harness: every (policy, trace) session across processes, then aggregates.

    traces = load_traces(["/data/pensieve_train"], limit=10)   # [(dir, Trace)], sorted
    video = load_video("/data/pensieve_video")                # Pensieve dir, Sabre JSON,
                                                              # catalog.json, manifest
    run = run_sessions(traces, video, ["bba", "robustmpc"], "pensieve", workers=4)
    optimum = compute_optimum(traces, video, "pensieve", cache=Path("opt.json"))
    table = aggregate(attach_optimum(run, traces, optimum))   # {policy: PolicyAggregate}

This module is the harness's public face; the work is done by
:mod:`benchmarks.loaders` (traces, videos), :mod:`benchmarks.sessions` (the
process pool, rows), :mod:`benchmarks.optimum` (the offline optimum and its
cache) and :mod:`benchmarks.aggregate` (per-policy figures).

Determinism: a session depends only on its trace, the video, the preset and
the policy (no clock, no randomness), and rows are sorted by (trace order,
policy order) after the pool returns, so every figure except the timing
ones is identical whatever the worker count.

Timing: each worker measures the CPU time of each session
(``time.process_time``); ``sessions_per_s`` is sessions / summed CPU seconds,
a one-core-equivalent rate that does not depend on how many workers ran.
"""

from __future__ import annotations

from .aggregate import PolicyAggregate, aggregate
from .loaders import SKIP_NAMES, load_traces, load_video
from .optimum import (
    OptimumRow,
    OptimumRun,
    attach_optimum,
    compute_optimum,
    default_cache_path,
    optimal_config_for,
)
from .sessions import (
    Progress,
    RunResult,
    SessionFailure,
    SessionRow,
    replay_one,
    run_sessions,
    session_row,
)

__all__ = [
    "SKIP_NAMES",
    "OptimumRow",
    "OptimumRun",
    "PolicyAggregate",
    "Progress",
    "RunResult",
    "SessionFailure",
    "SessionRow",
    "aggregate",
    "attach_optimum",
    "compute_optimum",
    "default_cache_path",
    "load_traces",
    "load_video",
    "optimal_config_for",
    "replay_one",
    "run_sessions",
    "session_row",
]
