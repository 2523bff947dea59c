"""Tests of the replay harness; small synthetic traces and videos shared with the CLI tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

BITRATES_KBPS = (300, 750, 1200, 1850, 2850, 4300)


def write_trace_dir(folder: Path, count: int = 3, samples: int = 120, seed: int = 0) -> Path:
    """``count`` Pensieve-format traces (``time_s<TAB>Mbps``, 1 s steps) with dips; a SOURCE.md."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        lines = []
        for i in range(samples):
            mbps = 1.6 + 1.2 * math.sin(0.21 * i + k + seed) + 0.5 * math.cos(0.05 * i * (k + 1))
            if (i // 15 + k) % 5 == 0:
                mbps *= 0.15  # a dip
            lines.append(f"{float(i)}\t{max(mbps, 0.05):.4f}")
        (folder / f"trace_{k:02d}.log").write_text("\n".join(lines) + "\n")
    (folder / "SOURCE.md").write_text("synthetic traces for tests\n")
    return folder


def write_video_dir(folder: Path, chunks: int = 16) -> Path:
    """Pensieve chunk-size files ``video_size_0..5`` for a ``chunks``-chunk, 4 s video."""
    folder.mkdir(parents=True, exist_ok=True)
    for rung, kbps in enumerate(BITRATES_KBPS):
        sizes = [int(kbps * 1000 * 4 / 8 * (1 + 0.2 * math.sin(c + rung))) for c in range(chunks)]
        (folder / f"video_size_{rung}").write_text("\n".join(map(str, sizes)) + "\n")
    return folder


def write_catalog(path: Path, segments: int = 6) -> Path:
    """A minimal abrkit ``catalog.json`` (three video renditions)."""
    ladder = []
    for i, (rid, bw) in enumerate((("240p", 400_000), ("360p", 800_000), ("720p", 1_600_000))):
        ladder.append({
            "id": rid, "kind": "video", "path": f"video/{rid}", "bandwidth": bw,
            "segment_sizes": [bw // 2 + 1000 * (i + s) for s in range(segments)],
            "segment_durations": [4.0] * segments,
        })
    doc = {"format": "abrkit-catalog/1", "title": "t", "segment_duration": 4.0,
           "ladder": ladder, "audio": None}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
