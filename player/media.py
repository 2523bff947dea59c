"""Loading what a session plays: manifest -> renditions -> :class:`Media`.

Not a public module: :mod:`player.player` calls :func:`load_media` after it
has fetched the manifest. For an HLS master every kept video variant's media
playlist (all rungs, up front) and the default audio rendition's are fetched
and parsed; a DASH MPD already lists its segments. Segment sizes come from
the byte ranges when the manifest has them, else from the title's
``catalog.json`` next to the manifest (the reference packager writes one),
else they are nominal (``bandwidth x duration / 8``; the engine only uses
sizes to plan, the real byte count of each download is what it is told).
"""

from __future__ import annotations

import asyncio
import bisect
import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from manifest.hls import parse_media_playlist
from manifest.model import ByteRange, Presentation, Rendition, Track

from .errors import PlayerError
from .oca import OcaPool
from .video import Video, video_from_presentation

__all__ = ["Media", "MediaError", "load_media"]


class MediaError(PlayerError):
    """The manifest has nothing this player can play (names the manifest URL)."""


@dataclass(frozen=True)
class Media:
    """A loaded title: the engine's :class:`Video` plus what the fetcher needs."""

    presentation: Presentation
    video: Video
    heights: tuple[int | None, ...]
    video_inits: tuple[tuple[str, ByteRange | None] | None, ...]  # per rung
    audio_urls: tuple[str, ...] = ()
    audio_ranges: tuple[ByteRange | None, ...] = ()
    audio_starts: tuple[float, ...] = ()
    audio_init: tuple[str, ByteRange | None] | None = None
    sizes_from: str = "nominal"
    frame_rate: float | None = None

    def audio_index(self, video_start_s: float) -> int:
        """The audio segment playing at ``video_start_s`` (segments aligned within a frame)."""
        i = bisect.bisect_right(self.audio_starts, video_start_s + 0.05) - 1
        return max(0, min(i, len(self.audio_urls) - 1))


async def _text(pool: OcaPool, url: str) -> str:
    res = await pool.fetch(url)
    return res.data.decode("utf-8", "replace")


def _track(p: Presentation, kind: str) -> Track | None:
    tracks = p.tracks(kind)  # type: ignore[arg-type]
    return tracks[0] if tracks else None


async def _resolve_hls(pool: OcaPool, p: Presentation, renditions: list[Rendition],
                       audio: Rendition | None) -> Presentation:
    todo = [r for r in renditions if r.segments is None and r.uri]
    if audio is not None and audio.segments is None and audio.uri:
        todo.append(audio)
    texts = await asyncio.gather(*(_text(pool, r.uri or "") for r in todo))
    for r, text in zip(todo, texts, strict=True):
        p = p.with_segments(r.id, parse_media_playlist(text, r.uri or ""))
    return p


def _keep(track: Track, max_height: int | None) -> list[Rendition]:
    rs = sorted((r for r in track.renditions if not r.iframe), key=lambda r: r.bandwidth)
    if max_height is not None:
        kept = [r for r in rs if r.height is None or r.height <= max_height]
        rs = kept or rs[:1]
    # strictly ascending bandwidths: drop duplicates (keep the first)
    out: list[Rendition] = []
    for r in rs:
        if not out or r.bandwidth > out[-1].bandwidth:
            out.append(r)
    return out


async def _catalog_sizes(pool: OcaPool, manifest_url: str,
                         renditions: list[Rendition]) -> dict[str, list[int]]:
    url = urljoin(manifest_url, "catalog.json")
    try:
        data: Any = json.loads(await _text(pool, url))
    except Exception:  # no catalog: sizes come from elsewhere
        return {}
    if not isinstance(data, dict):
        return {}
    base = urlsplit(url).path.rsplit("/", 1)[0] + "/"
    entries = [e for e in data.get("ladder") or [] if isinstance(e, dict)]
    out: dict[str, list[int]] = {}
    for r in renditions:
        segs = r.segments.segments if r.segments else ()
        if not segs:
            continue
        path = urlsplit(segs[0].url).path
        for e in entries:
            prefix = base + str(e.get("path", "")).strip("/") + "/"
            sizes = e.get("segment_sizes")
            if path.startswith(prefix) and isinstance(sizes, list) and len(sizes) == len(segs):
                out[r.id] = [int(s) for s in sizes]
    return out


def _init_of(r: Rendition) -> tuple[str, ByteRange | None] | None:
    idx = r.segments
    if idx is None:
        return None
    init = idx.init or (idx.segments[0].init if idx.segments else None)
    return None if init is None else (init.url, init.byte_range)


async def load_media(pool: OcaPool, p: Presentation, *, max_height: int | None = None,
                     audio: bool = True) -> Media:
    """Resolve ``p`` (fetching HLS media playlists through ``pool``) into a :class:`Media`."""
    vtrack = _track(p, "video")
    if vtrack is None:
        raise MediaError(f"{p.url}: no video track")
    kept = _keep(vtrack, max_height)
    atrack = _track(p, "audio") if audio else None
    arend = None
    if atrack is not None and atrack.renditions:
        arend = atrack.renditions[0]
    if p.format == "hls":
        p = await _resolve_hls(pool, p, kept, arend)
        vtrack = _track(p, "video")
        assert vtrack is not None
        kept = [r for r in vtrack.renditions if r.id in {k.id for k in kept}]
        kept.sort(key=lambda r: r.bandwidth)
        atrack = _track(p, "audio") if arend is not None else None
        arend = atrack.renditions[0] if atrack is not None else None
    missing = [r.id for r in kept if r.segments is None or not r.segments.segments]
    if missing:
        raise MediaError(f"{p.url}: renditions without segments: {missing}")
    sizes: dict[str, list[int]] = {}
    sizes_from = "byte ranges"
    if not all(s.byte_range is not None for r in kept for s in r.segments.segments):  # type: ignore[union-attr]
        sizes = await _catalog_sizes(pool, p.url, kept)
        sizes_from = "catalog"
        for r in kept:
            if r.id not in sizes:
                sizes_from = "nominal"
                sizes[r.id] = [
                    max(1, int(r.bandwidth * s.duration / 8))
                    for s in r.segments.segments  # type: ignore[union-attr]
                ]
    only = replace(p, periods=tuple(
        replace(per, tracks=tuple(
            replace(t, renditions=tuple(kept)) if t.id == vtrack.id and t.type == "video" else t
            for t in per.tracks
        ))
        for per in p.periods
    ))
    try:
        video = video_from_presentation(only, sizes)
    except PlayerError as exc:
        raise MediaError(f"{p.url}: {exc}") from exc
    a_urls: tuple[str, ...] = ()
    a_ranges: tuple[ByteRange | None, ...] = ()
    a_starts: tuple[float, ...] = ()
    a_init = None
    if arend is not None and arend.segments is not None and arend.segments.segments:
        segs = arend.segments.segments
        a_urls = tuple(s.url for s in segs)
        a_ranges = tuple(s.byte_range for s in segs)
        a_starts = tuple(s.start for s in segs)
        a_init = _init_of(arend)
    fps = next((r.frame_rate for r in kept if r.frame_rate), None)
    return Media(
        presentation=p,
        video=video,
        heights=tuple(r.height for r in kept),
        video_inits=tuple(_init_of(r) for r in kept),
        audio_urls=a_urls,
        audio_ranges=a_ranges,
        audio_starts=a_starts,
        audio_init=a_init,
        sizes_from=sizes_from,
        frame_rate=fps,
    )
