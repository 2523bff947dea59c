"""Policy evaluation table: every shipped policy on the three reference trace sets.

    python -m benchmarks.bench_policy_eval [--policies a,b] [--sets pensieve_train,...]
        [--stride 1] [--offset 0] [--processes 2] [--config-json '{"error_window": 10}']
        [--out benchmarks/results/policy_eval.md] [--json rows.json]

Sets (trace directory, video, preset):

- ``pensieve_train``: ``pensieve_video``, preset ``pensieve`` (QoE_lin over chunks 1..47);
- ``sabre_3glogs``: ``sabre_movies/bbb.json``, preset ``sabre``;
- ``sabre_hd_fs``: ``sabre_movies/bbb4k.json``, preset ``sabre``;
- ``sabre_sd_fs``: ``sabre_movies/bbb.json``, preset ``sabre``.

``--sabre-preset realistic`` replays the Sabre sets with the realistic
preset instead (abandonment, 60 s stall limit); a failed session's QoE_lin
then charges its unplayed remainder as rebuffering (``telemetry.qoe.failed_session_penalty``).

``--stride k --offset j`` keeps traces j, j+k, j+2k, ... of each set (sorted
by file name; the trace loader's order), for hold-out splits and quick runs.
Per policy and set: mean and median QoE_lin, share of the offline optimum
(pensieve_train, when ``benchmarks/results/optimal_pensieve_train.json``
holds per-trace optima), mean rebuffer ratio, mean rebuffer seconds, mean
average bitrate, mean switches. Deterministic (no timing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from abr import policy_factory
from player.presets import get_preset
from player.replay import replay
from player.traces import load_trace_dir
from telemetry.qoe import failed_session_penalty, unplayed_seconds

from .harness import load_video

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "traces"

SETS: dict[str, tuple[str, str, str]] = {
    "pensieve_train": ("pensieve_train", "pensieve_video", "pensieve"),
    "sabre_3glogs": ("sabre_3glogs", "sabre_movies/bbb.json", "sabre"),
    "sabre_hd_fs": ("sabre_hd_fs", "sabre_movies/bbb4k.json", "sabre"),
    "sabre_sd_fs": ("sabre_sd_fs", "sabre_movies/bbb.json", "sabre"),
}
DEFAULT_SETS = "pensieve_train,sabre_3glogs,sabre_hd_fs"
DEFAULT_POLICIES = "bba,bola-e,dynamic,throughput,robustmpc,longmpc"
OPTIMA = ROOT / "benchmarks" / "results" / "optimal_pensieve_train.json"

_STATE: dict[str, Any] = {}


def _load(set_name: str, stride: int, offset: int):
    tdir, vspec, preset = SETS[set_name]
    if preset == "sabre" and _STATE.get("sabre_preset"):
        preset = _STATE["sabre_preset"]
    traces = load_trace_dir(SHARED / tdir)[offset::stride]
    return traces, load_video(str(SHARED / vspec)), preset


def _work(args: tuple[str, int, int, str, dict[str, Any], list[int]]) -> list[dict[str, Any]]:
    set_name, stride, offset, policy, config, idx, sabre_preset = args
    _STATE["sabre_preset"] = sabre_preset
    key = (set_name, stride, offset, sabre_preset)
    if _STATE.get("key") != key:
        _STATE["key"] = key
        _STATE["data"] = _load(set_name, stride, offset)
    traces, video, preset = _STATE["data"]
    factory = policy_factory(policy, **config)
    rows = []
    for i in idx:
        res = replay(traces[i], video, factory, preset)
        q = res.qoe
        left = unplayed_seconds(res, video, get_preset(preset).segments)
        rows.append(
            {
                "trace": traces[i].name,
                "failed": res.state != "ended",
                "chunks": q.chunks,
                "qoe_lin": q.qoe_lin.total - failed_session_penalty(left),
                "unplayed_s": left,
                "rebuffer_ratio": q.rebuffer_ratio,
                "rebuffer_s": q.rebuffer_s,
                "avg_bitrate_bps": q.average_bitrate_bps,
                "switches": q.switches,
            }
        )
    return rows


def _optima() -> dict[str, float]:
    try:
        data = json.loads(OPTIMA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, float] = {}
    items = data
    if isinstance(data, dict):
        items = data.get("scores", data.get("traces", data))
    if isinstance(items, dict):
        for k, v in items.items():
            val = v.get("qoe_lin") if isinstance(v, dict) else v
            if isinstance(val, (int, float)):
                out[Path(k).name] = float(val)
    elif isinstance(items, list):
        for v in items:
            if isinstance(v, dict) and "trace" in v:
                val = v.get("optimal_qoe_lin", v.get("qoe_lin"))
                if isinstance(val, (int, float)):
                    out[Path(str(v["trace"])).name] = float(val)
    return out


def evaluate(
    set_name: str,
    policy: str,
    *,
    stride: int = 1,
    offset: int = 0,
    processes: int = 2,
    config: dict[str, Any] | None = None,
    sabre_preset: str = "sabre",
) -> list[dict[str, Any]]:
    """Per-trace rows of ``policy`` on ``set_name`` (trace order)."""
    config = config or {}
    _STATE["sabre_preset"] = sabre_preset
    n = len(_load(set_name, stride, offset)[0])
    parts = max(1, processes) * 4
    chunks = [list(range(i, n, parts)) for i in range(parts)]
    jobs = [(set_name, stride, offset, policy, config, c, sabre_preset) for c in chunks if c]
    if processes <= 1:
        results = [_work(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            results = list(pool.map(_work, jobs))
    rows: list[dict[str, Any] | None] = [None] * n
    for c, rs in zip(chunks, results, strict=False):
        for i, r in zip(c, rs, strict=True):
            rows[i] = r
    return [r for r in rows if r is not None]


def summarise(rows: list[dict[str, Any]], optima: dict[str, float]) -> dict[str, float]:
    q = [r["qoe_lin"] for r in rows]
    shares = [r["qoe_lin"] / optima[r["trace"]] for r in rows if optima.get(r["trace"], 0) > 0]
    opt = [optima[r["trace"]] for r in rows if r["trace"] in optima]
    return {
        "n": len(rows),
        "mean": statistics.fmean(q),
        "median": statistics.median(q),
        "share_of_opt": (sum(q) / sum(opt)) if opt and len(opt) == len(rows) else float("nan"),
        "mean_share": statistics.fmean(shares) if shares else float("nan"),
        "rebuffer_ratio": statistics.fmean(r["rebuffer_ratio"] for r in rows),
        "rebuffer_s": statistics.fmean(r["rebuffer_s"] for r in rows),
        "bitrate_mbps": statistics.fmean(r["avg_bitrate_bps"] for r in rows) / 1e6,
        "switches": statistics.fmean(r["switches"] for r in rows),
        "failed": sum(1 for r in rows if r["failed"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default=DEFAULT_POLICIES)
    ap.add_argument("--sets", default=DEFAULT_SETS)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--sabre-preset", default="sabre", help="preset of the Sabre sets")
    ap.add_argument("--config-json", default="{}", help="config fields for every policy run")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write per-trace rows here")
    args = ap.parse_args(argv)
    config = json.loads(args.config_json)
    optima = _optima()
    lines = [
        "| set | policy | traces | mean QoE_lin | median QoE_lin | share of optimum"
        " | rebuffer ratio | rebuffer s | avg bitrate Mbps | switches | failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    dump: dict[str, Any] = {}
    for set_name in [s for s in args.sets.split(",") if s]:
        for policy in [p for p in args.policies.split(",") if p]:
            rows = evaluate(
                set_name,
                policy,
                stride=args.stride,
                offset=args.offset,
                processes=args.processes,
                config=config if policy not in ("bba", "bola-e", "dynamic", "throughput") else {},
                sabre_preset=args.sabre_preset,
            )
            s = summarise(rows, optima)
            dump[f"{set_name}/{policy}"] = rows
            share = "–" if s["share_of_opt"] != s["share_of_opt"] else f"{s['share_of_opt']:.3f}"
            lines.append(
                f"| {set_name} | {policy} | {s['n']} | {s['mean']:.3f} | {s['median']:.3f} |"
                f" {share} | {s['rebuffer_ratio']:.4f} | {s['rebuffer_s']:.2f} |"
                f" {s['bitrate_mbps']:.3f} | {s['switches']:.1f} | {s['failed']} |"
            )
            print(lines[-1], flush=True)
    cmd = "python -m benchmarks.bench_policy_eval " + " ".join(argv or sys.argv[1:])
    text = "\n".join(["# Policy evaluation", "", f"Command: `{cmd.strip()}`", "", *lines, ""])
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    if args.json is not None:
        args.json.write_text(json.dumps(dump), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
