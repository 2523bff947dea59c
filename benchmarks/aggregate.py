"""Per-policy aggregates of a run's rows (:class:`PolicyAggregate`).

``sessions_per_s`` is sessions / summed CPU seconds, a one-core-equivalent
rate that does not depend on how many workers ran.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .sessions import RunResult, SessionRow

__all__ = ["PolicyAggregate", "aggregate"]


@dataclass(frozen=True, slots=True)
class PolicyAggregate:
    """One policy over its sessions.

    ``share_of_optimal`` (primary) = mean QoE_lin / mean optimum QoE_lin over the
    same traces (ratio of means); ``mean_ratio_to_optimal`` = mean of per-session
    ``qoe_lin / optimum`` over sessions whose optimum is > 0. ``rebuffer_ratio``
    pools time: total stall / (total stall + total played).
    """

    policy: str
    sessions: int
    failed: int
    mean_qoe_lin: float
    median_qoe_lin: float
    mean_qoe_log: float
    mean_qoe_hd: float | None
    share_of_optimal: float | None
    mean_ratio_to_optimal: float | None
    mean_optimal_qoe_lin: float | None
    rebuffer_ratio: float
    mean_rebuffer_s: float
    mean_bitrate_bps: float
    mean_switches: float
    mean_startup_s: float
    cpu_s: float
    sessions_per_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return math.fsum(xs) / len(xs) if xs else float("nan")


def aggregate(run: RunResult, policies: Sequence[str] | None = None) -> dict[str, PolicyAggregate]:
    """Per policy aggregates, in ``policies`` order (default: order of first appearance)."""
    by: dict[str, list[SessionRow]] = {}
    for r in run.rows:
        by.setdefault(r.policy, []).append(r)
    names = list(policies) if policies is not None else list(by)
    out: dict[str, PolicyAggregate] = {}
    for p in names:
        rows = by.get(p, [])
        if not rows:
            continue
        lin = [r.qoe_lin for r in rows]
        hd = [r.qoe_hd for r in rows if r.qoe_hd is not None]
        with_opt = [r for r in rows if r.optimal_qoe_lin is not None]
        share = mean_ratio = mean_opt = None
        if with_opt:
            mean_opt = _mean(r.optimal_qoe_lin for r in with_opt)  # type: ignore[misc]
            mean_pol = _mean(r.qoe_lin for r in with_opt)
            share = mean_pol / mean_opt if mean_opt > 0 else None
            ratios = [x for r in with_opt if (x := r.ratio_to_optimal) is not None]
            mean_ratio = _mean(ratios) if ratios else None
        stalled = math.fsum(r.rebuffer_s for r in rows)
        played = math.fsum(r.played_s for r in rows)
        cpu = run.cpu_s.get(p, 0.0)
        out[p] = PolicyAggregate(
            policy=p,
            sessions=len(rows),
            failed=sum(1 for r in rows if r.state != "ended"),
            mean_qoe_lin=_mean(lin),
            median_qoe_lin=statistics.median(lin),
            mean_qoe_log=_mean(r.qoe_log for r in rows),
            mean_qoe_hd=_mean(hd) if hd else None,
            share_of_optimal=share,
            mean_ratio_to_optimal=mean_ratio,
            mean_optimal_qoe_lin=mean_opt,
            rebuffer_ratio=stalled / (stalled + played) if stalled + played > 0 else 0.0,
            mean_rebuffer_s=stalled / len(rows),
            mean_bitrate_bps=_mean(r.avg_bitrate_bps for r in rows),
            mean_switches=_mean(r.switches for r in rows),
            mean_startup_s=_mean(r.startup_s for r in rows),
            cpu_s=cpu,
            sessions_per_s=len(rows) / cpu if cpu > 0 else None,
        )
    return out
