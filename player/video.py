"""The video a session plays: ladder, segment durations and per-segment sizes.

A :class:`Video` is what the engine needs to know about the content:
ascending bitrates, segment durations, and ``sizes[segment][rung]`` in bytes
(plus, when it came from a manifest, each segment's URL and byte range).

Loaders: Pensieve chunk-size files (:func:`load_pensieve_video`), Sabre movie
JSON (:func:`load_sabre_movie`) and a parsed manifest with known segment
sizes (:func:`video_from_presentation`). Inconsistent input raises
:class:`~player.errors.VideoError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import VideoError

if TYPE_CHECKING:
    from manifest.model import ByteRange, Presentation

__all__ = [
    "PENSIEVE_BITRATES_KBPS",
    "Video",
    "load_pensieve_video",
    "load_sabre_movie",
    "video_from_presentation",
]

PENSIEVE_BITRATES_KBPS = (300, 750, 1200, 1850, 2850, 4300)


@dataclass(frozen=True, slots=True)
class Video:
    """Ladder and segment table. ``sizes[segment][rung]`` bytes; ``bitrates_bps`` ascending.

    ``segment_durations_s`` defaults to ``segment_duration_s`` for every
    segment. ``urls``/``byte_ranges`` are ``[segment][rung]`` when known.
    ``lookahead_sizes``: sizes of segments past the played ones (what
    :meth:`truncated` cut off); never fetched, but policies see them as rows
    beyond ``segment_count`` of ``AbrContext.sizes`` (see :attr:`known_sizes`).
    """

    bitrates_bps: tuple[float, ...]
    segment_duration_s: float
    sizes: tuple[tuple[int, ...], ...]
    name: str = "video"
    segment_durations_s: tuple[float, ...] = ()
    urls: tuple[tuple[str, ...], ...] | None = None
    byte_ranges: tuple[tuple[ByteRange | None, ...], ...] | None = None
    lookahead_sizes: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        src = self.name
        rates = self.bitrates_bps
        if not rates:
            raise VideoError("empty bitrate ladder", src)
        for i, r in enumerate(rates):
            if not (math.isfinite(r) and r > 0):
                raise VideoError(f"bitrate of rung {i} must be positive, got {r!r}", src)
            if i and r <= rates[i - 1]:
                raise VideoError(
                    f"bitrates must be strictly ascending: rung {i} is {r!r} after {rates[i - 1]!r}",  # noqa: E501
                    src,
                )
        if not (math.isfinite(self.segment_duration_s) and self.segment_duration_s > 0):
            raise VideoError(
                f"segment duration must be positive, got {self.segment_duration_s!r}", src
            )
        if not self.sizes:
            raise VideoError("no segments", src)
        for k, row in enumerate(self.sizes):
            if len(row) != len(rates):
                raise VideoError(f"segment {k} has {len(row)} sizes for {len(rates)} rungs", src)
            for j, s in enumerate(row):
                if isinstance(s, bool) or not isinstance(s, int) or s <= 0:
                    raise VideoError(
                        f"size of segment {k} rung {j} must be a positive integer, got {s!r}", src
                    )
        if not self.segment_durations_s:
            object.__setattr__(
                self, "segment_durations_s", (float(self.segment_duration_s),) * len(self.sizes)
            )
        elif len(self.segment_durations_s) != len(self.sizes):
            raise VideoError(
                f"{len(self.segment_durations_s)} durations for {len(self.sizes)} segments", src
            )
        elif any(not (math.isfinite(d) and d > 0) for d in self.segment_durations_s):
            raise VideoError("segment durations must be positive", src)
        for what, table in (("urls", self.urls), ("byte_ranges", self.byte_ranges)):
            if table is not None and (
                len(table) != len(self.sizes) or any(len(r) != len(rates) for r in table)
            ):
                raise VideoError(f"{what} table is not [segment][rung] of the sizes' shape", src)
        if any(len(row) != len(rates) for row in self.lookahead_sizes):
            raise VideoError("lookahead_sizes rows must have one size per rung", src)

    @property
    def segment_count(self) -> int:
        return len(self.sizes)

    @property
    def known_sizes(self) -> tuple[tuple[int, ...], ...]:
        """``sizes`` followed by ``lookahead_sizes``: the table policies see."""
        return self.sizes + self.lookahead_sizes if self.lookahead_sizes else self.sizes

    @property
    def duration_s(self) -> float:
        return sum(self.segment_durations_s)

    def truncated(self, segments: int) -> Video:
        """The first ``segments`` segments of this video.

        The cut-off rows stay known as ``lookahead_sizes`` (policies may read
        ahead of the last played segment, as Pensieve's ``mpc.py`` does).
        """
        if segments < 1:
            raise VideoError(f"cannot keep {segments} segments", self.name)
        return replace(
            self,
            sizes=self.sizes[:segments],
            segment_durations_s=self.segment_durations_s[:segments],
            urls=None if self.urls is None else self.urls[:segments],
            byte_ranges=None if self.byte_ranges is None else self.byte_ranges[:segments],
            lookahead_sizes=self.sizes[segments:] + self.lookahead_sizes,
        )


def _int_size(text: str, src: str, line: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise VideoError(f"line {line}: size {text!r} is not an integer", src) from None
    if value <= 0:
        raise VideoError(f"line {line}: size must be positive, got {value}", src)
    return value


def load_pensieve_video(
    directory: str | Path,
    bitrates_kbps: Sequence[float] = PENSIEVE_BITRATES_KBPS,
    segment_duration_s: float = 4.0,
    segments: int | None = None,
) -> Video:
    """Load ``video_size_0`` .. ``video_size_{R-1}`` (one byte size per line; file i = rung i).

    ``segments`` keeps only the first chunks (the Pensieve preset uses 48 of 49).
    """
    d = Path(directory)
    if not d.is_dir():
        raise VideoError("not a directory", str(d))
    columns: list[list[int]] = []
    for rung in range(len(bitrates_kbps)):
        f = d / f"video_size_{rung}"
        try:
            text = f.read_text(encoding="utf-8")
        except OSError as exc:
            raise VideoError(
                f"cannot read size file for rung {rung}: {exc.strerror}", str(f)
            ) from None
        col = [_int_size(s, str(f), n) for n, s in enumerate(text.splitlines(), 1) if s.strip()]
        if not col:
            raise VideoError("no chunk sizes", str(f))
        columns.append(col)
    counts = {len(c) for c in columns}
    if len(counts) != 1:
        raise VideoError(
            f"size files have different chunk counts: {[len(c) for c in columns]}", str(d)
        )
    rows = tuple(zip(*columns, strict=True))
    if segments is not None:
        if not 1 <= segments <= len(rows):
            raise VideoError(
                f"asked for {segments} segments but the files have {len(rows)}", str(d)
            )
        rows = rows[:segments]
    return Video(
        tuple(float(k) * 1000.0 for k in bitrates_kbps),
        float(segment_duration_s),
        rows,
        name=str(d),
    )


def load_sabre_movie(path: str | Path) -> Video:
    """A Sabre movie JSON (``segment_duration_ms``, ``bitrates_kbps``, ``segment_sizes_bits``)."""
    p = Path(path)
    try:
        data: Any = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VideoError(f"cannot read: {exc.strerror}", str(p)) from None
    except json.JSONDecodeError as exc:
        raise VideoError(f"invalid JSON at line {exc.lineno}: {exc.msg}", str(p)) from None
    if not isinstance(data, dict):
        raise VideoError("expected a JSON object", str(p))
    for key in ("segment_duration_ms", "bitrates_kbps", "segment_sizes_bits"):
        if key not in data:
            raise VideoError(f"missing {key!r}", str(p))
    try:
        rows = tuple(
            tuple(math.ceil(float(b) / 8) for b in seg) for seg in data["segment_sizes_bits"]
        )
        rates = tuple(float(k) * 1000.0 for k in data["bitrates_kbps"])
        seg_s = float(data["segment_duration_ms"]) / 1000.0
    except (TypeError, ValueError) as exc:
        raise VideoError(f"non-numeric value: {exc}", str(p)) from None
    return Video(rates, seg_s, rows, name=p.name)


def video_from_presentation(
    presentation: Presentation,
    sizes: Mapping[str, Sequence[int]],
    track_type: str = "video",
) -> Video:
    """A video from a parsed manifest: the first track of ``track_type``.

    ``sizes`` maps rendition id -> byte size of each media segment (when the
    manifest has byte ranges, their lengths are used for renditions missing
    from ``sizes``). Renditions are ordered by bandwidth; all must have the
    same number of segments.
    """
    tracks = [t for t in presentation.tracks() if t.type == track_type]
    if not tracks:
        raise VideoError(f"no {track_type} track", presentation.url)
    renditions = sorted(
        (r for r in tracks[0].renditions if not r.iframe), key=lambda r: r.bandwidth
    )
    if not renditions:
        raise VideoError("the track has no renditions", presentation.url)
    per_rung: list[list[int]] = []
    urls: list[list[str]] = []
    ranges: list[list[ByteRange | None]] = []
    durations: list[float] | None = None
    for r in renditions:
        if r.segments is None or not r.segments.segments:
            raise VideoError(f"rendition {r.id!r} has no resolved segments", presentation.url)
        segs = r.segments.segments
        if r.id in sizes:
            col = [int(s) for s in sizes[r.id]]
        elif all(s.byte_range is not None for s in segs):
            col = [s.byte_range.length for s in segs if s.byte_range is not None]
        else:
            raise VideoError(f"no segment sizes for rendition {r.id!r}", presentation.url)
        if len(col) != len(segs):
            raise VideoError(
                f"rendition {r.id!r}: {len(col)} sizes for {len(segs)} segments", presentation.url
            )
        if durations is None:
            durations = [s.duration for s in segs]
        elif len(segs) != len(durations):
            raise VideoError(
                f"rendition {r.id!r} has {len(segs)} segments, expected {len(durations)}",
                presentation.url,
            )
        per_rung.append(col)
        urls.append([s.url for s in segs])
        ranges.append([s.byte_range for s in segs])
    assert durations is not None
    nominal = max(durations) if durations else 0.0
    return Video(
        tuple(float(r.bandwidth) for r in renditions),
        nominal,
        tuple(zip(*per_rung, strict=True)),
        name=presentation.url,
        segment_durations_s=tuple(float(d) for d in durations),
        urls=tuple(zip(*urls, strict=True)),
        byte_ranges=tuple(zip(*ranges, strict=True)),
    )
