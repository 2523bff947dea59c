"""The catalog entry of a packaged title (``catalog.json`` in the title directory)
and the per-rendition done markers.

A title's ``catalog.json`` is written last, atomically: a title directory with
a catalog is complete. Each rendition directory carries ``.done.json`` (its
settings hash and what was encoded) written before the directory is renamed
into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PackagerError

__all__ = ["CATALOG_NAME", "CATALOG_FORMAT", "Catalog", "RenditionEntry", "atomic_write",
           "load_catalog"]

CATALOG_NAME = "catalog.json"
CATALOG_FORMAT = "abrkit-catalog/1"
DONE_MARKER = ".done.json"


@dataclass(frozen=True, slots=True)
class RenditionEntry:
    """One packaged rendition. Bandwidths in bits per second: ``bandwidth`` is the
    peak over segments of size x 8 / duration (moof overhead included),
    ``average_bandwidth`` total bytes x 8 / total duration."""

    id: str
    kind: str  # "video" | "audio"
    path: str  # directory relative to the title directory, "video/360p"
    bandwidth: int
    average_bandwidth: int
    target_bitrate: int
    codecs: str
    width: int | None
    height: int | None
    frame_rate: float | None
    sample_rate: int | None
    channels: int | None
    timescale: int
    init_size: int
    segment_sizes: tuple[int, ...]
    segment_starts: tuple[float, ...]
    segment_durations: tuple[float, ...]
    settings_hash: str

    @property
    def segment_count(self) -> int:
        return len(self.segment_sizes)

    def segment_file(self, number: int) -> str:
        """Path of segment ``number`` (1-based) relative to the title directory."""
        return f"{self.path}/seg-{number:05d}.m4s"

    @property
    def init_file(self) -> str:
        return f"{self.path}/init.mp4"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("segment_sizes", "segment_starts", "segment_durations"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RenditionEntry:
        d = dict(d)
        for k in ("segment_sizes", "segment_starts", "segment_durations"):
            d[k] = tuple(d[k])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What ``package`` produced for one title; serialised as ``catalog.json``.

    ``segment_seconds`` is what was asked for; ``segment_duration`` what a full
    segment really lasts (a whole number of frames: round(asked x fps) / fps).
    """

    title: str
    directory: Path  # the title directory (not serialised)
    duration: float  # seconds (video)
    segment_seconds: float
    segment_duration: float
    frame_rate: float
    ladder: tuple[RenditionEntry, ...]  # video, lowest first
    audio: RenditionEntry | None
    created: str  # ISO 8601 UTC
    source: str  # source file path as given (or "demo")
    source_fingerprint: str  # "sha256:..."
    settings_hash: str
    hls: str = "master.m3u8"
    dash: str = "manifest.mpd"
    format: str = field(default=CATALOG_FORMAT)

    @property
    def renditions(self) -> tuple[RenditionEntry, ...]:
        return self.ladder + ((self.audio,) if self.audio is not None else ())

    @property
    def master_path(self) -> Path:
        return self.directory / self.hls

    @property
    def mpd_path(self) -> Path:
        return self.directory / self.dash

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "title": self.title,
            "duration": self.duration,
            "segment_seconds": self.segment_seconds,
            "segment_duration": self.segment_duration,
            "frame_rate": self.frame_rate,
            "ladder": [r.to_json() for r in self.ladder],
            "audio": self.audio.to_json() if self.audio is not None else None,
            "created": self.created,
            "source": self.source,
            "source_fingerprint": self.source_fingerprint,
            "settings_hash": self.settings_hash,
            "hls": self.hls,
            "dash": self.dash,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], directory: Path) -> Catalog:
        try:
            if d.get("format") != CATALOG_FORMAT:
                raise PackagerError(f"unknown catalog format {d.get('format')!r}")
            return cls(
                title=d["title"], directory=directory, duration=float(d["duration"]),
                segment_seconds=float(d["segment_seconds"]),
                segment_duration=float(d["segment_duration"]),
                frame_rate=float(d["frame_rate"]),
                ladder=tuple(RenditionEntry.from_json(r) for r in d["ladder"]),
                audio=RenditionEntry.from_json(d["audio"]) if d.get("audio") else None,
                created=d["created"], source=d["source"],
                source_fingerprint=d["source_fingerprint"], settings_hash=d["settings_hash"],
                hls=d.get("hls", "master.m3u8"), dash=d.get("dash", "manifest.mpd"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            where = str(directory / CATALOG_NAME)
            raise PackagerError(f"bad catalog: {exc!r}", where=where) from exc


def load_catalog(title_dir: Path) -> Catalog:
    """Read ``title_dir/catalog.json``; raises PackagerError if missing or bad."""
    path = Path(title_dir) / CATALOG_NAME
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise PackagerError("no catalog (title not packaged)", where=str(path)) from exc
    except (OSError, ValueError) as exc:
        raise PackagerError(f"unreadable catalog: {exc}", where=str(path)) from exc
    return Catalog.from_json(data, Path(title_dir))


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``path`` via a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_done_marker(directory: Path, entry: RenditionEntry) -> None:
    atomic_write(directory / DONE_MARKER, json.dumps(entry.to_json(), indent=1))


def read_done_marker(directory: Path, settings_hash: str) -> RenditionEntry | None:
    """The entry recorded in ``directory``'s done marker if it matches
    ``settings_hash`` and every file it lists exists with the recorded size."""
    try:
        entry = RenditionEntry.from_json(json.loads((directory / DONE_MARKER).read_text("utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if entry.settings_hash != settings_hash:
        return None
    try:
        if (directory / "init.mp4").stat().st_size != entry.init_size:
            return None
        for i, size in enumerate(entry.segment_sizes, start=1):
            if (directory / f"seg-{i:05d}.m4s").stat().st_size != size:
                return None
    except OSError:
        return None
    return entry
