"""``package()``: a source video in, a CMAF title with HLS + DASH manifests out.

Layout of ``<out>/<title>/`` (see docs/packaging.md)::

    catalog.json   master.m3u8   manifest.mpd
    video/<id>/{init.mp4, seg-00001.m4s, ..., playlist.m3u8, .done.json}
    audio/aac/{init.mp4, seg-00001.m4s, ..., playlist.m3u8, .done.json}

Idempotent and crash-safe: every rendition is encoded into a hidden temporary
directory, gets a done marker (its settings hash and segment facts) and is
renamed into place; a later run reuses a rendition whose marker matches the
settings hash and whose files have the recorded sizes, and deletes leftover
temporary directories. Manifests and ``catalog.json`` are written atomically,
the catalog last. A lock file serialises concurrent runs on one title.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import av

from ..errors import PackagerError
from . import encode as enc
from .catalog import (
    CATALOG_NAME,
    Catalog,
    RenditionEntry,
    atomic_write,
    read_done_marker,
    write_done_marker,
)
from .demo_source import DEMO_DURATION, DEMO_HEIGHT, DEMO_WIDTH, write_demo_source
from .encrypt import Encryption, EncryptOptions
from .ladder import DEFAULT_LADDER, Rung, ScaledRung, fit_ladder, validate_ladder
from .manifests import render_manifests
from .probe import SourceInfo, fingerprint, probe

__all__ = ["DEMO_TITLE", "PACKAGER_VERSION", "Progress", "ensure_demo_title", "package"]

PACKAGER_VERSION = "1"  # bump when the output of the same settings changes
DEMO_TITLE = "demo"
_TMP_PREFIX = ".tmp-"
_OLD_PREFIX = ".old-"
_TITLE_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

#: progress(stage, done, total): stage is "demo source" or "encode"; done/total in
#: seconds of media.
Progress = Callable[[str, float, float], None]


def _title_from(source: Path) -> str:
    t = re.sub(r"[^A-Za-z0-9._-]+", "-", source.stem).strip("-.")
    return t or "title"


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _demo_source_path(out: Path) -> Path:
    name = f"demo-v{PACKAGER_VERSION}-{int(DEMO_DURATION)}s-{DEMO_WIDTH}x{DEMO_HEIGHT}.mp4"
    return out / ".sources" / name


@contextlib.contextmanager
def _locked(title_dir: Path) -> Iterator[None]:
    title_dir.mkdir(parents=True, exist_ok=True)
    with open(title_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _clean_leftovers(title_dir: Path) -> None:
    """Remove temporary/old directories and files left by interrupted runs."""
    for kind in ("video", "audio"):
        d = title_dir / kind
        if not d.is_dir():
            continue
        for child in d.iterdir():
            if child.name.startswith((_TMP_PREFIX, _OLD_PREFIX)):
                shutil.rmtree(child, ignore_errors=True)
    for child in title_dir.rglob(".*.tmp"):  # from atomic_write
        if child.is_file():
            child.unlink(missing_ok=True)


def _install(tmp: Path, final: Path) -> None:
    """Move a finished rendition directory into place (replacing a stale one)."""
    if final.exists():
        old = final.with_name(f"{_OLD_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _entry(
    r: enc.EncodedRendition, path: str, settings_hash: str, fps: float | None
) -> RenditionEntry:
    sizes = tuple(s.size for s in r.segments)
    durs = tuple(s.duration for s in r.segments)
    total = sum(durs)
    peak = max((s.size * 8 / s.duration for s in r.segments if s.duration > 0), default=0.0)
    return RenditionEntry(
        id=r.id, kind=r.kind, path=path, bandwidth=int(round(peak)),
        average_bandwidth=int(round(sum(sizes) * 8 / total)) if total > 0 else 0,
        target_bitrate=r.target_bitrate, codecs=r.codecs, width=r.width, height=r.height,
        frame_rate=fps if r.kind == "video" else None,
        sample_rate=enc.AUDIO_RATE if r.kind == "audio" else None,
        channels=2 if r.kind == "audio" else None, timescale=r.timescale,
        init_size=r.init_size, segment_sizes=sizes,
        segment_starts=tuple(s.start for s in r.segments), segment_durations=durs,
        settings_hash=settings_hash,
    )


def package(
    source: Path | None,
    out: Path,
    *,
    segment_seconds: float = 4.0,
    ladder: tuple[Rung, ...] = DEFAULT_LADDER,
    title: str | None = None,
    progress: Progress | None = None,
    encrypt: EncryptOptions | None = None,
) -> Catalog:
    """Package ``source`` (``None``: the built-in demo clip) into ``out/<title>/``.

    ``segment_seconds`` is rounded to a whole number of frames; ``ladder`` rungs
    taller than the source are dropped. Renditions already packaged with the
    same settings are reused. Returns the title's :class:`Catalog` (also written
    to ``catalog.json``). Raises :class:`server.errors.PackagerError` on bad input.
    ``encrypt``: CENC or HLS AES-128 (see :mod:`server.packager.encrypt`).
    """
    if not isinstance(segment_seconds, int | float) or not segment_seconds > 0:
        raise PackagerError(f"segment seconds must be > 0, got {segment_seconds!r}",
                            where="--segment-seconds")
    if segment_seconds > 60:
        raise PackagerError(f"segment seconds must be <= 60, got {segment_seconds!r}",
                            where="--segment-seconds")
    ladder = validate_ladder(tuple(ladder))
    if title is not None and not _TITLE_OK.match(title):
        raise PackagerError(f"bad title {title!r} (letters, digits, '.', '_', '-')",
                            where="--title")
    out = Path(out)
    if source is None:
        title = title or DEMO_TITLE
        source_label = "demo"
    else:
        source = Path(source)
        title = title or _title_from(source)
        source_label = str(source)
    info = probe(source) if source is not None else None  # bad input fails before any output
    title_dir = out / title
    crypt = encrypt.resolve(title, out) if encrypt is not None else None
    try:
        with _locked(title_dir):
            if info is None:
                source = _demo_source_path(out)
                if not source.is_file():
                    cb = (lambda d, t: progress("demo source", d, t)) if progress else None
                    write_demo_source(source, progress=cb)
                info = probe(source)
            return _package_locked(info, title_dir, title, source_label, segment_seconds,
                                   ladder, progress, crypt)
    except OSError as exc:  # output directory not writable, disk full, ...
        raise PackagerError(f"cannot write the title: {exc}", where=str(title_dir)) from exc


def _package_locked(
    info: SourceInfo, title_dir: Path, title: str, source_label: str,
    segment_seconds: float, ladder: tuple[Rung, ...], progress: Progress | None,
    crypt: Encryption | None = None,
) -> Catalog:
    _clean_leftovers(title_dir)
    fps = info.frame_rate
    gop = max(1, round(segment_seconds * fps))
    fprint = fingerprint(info.path)
    rungs = fit_ladder(ladder, info.width, info.height, info.sar)
    common = {"v": PACKAGER_VERSION, "source": fprint, "gop": gop, "fps": str(fps),
              "libav": list(av.library_versions.get("libavcodec", ())),
              **({"encryption": crypt.fingerprint} if crypt else {})}

    def rung_hash(r: ScaledRung) -> str:
        return _hash({**common, "kind": "video", "id": r.id, "w": r.width, "h": r.height,
                      "b": r.bitrate, "preset": enc.X264_PRESET})

    audio_hash = _hash({**common, "kind": "audio", "b": enc.AUDIO_BITRATE, "rate": enc.AUDIO_RATE})
    entries: dict[str, RenditionEntry] = {}
    todo_video: list[tuple[ScaledRung, Path, str]] = []
    for r in rungs:
        h = rung_hash(r)
        done = read_done_marker(title_dir / "video" / r.id, h)
        if done is not None:
            entries[r.id] = done
        else:
            todo_video.append((r, _tmp_dir(title_dir / "video", r.id), h))
    audio_todo: tuple[Path, str] | None = None
    if info.has_audio:
        done = read_done_marker(title_dir / "audio" / "aac", audio_hash)
        if done is not None:
            entries["aac"] = done
        else:
            audio_todo = (_tmp_dir(title_dir / "audio", "aac"), audio_hash)

    if todo_video or audio_todo:
        cb = (lambda d, t: progress("encode", d, t)) if progress else None
        try:
            results = enc.encode_source(
                info, [(r, d) for r, d, _ in todo_video],
                audio_todo[0] if audio_todo else None, gop=gop, progress=cb,
            )
            hashes = {r.id: (d, h) for r, d, h in todo_video}
            if audio_todo:
                hashes["aac"] = audio_todo
            if crypt is not None:
                results = [crypt.apply(r, hashes[r.id][0], gop / float(fps)) for r in results]
            for res in results:
                tmp, h = hashes[res.id]
                kind_dir = "video" if res.kind == "video" else "audio"
                e = _entry(res, f"{kind_dir}/{res.id}", h, float(fps))
                write_done_marker(tmp, e)
                entries[res.id] = e
            # the title is incomplete from the first install until the new catalog
            (title_dir / CATALOG_NAME).unlink(missing_ok=True)
            for res in results:
                tmp, _ = hashes[res.id]
                _install(tmp, title_dir / ("video" if res.kind == "video" else "audio") / res.id)
        finally:
            for _, d, _ in todo_video:
                shutil.rmtree(d, ignore_errors=True)
            if audio_todo:
                shutil.rmtree(audio_todo[0], ignore_errors=True)

    video_entries = tuple(entries[r.id] for r in rungs)
    audio_entry = entries.get("aac")
    # drop renditions of an earlier run that are not part of this ladder
    wanted = {e.path for e in video_entries} | ({audio_entry.path} if audio_entry else set())
    for kind in ("video", "audio"):
        d = title_dir / kind
        if d.is_dir():
            for child in d.iterdir():
                if child.is_dir() and f"{kind}/{child.name}" not in wanted:
                    (title_dir / CATALOG_NAME).unlink(missing_ok=True)
                    shutil.rmtree(child, ignore_errors=True)
    duration = sum(video_entries[0].segment_durations)
    settings_hash = _hash({"renditions": [e.settings_hash for e in video_entries]
                           + ([audio_entry.settings_hash] if audio_entry else []),
                           "segment_seconds": segment_seconds})
    catalog = Catalog(
        title=title, directory=title_dir, duration=round(duration, 6),
        segment_seconds=float(segment_seconds), segment_duration=gop / float(fps),
        frame_rate=float(fps), ladder=video_entries, audio=audio_entry,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), source=source_label,
        source_fingerprint=fprint, settings_hash=settings_hash,
    )
    old = _existing_catalog(title_dir)
    if old is not None and old.get("settings_hash") == settings_hash:
        catalog = _with_created(catalog, old.get("created", catalog.created))
    if crypt is not None and crypt.scheme == "aes-128":
        (title_dir / catalog.dash).unlink(missing_ok=True)  # AES-128 is HLS only
    render = crypt.render_manifests if crypt is not None else render_manifests
    for name, text in render(catalog).items():
        atomic_write(title_dir / name, text)
    atomic_write(title_dir / CATALOG_NAME, json.dumps(catalog.to_json(), indent=1) + "\n")
    return catalog


def _tmp_dir(parent: Path, rid: str) -> Path:
    d = parent / f"{_TMP_PREFIX}{rid}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True)
    return d


def _existing_catalog(title_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((title_dir / CATALOG_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _with_created(c: Catalog, created: object) -> Catalog:
    from dataclasses import replace

    return replace(c, created=str(created))


def ensure_demo_title(cache_dir: Path, *, progress: Progress | None = None) -> Path:
    """The directory of the built-in demo title under ``cache_dir``, packaged on
    first use (about 60 s of 720p30 with a tone; default ladder, 4 s segments)
    and reused afterwards. Returns ``cache_dir/demo``."""
    cache_dir = Path(cache_dir)
    title_dir = cache_dir / DEMO_TITLE
    if (title_dir / CATALOG_NAME).is_file() and _demo_catalog_current(title_dir):
        return title_dir
    package(None, cache_dir, title=DEMO_TITLE, progress=progress)
    return title_dir


def _demo_catalog_current(title_dir: Path) -> bool:
    """A cheap check (no encode, no hashing) that the demo catalog is complete."""
    data = _existing_catalog(title_dir)
    if data is None or data.get("source") != "demo":
        return False
    try:
        entries = list(data["ladder"]) + ([data["audio"]] if data.get("audio") else [])  # type: ignore[call-overload]
        for e in entries:
            if read_done_marker(title_dir / e["path"], e["settings_hash"]) is None:
                return False
        return all((title_dir / str(data[k])).is_file() for k in ("hls", "dash"))
    except (KeyError, TypeError):
        return False
