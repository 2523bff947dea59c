"""Every (policy, trace) session of a run, in-process or across a process pool.

Determinism: a session depends only on its trace, the video, the preset and
the policy (no clock, no randomness), and rows are sorted by (trace order,
policy order) after the pool returns, so every figure except the timing
ones is identical whatever the worker count.

Timing: each worker measures the CPU time of each session
(``time.process_time``); per-policy CPU seconds go in :class:`RunResult`.

The pool helpers (``_STATE``, ``_init_worker``, ``_run_tasks``) are shared with
:mod:`benchmarks.optimum`, whose solver tasks run in the same kind of pool.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from player.presets import Preset, get_preset
from player.replay import replay
from player.session import SessionResult
from player.traces import Trace
from player.video import Video
from telemetry.qoe import failed_session_penalty, unplayed_seconds

__all__ = [
    "Progress",
    "RunResult",
    "SessionFailure",
    "SessionRow",
    "replay_one",
    "run_sessions",
    "session_row",
]

Progress = Callable[[int], None]  # called with the number of units just finished


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session's figures (deterministic: no timing here). Seconds, bits per second."""

    trace_dir: str
    trace: str
    policy: str
    state: str
    failure: str | None
    qoe_lin: float
    qoe_log: float
    qoe_hd: float | None
    rebuffer_s: float
    rebuffer_count: int
    rebuffer_ratio: float
    played_s: float
    avg_bitrate_bps: float
    switches: int
    startup_s: float
    chunks: int
    optimal_qoe_lin: float | None = None
    unplayed_s: float = 0.0  # a failed session's unplayed remainder, charged in qoe_lin

    @property
    def ratio_to_optimal(self) -> float | None:
        o = self.optimal_qoe_lin
        return None if o is None or o <= 0 else self.qoe_lin / o

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ratio_to_optimal"] = self.ratio_to_optimal
        return d


def session_row(
    trace_dir: str, trace: str, policy: str, result: SessionResult, unplayed_s: float = 0.0
) -> SessionRow:
    """The row of one session; ``unplayed_s`` > 0 (a failed session's remainder) is
    charged to QoE_lin as rebuffering (``telemetry.qoe.failed_session_penalty``)."""
    q = result.qoe
    return SessionRow(
        trace_dir=trace_dir,
        trace=trace,
        policy=policy,
        state=result.state,
        failure=result.failure,
        qoe_lin=q.qoe_lin.total - failed_session_penalty(unplayed_s),
        qoe_log=q.qoe_log.total,
        qoe_hd=None if q.qoe_hd is None else q.qoe_hd.total,
        rebuffer_s=q.rebuffer_s,
        rebuffer_count=q.rebuffer_count,
        rebuffer_ratio=q.rebuffer_ratio,
        played_s=q.played_s,
        avg_bitrate_bps=q.average_bitrate_bps,
        switches=q.switches,
        startup_s=q.startup_delay_s,
        chunks=q.chunks,
        unplayed_s=unplayed_s,
    )


@dataclass(frozen=True, slots=True)
class RunResult:
    """Rows sorted by (trace order, policy order); CPU seconds per policy; wall time."""

    rows: tuple[SessionRow, ...]
    cpu_s: dict[str, float]
    wall_s: float
    workers: int


class SessionFailure(RuntimeError):
    """A session raised (a bug in the engine or a policy); the message names it."""


# Worker state, set once per process by _init_worker (or in-process for workers=1).
_STATE: dict[str, Any] = {}


def _init_worker(traces: list[tuple[str, Trace]], video: Video, preset: Preset) -> None:
    _STATE.clear()
    _STATE.update(traces=traces, video=video, preset=preset, factories={})


def _session_task(policy: str, indices: list[int]) -> list[tuple[int, SessionRow, float]]:
    from abr.registry import policy_factory

    traces, video, preset = _STATE["traces"], _STATE["video"], _STATE["preset"]
    factory = _STATE["factories"].get(policy)
    if factory is None:
        factory = _STATE["factories"][policy] = policy_factory(policy)
    out = []
    clock = time.process_time
    for i in indices:
        d, tr = traces[i]
        c0 = clock()
        try:
            res = replay(tr, video, factory, preset)
        except Exception as exc:  # name the session: a bug must be findable in a long run
            raise SessionFailure(f"{policy} on {d}/{tr.name}: {type(exc).__name__}: {exc}") from exc
        cpu = clock() - c0
        left = unplayed_seconds(res, video, preset.segments)
        out.append((i, session_row(d, tr.name, policy, res, left), cpu))
    return out


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def _run_tasks(
    tasks: list[tuple[Callable[..., Any], tuple[Any, ...], int]],
    init_args: tuple[Any, ...],
    workers: int,
    progress: Progress | None,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Run ``(fn, args, units)`` tasks in-process (workers=1) or in a pool, results in order."""
    results: list[Any] = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        saved = dict(_STATE)
        _init_worker(*init_args)
        try:
            for k, (fn, args, units) in enumerate(tasks):
                results[k] = fn(*args)
                if on_result:
                    on_result(k, results[k])
                if progress:
                    progress(units)
        finally:
            _STATE.clear()
            _STATE.update(saved)
        return results
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=init_args
    ) as pool:
        # chunked submission: at most a few tasks per worker queued at a time
        pending: dict[Any, int] = {}
        queue = list(range(len(tasks)))
        queue.reverse()
        while queue or pending:
            while queue and len(pending) < workers * 4:
                k = queue.pop()
                fn, args, _ = tasks[k]
                pending[pool.submit(fn, *args)] = k
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                k = pending.pop(fut)
                results[k] = fut.result()
                if on_result:
                    on_result(k, results[k])
                if progress:
                    progress(tasks[k][2])
    return results


def _chunk_size(n_units: int, workers: int) -> int:
    return max(1, min(32, math.ceil(n_units / max(1, workers * 8))))


def run_sessions(
    traces: Sequence[tuple[str, Trace]],
    video: Video,
    policies: Sequence[str],
    preset: Preset | str,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    seed: int = 0,
) -> RunResult:
    """Replay every (policy, trace); ``progress(n)`` after each batch of ``n`` sessions.

    ``seed`` only shuffles the order tasks are submitted in (load balance);
    it cannot change a result.
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    traces = list(traces)
    size = _chunk_size(len(traces) * len(policies), workers)
    tasks: list[tuple[Callable[..., Any], tuple[Any, ...], int]] = [
        (_session_task, (p, idx), len(idx)) for p in policies for idx in _chunks(len(traces), size)
    ]
    order = list(range(len(tasks)))
    random.Random(seed).shuffle(order)
    wall0 = time.perf_counter()
    out = _run_tasks([tasks[k] for k in order], (traces, video, preset), workers, progress)
    wall = time.perf_counter() - wall0
    rank = {p: k for k, p in enumerate(policies)}
    cpu: dict[str, float] = dict.fromkeys(policies, 0.0)
    flat: list[tuple[int, int, SessionRow]] = []
    for chunk in out:
        for i, row, c in chunk:
            cpu[row.policy] += c
            flat.append((i, rank[row.policy], row))
    flat.sort(key=lambda x: (x[0], x[1]))
    return RunResult(tuple(r for _, _, r in flat), cpu, wall, workers)


def replay_one(trace: Trace, video: Video, policy: str, preset: Preset | str) -> SessionResult:
    """One session in this process (for timelines and tests)."""
    from abr.registry import policy_factory

    return replay(trace, video, policy_factory(policy), preset)
