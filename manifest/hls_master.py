"""HLS master (multivariant) playlists into a Presentation; see :mod:`manifest.hls`."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .errors import ManifestValueError
from .hls_lines import Scan
from .hls_util import Resolver, protection
from .model import ContentSteering, Period, Presentation, Rendition, Track, TrackType

_AUDIO = (
    "mp4a",
    "ac-3",
    "ec-3",
    "ac-4",
    "opus",
    "flac",
    "mp3",
    ".mp3",
    "alac",
    "dts",
    "mha1",
    "mhm1",
    "vorbis",
    "ipcm",
    "fpcm",
)
_VIDEO = (
    "avc1",
    "avc3",
    "hvc1",
    "hev1",
    "dvh1",
    "dvhe",
    "dva1",
    "dvav",
    "av01",
    "vp09",
    "vp08",
    "vp8",
    "vp9",
    "mp4v",
    "vvc1",
    "vvi1",
    "avs3",
    "theora",
)
_TEXT = ("wvtt", "stpp", "tx3g", "c608", "c708")
_RESOLUTION = re.compile(r"\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*")
_MEDIA_TYPES: dict[str, TrackType] = {
    "AUDIO": "audio",
    "VIDEO": "video",
    "SUBTITLES": "text",
    "CLOSED-CAPTIONS": "text",
}


def _unquote(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        s = s[1:-1]
    return s


def _codec_kinds(codecs: str | None) -> set[str]:
    kinds: set[str] = set()
    if not codecs:
        return kinds
    for c in codecs.split(","):
        c = c.strip().lower()
        if not c:
            continue
        if c.startswith(_AUDIO):
            kinds.add("audio")
        elif c.startswith(_VIDEO):
            kinds.add("video")
        elif c.startswith(_TEXT):
            kinds.add("text")
        else:
            kinds.add("unknown")
    return kinds


def _codecs_of_kind(codecs: str | None, kind: str) -> list[str]:
    return [c.strip() for c in (codecs or "").split(",") if c.strip() and _codec_kinds(c) == {kind}]


def _resolution(v: Any) -> tuple[int | None, int | None]:
    m = _RESOLUTION.fullmatch(_unquote(v) or "")
    if not m:
        return None, None
    return int(m.group(1)), int(m.group(2))


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip().strip('"'))
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        f = float(str(v).strip().strip('"'))
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _yes(v: Any) -> bool:
    return (_unquote(v) or "").upper() == "YES"


def _none_group(v: Any) -> str | None:
    s = _unquote(v)
    return None if s is None or (s == "NONE" and str(v).strip() == "NONE") else s


def _variant(i: int, pl: dict[str, Any], resolve: Resolver, lines: Scan, url: str) -> Rendition:
    info = pl.get("stream_info") or {}
    width, height = _resolution(info.get("resolution"))
    bw = _int(info.get("bandwidth"))
    if bw is None:  # scan() checked BANDWIDTH; m3u8 may split a garbled attribute list otherwise
        uri_line = lines.variant_lines[i] if i < len(lines.variant_lines) else None
        raise ManifestValueError(
            f"EXT-X-STREAM-INF BANDWIDTH {str(info.get('bandwidth'))[:30]!r} is not a decimal "
            "integer",
            where=f"the EXT-X-STREAM-INF before line {uri_line}" if uri_line else f"variant {i}",
            url=url or None,
        )
    return Rendition(
        id=f"v{i}",
        bandwidth=bw,
        average_bandwidth=_int(info.get("average_bandwidth")),
        width=width,
        height=height,
        codecs=_unquote(info.get("codecs")),
        frame_rate=_float(info.get("frame_rate")),
        uri=resolve(pl["uri"]),
        audio_group=_unquote(info.get("audio")),
        subtitle_group=_none_group(info.get("subtitles")),
        pathway_id=_unquote(info.get("pathway_id")),
        video_group=_unquote(info.get("video")),
        closed_captions_group=_none_group(info.get("closed_captions")),
    )


def _is_audio_only(r: Rendition) -> bool:
    kinds = _codec_kinds(r.codecs)
    return bool(kinds) and kinds <= {"audio", "text"} and "audio" in kinds and r.width is None


def _media_track(m: dict[str, Any], variants: list[Rendition], resolve: Resolver) -> Track:
    mtype = (_unquote(m.get("type")) or "").upper()
    ttype: TrackType = _MEDIA_TYPES.get(mtype, "unknown")
    group = _unquote(m.get("group_id")) or ""
    name = _unquote(m.get("name")) or ""
    roles: list[str] = []
    if mtype == "SUBTITLES":
        roles.append("forced-subtitle" if _yes(m.get("forced")) else "subtitle")
    elif mtype == "CLOSED-CAPTIONS":
        roles.append("caption")
    chars = _unquote(m.get("characteristics"))
    if chars:
        roles.extend(c.strip() for c in chars.split(",") if c.strip())
    codecs = None
    if ttype in ("audio", "video"):
        attr = "audio_group" if ttype == "audio" else "video_group"
        found: list[str] = []
        for v in variants:
            if getattr(v, attr) == group:
                found.extend(_codecs_of_kind(v.codecs, ttype))
        codecs = ",".join(dict.fromkeys(found)) or None
    uri = _unquote(m.get("uri"))
    rid = f"{mtype.lower()}/{group}/{name}"
    rendition = Rendition(
        id=rid,
        bandwidth=0,
        codecs=codecs,
        uri=resolve(uri) if uri else None,
        channels=_unquote(m.get("channels")),
        instream_id=_unquote(m.get("instream_id")),
    )
    return Track(
        id=rid,
        type=ttype,
        renditions=(rendition,),
        language=_unquote(m.get("language")),
        name=name or None,
        group_id=group,
        default=_yes(m.get("default")),
        autoselect=_yes(m.get("autoselect")),
        roles=tuple(roles),
    )


def _unique(tracks: list[Track]) -> list[Track]:
    """Make rendition (and track) ids unique: a repeated id gets ``#2``, ``#3``..."""
    seen: dict[str, int] = {}
    out = []
    for t in tracks:
        rs = []
        for r in t.renditions:
            n = seen.get(r.id, 0) + 1
            seen[r.id] = n
            rs.append(r if n == 1 else replace(r, id=f"{r.id}#{n}"))
        tid = t.id if len(rs) != 1 or rs[0].id == t.renditions[0].id else rs[0].id
        out.append(replace(t, id=tid, renditions=tuple(rs)))
    return out


def build_master(data: dict[str, Any], url: str, lines: Scan) -> Presentation:
    resolve = Resolver(url)
    variants = [
        _variant(i, pl, resolve, lines, url) for i, pl in enumerate(data.get("playlists") or ())
    ]
    audio_only = [r for r in variants if _is_audio_only(r)]
    others = [r for r in variants if not _is_audio_only(r)]
    tracks: list[Track] = []
    if others:
        tracks.append(Track(id="variants", type="video", renditions=tuple(others)))
        if audio_only:
            tracks.append(Track(id="audio-variants", type="audio", renditions=tuple(audio_only)))
    elif audio_only:
        tracks.append(Track(id="variants", type="audio", renditions=tuple(audio_only)))

    iframes = []
    for j, pl in enumerate(data.get("iframe_playlists") or ()):
        info = pl.get("iframe_stream_info") or {}
        width, height = _resolution(info.get("resolution"))
        iframes.append(
            Rendition(
                id=f"i{j}",
                bandwidth=_int(info.get("bandwidth")) or 0,
                average_bandwidth=_int(info.get("average_bandwidth")),
                width=width,
                height=height,
                codecs=_unquote(info.get("codecs")),
                uri=resolve(pl["uri"]) if pl.get("uri") else None,
                pathway_id=_unquote(info.get("pathway_id")),
                video_group=_unquote(info.get("video")),
                iframe=True,
            )
        )
    if iframes:
        tracks.append(Track(id="iframes", type="video", renditions=tuple(iframes)))

    images = []
    for j, pl in enumerate(data.get("image_playlists") or ()):
        info = pl.get("image_stream_info") or {}
        width, height = _resolution(info.get("resolution"))
        images.append(
            Rendition(
                id=f"img{j}",
                bandwidth=_int(info.get("bandwidth")) or 0,
                width=width,
                height=height,
                codecs=_unquote(info.get("codecs")),
                uri=resolve(pl["uri"]) if pl.get("uri") else None,
            )
        )
    if images:
        tracks.append(Track(id="images", type="image", renditions=tuple(images)))

    tracks.extend(_media_track(m, variants, resolve) for m in data.get("media") or ())

    steering = None
    cs = data.get("content_steering")
    if cs is not None:
        server = _unquote(cs.get("server_uri"))
        if not server:
            line = next(
                (n for n, raw in enumerate(lines.lines, 1) if "#EXT-X-CONTENT-STEERING" in raw), 1
            )
            raise ManifestValueError(
                "EXT-X-CONTENT-STEERING without the required SERVER-URI",
                where=f"line {line}",
                url=url or None,
            )
        steering = ContentSteering(
            server_uri=resolve(server), default_pathway=_unquote(cs.get("pathway_id"))
        )

    prot = []
    for key in data.get("session_keys") or ():
        method = _unquote(key.get("method")) or "NONE"
        if method == "NONE":
            continue
        uri = _unquote(key.get("uri"))
        prot.append(
            protection(method, _unquote(key.get("keyformat")), resolve(uri) if uri else None)
        )

    extra = {}
    if data.get("version") is not None:
        extra["version"] = str(data["version"])
    if data.get("is_independent_segments"):
        extra["independent_segments"] = "YES"
    return Presentation(
        format="hls",
        kind="hls-master",
        url=url,
        dynamic=False,
        duration=None,
        periods=(Period(id=None, start=0.0, duration=None, tracks=tuple(_unique(tracks))),),
        steering=steering,
        protection=tuple(dict.fromkeys(prot)),
        extra=tuple(sorted(extra.items())),
    )
