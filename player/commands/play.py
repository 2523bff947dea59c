"""``abrkit play TARGET``: play a playback-API or manifest URL headlessly.

A rich live status line on stderr (position, buffer, rendition, throughput,
edge, state) and a QoE summary table at the end. Exit codes: 0 the session
ended normally, 1 playback failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

HELP = "Play a playback-API URL or a manifest URL with live status and a QoE summary."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="http://.../playback/TITLE, or an .m3u8/.mpd URL")
    parser.add_argument("--policy", default="dynamic", help="ABR policy (abr.registry name)")
    parser.add_argument("--speed", type=float, default=1.0, help="media seconds per wall second")
    parser.add_argument("--max-height", type=int, default=None, help="highest rendition height")
    parser.add_argument("--telemetry", default=None, metavar="FILE|URL",
                        help="JSONL file, a collector URL (http://.../telemetry), or "
                             "'collector' (the grant's telemetry URL, spooled)")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="write a session plot (PNG): chosen bitrate, measured throughput "
                             "and buffer over time, stalls and failovers (with the edge) marked")
    parser.add_argument("--no-decode", action="store_true", help="fetch only, do not decode")
    parser.add_argument("--cmcd", choices=("query", "headers", "off"), default="query")
    parser.add_argument("--protocol", choices=("hls", "dash"), default="hls")
    parser.add_argument("--quiet", action="store_true", help="no live status line")


def build_config(args: argparse.Namespace, extra_sinks: tuple[Any, ...] = ()) -> Any:
    from player.config import DecodeConfig, PlayerConfig, TelemetryConfig
    from telemetry.sinks import HttpSink, JsonlSink

    sinks: list[Any] = list(extra_sinks)
    collector = False
    if args.telemetry:
        if args.telemetry.startswith(("http://", "https://")):
            sinks.append(HttpSink(args.telemetry))
        elif args.telemetry == "collector":
            collector = True
        else:
            sinks.append(JsonlSink(args.telemetry))
    return PlayerConfig(
        policy=args.policy,
        speed=args.speed,
        max_height=args.max_height,
        protocol=args.protocol,
        decode=DecodeConfig(enabled=not args.no_decode),
        telemetry=TelemetryConfig(sinks=tuple(sinks), collector=collector, cmcd=args.cmcd,
                                  spool_dir=_spool_dir() if collector else None),
    )


def _spool_dir() -> str:
    from server.runner import default_cache_dir

    return str(default_cache_dir() / "spool")


def _status(player: Any) -> str:
    s = player.session
    d = player.driver
    rung = s.last_rung
    rate = s.video.bitrates_bps[rung] / 1e3
    height = player.media.heights[rung]
    tp = player._throughput_bps()
    tps = f"{tp / 1e6:5.2f} Mb/s" if tp else "   -     "
    return (
        f"{d.playhead():7.1f}/{s.video.duration_s:.0f} s  buf {d.buffer_s():5.1f} s  "
        f"{height or '?'}p {rate:6.0f} kb/s  tput {tps}  edge {player.pool.current_edge or '-'}"
        f"  [{s.state.value}]"
    )


async def run_session(url: str, config: Any, *, quiet: bool = False,
                      on_open: Any = None) -> Any:
    """Open, play with a live status line, return the SessionSummary."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from player.player import Player

    console = Console(stderr=True)
    player = await Player.open(url, config)
    try:
        await player.play()
        if on_open is not None:
            on_open(player)
        if quiet or not console.is_terminal:
            return await player.wait()
        task = asyncio.ensure_future(player.wait())
        with Live(Text(_status(player)), console=console, refresh_per_second=8,
                  transient=False) as live:
            while not task.done():
                live.update(Text(_status(player)))
                await asyncio.wait({task}, timeout=0.25)
            live.update(Text(_status(player)))
        return task.result()
    finally:
        await player.aclose()


def print_summary(summary: Any, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=True)
    q = summary.qoe
    t = Table(title=f"QoE — session {summary.session_id[:12]} ({summary.state})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("startup", f"{q.startup_delay_s:.2f} s"),
        ("played", f"{q.played_s:.1f} s"),
        ("stalls", f"{q.rebuffer_count} ({q.rebuffer_s:.2f} s, ratio {q.rebuffer_ratio:.3f})"),
        ("average bitrate", f"{q.average_bitrate_bps / 1e3:.0f} kb/s"),
        ("switches", str(q.switches)),
        ("QoE (lin)", f"{q.qoe_lin.total:.2f}"),
        ("failovers", str(summary.failovers)),
        ("segments per edge", ", ".join(f"{k}: {v}" for k, v in summary.edges.items()) or "-"),
    ]
    fr = summary.frames
    if fr is not None:
        rows.append(("frames", f"{fr.presented} presented, {fr.late} late, {fr.dropped} dropped"
                               f" of {fr.decoded} decoded"))
    for k in ("manifest_s", "first_segment_s", "first_frame_s", "wall_s", "cpu_s"):
        v = summary.timings.get(k)
        if v is not None:
            rows.append((k.removesuffix("_s").replace("_", " "), f"{v:.3f} s"))
    if summary.failure:
        rows.append(("failure", summary.failure))
    for a, b in rows:
        t.add_row(a, b)
    console.print(t)


def write_plot(summary: Any, path: str | Path, events: Any = (), speed: float = 1.0) -> Path:
    """The session plot (:mod:`player.commands.session_plot`): bitrate, throughput and
    buffer over session time, stalls shaded, failovers marked with the new edge.
    ``events``: the session's telemetry events (failover markers need them);
    ``speed``: the session's ``--speed``."""
    from player.commands.session_plot import plot_data, write_session_plot

    title = (f"session {summary.session_id[:12]}: {summary.state}, "
             f"{summary.failovers} failover(s), {summary.qoe.rebuffer_count} stall(s)")
    return write_session_plot(plot_data(summary.result, events, speed=speed), path, title=title)


def run(args: argparse.Namespace) -> int:
    from player.errors import PlayerError
    from telemetry.sinks import JsonlSink, MemorySink

    if not args.speed > 0:
        print("abrkit play: error: --speed must be > 0", file=sys.stderr)
        return 2
    if args.max_height is not None and args.max_height <= 0:
        print("abrkit play: error: --max-height must be > 0", file=sys.stderr)
        return 2
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        print(f"abrkit play: error: --plot {args.plot!r}: the plot is a PNG, name it *.png",
              file=sys.stderr)
        return 2
    if not args.target.startswith(("http://", "https://")):
        print(f"abrkit play: error: {args.target!r} is not an http(s) URL", file=sys.stderr)
        return 2
    try:
        from abr.registry import policy_factory

        policy_factory(args.policy)
        recorder = MemorySink()  # the events the plot marks (failovers)
        config = build_config(args, extra_sinks=(recorder,) if args.plot else ())
    except (ValueError, OSError) as exc:
        print(f"abrkit play: error: {exc}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(run_session(args.target, config, quiet=args.quiet))
    except PlayerError as exc:
        print(f"abrkit play: playback failed: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. an unknown policy name
        print(f"abrkit play: error: {exc}", file=sys.stderr)
        return 2
    for sink in config.telemetry.sinks:
        if isinstance(sink, JsonlSink):
            sink.close()
    print_summary(summary)
    if args.plot:
        plot = write_plot(summary, args.plot, recorder.events, speed=args.speed)
        print(f"plot: {plot}", file=sys.stderr)
    return 0 if summary.ok else 1
