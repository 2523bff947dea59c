"""HLS parse benchmark: a 2-hour, 8-rendition ladder with 2 s segments.

    python -m benchmarks.bench_manifest_hls [--runs 9] [--out benchmarks/results/manifest_hls.md]

Generates the ladder's master playlist and 8 media playlists with
:func:`manifest.hls_writer.write_hls` (fMP4, EXT-X-MAP, 3,600 segments each,
28,800 in all), then times, median of ``--runs`` (default 9):

- parsing the master playlist;
- parsing the 8 media playlists (``parse_media_playlist``) and attaching
  them (``Presentation.with_segments``): the full ladder;
- the same per 1,000 segments.

Writes the figures, the command and the machine to ``--out``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import m3u8

from benchmarks.machine import machine_line
from manifest.hls import _skip_unused, parse_hls, parse_media_playlist
from manifest.hls_lines import scan
from manifest.hls_writer import MASTER_NAME, relative, write_hls
from manifest.model import (
    InitSegment,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)

ROOT = "https://cdn.example.com/title/"
DURATION_S = 2 * 3600
SEGMENT_S = 2.0
LADDER = [  # (height, bandwidth bit/s)
    (144, 150_000),
    (240, 300_000),
    (360, 700_000),
    (480, 1_200_000),
    (540, 2_000_000),
    (720, 3_500_000),
    (1080, 6_000_000),
    (2160, 16_000_000),
]


def ladder() -> Presentation:
    n = int(DURATION_S / SEGMENT_S)
    renditions = []
    for height, bandwidth in LADDER:
        name = f"{height}p"
        init = InitSegment(f"{ROOT}{name}/init.mp4")
        segs = tuple(
            Segment(
                url=f"{ROOT}{name}/seg-{i:05d}.m4s",
                start=i * SEGMENT_S,
                duration=SEGMENT_S,
                number=i,
                init=init,
            )
            for i in range(n)
        )
        renditions.append(
            Rendition(
                id=name,
                bandwidth=bandwidth,
                width=height * 16 // 9,
                height=height,
                codecs="avc1.640028,mp4a.40.2",
                frame_rate=25.0,
                uri=f"{ROOT}{name}/index.m3u8",
                segments=SegmentIndex(addressing="hls", segments=segs, init=init),
            )
        )
    return Presentation(
        format="hls",
        kind="hls-master",
        url=ROOT + "master.m3u8",
        dynamic=False,
        duration=float(DURATION_S),
        periods=(
            Period(
                id=None,
                start=0.0,
                duration=float(DURATION_S),
                tracks=(Track(id="video", type="video", renditions=tuple(renditions)),),
            ),
        ),
    )


def parse_ladder(files: dict[str, str]) -> Presentation:
    p = parse_hls(files[MASTER_NAME], ROOT + MASTER_NAME)
    for r in p.renditions():
        assert r.uri is not None
        p = p.with_segments(
            r.id, parse_media_playlist(files[relative(r.uri, ROOT + MASTER_NAME)], r.uri)
        )
    return p


def _time(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--out", default="benchmarks/results/manifest_hls.md")
    args = ap.parse_args(argv)

    files = write_hls(ladder())
    media_files = [k for k in files if k != MASTER_NAME]
    total_segments = sum(files[k].count("#EXTINF") for k in media_files)
    total_bytes = sum(len(v) for v in files.values())
    p = parse_ladder(files)  # warm-up and sanity check
    assert sum(len(r.segments or ()) for r in p.renditions()) == total_segments

    master_t = _time(lambda: parse_hls(files[MASTER_NAME], ROOT + MASTER_NAME), args.runs * 5)
    one = media_files[0]
    one_t = _time(lambda: parse_media_playlist(files[one], ROOT + one), args.runs)
    full_t = _time(lambda: parse_ladder(files), args.runs)
    # where the time of one media playlist goes
    m3u8_t = _time(lambda: m3u8.parse(files[one], custom_tags_parser=_skip_unused), args.runs)
    scan_t = _time(lambda: scan(files[one], None), args.runs)

    def ms(times: list[float], scale: float = 1.0) -> str:
        med = statistics.median(times) * 1000 * scale
        best = min(times) * 1000 * scale
        digits = 3 if best < 10 else 1
        return f"{med:.{digits}f} ms | {best:.{digits}f} ms"

    per_1000 = 1000 / total_segments
    rows = [
        ("master playlist (8 variants)", ms(master_t)),
        (f"one media playlist ({files[one].count('#EXTINF')} segments)", ms(one_t)),
        (f"full ladder: master + 8 media playlists ({total_segments} segments)", ms(full_t)),
        ("full ladder, per 1,000 segments", ms(full_t, per_1000)),
        ("of one media playlist: `m3u8.parse`", ms(m3u8_t)),
        ("of one media playlist: abrkit line checks (`hls_lines.scan`)", ms(scan_t)),
    ]
    command = "python -m benchmarks.bench_manifest_hls" + (
        f" --runs {args.runs}" if args.runs != 9 else ""
    )
    lines = [
        "# HLS manifest parse benchmark",
        "",
        f"Ladder: {len(LADDER)} renditions x {DURATION_S // 3600} h of {SEGMENT_S:g} s fMP4 "
        f"segments (EXT-X-MAP), written by `manifest.hls_writer.write_hls`: "
        f"{len(files)} playlists, {total_bytes / 1e6:.2f} MB of text.",
        "Timed: `parse_hls` + `parse_media_playlist` + `Presentation.with_segments`; "
        f"median and best of {args.runs} runs ({args.runs * 5} for the master alone), one process,"
        " warm. The machine is shared with other jobs: the best run is the code's cost,"
        " the median includes their noise.",
        "",
        "| what | median | best |",
        "|---|---|---|",
        *[f"| {a} | {b} |" for a, b in rows],
        "",
        f"Command: `{command}`",
        "",
        machine_line(),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
