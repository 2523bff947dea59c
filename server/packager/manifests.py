"""HLS and DASH manifests of a packaged title, written through ``manifest``'s writers.

The presentation is built against a base URL (``http://localhost/<title>/`` by
default) so the writers emit URLs relative to the title directory; the files
can be served from anywhere.

HLS and DASH differ in what a video rendition's numbers mean, so two
presentations are built:

- DASH: each Representation describes its own stream: ``@bandwidth`` = the
  rendition's peak segment bitrate, ``@codecs`` its own codec.
- HLS: a variant (EXT-X-STREAM-INF) describes everything a player fetches for
  it: BANDWIDTH = video peak + audio peak, AVERAGE-BANDWIDTH = the sum of the
  averages, CODECS lists the video and the audio codec.
"""

from __future__ import annotations

from dataclasses import replace

from manifest import (
    InitSegment,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from manifest.dash_writer import write_mpd
from manifest.hls_writer import write_hls

from .catalog import Catalog, RenditionEntry

__all__ = ["build_presentation", "default_base_url", "render_manifests"]

AUDIO_GROUP = "audio"


def default_base_url(title: str) -> str:
    return f"http://localhost/{title}/"


def _index(e: RenditionEntry, base: str) -> SegmentIndex:
    segs = tuple(
        Segment(url=base + e.segment_file(i), start=s, duration=d, number=i)
        for i, (s, d) in enumerate(zip(e.segment_starts, e.segment_durations, strict=True), start=1)
    )
    return SegmentIndex(
        addressing="template-number",
        segments=segs,
        init=InitSegment(url=base + e.init_file),
        timescale=e.timescale,
        ended=True,
        playlist_type="VOD",
    )


def _rendition(e: RenditionEntry, base: str) -> Rendition:
    return Rendition(
        id=e.id,
        bandwidth=e.bandwidth,
        average_bandwidth=e.average_bandwidth,
        width=e.width,
        height=e.height,
        codecs=e.codecs,
        frame_rate=e.frame_rate,
        mime_type="video/mp4" if e.kind == "video" else "audio/mp4",
        uri=base + f"{e.path}/playlist.m3u8",
        segments=_index(e, base),
        audio_group=AUDIO_GROUP if e.kind == "video" else None,
        sample_rate=e.sample_rate,
        channels=str(e.channels) if e.channels else None,
    )


def build_presentation(
    c: Catalog, base_url: str | None = None, *, hls: bool = False
) -> Presentation:
    """The title as a :class:`manifest.Presentation` (``hls=True``: variant numbers
    include the audio, see the module docstring)."""
    base = base_url or default_base_url(c.title)
    if not base.endswith("/"):
        base += "/"
    video = [_rendition(e, base) for e in c.ladder]
    if hls and c.audio is not None:
        a = c.audio
        video = [
            replace(
                r,
                bandwidth=r.bandwidth + a.bandwidth,
                average_bandwidth=(r.average_bandwidth or 0) + a.average_bandwidth,
                codecs=f"{r.codecs},{a.codecs}",
            )
            for r in video
        ]
    tracks = [Track(id="video", type="video", renditions=tuple(video), mime_type="video/mp4")]
    if c.audio is not None:
        tracks.append(
            Track(
                id="audio", type="audio", renditions=(_rendition(c.audio, base),),
                language="und", name="main", group_id=AUDIO_GROUP, default=True,
                autoselect=True, mime_type="audio/mp4",
            )
        )
    return Presentation(
        format="hls" if hls else "dash",
        kind="hls-master" if hls else "dash",
        url=base + (c.hls if hls else c.dash),
        dynamic=False,
        duration=c.duration,
        periods=(Period(id="0", start=0.0, duration=c.duration, tracks=tuple(tracks)),),
        min_buffer_time=c.segment_duration,
    )


def render_manifests(c: Catalog, base_url: str | None = None) -> dict[str, str]:
    """``{path relative to the title directory: text}`` for the HLS master, the
    media playlists and the MPD."""
    files = dict(write_hls(build_presentation(c, base_url, hls=True)))
    if c.hls != "master.m3u8" and "master.m3u8" in files:
        files[c.hls] = files.pop("master.m3u8")
    files[c.dash] = write_mpd(build_presentation(c, base_url))
    return files
