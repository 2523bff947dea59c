"""Replay-versus-real agreement: the same trace, policy and video, on both drivers.

    python -m benchmarks.bench_agreement [--traces 10] [--synthetic 2]
        [--policies bba,robustmpc,longmpc] [--speed 4] [--latency-ms 80] [--json FILE] [--md FILE]

Both sides are built from ONE engine config (:data:`ENGINE`, the real player's
``DEFAULT_ENGINE``) and ONE network config (:func:`network`: payload factor 1,
``latency_ms`` per request that moves the trace on):

* **real**: ``Player`` (decode off, DASH, no steering, no resume, speed S, the
  engine config) against the reference backend in a child process with one
  edge whose ``*/video/*.m4s`` responses are shaped by the trace: ``rate``
  follows a Sabre JSON written from the replay :class:`~player.traces.Trace`
  (the edge reads it with the replay loaders, so the step convention is the
  same: sample *i*'s bandwidth over ``(t[i-1], t[i]]``) with every bandwidth
  multiplied by S and ``time_scale`` S. The edge injects the latency *minus*
  the measured loopback request overhead (the real path pays that overhead
  anyway), so the real per-request latency is the network config's.
* **replay**: :func:`player.replay.replay` over the same trace, with the
  ``Video`` the real session built (``player.media.video``: same ladder, same
  catalog sizes), the same engine config, abandon rule and network config.
* **the title is video-only** (the demo clip remuxed without its audio track
  before packaging): replay has no audio, so the real path must not fetch an
  audio segment beside each video segment. The one request replay still does
  not model is the init segment of each rung on its first use (<= 4 per
  session, unshaped, one loopback round trip each).

Why the scaling: ``ScaledClock(S)`` measures time in media seconds = wall x S,
so bytes per *media* second = bytes per wall second / S. For the policy to see
the trace's bandwidth, the edge must send S x the trace rate per wall second,
and its trace must advance S x faster (``time_scale`` S).

Reported per session: the share of segments whose rendition is identical, the
share within one segment, QoE of both, timing differences, replay's own
sensitivity to its latency, and a pooled breakdown of the mismatches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONTENT = Path("/tmp/abrkit-bench/content-agree")
TITLE = "agree-v"
LADDER = "144p:200k,180p:400k,270p:800k,360p:1400k"
TITLE_SECONDS = 120.0
PENSIEVE_TOP_BPS = 4_300_000.0
TRACE_DIR = Path("/work/shared/traces/pensieve_train")


def ensure_title(root: Path = CONTENT, *, title: str = TITLE,
                 seconds: float = TITLE_SECONDS) -> Path:
    """Package the video-only agreement title (``seconds`` of the demo clip at
    640x360 without its audio track, 2 s segments, 4 rungs 144p..360p) once into
    ``root``; later calls only check it."""
    from server.packager import package, parse_ladder
    from server.packager.demo_source import write_demo_source

    if (root / title / "catalog.json").is_file():
        return root
    src = root / ".src" / f"{title}.mp4"
    if not src.is_file():
        full = root / ".src" / f"{title}-av.mp4"
        write_demo_source(full, duration=seconds, width=640, height=360, fps=30)
        _video_only(full, src)
    package(src, root, segment_seconds=2.0, ladder=parse_ladder(LADDER), title=title)
    return root


def _video_only(src: Path, dst: Path) -> None:
    """Remux ``src`` into ``dst`` keeping only its video stream (no re-encode)."""
    import av

    from server.packager.encrypt import _remux  # the packager's stream-copy loop

    tmp = dst.with_name(f".{dst.name}.tmp.mp4")
    with av.open(str(tmp), "w", format="mp4") as out:
        _remux(src.read_bytes(), out, "video")
    tmp.replace(dst)


def pick_traces(n: int, synthetic: int, top_bps: float) -> list[Any]:
    """``n`` Pensieve traces spread over the sorted set, scaled so Pensieve's top rung
    (4.3 Mb/s) maps onto ``top_bps``; plus ``synthetic`` step traces."""
    from player.traces import Trace, load_trace

    out: list[Any] = []
    if n:
        files = sorted(p for p in TRACE_DIR.iterdir() if p.is_file() and not p.name.isupper()
                       and p.suffix != ".md")
        step = max(1, len(files) // n)
        k = top_bps / PENSIEVE_TOP_BPS
        for f in files[::step][:n]:
            tr = load_trace(f)
            out.append(Trace(tr.name, tr.times_s, tuple(b * k for b in tr.bandwidth_bps)))
    steps = [
        ("step-high-low", [(20, 2.0), (20, 0.45), (20, 1.2), (20, 0.3), (40, 1.8)]),
        ("step-slow-fast", [(15, 0.35), (25, 1.6), (15, 0.6), (25, 2.4), (40, 0.9)]),
        ("step-dips", [(10, 1.5), (4, 0.2), (16, 1.5), (6, 0.15), (24, 1.1), (60, 0.7)]),
    ]
    for name, spec in steps[:synthetic]:
        times, bws = [0.0], [0.0]
        t = 0.0
        for dur, mult in spec:  # mult x top rung bitrate
            t += dur
            times.append(t)
            bws.append(mult * top_bps)
        bws[0] = bws[1]
        out.append(Trace(name, tuple(times), tuple(bws)))
    return out


def write_edge_trace(trace: Any, speed: float, path: Path) -> None:
    """The trace as Sabre JSON for the edge: step i = (t[i-1], t[i]] at bw[i] x speed."""
    steps = []
    t, b = trace.times_s, trace.bandwidth_bps
    for i in range(1, len(t)):
        d = t[i] - t[i - 1]
        if d > 0:
            steps.append({"duration_ms": d * 1000.0, "bandwidth_kbps": b[i] * speed / 1000.0,
                          "latency_ms": 0})
    path.write_text(json.dumps(steps))


def choices(result: Any) -> dict[int, int]:
    """Segment index -> rung of the record that delivered it (the last one)."""
    return {r.segment_index: r.rung for r in result.segments}


def compare(real: Any, rep: Any) -> dict[str, Any]:
    a, b = choices(real), choices(rep)
    idx = sorted(set(a) | set(b))
    same = sum(1 for i in idx if a.get(i) == b.get(i))
    diff = [(i, a.get(i), b.get(i)) for i in idx if a.get(i) != b.get(i)]
    near = sum(1 for i in idx if a.get(i) in (b.get(i - 1), b.get(i), b.get(i + 1)))
    rungs = sorted(set(a.values()) | set(b.values()))
    hist = {r: [sum(1 for v in a.values() if v == r), sum(1 for v in b.values() if v == r)]
            for r in rungs}
    return {"segments": len(idx), "same": same, "share": same / len(idx) if idx else None,
            "share_within_1_segment": near / len(idx) if idx else None,
            "segments_per_rung_real_replay": hist,
            "diffs": diff, "max_rung_gap": max((abs((x or 0) - (y or 0)) for _, x, y in diff),
                                               default=0)}


def engine() -> Any:
    """THE engine config of both sides: the real player's default."""
    from player.config import DEFAULT_ENGINE

    return DEFAULT_ENGINE


def network(latency_s: float) -> Any:
    """THE network config of both sides: the edge delivers every body byte at the
    trace rate (payload factor 1) after a per-request latency during which the
    trace runs on."""
    from player.network import NetworkConfig

    return NetworkConfig(payload_factor=1.0, latency_s=latency_s,
                         latency_advances_trace=True, use_trace_latency=False)


def edge_latency_ms(net: Any, speed: float, overhead_wall_s: float) -> float:
    """Wall ms the edge waits before answering so that the real request latency
    (loopback overhead + injected wait) is ``net.latency_s`` media seconds."""
    return max(0.0, net.latency_s / speed - overhead_wall_s) * 1000.0


async def warm_inits(p: Any) -> None:
    """Fetch every init segment before playback (``Player.prefetch_inits``), so that no
    init request precedes a segment request during playback (replay has no init
    segments)."""
    await p.prefetch_inits()


async def measure_overhead(p: Any, be: Any, tmp: Path, n: int = 7) -> float:
    """The real path's per-request overhead, wall seconds: the median of (elapsed -
    bytes / rate) for a shaped video segment fetched through the player's own request
    path (``OcaPool.fetch``) from the edge shaped by a constant one-step trace (the
    same pacing code as the session's), without injected latency."""
    v = p.media.video
    url, rng, size = v.urls[0][0], (v.byte_ranges[0][0] if v.byte_ranges else None), v.sizes[0][0]
    rate = size / 0.1  # ~0.1 s per fetch
    f = tmp / "calibration.json"
    f.write_text(json.dumps([{"duration_ms": 60_000, "bandwidth_kbps": rate * 8 / 1000}]))
    be.set_faults("edge-1", {"match": "*/video/*.m4s", "latency_ms": 0,
                             "rate": {"trace": str(f), "format": "sabre"}})
    ts = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            res = await p.pool.fetch(url, byte_range=rng)
            ts.append(time.perf_counter() - t0 - res.result.size / rate)
    finally:
        be.clear_faults("edge-1")
    return statistics.median(ts[1:])


async def real_session(be: Any, trace_file: Path, policy: str, speed: float, net: Any,
                       eng: Any, title: str = TITLE) -> tuple[Any, Any, Any, float, float]:
    """One real session; also returns the measured per-request overhead and the edge's
    injected wait (wall seconds and ms)."""
    from benchmarks.bench_concurrency import headless_config
    from player import Player

    cfg = headless_config(policy=policy, speed=speed, protocol="dash", steering=False,
                          engine=eng)
    p = await Player.open(be.grant_url(title), cfg)
    try:
        await warm_inits(p)
        ovh = await measure_overhead(p, be, trace_file.parent)
        wait_ms = edge_latency_ms(net, speed, ovh)
        be.set_faults("edge-1", {
            "match": "*/video/*.m4s",
            "latency_ms": wait_ms,
            "rate": {"trace": str(trace_file), "format": "sabre", "time_scale": speed},
        })
        s = await p.wait()
    finally:
        await p.aclose()
        be.clear_faults("edge-1")
    return s, p.media.video, cfg, ovh, wait_ms


def replay_session(trace: Any, video: Any, policy: str, cfg: Any, net: Any) -> Any:
    """Replay with the real session's engine config, policy config and abandon rule."""
    from abr.registry import make_abandon_rule, policy_factory
    from player.presets import Preset
    from player.replay import replay

    preset = Preset("agreement", cfg.engine, net, progress_interval_s=0.5, abandonment=True)
    rules = (make_abandon_rule("buffer"),) if cfg.abandon else ()
    return replay(trace, video, policy_factory(policy, **dict(cfg.policy_config)), preset,
                  abandon_rules=rules, engine=cfg.engine)


def run(traces: list[Any], policies: list[str], speed: float, latency_ms: float,
        content: Path, edges: int = 1, title: str = TITLE) -> dict[str, Any]:
    from benchmarks.bench_concurrency import spawn_backend
    from benchmarks.machine import machine

    rows = []
    net = network(latency_ms / 1000.0)
    eng = engine()
    out: dict[str, Any] = {"machine_start": machine(), "speed": speed, "latency_ms": latency_ms,
                           "engine": repr(eng), "network": repr(net)}
    with spawn_backend(content, edges=edges, steering_ttl_s=30.0) as be, \
            tempfile.TemporaryDirectory(prefix="abrkit-agree-") as tmp:
        for tr in traces:
            f = Path(tmp) / f"{tr.name}.json"
            write_edge_trace(tr, speed, f)
            for pol in policies:
                w0, c0 = time.perf_counter(), time.process_time()
                s, video, cfg, ovh, wait_ms = asyncio.run(
                    real_session(be, f, pol, speed, net, eng, title=title))
                wall = time.perf_counter() - w0
                rep = replay_session(tr, video, pol, cfg, net)
                cmp_ = compare(s.result, rep)
                row = {
                    "trace": tr.name, "policy": pol, "share": cmp_["share"],
                    "segments": cmp_["segments"], "same": cmp_["same"],
                    "max_rung_gap": cmp_["max_rung_gap"], "diffs": cmp_["diffs"],
                    "share_within_1_segment": cmp_["share_within_1_segment"],
                    "segments_per_rung_real_replay": cmp_["segments_per_rung_real_replay"],
                    "real": _qoe(s.result), "replay": _qoe(rep),
                    "real_state": s.state, "wall_s": round(wall, 1),
                    "client_cpu_s": round(time.process_time() - c0, 2),
                    "real_rungs": [r.rung for r in s.result.segments],
                    "replay_rungs": [r.rung for r in rep.segments],
                    "request_overhead_wall_ms": round(ovh * 1000, 2),
                    "edge_wait_wall_ms": round(wait_ms, 2),
                    **_timing_diff(s.result, rep),
                    **_sensitivity(tr, video, pol, cfg, net, s.result, rep),
                    **_calibrated(tr, video, pol, cfg, net, s.result),
                    "real_segs": _segs(s.result), "replay_segs": _segs(rep),
                    "real_abandoned": len(s.result.abandoned),
                    "real_abandons": [list(x) for x in s.result.abandoned],
                    "replay_abandons": [list(x) for x in rep.abandoned],
                    "replay_abandoned": len(rep.abandoned),
                    "loadavg": machine()["loadavg"],
                }
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items()
                                  if k not in ("real_rungs", "replay_rungs", "real_segs",
                                               "replay_segs", "share_by_replay_latency")}),
                      flush=True)
    out["rows"] = rows
    out["machine_end"] = machine()
    shares = [r["share"] for r in rows if r["share"] is not None]
    tot_same = sum(r["same"] for r in rows)
    tot = sum(r["segments"] for r in rows)
    out["pooled_share"] = tot_same / tot if tot else None
    out["min_share"] = min(shares) if shares else None
    ovhs = [r["request_overhead_wall_ms"] for r in rows]
    out["request_overhead_wall_ms"] = statistics.median(ovhs) if ovhs else None
    out["edge_wait_wall_ms"] = [min(r["edge_wait_wall_ms"] for r in rows),
                                max(r["edge_wait_wall_ms"] for r in rows)] if rows else None
    return out


def _sensitivity(tr: Any, video: Any, pol: str, cfg: Any, net: Any, real: Any,
                 rep: Any) -> dict[str, Any]:
    """How much replay disagrees *with itself* when the per-request latency moves by a
    few media milliseconds (the size of the real driver's timing noise), and which
    replay latency agrees best with the real session."""
    from dataclasses import replace

    lat_s = net.latency_s
    sens = {}
    for d in (0.005, 0.01, 0.02, 0.04):
        other = replay_session(tr, video, pol, cfg, replace(net, latency_s=lat_s + d))
        sens[f"+{int(d * 1000)}ms"] = round(compare(rep, other)["share"], 3)
    grid = {}
    for ms in range(60, 221, 10):
        other = replay_session(tr, video, pol, cfg, replace(net, latency_s=ms / 1000.0))
        grid[ms] = round(compare(real, other)["share"], 3)
    best = max(grid.items(), key=lambda kv: (kv[1], -abs(kv[0] - lat_s * 1000)))
    return {"replay_self_agreement": sens, "best_replay_latency_ms": best[0],
            "best_share": best[1], "share_by_replay_latency": grid}


def in_session_overhead(tr: Any, net: Any, real: Any) -> float | None:
    """The real path's extra time per download in the session itself, media seconds:
    the median over real downloads of (real download time - the network model's time
    for the same bytes from the same trace position). Measured on timings only,
    never on the choices."""
    from player.network import Link

    link = Link(tr, net)
    res = [x.download_s - link.request(link.advance(0.0, x.download_start_s - real.start_s),
                                       x.bytes)[0]
           for x in real.segments]
    return statistics.median(res) if res else None


def _calibrated(tr: Any, video: Any, pol: str, cfg: Any, net: Any, real: Any) -> dict[str, Any]:
    """Replay again with the in-session overhead added to its latency: what is left
    once the real path's measured mean slowness is in the model."""
    from dataclasses import replace

    ovh = in_session_overhead(tr, net, real)
    if ovh is None:
        return {"in_session_overhead_ms": None, "calibrated_share": None}
    other = replay_session(tr, video, pol, cfg, replace(net, latency_s=net.latency_s + max(ovh, 0)))
    return {"in_session_overhead_ms": round(ovh * 1000, 1),
            "calibrated_share": round(compare(real, other)["share"], 4)}


def _segs(r: Any) -> list[list[float]]:
    """Per record: index, rung, request time, download seconds, buffer before (media s)."""
    return [[x.segment_index, x.rung, round(x.download_start_s - r.start_s, 4),
             round(x.download_s, 4), round(x.buffer_before_s, 4)] for x in r.segments]


def _timing_diff(real: Any, rep: Any) -> dict[str, Any]:
    """Where the two sessions' clocks drift apart: per segment index both delivered
    at the same rung, the download time difference (real - replay) and the
    buffer level at request time difference, in media seconds (median, mean)."""
    a = {x.segment_index: x for x in real.segments}
    b = {x.segment_index: x for x in rep.segments}
    same = [i for i in a if i in b and a[i].rung == b[i].rung]
    dd = [a[i].download_s - b[i].download_s for i in same]
    db = [a[i].buffer_before_s - b[i].buffer_before_s for i in a if i in b]
    rel = [a[i].download_s / b[i].download_s for i in same if b[i].download_s > 0]

    def st(xs: list[float]) -> list[float] | None:
        return [round(statistics.median(xs), 4), round(statistics.fmean(xs), 4)] if xs else None

    return {"download_diff_s": st(dd), "download_ratio": st(rel), "buffer_diff_s": st(db)}


def _qoe(r: Any) -> dict[str, Any]:
    q = r.qoe
    return {"rebuffer_s": round(q.rebuffer_s, 3), "stalls": q.rebuffer_count,
            "startup_s": round(q.startup_delay_s or 0.0, 3),
            "avg_bitrate_kbps": round((q.average_bitrate_bps or 0) / 1000, 1),
            "switches": q.switches}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=10)
    ap.add_argument("--synthetic", type=int, default=2)
    ap.add_argument("--policies", default="bba,robustmpc,longmpc")
    ap.add_argument("--speed", type=float, default=4.0)
    ap.add_argument("--latency-ms", type=float, default=80.0)
    ap.add_argument("--only", default=None,
                    help="comma-separated substrings: keep only traces whose name has one")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None, help="write the per-session table and breakdown here")
    a = ap.parse_args(argv)
    content = ensure_title()
    from benchmarks.agreement_report import breakdown, markdown
    from server.packager import load_catalog

    cat = load_catalog(content / TITLE)
    top = float(cat.ladder[-1].bandwidth)
    traces = pick_traces(a.traces, a.synthetic, top)
    if a.only:
        keys = a.only.split(",")
        traces = [t for t in traces if any(k in t.name for k in keys)]
    out = run(traces, a.policies.split(","), a.speed, a.latency_ms, content)
    out["command"] = "python -m benchmarks.bench_agreement " + " ".join(
        sys.argv[1:] if argv is None else argv)
    out["top_rung_bps"] = top
    out["breakdown"] = breakdown(out["rows"])
    print(json.dumps({"pooled_share": out["pooled_share"], "min_share": out["min_share"],
                      "breakdown": out["breakdown"]}))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    if a.md:
        Path(a.md).write_text(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
