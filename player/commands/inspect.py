"""``abrkit inspect PATH_OR_URL``: what a manifest offers, as a table or as JSON.

Reads a local file or fetches an http(s) URL (the only I/O here), parses it
with :func:`manifest.parse.parse` (HLS or DASH) and, for an HLS master
playlist, also fetches and parses the media playlists of its renditions
(unless ``--no-resolve``) so segment counts and durations are known.  The
``--json`` output follows ``docs/inspect-json.md`` (``schema_version`` 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

HELP = "Show the tracks, renditions, segments, protection and steering of an HLS/DASH manifest."

SCHEMA_VERSION = 1
TIMEOUT_S = 15.0
MAX_BYTES = 64 * 1024 * 1024
MAX_ERRORS_SHOWN = 5


class InputError(Exception):
    """The manifest (or one of its playlists) cannot be read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="PATH_OR_URL", help="a manifest file or an http(s) URL")
    parser.add_argument("--json", action="store_true", help="print JSON (docs/inspect-json.md)")
    parser.add_argument(
        "--no-resolve",
        action="store_true",
        help="do not fetch the media playlists of an HLS master playlist",
    )


# ----------------------------------------------------------------------- I/O
def _is_url(s: str) -> bool:
    return s.lower().startswith(("http://", "https://"))


@dataclass
class Reader:
    """Reads local files and http(s) URLs; one httpx client, opened lazily."""

    client: Any = None
    warnings: list[str] = field(default_factory=list)

    def read(self, source: str) -> tuple[bytes, str]:
        """``(content, base URL)``; the base is the final URL after redirects or the path."""
        if _is_url(source):
            return self._fetch(source)
        path = source[len("file://") :] if source.startswith("file://") else source
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > MAX_BYTES:
            raise InputError(f"{path} is larger than {MAX_BYTES} bytes")
        return data, os.path.abspath(path)

    def _fetch(self, url: str) -> tuple[bytes, str]:
        import httpx

        if self.client is None:
            self.client = httpx.Client(follow_redirects=True, timeout=TIMEOUT_S)
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise InputError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise InputError(f"cannot fetch {url}: HTTP {response.status_code}")
        return response.content, str(response.url)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def resolve_media_playlists(p: Any, reader: Reader) -> tuple[Any, dict[str, str]]:
    """Attach the media playlists of an HLS master's renditions; ``{rendition id: error}``."""
    from manifest.errors import ManifestError
    from manifest.hls import parse_media_playlist

    errors: dict[str, str] = {}
    cache: dict[str, Any] = {}
    for r in p.renditions():
        if r.segments is not None or not r.uri:
            continue
        try:
            if r.uri not in cache:
                data, base = reader.read(r.uri)
                cache[r.uri] = parse_media_playlist(data, base)
            p = p.with_segments(r.id, cache[r.uri])
        except (InputError, ManifestError) as exc:
            errors[r.id] = str(exc)
    # a master playlist's duration and liveness are those of its media playlists
    indexes = [r.segments for r in p.renditions() if r.segments is not None and not r.iframe]
    if indexes:
        from dataclasses import replace

        dynamic = any(not i.ended and i.playlist_type != "VOD" for i in indexes)
        duration = None if dynamic else max(i.duration for i in indexes)
        p = replace(p, dynamic=dynamic, duration=duration)
    return p, errors


# ---------------------------------------------------------------------- JSON
def _segments_json(idx: Any) -> dict[str, Any] | None:
    if idx is None:
        return None
    methods = sorted({s.key.method for s in idx.segments if s.key is not None})
    return {
        "addressing": idx.addressing,
        "count": len(idx.segments),
        "duration": round(idx.duration, 6),
        "init_url": idx.init.url if idx.init is not None else None,
        "byte_ranges": any(s.byte_range is not None for s in idx.segments),
        "target_duration": idx.target_duration,
        "media_sequence": idx.media_sequence,
        "ended": idx.ended,
        "playlist_type": idx.playlist_type,
        "i_frames_only": idx.i_frames_only,
        "key_methods": methods,
        "discontinuities": idx.discontinuity_count,
        "gaps": idx.gap_count,
        "parts": idx.part_count,
    }


def _protection_json(c: Any) -> dict[str, Any]:
    return {
        "system": c.system,
        "scheme_id_uri": c.scheme_id_uri,
        "value": c.value,
        "default_kid": c.default_kid,
        "licence_url": c.licence_url,
    }


def to_json(p: Any, source: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``--json`` document (schema_version 1, see docs/inspect-json.md)."""
    errors = errors or {}
    periods = []
    for period in p.periods:
        tracks = []
        for t in period.tracks:
            renditions = []
            for r in t.renditions:
                renditions.append(
                    {
                        "id": r.id,
                        "bandwidth": r.bandwidth,
                        "average_bandwidth": r.average_bandwidth,
                        "width": r.width,
                        "height": r.height,
                        "codecs": r.codecs,
                        "frame_rate": r.frame_rate,
                        "mime_type": r.mime_type,
                        "uri": r.uri,
                        "iframe": r.iframe,
                        "audio_group": r.audio_group,
                        "subtitle_group": r.subtitle_group,
                        "pathway_id": r.pathway_id,
                        "segments": _segments_json(r.segments),
                        "error": errors.get(r.id),
                    }
                )
            tracks.append(
                {
                    "id": t.id,
                    "type": t.type,
                    "language": t.language,
                    "name": t.name,
                    "group_id": t.group_id,
                    "default": t.default,
                    "autoselect": t.autoselect,
                    "roles": list(t.roles),
                    "protection": [_protection_json(c) for c in t.protection],
                    "renditions": renditions,
                }
            )
        periods.append(
            {"id": period.id, "start": period.start, "duration": period.duration, "tracks": tracks}
        )
    steering = None
    if p.steering is not None:
        steering = {
            "server_uri": p.steering.server_uri,
            "default_pathway": p.steering.default_pathway,
            "query_before_start": p.steering.query_before_start,
            "proxy_server_url": p.steering.proxy_server_url,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "url": p.url,
        "format": p.format,
        "kind": p.kind,
        "dynamic": p.dynamic,
        "duration": p.duration,
        "periods": periods,
        "protection": [_protection_json(c) for c in p.protection],
        "steering": steering,
        "base_urls": [b.url for b in p.base_urls],
        "errors": [f"{rid}: {msg}" for rid, msg in errors.items()],
    }


# --------------------------------------------------------------------- table
def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(round(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    clock = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    return f"{seconds:.3f} s ({clock})"


def _fmt_bw(bps: int | None) -> str:
    if not bps:
        return "-"
    if bps >= 1_000_000:
        return f"{bps / 1_000_000:.2f} Mb/s"
    return f"{bps / 1000:.0f} kb/s"


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=False)
    console.print(f"[bold]{doc['source']}[/bold]")
    kind = "live" if doc["dynamic"] else "on demand"
    duration = _fmt_duration(doc["duration"])
    console.print(f"format: {doc['format']} ({doc['kind']}), {kind}, duration {duration}")
    for period in doc["periods"]:
        if len(doc["periods"]) > 1:
            console.print(
                f"[bold]period {period['id'] or '-'}[/bold] start {period['start']:.3f} s,"
                f" duration {_fmt_duration(period['duration'])}"
            )
        for t in period["tracks"]:
            title = " ".join(
                x
                for x in (
                    f"[bold]{t['type']}[/bold] track {t['id']}",
                    f"lang={t['language']}" if t["language"] else "",
                    f"name={t['name']!r}" if t["name"] else "",
                    f"group={t['group_id']}" if t["group_id"] else "",
                    "default" if t["default"] else "",
                    f"roles={','.join(t['roles'])}" if t["roles"] else "",
                )
                if x
            )
            table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
            for col in (
                "id",
                "bandwidth",
                "res",
                "codecs",
                "fps",
                "segs",
                "duration",
                "addressing",
            ):
                table.add_column(
                    col,
                    justify="right" if col in ("bandwidth", "segs", "fps", "duration") else "left",
                    overflow="fold",
                )
            for r in t["renditions"]:
                seg = r["segments"]
                res = f"{r['width']}x{r['height']}" if r["width"] and r["height"] else "-"
                fps = f"{r['frame_rate']:.3g}" if r["frame_rate"] else "-"
                rid = r["id"] + (" (I-frame)" if r["iframe"] else "")
                if seg is None:
                    addr = "error" if r["error"] else "in-band" if not r["uri"] else "unresolved"
                    count, dur = "-", "-"
                else:
                    count, dur, addr = (
                        str(seg["count"]),
                        f"{seg['duration']:.3f} s",
                        seg["addressing"],
                    )
                table.add_row(
                    rid, _fmt_bw(r["bandwidth"]), res, r["codecs"] or "-", fps, count, dur, addr
                )
            console.print(table)
    if doc["protection"]:
        for c in doc["protection"]:
            extra = f" kid={c['default_kid']}" if c["default_kid"] else ""
            console.print(
                f"protection: {c['system']} ({c['scheme_id_uri']}, {c['value'] or '-'}){extra}"
            )
    else:
        console.print("protection: none")
    s = doc["steering"]
    if s:
        console.print(
            f"steering: {s['server_uri']} (default pathway {s['default_pathway'] or '-'})"
        )
    shown = doc["errors"][:MAX_ERRORS_SHOWN]
    for err in shown:
        console.print(f"[yellow]unresolved[/yellow] {err}", markup=True)
    if len(doc["errors"]) > len(shown):
        console.print(f"[yellow]... and {len(doc['errors']) - len(shown)} more unresolved[/yellow]")


# ----------------------------------------------------------------------- run
def _fail(message: str) -> int:
    first = " ".join(message.split())
    print(f"abrkit inspect: error: {first}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from manifest.errors import ManifestError
    from manifest.parse import parse

    reader = Reader()
    try:
        data, base = reader.read(args.source)
        p = parse(data, base)
        errors: dict[str, str] = {}
        if p.kind == "hls-master" and not args.no_resolve:
            p, errors = resolve_media_playlists(p, reader)
    except (InputError, ManifestError) as exc:
        return _fail(str(exc))
    finally:
        reader.close()
    doc = to_json(p, args.source, errors)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(doc)
    return 0
