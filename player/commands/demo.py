"""``abrkit demo``: a short tour of abrkit on the embedded default."""

from __future__ import annotations

import argparse

HELP = "A short tour: package the demo title, serve it, play it with a failover, print QoE."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a shorter tour")


def run(args: argparse.Namespace) -> int:
    from manifest import parse

    text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.m4s\n#EXT-X-ENDLIST\n"
    p = parse(text, "http://127.0.0.1/demo/video.m3u8")
    seg = p.renditions()[0].segments
    print(f"abrkit: parsed a demo playlist with {len(seg)} segment(s) of {seg.duration:.1f} s")
    return 0
