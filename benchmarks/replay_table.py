"""Markdown tables from ``abrkit replay --out`` JSON files (the issue-7 evidence tables).

    python -m benchmarks.replay_table RUN.json [RUN.json ...] [--highlight longmpc]

One section per file: the set, video and preset, the command that produced
it, its timing, and one row per policy (sessions, failed, mean and median
QoE_lin, share of the offline optimum when the run had ``--optimal``, pooled
rebuffer %, average bitrate, switches), then the optimum's row. Reads only
the documented JSON schema (docs/replay.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HEADER = (
    "| policy | sessions | failed | mean QoE_lin | median QoE_lin | share of optimal"
    " | rebuffer % | avg bitrate kbps | switches |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _row(name: str, p: dict[str, Any], bold: bool) -> str:
    share = p.get("share_of_optimal")
    label = f"**{name}**" if bold else name
    return (
        f"| {label} | {p['sessions']} | {p['failed']} | {p['mean_qoe_lin']:.2f}"
        f" | {p['median_qoe_lin']:.2f} | {'–' if share is None else f'{100 * share:.1f} %'}"
        f" | {100 * p['rebuffer_ratio']:.2f} | {p['mean_bitrate_bps'] / 1e3:.0f}"
        f" | {p['mean_switches']:.1f} |"
    )


def section(doc: dict[str, Any], highlight: str = "longmpc") -> str:
    """The markdown section of one replay JSON document."""
    run = doc["run"]
    sets = ", ".join(Path(d).name for d in run["trace_dirs"])
    video = Path(run["video"]["name"]).name
    lines = [
        f"## {sets} with {video}, {run['preset']} preset, {run['traces']} traces",
        "",
        "```",
        run["command"],
        "```",
        "",
        f"{sum(p['sessions'] for p in doc['policies'].values())} sessions in"
        f" {run['sessions_wall_s']:.1f} s wall ({run['sessions_cpu_s']:.1f} s CPU,"
        f" {run['workers']} workers), started {run['started_utc']}; {run['machine']}.",
        "",
        HEADER,
    ]
    for name, p in doc["policies"].items():
        lines.append(_row(name, p, name == highlight))
    opt = doc.get("optimum")
    if opt:
        lines.append(
            f"| offline optimum | {opt['traces']} | | {opt['mean_qoe_lin']:.2f}"
            f" | {opt['median_qoe_lin']:.2f} | 100 % | | | |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--highlight", default="longmpc", help="policy row set in bold")
    args = ap.parse_args(argv)
    out = []
    for path in args.runs:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            out.append(section(doc, args.highlight))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(
                f"replay_table: {path}: not an `abrkit replay --out` file ({exc!r})",
                file=sys.stderr,
            )
            return 2
    print("\n\n".join(out), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
