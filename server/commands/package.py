"""``abrkit package``: package a source video (or the built-in demo) as CMAF + HLS + DASH."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Package a video (or, with no SOURCE, the built-in demo) as a CMAF ladder with HLS and DASH."

EXIT_OK = 0
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", type=Path, metavar="SOURCE",
                        help="source video file (default: generate the 60 s demo clip)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output directory; the title goes to DIR/<title>/")
    parser.add_argument("--segment-seconds", type=float, default=4.0, metavar="S",
                        help="segment (and GOP) length in seconds, rounded to whole frames "
                             "(default 4)")
    parser.add_argument("--ladder", metavar="SPEC",
                        help="rungs as HEIGHTp[:BITRATE],... e.g. 240p:400k,360p,720p:2.8M "
                             "(default 240p:400k,360p:800k,480p:1400k,720p:2800k,1080p:5000k; "
                             "rungs taller than the source are dropped)")
    parser.add_argument("--title", metavar="NAME",
                        help="title name (default: the source file's stem, or 'demo')")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    parser.add_argument("--encrypt", choices=("cenc", "aes-128"),
                        help="cenc: CENC CMAF with ClearKey (DASH + HLS); aes-128: HLS "
                             "full-segment AES-128 (no MPD); see docs/drm.md")
    parser.add_argument("--key-store", type=Path, metavar="FILE",
                        help="server key store (default $ABRKIT_KEY_STORE or "
                             "$ABRKIT_CACHE/keys/keystore.json); never inside --out")
    parser.add_argument("--licence-url", metavar="URL",
                        help="licence URL written into manifests, '{title}' is replaced "
                             "(default http://127.0.0.1:8100/licence/{title})")
    parser.add_argument("--key-per-track", action="store_true",
                        help="one key per track (video, audio) instead of one per title")


def run(args: argparse.Namespace) -> int:
    from server.errors import PackagerError
    from server.packager import DEFAULT_LADDER, package, parse_ladder
    from server.packager.encrypt import EncryptOptions

    try:
        ladder = parse_ladder(args.ladder) if args.ladder is not None else DEFAULT_LADDER
        encrypt = None
        if args.encrypt:
            from drm import default_key_store_path

            encrypt = EncryptOptions(args.encrypt, args.key_store or default_key_store_path(),
                                     args.licence_url, args.key_per_track)
        with _progress(enabled=not args.quiet and sys.stderr.isatty()) as progress:
            catalog = package(args.source, args.out, segment_seconds=args.segment_seconds,
                              ladder=ladder, title=args.title, progress=progress,
                              encrypt=encrypt)
    except PackagerError as exc:
        print(f"abrkit package: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        rungs = ", ".join(f"{r.id} {r.bandwidth // 1000}k" for r in catalog.ladder)
        audio = f" + {catalog.audio.codecs}" if catalog.audio else ""
        print(f"{catalog.title}: {catalog.duration:.1f} s, {len(catalog.ladder[0].segment_sizes)} "
              f"segments of {catalog.segment_duration:g} s, {rungs}{audio}")
        print(f"  HLS  {catalog.master_path}")
        print(f"  DASH {catalog.mpd_path}")
    return EXIT_OK


class _progress:
    """A rich progress bar on stderr (a no-op when disabled); the context value is
    a ``progress(stage, done, total)`` callback or None."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.__enter__()

        def update(stage: str, done: float, total: float) -> None:
            assert self.bar is not None
            if stage not in self.tasks:
                self.tasks[stage] = self.bar.add_task(stage, total=total)
            self.bar.update(self.tasks[stage], completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
