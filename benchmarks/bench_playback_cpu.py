"""CPU seconds per minute of 1080p playback, with decode on and off.

    python -m benchmarks.bench_playback_cpu [--speeds 1,2] [--repeats 2] [--json FILE]

Packages (once, into ``/tmp/abrkit-bench/content-1080``) a 40 s 1920x1080
30 fps demo clip with a 1080p-only ladder (5 Mb/s target, 2 s segments), starts
the reference backend in a child process (one edge) and plays the whole title
with ``Player`` (policy dynamic — one rung, so always 1080p; no resume, no
collector) at each speed, decode on (PyAV, one worker thread, headless
renderer) and off. Client CPU = ``time.process_time()`` of this process (user +
system, every thread) from before ``open()`` to after the session ended;
``decode_cpu_s`` is the decoder threads' own ``thread_time``, which is all of
the decode's CPU: FFmpeg decodes on those threads (``player.decode`` sets the
codec's ``thread_count`` to 1; with FFmpeg's default slice threads the
worker's ``thread_time`` missed ~40% of the decode CPU). Per minute of
media = CPU / (played media seconds / 60). The backend's CPU (its own process)
is reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

CONTENT = Path("/tmp/abrkit-bench/content-1080")
TITLE = "hd1080"


def ensure_1080(root: Path = CONTENT) -> Path:
    from server.packager import package, parse_ladder
    from server.packager.demo_source import write_demo_source

    if (root / TITLE / "catalog.json").is_file():
        return root
    src = root / ".src" / "hd1080.mp4"
    if not src.is_file():
        write_demo_source(src, duration=40.0, width=1920, height=1080, fps=30)
    package(src, root, segment_seconds=2.0, ladder=parse_ladder("1080p:5M"), title=TITLE)
    return root


async def one(url: str, cfg: Any) -> dict[str, Any]:
    from player import Player

    c0, w0 = time.process_time(), time.perf_counter()
    p = await Player.open(url, cfg)
    try:
        s = await p.wait()
    finally:
        await p.aclose()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    played = s.qoe.played_s
    fr = s.frames
    return {
        "state": s.state, "played_s": round(played, 2), "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 2),
        "cpu_per_media_min_s": round(cpu / (played / 60.0), 3) if played else None,
        "decode_cpu_s": round(s.timings["decode_cpu_s"] or 0.0, 3),
        "stalls": s.qoe.rebuffer_count, "rebuffer_s": round(s.qoe.rebuffer_s, 3),
        "frames": None if fr is None else {"decoded": fr.decoded, "presented": fr.presented,
                                            "late": fr.late, "dropped": fr.dropped},
        "avg_bitrate_kbps": round((s.qoe.average_bitrate_bps or 0) / 1000),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speeds", default="1,2")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import av  # noqa: F401  (import cost outside the measured sessions)

    from benchmarks.bench_concurrency import headless_config, spawn_backend
    from benchmarks.machine import machine
    from player.config import DecodeConfig

    content = ensure_1080()
    out: dict[str, Any] = {"machine_start": machine(), "runs": []}
    with spawn_backend(content, edges=1, steering_ttl_s=30.0) as be:
        url = be.grant_url(TITLE)
        for rep in range(a.repeats):
            for speed in [float(x) for x in a.speeds.split(",")]:
                for decode in (True, False):
                    cfg = headless_config(speed=speed, decode=DecodeConfig(enabled=decode))
                    b0 = be.cpu_s()
                    r = asyncio.run(one(url, cfg))
                    r.update({"speed": speed, "decode": decode, "repeat": rep,
                              "backend_cpu_s": round(be.cpu_s() - b0, 3),
                              "loadavg": machine()["loadavg"]})
                    out["runs"].append(r)
                    print(json.dumps(r), flush=True)
    out["machine_end"] = machine()
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
