"""``abrkit demo``: the reference backend in-process, a session with a failover, QoE.

Packages a short demo title on first use (30 s of the synthetic clip at
640x360, a 180p/270p/360p ladder of 2 s segments: about 30 s of CPU once,
cached in ``$ABRKIT_CACHE`` or ``~/.cache/abrkit``), starts a control plane
and three edges on 127.0.0.1, plays the title at ``--speed`` (2 by
default: about 15 s), takes the serving edge down halfway so the failover
shows, and prints the QoE summary and where the plot and telemetry went.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HELP = "A short tour: package a demo title, serve it, play it with a failover, print QoE."

DEMO_TITLE = "demo-lite"
DEMO_SECONDS = 30.0
DEMO_LADDER = "180p:300k,270p:600k,360p:1M"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=2.0, help="playback speed (default 2)")
    parser.add_argument("--quick", action="store_true", help="play at speed 4")
    parser.add_argument("--out", default=None, help="where the plot and telemetry go")
    parser.add_argument("--policy", default="dynamic")


def ensure_demo_lite(cache: Path) -> tuple[Path, float]:
    """The content root holding ``demo-lite``; packages it on first use. Returns the
    root and the seconds spent packaging (0 when cached)."""
    from server.packager import package, parse_ladder
    from server.packager.demo_source import write_demo_source

    root = cache / "content-lite"
    if (root / DEMO_TITLE / "catalog.json").is_file():
        return root, 0.0
    t0 = time.perf_counter()
    print(f"abrkit demo: packaging {DEMO_TITLE} (first run only, ~30 s)...", file=sys.stderr)
    src = cache / ".sources" / f"demo-lite-v1-{int(DEMO_SECONDS)}s-640x360.mp4"
    if not src.is_file():
        write_demo_source(src, duration=DEMO_SECONDS, width=640, height=360, fps=30)
    package(src, root, segment_seconds=2.0, ladder=parse_ladder(DEMO_LADDER), title=DEMO_TITLE)
    return root, time.perf_counter() - t0


def run(args: argparse.Namespace) -> int:
    from player.commands.play import print_summary, run_session, write_plot
    from player.config import DEFAULT_ENGINE, DecodeConfig, PlayerConfig, TelemetryConfig
    from server.runner import default_cache_dir, start_backend
    from telemetry.sinks import JsonlSink, MemorySink

    speed = 4.0 if args.quick else args.speed
    if not speed > 0:
        print("abrkit demo: error: --speed must be > 0", file=sys.stderr)
        return 2
    cache = default_cache_dir()
    out = Path(args.out) if args.out else cache / "demo-out"
    out.mkdir(parents=True, exist_ok=True)
    content, pack_s = ensure_demo_lite(cache)
    if pack_s:
        print(f"abrkit demo: packaged in {pack_s:.0f} s (cached in {content})", file=sys.stderr)
    jsonl = out / "telemetry.jsonl"
    jsonl.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with start_backend(content, edges=3, steering_ttl_s=60.0, edge_poll_interval_s=0.5) as backend:
        print(f"abrkit demo: control plane {backend.control_url}, edges "
              f"{', '.join(backend.edge_urls.values())}", file=sys.stderr)
        recorder = MemorySink()  # for the plot's failover markers
        config = PlayerConfig(
            policy=args.policy, speed=speed,
            engine=replace(DEFAULT_ENGINE, buffer_max_s=8.0),
            decode=DecodeConfig(enabled=True, drop_after_s=1.0),
            telemetry=TelemetryConfig(sinks=(JsonlSink(jsonl), recorder), collector=True,
                                      heartbeat_interval_s=5.0),
        )
        downed: list[str] = []

        def on_open(player: Any) -> None:
            async def saboteur() -> None:
                half = player.media.video.duration_s / 2
                while player.driver.playhead() < half and not player.session.finished:
                    await asyncio.sleep(0.1)
                edge = player.pool.current_edge
                if edge and not player.session.finished:
                    downed.append(edge)
                    print(f"\nabrkit demo: taking {edge} down at "
                          f"{player.driver.playhead():.1f} s", file=sys.stderr)
                    await asyncio.to_thread(backend.edge(edge).down)

            player._aux.append(asyncio.ensure_future(saboteur()))

        summary = asyncio.run(run_session(backend.grant_url(DEMO_TITLE), config,
                                          on_open=on_open))
        import httpx

        qoe = httpx.get(f"{backend.control_url}/qoe", timeout=5).json()
    print_summary(summary)
    plot = write_plot(summary, out / "session.png", recorder.events, speed=speed)
    print(f"edge taken down: {downed[0] if downed else '-'}; failovers: {summary.failovers}",
          file=sys.stderr)
    print(f"collector /qoe: {qoe.get('titles', {}).get(DEMO_TITLE)}", file=sys.stderr)
    print(f"plot: {plot}\ntelemetry: {jsonl} ({summary.events} events, also sent to the "
          f"collector)\ndemo played in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0 if summary.ok else 1
