"""Packaging speed: seconds of video packaged per second of wall time, per rung.

    python -m benchmarks.bench_packaging [--seconds 10] [--runs 1] [--no-demo]
                                         [--out benchmarks/results/packaging.md]

Makes a 1080p30 demo clip (``--seconds`` long, with a tone), then, each in its
own run so each figure stands alone:

- every default rung (240p..1080p) encoded alone from the 1080p source
  (decode + scale + libx264 veryfast + fMP4 split; no audio);
- the AAC audio rendition alone (its pass still decodes the video, for the
  A/V alignment);
- the whole default ladder plus audio in one ``package()`` call (one decode
  pass feeding all encoders, manifests and catalog included);
- the default demo title as ``abrkit serve``/``ensure_demo_title`` makes it on
  first use (60 s 720p source generation + 240p..720p ladder + audio), unless
  ``--no-demo``.

Speed = media seconds / wall seconds (x realtime). The machine's other load is
not controlled: the figures are what this machine gave at that moment (the
load average is recorded with them).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.machine import machine_line
from server.packager import (
    DEFAULT_LADDER,
    ensure_demo_title,
    fit_ladder,
    load_catalog,
    package,
)
from server.packager import encode as enc
from server.packager.demo_source import write_demo_source
from server.packager.probe import probe


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return r.ru_utime + r.ru_stime


def _timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall seconds and median CPU seconds (user + system, all threads)."""
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="source clip length (default 10)")
    ap.add_argument("--runs", type=int, default=1, help="runs per figure, median (default 1)")
    ap.add_argument("--no-demo", action="store_true", help="skip the full demo-title timing")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/packaging.md"))
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="abrkit-bench-pack-"))
    rows: list[tuple[str, str, float, float]] = []  # name, detail, wall s, cpu s
    try:
        src = write_demo_source(work / "src1080.mp4", duration=args.seconds, width=1920,
                                height=1080, fps=30)
        info = probe(src)
        gop = 120
        for rung in fit_ladder(DEFAULT_LADDER, info.width, info.height):
            def one(rung=rung) -> None:  # type: ignore[no-untyped-def]
                d = work / f"v-{rung.id}"
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir()
                enc.encode_source(info, [(rung, d)], None, gop=gop)

            wall, cpu = _timed(one, args.runs)
            rows.append((rung.id, f"{rung.width}x{rung.height} @ {rung.bitrate // 1000}k",
                         wall, cpu))
            print(f"{rung.id:>6}: {wall:6.2f} s  {cpu:6.2f} s CPU", file=sys.stderr)

        def audio() -> None:
            d = work / "a"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            enc.encode_source(info, [], d, gop=gop)

        wall, cpu = _timed(audio, args.runs)
        rows.append(("audio", f"AAC-LC {enc.AUDIO_BITRATE // 1000}k stereo 48 kHz", wall, cpu))

        def ladder() -> None:
            shutil.rmtree(work / "full", ignore_errors=True)
            package(src, work / "full")

        wall, cpu = _timed(ladder, args.runs)
        rows.append(("full ladder", "240p..1080p + audio, one pass, package()", wall, cpu))
        print(f"  full: {wall:6.2f} s  {cpu:6.2f} s CPU", file=sys.stderr)

        demo_wall = demo_cpu = reuse_wall = demo_media = 0.0
        if not args.no_demo:
            t, c = time.perf_counter(), _cpu()
            title = ensure_demo_title(work / "demo-cache")
            demo_wall, demo_cpu = time.perf_counter() - t, _cpu() - c
            t = time.perf_counter()
            ensure_demo_title(work / "demo-cache")
            reuse_wall = time.perf_counter() - t
            demo_media = load_catalog(title).duration
            print(f"  demo: {demo_wall:6.2f} s (reuse {reuse_wall:.3f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    given = list(argv if argv is not None else sys.argv[1:])
    command = " ".join(["python -m benchmarks.bench_packaging", *given])
    lines = [
        "# Packaging speed",
        "",
        f"Command: `{command}`",
        "",
        machine_line(
            f"{len(os.sched_getaffinity(0))} CPUs usable (affinity)",
            f"PyAV {__import__('av').__version__}",
        ),
        "",
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"Source: {args.seconds:g} s demo clip, 1920x1080 at 30 fps, with a tone. "
        f"Segments {gop / 30:g} s. libx264 preset {enc.X264_PRESET}; median of {args.runs} run(s).",
        "",
        "| rendition | settings | wall (s) | speed (x realtime, wall) | CPU (s) "
        "| speed per core (x realtime, CPU) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    dur = info.duration
    sum_cpu = sum(c for n, _, _, c in rows if n != "full ladder")
    full_cpu = next(c for n, _, _, c in rows if n == "full ladder")
    lines += [f"| {n} | {d} | {w:.2f} | {dur / w:.2f} | {c:.2f} | {dur / c:.2f} |"
              for n, d, w, c in rows]
    lines += [
        "",
        "Each rung row is one pass over the source with only that encoder: decode of the 1080p "
        "source, scale, encode, mux, split. The full-ladder row shares one decode among all "
        f"encoders and adds fingerprinting, probing, manifests and the catalog: {full_cpu:.1f} s "
        f"CPU against {sum_cpu:.1f} s for the rung and audio rows run separately. "
        "Wall speed depends on the "
        "machine's other load (see the load average); CPU seconds (user + system of all our "
        "threads) are the steadier figure: on an otherwise idle machine with N cores, wall is "
        "about CPU / N.",
    ]
    if not args.no_demo:
        lines += [
            "",
            f"Default demo title (`ensure_demo_title`, first run): {demo_wall:.1f} s wall, "
            f"{demo_cpu:.1f} s CPU, for {demo_media:.0f} s of 720p30 (source generation + "
            f"240p..720p ladder + audio); a second call reuses it in {reuse_wall:.3f} s.",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
