"""The harness's inputs: trace directories and videos (Pensieve chunk sizes, Sabre
movie JSON, abrkit catalog.json, or an HLS/DASH manifest whose segment sizes are known).

    traces = load_traces(["/data/pensieve_train"], limit=10)   # [(dir, Trace)], sorted
    video = load_video("/data/pensieve_video")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from player.errors import TraceError, VideoError
from player.traces import Trace, load_trace
from player.video import Video, load_pensieve_video, load_sabre_movie

__all__ = ["SKIP_NAMES", "load_traces", "load_video"]

SKIP_NAMES = frozenset({"SOURCE.md", "README.md", "README", "LICENSE"})


def load_traces(dirs: Sequence[str | Path], limit: int | None = None) -> list[tuple[str, Trace]]:
    """The traces of each directory, in sorted file-name order, ``limit`` first per directory.

    Skips SOURCE.md/README/LICENSE, hidden files and sub-directories. A missing
    or empty directory or a malformed file raises :class:`TraceError` naming it.
    """
    out: list[tuple[str, Trace]] = []
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            raise TraceError("not a directory" if path.exists() else "no such directory", str(d))
        files = sorted(
            f
            for f in path.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.name not in SKIP_NAMES
        )
        if not files:
            raise TraceError("no trace files in directory", str(d))
        for f in files[:limit]:
            out.append((str(d), load_trace(f)))
    return out


def load_video(spec: str) -> Video:
    """A video from ``spec``: a Pensieve chunk-size directory (``video_size_0``..),
    a Sabre movie JSON, an abrkit ``catalog.json`` (or a packaged title directory
    holding one), or an HLS/DASH manifest path or URL whose segment sizes are
    known (a ``catalog.json`` beside it, or byte ranges in the manifest).
    Anything else raises :class:`VideoError` naming ``spec``."""
    if spec.lower().startswith(("http://", "https://")):
        return _video_from_manifest(spec)
    p = Path(spec)
    if p.is_dir():
        if (p / "video_size_0").is_file():
            return load_pensieve_video(p)
        if (p / "catalog.json").is_file():
            return _video_from_catalog(p / "catalog.json")
        raise VideoError(
            "directory is neither Pensieve chunk sizes (video_size_0..5) "
            "nor a packaged title (catalog.json)",
            spec,
        )
    if not p.exists():
        raise VideoError("no such file or directory", spec)
    suffix = p.suffix.lower()
    if suffix in (".mpd", ".m3u8", ".m3u"):
        return _video_from_manifest(spec)
    if suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise VideoError(f"cannot read: {exc}", spec) from None
        except json.JSONDecodeError as exc:
            raise VideoError(f"invalid JSON at line {exc.lineno}: {exc.msg}", spec) from None
        if isinstance(data, dict) and str(data.get("format", "")).startswith("abrkit-catalog/"):
            return _video_from_catalog(p, data)
        if isinstance(data, dict) and "segment_sizes_bits" in data:
            return load_sabre_movie(p)
        raise VideoError("JSON is neither a Sabre movie nor an abrkit catalog.json", spec)
    raise VideoError(
        "expected a Pensieve chunk-size directory, a Sabre movie JSON, a catalog.json "
        "or an .mpd/.m3u8 manifest",
        spec,
    )


def _catalog_ladder(data: Any, src: str) -> list[dict[str, Any]]:
    ladder = data.get("ladder") if isinstance(data, dict) else None
    if not isinstance(ladder, list) or not ladder:
        raise VideoError("catalog has no ladder", src)
    video = [e for e in ladder if isinstance(e, dict) and e.get("kind", "video") == "video"]
    for i, e in enumerate(video):
        for key in ("id", "bandwidth", "segment_sizes"):
            if key not in e:
                raise VideoError(f"ladder entry {i} has no {key!r}", src)
    if not video:
        raise VideoError("catalog ladder has no video rendition", src)
    return sorted(video, key=lambda e: e["bandwidth"])


def _video_from_catalog(path: Path, data: Any = None) -> Video:
    src = str(path)
    if data is None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VideoError(f"cannot read catalog: {exc}", src) from None
    ladder = _catalog_ladder(data, src)
    counts = {len(e["segment_sizes"]) for e in ladder}
    if len(counts) != 1:
        raise VideoError(f"renditions have different segment counts: {sorted(counts)}", src)
    durations = ladder[0].get("segment_durations") or []
    seg = float(data.get("segment_duration") or (max(durations) if durations else 0) or 4.0)
    try:
        return Video(
            tuple(float(e["bandwidth"]) for e in ladder),
            seg,
            tuple(zip(*(tuple(int(s) for s in e["segment_sizes"]) for e in ladder), strict=True)),
            name=src,
            segment_durations_s=tuple(float(d) for d in durations),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"bad catalog value: {exc}", src) from None


def _catalog_sizes(presentation: Any, entries: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Rendition id -> segment sizes: the catalog entry with the same id, else the one
    whose ``path`` folder holds the rendition's segments (HLS ids are ``v0``, ``v1``...)."""
    by_id = {str(e["id"]): e for e in entries}
    out: dict[str, list[int]] = {}
    for r in presentation.renditions():
        e = by_id.get(r.id)
        if e is None and r.segments is not None and r.segments.segments:
            url = r.segments.segments[0].url
            e = next((c for c in entries if f"/{str(c.get('path', '')).strip('/')}/" in url),
                     None)
        if e is not None:
            out[r.id] = [int(s) for s in e["segment_sizes"]]
    return out


def _video_from_manifest(spec: str) -> Video:
    from urllib.parse import urljoin

    from manifest.errors import ManifestError
    from manifest.parse import parse
    from player.commands.inspect import InputError, Reader, resolve_media_playlists
    from player.video import video_from_presentation

    reader = Reader()
    try:
        try:
            data, base = reader.read(spec)
            presentation = parse(data, base)
            presentation, errors = resolve_media_playlists(presentation, reader)
        except (InputError, ManifestError) as exc:
            raise VideoError(str(exc), spec) from None
        sizes: dict[str, list[int]] = {}
        if base.lower().startswith(("http://", "https://")):
            cat_src = urljoin(base, "catalog.json")
        else:
            cat_src = str(Path(base).parent / "catalog.json")
        try:
            cat_bytes, _ = reader.read(cat_src)
            entries = _catalog_ladder(json.loads(cat_bytes), cat_src)
            sizes = _catalog_sizes(presentation, entries)
        except (InputError, ValueError, KeyError, TypeError):
            sizes = {}  # no catalog beside it: byte ranges in the manifest may do
        try:
            return video_from_presentation(presentation, sizes)
        except VideoError as exc:
            hint = "" if sizes else " (no catalog.json beside the manifest)"
            raise VideoError(f"{exc}{hint}", spec) from None
    finally:
        reader.close()
