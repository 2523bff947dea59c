"""Time to first frame of ``Player`` on loopback, against its floor.

    python -m benchmarks.bench_ttff [--runs 20] [--protocol dash] [--json FILE]

The reference backend (control plane + 3 edges) runs in a child process
(:func:`benchmarks.bench_concurrency.spawn_backend`); the title is the
agreement title (120 s, 640x360 source, 2 s segments, 144p..360p).

Per run, alternating:

* **TTFF**: a fresh ``Player`` (new HTTP connections; decode on, speed 1, no
  resume, no collector) — ``open()`` (grant, manifest, media playlists/catalog,
  session) then ``play()`` until the renderer presents the first frame; the
  session is then stopped. TTFF = open + ``timings.first_frame_s``. Two
  configurations: the default engine (playback starts with 4 s = two segments
  buffered) and ``startup_threshold_s`` = one segment (2 s). The first frame
  is presented as soon as it decodes, during startup (the playhead is at 0),
  so the threshold moves the start of motion, not TTFF.
* **floor**: in the same process, a fresh ``httpx.AsyncClient``: GET the
  manifest (with the connection set-up, like the player's first request),
  GET the init segment and the first media segment of the rendition the player
  started with, then a PyAV decode of init + segment up to the first frame
  (``av.open`` + first decoded frame), each timed alone. The grant (POST
  /playback) is timed too and reported, but the floor excludes it.

Ratio = TTFF / floor, median and p95 over runs; the breakdown uses the
player's own timings (``grant_s``, ``manifest_s``, ``init_s``,
``first_segment_s``, ``first_frame_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


async def player_run(url: str, cfg: Any) -> dict[str, Any]:
    from player import Player

    t0 = time.perf_counter()
    c0 = time.process_time()
    p = await Player.open(url, cfg)
    open_s = time.perf_counter() - t0
    await p.play()
    try:
        for _ in range(3000):
            if p.renderer is not None and p.renderer.first_frame_s is not None \
                    and p.result().timings["first_frame_s"] is not None:
                break
            await asyncio.sleep(0.005)
        tm = p.result().timings
        rec = p.session.records[0] if p.session.records else None
        first_rung = rec.rung if rec is not None else None
        seg_url = p.session.video.urls[0][first_rung] if first_rung is not None else None
        init = p.media.video_inits[first_rung] if first_rung is not None else None
        manifest_url = next(pw.manifest_url for pw in p.pool.pathways.values() if pw.manifest_url)
    finally:
        p.stop()
        await p.aclose()
    cpu = time.process_time() - c0
    ff = tm["first_frame_s"]
    return {
        "ttff_s": open_s + ff if ff is not None else None,
        "open_s": open_s, "grant_s": tm["grant_s"], "manifest_s": tm["manifest_s"],
        "init_s": tm["init_s"], "first_segment_s": tm["first_segment_s"],
        "first_frame_s": ff, "cpu_s": cpu, "rung": first_rung, "seg_url": seg_url,
        "init": init, "manifest_url": manifest_url,
    }


async def floor_run(grant_url: str, manifest_url: str, init_url: str, seg_url: str) -> dict:
    import av
    import httpx

    from player.config import GrantRequest

    out: dict[str, float] = {}
    async with httpx.AsyncClient() as c:
        t = time.perf_counter()
        (await c.post(grant_url, json=GrantRequest().body())).raise_for_status()
        out["grant_s"] = time.perf_counter() - t
    async with httpx.AsyncClient() as c:  # a new connection for the edge, like the player's
        t = time.perf_counter()
        (await c.get(manifest_url)).raise_for_status()
        out["manifest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        r = await c.get(init_url)
        r.raise_for_status()
        init = r.content
        out["init_s"] = time.perf_counter() - t
        t = time.perf_counter()
        r = await c.get(seg_url)
        r.raise_for_status()
        seg = r.content
        out["segment_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with av.open(io.BytesIO(init + seg), mode="r") as cont:
        for _frame in cont.decode(cont.streams.video[0]):
            break
    out["decode_s"] = time.perf_counter() - t
    out["floor_s"] = out["manifest_s"] + out["init_s"] + out["segment_s"] + out["decode_s"]
    return out


def summarise(xs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(xs), 4), "p95": round(pct(xs, 0.95), 4),
            "min": round(min(xs), 4), "max": round(max(xs), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--protocol", default="dash", choices=("dash", "hls"))
    ap.add_argument("--policy", default="dynamic")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import dataclasses

    import av  # noqa: F401  (imported once, outside every timed section)

    from benchmarks.bench_agreement import TITLE, ensure_title
    from benchmarks.bench_concurrency import headless_config, spawn_backend
    from benchmarks.machine import machine
    from player.config import DEFAULT_ENGINE, DecodeConfig

    content = ensure_title()
    configs = {
        "default (start at 4 s buffered)": headless_config(
            policy=a.policy, protocol=a.protocol, decode=DecodeConfig(enabled=True)),
        "start at 2 s buffered (1 segment)": headless_config(
            policy=a.policy, protocol=a.protocol, decode=DecodeConfig(enabled=True),
            engine=dataclasses.replace(DEFAULT_ENGINE, startup_threshold_s=2.0)),
    }
    out: dict[str, Any] = {"machine_start": machine(), "runs": a.runs, "protocol": a.protocol}
    res: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
    floors: list[dict[str, float]] = []
    with spawn_backend(content, edges=3) as be:
        url = be.grant_url(TITLE)
        asyncio.run(player_run(url, configs[next(iter(configs))]))  # warm-up (imports)
        for i in range(a.runs):
            for name, cfg in configs.items():
                r = asyncio.run(player_run(url, cfg))
                res[name].append(r)
            base = r["manifest_url"]
            init_url = r["init"][0] if r["init"] else None
            fl = asyncio.run(floor_run(url, base, init_url, r["seg_url"]))
            floors.append(fl)
            print(i, {k: round(v[-1]["ttff_s"] or -1, 4) for k, v in res.items()},
                  round(fl["floor_s"], 4), flush=True)
    out["machine_end"] = machine()
    out["floor"] = {k: summarise([f[k] for f in floors]) for k in floors[0]}
    fmed = statistics.median(f["floor_s"] for f in floors)
    out["configs"] = {}
    for name, rs in res.items():
        ok = [(r, f) for r, f in zip(rs, floors, strict=True) if r["ttff_s"] is not None]
        ratios = [r["ttff_s"] / f["floor_s"] for r, f in ok]
        keys = ("ttff_s", "open_s", "grant_s", "manifest_s", "init_s", "first_segment_s",
                "first_frame_s", "cpu_s")
        out["configs"][name] = {
            "ok_runs": len(ok),
            "ratio": summarise(ratios),
            "ratio_to_median_floor": round(statistics.median(r["ttff_s"] for r, _ in ok) / fmed, 3),
            **{k: summarise([r[k] for r, _ in ok if r[k] is not None]) for k in keys},
            "first_rungs": sorted({r["rung"] for r in rs}),
        }
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
