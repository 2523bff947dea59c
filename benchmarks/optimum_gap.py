"""Where the gap to the offline optimum is: a breakdown of an ``abrkit replay --optimal`` run.

    python -m benchmarks.optimum_gap RUN.json [--target 0.93] [--policy longmpc] [--top 10]

"Share of the optimum" in the replay table is a ratio of sums (a policy's
mean QoE_lin over the optimum's mean). Traces where the optimum itself
stalls (an outage no schedule avoids) add the same large negative amount to
both sums and pull every policy's share down. This report puts the share
next to figures that separate what a policy could still gain from what no
policy can:

- the mean of per-trace ratios (traces with an optimum > 0);
- the share over the traces where the optimum stalls less than
  ``--stall-s`` (default 1 s);
- the per-trace envelope: on each trace the best of the run's policies
  (an upper bound for choosing a shipped policy per trace);
- for ``--target``: the mean QoE_lin a policy needs to reach that share and
  the factor over its current mean;
- for ``--policy``: how concentrated its gap is (the fewest traces that hold
  half of it) and the traces where it loses most.

Reads only the documented replay JSON schema (docs/replay.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GapReport", "gap_report", "render"]


@dataclass(frozen=True, slots=True)
class GapReport:
    """The figures of :func:`gap_report` (see the module docstring).

    ``rows``: per policy ``mean``, ``share``, ``mean_ratio``, ``calm_share`` and
    ``needed_factor`` (None where undefined). ``focus``: for the chosen policy,
    ``gap_per_trace``, ``half_gap_traces`` and ``worst`` = every trace as
    (name, optimum, the policy's QoE_lin, {other policy: QoE_lin}), largest gap first.
    """

    traces: int
    optimum_mean: float
    target: float
    target_mean: float
    stall_s: float
    outage_traces: int
    outage_sum: float
    rows: dict[str, dict[str, float | None]]
    envelope_share: float
    focus: dict[str, Any] | None


def _by_trace(doc: dict[str, Any]) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    opt = doc.get("optimum")
    if not isinstance(opt, dict) or not opt.get("per_trace"):
        raise ValueError("the run has no offline optimum (replay it with --optimal)")
    optimum = {}
    for row in opt["per_trace"]:
        optimum[(row["trace_dir"], row["trace"])] = row
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for s in doc["sessions"]:
        key = (s["trace_dir"], s["trace"])
        if key in optimum and s.get("qoe_lin") is not None:
            scores[s["policy"]][key] = float(s["qoe_lin"])
    return dict(scores), optimum


def gap_report(
    doc: dict[str, Any], *, target: float = 0.93, policy: str | None = None, stall_s: float = 1.0
) -> GapReport:
    """The breakdown of one replay document (``ValueError`` when it has no optimum or
    the policies did not all run on the same traces)."""
    scores, optimum = _by_trace(doc)
    if not scores:
        raise ValueError("the run has no sessions with a QoE_lin")
    keys = sorted(optimum)
    missing = [p for p, per in scores.items() if set(per) != set(keys)]
    if missing:
        raise ValueError(f"policies without a session on every trace: {', '.join(missing)}")
    opt = {k: float(optimum[k]["qoe_lin"]) for k in keys}
    opt_sum = sum(opt.values())
    if opt_sum <= 0:
        raise ValueError("the optimum's total QoE_lin is not positive: no share is defined")
    calm = [k for k in keys if float(optimum[k].get("rebuffer_s") or 0.0) < stall_s]
    calm_sum = sum(opt[k] for k in calm)
    outage_sum = opt_sum - calm_sum
    positive = [k for k in keys if opt[k] > 0]
    rows = {}
    for name, per in scores.items():
        total = sum(per.values())
        mean = total / len(keys)
        rows[name] = {
            "mean": mean,
            "share": total / opt_sum,
            "mean_ratio": statistics.fmean(per[k] / opt[k] for k in positive) if positive else None,
            "calm_share": sum(per[k] for k in calm) / calm_sum if calm_sum > 0 else None,
            "needed_factor": (target * opt_sum / len(keys)) / mean if mean > 0 else None,
        }
    envelope = sum(max(per[k] for per in scores.values()) for k in keys) / opt_sum
    focus = None
    if policy is not None:
        if policy not in scores:
            raise ValueError(f"policy {policy!r} is not in the run ({', '.join(sorted(scores))})")
        per = scores[policy]
        gaps = sorted(((opt[k] - per[k], k) for k in keys), reverse=True)
        total_gap = sum(g for g, _ in gaps)
        acc, half = 0.0, 0
        for g, _ in gaps:
            if acc >= total_gap / 2:
                break
            acc += g
            half += 1
        focus = {
            "policy": policy,
            "gap_per_trace": total_gap / len(keys),
            "half_gap_traces": half,
            "worst": [
                (k[1], opt[k], per[k], {p: scores[p][k] for p in sorted(scores) if p != policy})
                for _, k in gaps
            ],
        }
    return GapReport(
        traces=len(keys),
        optimum_mean=opt_sum / len(keys),
        target=target,
        target_mean=target * opt_sum / len(keys),
        stall_s=stall_s,
        outage_traces=len(keys) - len(calm),
        outage_sum=outage_sum,
        rows=rows,
        envelope_share=envelope,
        focus=focus,
    )


def _f(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def render(rep: GapReport, top: int = 10) -> str:
    """The report as markdown."""
    lines = [
        f"{rep.traces} traces; the optimum's mean QoE_lin {rep.optimum_mean:.2f}."
        f" {rep.outage_traces} trace(s) where the optimum itself stalls >= {rep.stall_s:g} s"
        f" add {rep.outage_sum:.1f} to the optimum's total (and about as much to every"
        " policy's).",
        "",
        f"A share of {rep.target:g} needs a mean QoE_lin of {rep.target_mean:.2f}.",
        "",
        "| policy | mean QoE_lin | share (ratio of means) | mean of per-trace ratios"
        f" | share without the outage traces | factor needed for {rep.target:g} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in sorted(rep.rows.items(), key=lambda kv: -kv[1]["mean"]):
        lines.append(
            f"| {name} | {r['mean']:.2f} | {r['share']:.3f} | {_f(r['mean_ratio'], '.3f')}"
            f" | {_f(r['calm_share'], '.3f')} | {_f(r['needed_factor'], '.3f')} |"
        )
    lines += [
        "",
        f"Per-trace envelope (the best of these {len(rep.rows)} policies on each trace):"
        f" share {rep.envelope_share:.3f}.",
    ]
    if rep.focus:
        f = rep.focus
        lines += [
            "",
            f"{f['policy']}: gap {f['gap_per_trace']:.2f} QoE_lin per trace; half of it on"
            f" {f['half_gap_traces']} of {rep.traces} traces. Largest gaps:",
            "",
            "| trace | optimum | " + f["policy"] + " | best other policy |",
            "|---|---:|---:|---|",
        ]
        for name, o, mine, others in f["worst"][:top]:
            best = max(others.items(), key=lambda kv: kv[1]) if others else None
            other = f"{best[0]} {best[1]:.1f}" if best else "–"
            lines.append(f"| {name} | {o:.1f} | {mine:.1f} | {other} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="an `abrkit replay --optimal --out` JSON file")
    ap.add_argument("--target", type=float, default=0.93, help="share to size (0.93)")
    ap.add_argument("--policy", default="longmpc", help="policy whose gap is broken down")
    ap.add_argument("--top", type=int, default=10, help="largest gaps listed (10)")
    ap.add_argument("--stall-s", type=float, default=1.0, help="outage: optimum stalls >= this")
    args = ap.parse_args(argv)
    try:
        doc = json.loads(args.run.read_text(encoding="utf-8"))
        rep = gap_report(doc, target=args.target, policy=args.policy, stall_s=args.stall_s)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"optimum_gap: {args.run}: {exc}", file=sys.stderr)
        return 2
    print(render(rep, args.top), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
