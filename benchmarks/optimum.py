"""The offline optimum of each trace (:mod:`abr.optimal`) adapted to a preset, with
its on-disk cache, and the join of the optimum into a run's rows.

    optimum = compute_optimum(traces, video, "pensieve", cache=Path("opt.json"))
    run = attach_optimum(run, traces, optimum)   # fills SessionRow.optimal_qoe_lin
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from player.presets import Preset, get_preset
from player.traces import Trace
from player.video import Video

from .sessions import _STATE, Progress, RunResult, _run_tasks

__all__ = [
    "OptimumRow",
    "OptimumRun",
    "attach_optimum",
    "compute_optimum",
    "default_cache_path",
    "optimal_config_for",
]


@dataclass(frozen=True, slots=True)
class OptimumRow:
    """The offline optimum of one trace: QoE_lin (scored like the sessions) and its schedule."""

    qoe_lin: float
    rebuffer_s: float
    switches: int
    rungs: tuple[int, ...]
    solve_s: float


def optimal_config_for(
    preset: Preset, trace: Trace, video: Video, grid_s: float | None = None
) -> tuple[Any, bool]:
    """The optimum's config for ``preset`` and whether its model is the preset's exactly.

    The optimum's chunk model is Pensieve's (download, then +1 segment of buffer,
    sleep above the cap). It is exact for the ``pensieve`` preset. For presets
    with a startup/resume threshold, per-trace latency or abandonment it is an
    approximation: the preset's latency (the trace's time-weighted mean when it
    carries its own), buffer cap and drain step, no startup threshold.
    ``grid_s`` overrides the solver's grid (coarser: faster, possibly lower bound).
    """
    from abr.optimal import OptimalConfig

    eng, net = preset.engine, preset.network
    latency = net.latency_s
    if net.use_trace_latency and trace.latency_s is not None:
        t, lat = trace.times_s, trace.latency_s
        latency = sum(lat[i] * (t[i] - t[i - 1]) for i in range(1, len(t))) / t[-1]
    cfg = OptimalConfig(
        segment_duration_s=video.segment_duration_s,
        payload_factor=net.payload_factor,
        latency_s=latency,
        latency_advances_trace=net.latency_advances_trace,
        buffer_cap_s=eng.buffer_max_s,
        sleep_step_s=eng.drain_step_s or 0.5,
        first_rung=eng.start_rung,
        first_scored_chunk=eng.first_scored_chunk,
    )
    if grid_s is not None:
        cfg = dataclasses.replace(cfg, grid_s=grid_s)
    exact = (
        eng.startup_threshold_s == 0
        and eng.rebuffer_resume_s == 0
        and not preset.abandonment
        and not (net.use_trace_latency and trace.latency_s is not None)
        and len(set(video.segment_durations_s)) == 1
        and eng.drain_step_s > 0
    )
    return cfg, exact


def _optimum_task(indices: list[int], grid_s: float | None) -> list[tuple[int, OptimumRow]]:
    from abr.optimal import optimal_schedule
    from telemetry.qoe import score_chunks

    traces, video, preset = _STATE["traces"], _STATE["video"], _STATE["preset"]
    if preset.segments is not None and video.segment_count > preset.segments:
        video = video.truncated(preset.segments)
    out = []
    for i in indices:
        tr = traces[i][1]
        cfg, _ = optimal_config_for(preset, tr, video, grid_s)
        c0 = time.process_time()
        res = optimal_schedule(
            tr.times_s, tr.bandwidth_bps, video.sizes, video.bitrates_bps, cfg
        )
        solve = time.process_time() - c0
        rebufs = [c.rebuffer_s for c in res.chunks]
        if rebufs:
            rebufs[0] = 0.0  # the engine counts the first chunk's wait as startup, not a stall
        lin, _, _ = score_chunks(
            res.rungs, rebufs, video.bitrates_bps, preset.engine.first_scored_chunk
        )
        out.append(
            (i, OptimumRow(lin.total, sum(rebufs), res.switches, tuple(res.rungs), solve))
        )
    return out


def _optimum_key(trace: Trace, video: Video, preset: Preset, cfg: Any) -> str:
    h = hashlib.sha256()
    h.update(repr((trace.times_s, trace.bandwidth_bps, trace.latency_s)).encode())
    h.update(repr((video.bitrates_bps, video.sizes, video.segment_durations_s)).encode())
    h.update(repr((preset.name, preset.segments, cfg)).encode())
    h.update(_optimum_code_hash().encode())
    return h.hexdigest()


_CODE_HASH: list[str] = []
_ADAPTER_VERSION = "optimal-adapter/1"  # bump when optimal_config_for or the rescoring changes


def _optimum_code_hash() -> str:
    """A hash of the optimum's source and of this adapter's version (a changed solver
    invalidates cached results)."""
    if not _CODE_HASH:
        import abr.optimal

        h = hashlib.sha256()
        folder = Path(abr.optimal.__file__).parent
        for name in ("optimal.py", "optimal_sim.py", "optimal_polish.py"):
            f = folder / name
            if f.is_file():
                h.update(f.read_bytes())
        h.update(_ADAPTER_VERSION.encode())
        _CODE_HASH.append(h.hexdigest()[:16])
    return _CODE_HASH[0]


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "abrkit" / "optimal-cache.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != 1:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: Path, entries: dict[str, Any]) -> str | None:
    """Write the cache atomically; the error message if it cannot be written (not fatal)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": entries}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        return f"cannot write the optimum cache {path}: {exc.strerror or exc}"
    return None


@dataclass(frozen=True, slots=True)
class OptimumRun:
    """Per trace index the optimum; how many came from the cache; whether the model is exact."""

    rows: dict[int, OptimumRow]
    cached: int
    exact: bool
    cpu_s: float
    wall_s: float
    cache_error: str | None = None


def compute_optimum(
    traces: Sequence[tuple[str, Trace]],
    video: Video,
    preset: Preset | str,
    *,
    cache: Path | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    grid_s: float | None = None,
) -> OptimumRun:
    """The offline optimum of every trace, from ``cache`` when present (keyed by the
    trace's content, the video, the preset, the solver config and the solver's source)."""
    if isinstance(preset, str):
        preset = get_preset(preset)
    traces = list(traces)
    vid = video
    if preset.segments is not None and vid.segment_count > preset.segments:
        vid = vid.truncated(preset.segments)
    entries = _read_cache(cache) if cache is not None else {}
    keys: list[str] = []
    rows: dict[int, OptimumRow] = {}
    exact = True
    for i, (_, tr) in enumerate(traces):
        cfg, ex = optimal_config_for(preset, tr, vid, grid_s)
        exact = exact and ex
        key = _optimum_key(tr, vid, preset, cfg)
        keys.append(key)
        hit = entries.get(key)
        if isinstance(hit, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                rows[i] = OptimumRow(
                    float(hit["qoe_lin"]), float(hit["rebuffer_s"]), int(hit["switches"]),
                    tuple(int(r) for r in hit["rungs"]), float(hit["solve_s"]),
                )
    cached = len(rows)
    if progress and cached:
        progress(cached)
    missing = [i for i in range(len(traces)) if i not in rows]
    wall0 = time.perf_counter()
    tasks: list[tuple[Callable[..., Any], tuple[Any, ...], int]] = [
        (_optimum_task, ([i], grid_s), 1) for i in missing
    ]
    last_write = [time.perf_counter()]
    error: list[str | None] = [None]

    def store(_: int, chunk: list[tuple[int, OptimumRow]]) -> None:
        for i, row in chunk:
            rows[i] = row
            entries[keys[i]] = dataclasses.asdict(row)
        if cache is not None and time.perf_counter() - last_write[0] > 30.0:
            # long runs keep what they solved if interrupted
            error[0] = _write_cache(cache, entries) or error[0]
            last_write[0] = time.perf_counter()

    _run_tasks(tasks, (traces, video, preset), workers, progress, store)
    wall = time.perf_counter() - wall0
    cpu = sum(rows[i].solve_s for i in missing)
    if cache is not None and missing:
        error[0] = _write_cache(cache, entries) or error[0]
    return OptimumRun(rows, cached, exact, cpu, wall, error[0])


def attach_optimum(
    run: RunResult, traces: Sequence[tuple[str, Trace]], optimum: OptimumRun
) -> RunResult:
    """The run with each row's ``optimal_qoe_lin`` filled in."""
    index = {(d, tr.name): i for i, (d, tr) in enumerate(traces)}
    rows = tuple(
        dataclasses.replace(r, optimal_qoe_lin=optimum.rows[index[(r.trace_dir, r.trace)]].qoe_lin)
        for r in run.rows
    )
    return dataclasses.replace(run, rows=rows)
