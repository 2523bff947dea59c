"""The replay harness: every (policy, trace) session across processes, then aggregates.

    traces = load_traces(["/data/pensieve_train"], limit=10)   # [(dir, Trace)], sorted
    video = load_video("/data/pensieve_video")                # Pensieve dir, Sabre JSON,
                                                              # catalog.json, manifest
    run = run_sessions(traces, video, ["bba", "robustmpc"], "pensieve", workers=4)
    optimum = compute_optimum(traces, video, "pensieve", cache=Path("opt.json"))
    table = aggregate(run, optimum)                           # {policy: PolicyAggregate}

Determinism: a session depends only on its trace, the video, the preset and
the policy (no clock, no randomness), and rows are sorted by (trace order,
policy order) after the pool returns, so every figure except the timing
ones is identical whatever the worker count.

Timing: each worker measures the CPU time of each session
(``time.process_time``); ``sessions_per_s`` is sessions / summed CPU seconds,
a one-core-equivalent rate that does not depend on how many workers ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from player.errors import TraceError, VideoError
from player.presets import Preset, get_preset
from player.replay import replay
from player.session import SessionResult
from player.traces import Trace, load_trace
from player.video import Video, load_pensieve_video, load_sabre_movie
from telemetry.qoe import failed_session_penalty, unplayed_seconds

__all__ = [
    "OptimumRow",
    "OptimumRun",
    "PolicyAggregate",
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

SKIP_NAMES = frozenset({"SOURCE.md", "README.md", "README", "LICENSE"})
Progress = Callable[[int], None]  # called with the number of units just finished


# --------------------------------------------------------------------------- input
def load_traces(dirs: Sequence[str | Path], limit: int | None = None) -> list[tuple[str, Trace]]:
    """The traces of each directory, in sorted file-name order, ``limit`` first per directory.

    Skips SOURCE.md/README/LICENSE, hidden files and sub-directories. A missing
    or empty directory or a malformed file raises :class:`TraceError` naming it.
    """
    out: list[tuple[str, Trace]] = []
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            raise TraceError("not a directory" if path.exists() else "no such directory", str(d))
        files = sorted(
            f
            for f in path.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.name not in SKIP_NAMES
        )
        if not files:
            raise TraceError("no trace files in directory", str(d))
        for f in files[:limit]:
            out.append((str(d), load_trace(f)))
    return out


def load_video(spec: str) -> Video:
    """A video from ``spec``: a Pensieve chunk-size directory (``video_size_0``..),
    a Sabre movie JSON, an abrkit ``catalog.json`` (or a packaged title directory
    holding one), or an HLS/DASH manifest path or URL whose segment sizes are
    known (a ``catalog.json`` beside it, or byte ranges in the manifest).
    Anything else raises :class:`VideoError` naming ``spec``."""
    if spec.lower().startswith(("http://", "https://")):
        return _video_from_manifest(spec)
    p = Path(spec)
    if p.is_dir():
        if (p / "video_size_0").is_file():
            return load_pensieve_video(p)
        if (p / "catalog.json").is_file():
            return _video_from_catalog(p / "catalog.json")
        raise VideoError(
            "directory is neither Pensieve chunk sizes (video_size_0..5) "
            "nor a packaged title (catalog.json)",
            spec,
        )
    if not p.exists():
        raise VideoError("no such file or directory", spec)
    suffix = p.suffix.lower()
    if suffix in (".mpd", ".m3u8", ".m3u"):
        return _video_from_manifest(spec)
    if suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise VideoError(f"cannot read: {exc}", spec) from None
        except json.JSONDecodeError as exc:
            raise VideoError(f"invalid JSON at line {exc.lineno}: {exc.msg}", spec) from None
        if isinstance(data, dict) and str(data.get("format", "")).startswith("abrkit-catalog/"):
            return _video_from_catalog(p, data)
        if isinstance(data, dict) and "segment_sizes_bits" in data:
            return load_sabre_movie(p)
        raise VideoError("JSON is neither a Sabre movie nor an abrkit catalog.json", spec)
    raise VideoError(
        "expected a Pensieve chunk-size directory, a Sabre movie JSON, a catalog.json "
        "or an .mpd/.m3u8 manifest",
        spec,
    )


def _catalog_ladder(data: Any, src: str) -> list[dict[str, Any]]:
    ladder = data.get("ladder") if isinstance(data, dict) else None
    if not isinstance(ladder, list) or not ladder:
        raise VideoError("catalog has no ladder", src)
    video = [e for e in ladder if isinstance(e, dict) and e.get("kind", "video") == "video"]
    for i, e in enumerate(video):
        for key in ("id", "bandwidth", "segment_sizes"):
            if key not in e:
                raise VideoError(f"ladder entry {i} has no {key!r}", src)
    if not video:
        raise VideoError("catalog ladder has no video rendition", src)
    return sorted(video, key=lambda e: e["bandwidth"])


def _video_from_catalog(path: Path, data: Any = None) -> Video:
    src = str(path)
    if data is None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VideoError(f"cannot read catalog: {exc}", src) from None
    ladder = _catalog_ladder(data, src)
    counts = {len(e["segment_sizes"]) for e in ladder}
    if len(counts) != 1:
        raise VideoError(f"renditions have different segment counts: {sorted(counts)}", src)
    durations = ladder[0].get("segment_durations") or []
    seg = float(data.get("segment_duration") or (max(durations) if durations else 0) or 4.0)
    try:
        return Video(
            tuple(float(e["bandwidth"]) for e in ladder),
            seg,
            tuple(zip(*(tuple(int(s) for s in e["segment_sizes"]) for e in ladder), strict=True)),
            name=src,
            segment_durations_s=tuple(float(d) for d in durations),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"bad catalog value: {exc}", src) from None


def _catalog_sizes(presentation: Any, entries: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Rendition id -> segment sizes: the catalog entry with the same id, else the one
    whose ``path`` folder holds the rendition's segments (HLS ids are ``v0``, ``v1``...)."""
    by_id = {str(e["id"]): e for e in entries}
    out: dict[str, list[int]] = {}
    for r in presentation.renditions():
        e = by_id.get(r.id)
        if e is None and r.segments is not None and r.segments.segments:
            url = r.segments.segments[0].url
            e = next((c for c in entries if f"/{str(c.get('path', '')).strip('/')}/" in url),
                     None)
        if e is not None:
            out[r.id] = [int(s) for s in e["segment_sizes"]]
    return out


def _video_from_manifest(spec: str) -> Video:
    from urllib.parse import urljoin

    from manifest.errors import ManifestError
    from manifest.parse import parse
    from player.commands.inspect import InputError, Reader, resolve_media_playlists
    from player.video import video_from_presentation

    reader = Reader()
    try:
        try:
            data, base = reader.read(spec)
            presentation = parse(data, base)
            presentation, errors = resolve_media_playlists(presentation, reader)
        except (InputError, ManifestError) as exc:
            raise VideoError(str(exc), spec) from None
        sizes: dict[str, list[int]] = {}
        if base.lower().startswith(("http://", "https://")):
            cat_src = urljoin(base, "catalog.json")
        else:
            cat_src = str(Path(base).parent / "catalog.json")
        try:
            cat_bytes, _ = reader.read(cat_src)
            entries = _catalog_ladder(json.loads(cat_bytes), cat_src)
            sizes = _catalog_sizes(presentation, entries)
        except (InputError, ValueError, KeyError, TypeError):
            sizes = {}  # no catalog beside it: byte ranges in the manifest may do
        try:
            return video_from_presentation(presentation, sizes)
        except VideoError as exc:
            hint = "" if sizes else " (no catalog.json beside the manifest)"
            raise VideoError(f"{exc}{hint}", spec) from None
    finally:
        reader.close()


# --------------------------------------------------------------------------- sessions
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


# --------------------------------------------------------------------------- optimum
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


# --------------------------------------------------------------------------- aggregates
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


def replay_one(trace: Trace, video: Video, policy: str, preset: Preset | str) -> SessionResult:
    """One session in this process (for timelines and tests)."""
    from abr.registry import policy_factory

    return replay(trace, video, policy_factory(policy), preset)


