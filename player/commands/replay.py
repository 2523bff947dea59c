"""``abrkit replay``: ABR policies over trace sets, in parallel, with a table, JSON, CSV and plots.

    abrkit replay --traces DIR [--traces DIR2] --video SPEC --policy bola,robustmpc|all
                  [--preset pensieve|realistic|sabre] [--optimal] [--limit N] [--workers N]
                  [--out results.json] [--csv results.csv] [--plot DIR] [--seed N] [--quiet]

The work is done by :mod:`benchmarks.harness` (results are identical for any
``--workers``); the JSON schema is in ``docs/replay.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HELP = "Replay ABR policies over bandwidth-trace sets (parallel); table, JSON, CSV, plots."

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--traces", action="append", required=True, metavar="DIR",
      help="a directory of traces (Pensieve text or Sabre JSON); repeatable")
    a("--video", required=True, metavar="SPEC",
      help="Pensieve chunk-size dir (video_size_0..5), Sabre movie JSON, abrkit catalog.json "
           "or title dir, or an .mpd/.m3u8 path or URL with a catalog.json beside it")
    a("--policy", required=True, metavar="NAMES",
      help="comma-separated ABR policy names from the registry, or 'all'")
    a("--preset", default="realistic", metavar="NAME",
      help="replay preset: realistic (default, the library's), pensieve (Pensieve's simulator) "
           "or sabre (Sabre's default simulator)")
    a("--optimal", action="store_true",
      help="also compute the offline optimum per trace (cached) and each policy's share of it")
    a("--optimal-cache", type=Path, metavar="FILE", default=None,
      help="cache file of optimum results (default: $XDG_CACHE_HOME/abrkit/optimal-cache.json)")
    a("--optimal-grid", type=float, metavar="S", default=None,
      help="grid of the optimum's dynamic program in seconds (default: the solver's, 0.2); "
           "coarser is faster and may give a lower optimum")
    a("--limit", type=int, metavar="N", help="only the first N traces (sorted) of each directory")
    a("--workers", type=int, metavar="N", default=None,
      help="worker processes (default: os.cpu_count())")
    a("--out", type=Path, metavar="FILE", help="write results as JSON (schema: docs/replay.md)")
    a("--csv", type=Path, metavar="FILE", help="write one CSV row per session")
    a("--plot", type=Path, metavar="DIR", help="write PNG plots (QoE CDF, session timelines)")
    a("--seed", type=int, default=0, metavar="N",
      help="orders task submission only; results never depend on it (no randomness)")
    a("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> int:
    print(f"abrkit replay: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _policies(spec: str) -> list[str]:
    from abr.registry import available_policies

    known = available_policies()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if names == ["all"]:
        return known
    if not names:
        raise ValueError(f"no policy given; known policies: {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown policy {', '.join(map(repr, unknown))}; known policies: {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


def _mpc_search() -> str:
    """Which RobustMPC plan search ran (compiled kernel or numpy): timing depends on it."""
    from abr.policies.mpc_search import implementation

    return implementation()


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, {platform.system()}"


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (arguments in canonical order, shell-quoted)."""
    import shlex

    parts = ["abrkit", "replay"]
    for d in args.traces:
        parts += ["--traces", str(d)]
    parts += ["--video", args.video, "--policy", args.policy, "--preset", args.preset]
    if args.optimal:
        parts.append("--optimal")
    for flag, value in (("--optimal-cache", args.optimal_cache),
                        ("--optimal-grid", args.optimal_grid), ("--limit", args.limit),
                        ("--workers", args.workers), ("--out", args.out), ("--csv", args.csv),
                        ("--plot", args.plot)):
        if value is not None:
            parts += [flag, str(value)]
    if args.seed:
        parts += ["--seed", str(args.seed)]
    return shlex.join(parts)


def _default_grid() -> float:
    from abr.optimal import OptimalConfig

    return OptimalConfig().grid_s


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("abrkit")
    except Exception:  # noqa: BLE001 - not installed: a source checkout
        return "0+unknown"


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=sys.stderr), transient=True,
                auto_refresh=False,  # no refresh thread: worker processes are forked
            )
            self.progress.start()

    def task(self, description: str, total: int) -> Any:
        if self.progress is None:
            return None
        tid = self.progress.add_task(description, total=total)
        self.progress.refresh()

        def advance(n: int) -> None:
            self.progress.advance(tid, n)
            self.progress.refresh()

        return advance

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _fmt(v: float | None, spec: str, scale: float = 1.0) -> str:
    return "—" if v is None else format(v * scale, spec)


def print_table(aggs: dict[str, Any], title: str, optimum: dict[str, Any] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in ("policy", "sessions", "failed", "mean QoE_lin", "median QoE_lin",
                "share of optimal", "bitrate kbps", "rebuffer %", "switches", "startup s",
                "sessions/s"):
        t.add_column(col, no_wrap=True, justify="left" if col == "policy" else "right")
    for name, a in aggs.items():
        t.add_row(
            name,
            str(a.sessions),
            str(a.failed),
            _fmt(a.mean_qoe_lin, ".2f"),
            _fmt(a.median_qoe_lin, ".2f"),
            _fmt(a.share_of_optimal, ".1%"),
            _fmt(a.mean_bitrate_bps, ".0f", 1e-3),
            _fmt(a.rebuffer_ratio, ".3f", 100.0),
            _fmt(a.mean_switches, ".1f"),
            _fmt(a.mean_startup_s, ".2f"),
            _fmt(a.sessions_per_s, ".0f"),
        )
    if optimum is not None:
        t.add_row("offline optimum", str(optimum["traces"]), "",
                  _fmt(optimum["mean_qoe_lin"], ".2f"), _fmt(optimum["median_qoe_lin"], ".2f"),
                  "100.0%", "", "", "", "", "", style="dim")
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(t)


def run(args: argparse.Namespace) -> int:
    from player.errors import ReplayError
    from player.presets import get_preset

    wall0 = time.perf_counter()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        preset = get_preset(args.preset)
    except ValueError as exc:
        return _error(str(exc))
    try:
        policies = _policies(args.policy)
    except ValueError as exc:
        return _error(str(exc))
    if args.limit is not None and args.limit < 1:
        return _error(f"--limit must be >= 1, got {args.limit}")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        return _error(f"--workers must be >= 1, got {workers}")
    if args.optimal_grid is not None and not args.optimal_grid > 0:
        return _error(f"--optimal-grid must be > 0, got {args.optimal_grid}")
    if args.plot is not None and args.plot.exists() and not args.plot.is_dir():
        return _error(f"--plot {args.plot}: exists and is not a directory")

    from benchmarks import harness

    try:
        traces = harness.load_traces(args.traces, args.limit)
        video = harness.load_video(args.video)
    except ReplayError as exc:
        return _error(str(exc).splitlines()[0])

    bar = _Bar(sys.stderr.isatty() and not args.quiet)
    try:
        progress = bar.task(f"replay ({workers} workers)", len(traces) * len(policies))
        result = harness.run_sessions(traces, video, policies, preset, workers=workers,
                                      progress=progress, seed=args.seed)
        optimum = None
        if args.optimal:
            cache = args.optimal_cache or harness.default_cache_path()
            progress = bar.task("offline optimum", len(traces))
            optimum = harness.compute_optimum(traces, video, preset, cache=cache,
                                              workers=workers, progress=progress,
                                              grid_s=args.optimal_grid)
            result = harness.attach_optimum(result, traces, optimum)
            if optimum.cache_error:
                print(f"abrkit replay: warning: {optimum.cache_error}", file=sys.stderr)
    except ReplayError as exc:
        bar.stop()
        return _error(str(exc).splitlines()[0])
    except Exception as exc:  # noqa: BLE001 - a worker crashed: a failure, not bad input
        bar.stop()
        print(f"abrkit replay: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    bar.stop()

    aggs = harness.aggregate(result, policies)
    opt_doc = None
    if optimum is not None:
        import statistics

        vals = [optimum.rows[i].qoe_lin for i in range(len(traces))]
        opt_doc = {
            "traces": len(vals),
            "mean_qoe_lin": sum(vals) / len(vals),
            "median_qoe_lin": statistics.median(vals),
            "model": "exact" if optimum.exact else "approximate",
            "grid_s": args.optimal_grid or _default_grid(),
            "cached": optimum.cached,
            "cpu_s": optimum.cpu_s,
            "wall_s": optimum.wall_s,
            "per_trace": [
                {"trace_dir": d, "trace": tr.name, "qoe_lin": optimum.rows[i].qoe_lin,
                 "rebuffer_s": optimum.rows[i].rebuffer_s, "switches": optimum.rows[i].switches}
                for i, (d, tr) in enumerate(traces)
            ],
        }
    wall = time.perf_counter() - wall0
    dirs = ", ".join(dict.fromkeys(args.traces))
    print_table(aggs, f"{preset.name} preset, {len(traces)} traces ({dirs}), "
                      f"video {Path(video.name).name}", opt_doc)
    cpu_total = sum(result.cpu_s.values())
    print(f"{len(result.rows)} sessions in {result.wall_s:.2f} s wall "
          f"({cpu_total:.2f} s CPU, {workers} workers); total {wall:.2f} s"
          + (f"; optimum {optimum.wall_s:.2f} s wall, {optimum.cached} cached"
             if optimum is not None else ""))

    meta = {
        "abrkit_version": _version(),
        "command": command_line(args),
        "started_utc": started,
        "preset": preset.name,
        "video": {"spec": args.video, "name": video.name, "segments": video.segment_count,
                  "segment_duration_s": video.segment_duration_s,
                  "bitrates_bps": list(video.bitrates_bps)},
        "trace_dirs": list(args.traces),
        "traces": len(traces),
        "limit": args.limit,
        "policies": policies,
        "workers": workers,
        "seed": args.seed,
        "optimal": bool(args.optimal),
        "wall_s": wall,
        "sessions_wall_s": result.wall_s,
        "sessions_cpu_s": cpu_total,
        "machine": _machine(),
        "mpc_search": _mpc_search(),
    }
    try:
        if args.out is not None:
            from benchmarks.results_io import build_document, write_json

            write_json(args.out, build_document(meta, aggs, result.rows, opt_doc))
        if args.csv is not None:
            from benchmarks.results_io import write_csv

            write_csv(args.csv, result.rows)
        if args.plot is not None:
            _plots(args.plot, traces, video, preset, policies, result, optimum)
    except OSError as exc:
        print(f"abrkit replay: failed: cannot write output: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _plots(folder: Path, traces: Any, video: Any, preset: Any, policies: list[str],
           result: Any, optimum: Any) -> None:
    from benchmarks import harness, plots

    folder.mkdir(parents=True, exist_ok=True)
    opt = None if optimum is None else [optimum.rows[i].qoe_lin for i in range(len(traces))]
    plots.qoe_cdf(result.rows, folder / "qoe_lin_cdf.png", optimum=opt,
                  title=f"QoE_lin per session ({preset.name} preset, {len(traces)} traces)")
    _, first = traces[0]
    for p in policies:
        res = harness.replay_one(first, video, p, preset)
        plots.session_timeline(first, res, folder / f"timeline_{plots.safe_name(p)}.png",
                               title=f"{p} on {first.name} ({preset.name} preset)")
