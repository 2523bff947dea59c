"""Write a Presentation as HLS: a master playlist plus one media playlist per rendition.

``write_hls(p)`` returns ``{relative file name: text}`` for a VOD ladder; the
packager writes those files next to each other.  ``write_media_playlist``
writes one :class:`~manifest.model.SegmentIndex`.  URLs that lie under the
playlist's own directory are written relative to it, URLs elsewhere under the
master's directory (``p.url``) with ``../`` steps, others absolute, so the
output parses back (with :func:`manifest.hls.parse_hls`) to the same URLs.

What goes where:

- video (and unknown) renditions with a media playlist are EXT-X-STREAM-INF
  variants; I-frame renditions are EXT-X-I-FRAME-STREAM-INF;
- audio, text and video tracks with a ``group_id`` (and every audio/text
  track) become EXT-X-MEDIA entries; variants reference the audio group
  they name (``Rendition.audio_group``) or else the first audio group, and
  likewise for subtitles;
- a rendition's media playlist file is its ``uri`` relative to ``p.url``
  when it lies under it, else ``"<rendition id>.m3u8"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from urllib.parse import urljoin

from .errors import ManifestError
from .model import ByteRange, InitSegment, KeyInfo, Presentation, Rendition, SegmentIndex, Track

__all__ = ["write_hls", "write_media_playlist"]

MASTER_NAME = "master.m3u8"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _base_dir(url: str) -> str:
    """The directory URL relative references resolve against ('' when unknown)."""
    if not url:
        return ""
    return urljoin(url, ".") if "/" in url else ""


def relative(target: str, base_url: str, root: str | None = None) -> str:
    """``target`` relative to the directory of ``base_url`` when it lies under it.

    With ``root`` (the master playlist's URL), a target under the root's
    directory but outside ``base_url``'s is written with ``../`` steps;
    anything else stays absolute.
    """
    base = _base_dir(base_url)
    if base and target.startswith(base) and len(target) > len(base):
        rest = target[len(base) :]
        first = rest.split("/", 1)[0]
        # a rest like "a:b" would parse as a scheme; "./" keeps it relative
        if ":" in first:
            return "./" + rest
        return rest
    top = _base_dir(root) if root else ""
    if top and base.startswith(top) and target.startswith(top) and len(target) > len(top):
        return "../" * base[len(top) :].count("/") + target[len(top) :]
    return target


def _quote(value: str) -> str:
    if '"' in value or "\n" in value or "\r" in value:
        raise ManifestError(f"cannot write {value!r} as an HLS quoted-string")
    return f'"{value}"'


def _attrs(pairs: Iterable[tuple[str, object]]) -> str:
    out = []
    for name, value in pairs:
        if value is None or value is False:
            continue
        out.append(f"{name}={value}")
    return ",".join(out)


def _fmt_float(value: float) -> str:
    """At least 3 decimals, up to 6, no noise: 2.0 -> 2.000, 2.002002 -> 2.002002."""
    s = f"{value:.6f}".rstrip("0")
    whole, _, frac = s.partition(".")
    return f"{whole}.{frac.ljust(3, '0')}"


def _byterange(br: ByteRange) -> str:
    return f"{br.length}@{br.offset}"


def _key_line(key: KeyInfo | None, base_url: str, root: str | None) -> str:
    if key is None or key.method == "NONE":
        return "#EXT-X-KEY:METHOD=NONE"
    pairs: list[tuple[str, object]] = [("METHOD", key.method)]
    if key.uri:
        pairs.append(("URI", _quote(relative(key.uri, base_url, root))))
    if key.iv:
        pairs.append(("IV", key.iv))
    if key.keyformat:
        pairs.append(("KEYFORMAT", _quote(key.keyformat)))
    if key.keyformat_versions:
        pairs.append(("KEYFORMATVERSIONS", _quote(key.keyformat_versions)))
    return "#EXT-X-KEY:" + _attrs(pairs)


def _map_line(init: InitSegment, base_url: str, root: str | None) -> str:
    pairs: list[tuple[str, object]] = [("URI", _quote(relative(init.url, base_url, root)))]
    if init.byte_range is not None:
        pairs.append(("BYTERANGE", _quote(_byterange(init.byte_range))))
    return "#EXT-X-MAP:" + _attrs(pairs)


def write_media_playlist(index: SegmentIndex, base_url: str, root: str | None = None) -> str:
    """An HLS media playlist for ``index``; ``base_url`` is where it will live.

    URLs under ``base_url``'s directory are written relative to it, URLs under
    ``root``'s directory (the master playlist's URL) with ``../``, others absolute.

    VOD (``index.ended``) playlists get EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST.
    """
    segs = index.segments
    durations = [s.duration for s in segs]
    target = index.target_duration
    longest = max(durations, default=0.0)
    ceil = math.ceil(round(longest, 6)) if durations else 1
    target_i = max(ceil, math.ceil(target) if target else 0, 1)
    uses_map = index.init is not None or any(s.init is not None for s in segs)
    uses_range = any(s.byte_range is not None for s in segs)
    keyformat = any(
        s.key is not None and (s.key.keyformat or s.key.method == "SAMPLE-AES") for s in segs
    )
    # RFC 8216 section 7: the lowest version that has every feature used
    version = 6 if uses_map else 5 if keyformat else 4 if uses_range or index.i_frames_only else 3
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target_i}"]
    first_number = segs[0].number if segs else index.media_sequence
    if first_number:
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first_number}")
    if index.ended:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    elif index.playlist_type:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{index.playlist_type}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if index.i_frames_only:
        lines.append("#EXT-X-I-FRAMES-ONLY")
    init: InitSegment | None = None
    key: KeyInfo | None = None
    prev_end: tuple[str, int] | None = None
    for s in segs:
        seg_init = s.init if s.init is not None else index.init
        if seg_init is not None and seg_init != init:
            lines.append(_map_line(seg_init, base_url, root))
            init = seg_init
        if s.key != key:
            lines.append(_key_line(s.key, base_url, root))
            key = s.key
        if s.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{_fmt_float(s.duration)},")
        if s.gap:
            lines.append("#EXT-X-GAP")
        if s.byte_range is not None:
            br = s.byte_range
            implicit = prev_end == (s.url, br.offset)
            lines.append(f"#EXT-X-BYTERANGE:{br.length}" + ("" if implicit else f"@{br.offset}"))
            prev_end = (s.url, br.offset + br.length)
        else:
            prev_end = None
        lines.append(relative(s.url, base_url, root))
    if index.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _playlist_name(r: Rendition, base_url: str) -> str:
    if r.uri:
        rel = relative(r.uri, base_url)
        if rel != r.uri and not rel.startswith(("/", "./", "../")) and "?" not in rel:
            return rel
    return (_UNSAFE.sub("_", r.id).strip("._") or "rendition") + ".m3u8"


def _yes(flag: bool) -> str | None:
    return "YES" if flag else None


def _media_type(t: Track) -> str:
    if t.type == "audio":
        return "AUDIO"
    if t.type == "video":
        return "VIDEO"
    return (
        "CLOSED-CAPTIONS"
        if "caption" in t.roles and not any(r.uri for r in t.renditions)
        else "SUBTITLES"
    )


def write_hls(p: Presentation) -> dict[str, str]:
    """``{file name relative to p.url: playlist text}``: ``master.m3u8`` and one
    media playlist per rendition that has segments."""
    if not p.periods:
        raise ManifestError("cannot write HLS: the presentation has no period", url=p.url or None)
    if len(p.periods) > 1:
        raise ManifestError("cannot write HLS: more than one period", url=p.url or None)
    files: dict[str, str] = {}
    base = p.url
    base_dir = _base_dir(base)
    names: dict[str, str] = {}  # rendition id -> file name

    def add_playlist(r: Rendition) -> str | None:
        if r.segments is None:
            return relative(r.uri, base) if r.uri else None
        name = _playlist_name(r, base)
        stem, dot, ext = name.rpartition(".")
        n = 2
        while name in files or name == MASTER_NAME:
            name = f"{stem}-{n}{dot}{ext}"
            n += 1
        playlist_url = urljoin(base_dir, name) if base_dir else name
        files[name] = write_media_playlist(r.segments, playlist_url if base_dir else "", base)
        names[r.id] = name
        return name

    variants: list[Rendition] = []
    iframes: list[Rendition] = []
    media: list[tuple[Track, Rendition, str]] = []  # (track, rendition, group)
    # with no video ladder, audio renditions are the variants (an audio-only master)
    has_video = any(
        t.type in ("video", "unknown")
        and t.group_id is None
        and any(not r.iframe for r in t.renditions)
        for t in p.tracks()
    )
    for t in p.tracks():
        alternate = t.type == "text" or (t.type == "audio" and has_video)
        alternate = alternate or (t.group_id is not None and t.type == "video")
        for r in t.renditions:
            if r.iframe:
                iframes.append(r)
            elif alternate:
                group = t.group_id or t.type
                if t.group_id is None and len(t.renditions) > 1:
                    group = f"{t.type}-{r.id}"
                media.append((t, r, group))
            elif t.type in ("video", "unknown", "audio"):
                variants.append(r)

    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if p.steering is not None:
        pairs: list[tuple[str, object]] = [
            ("SERVER-URI", _quote(relative(p.steering.server_uri, base)))
        ]
        if p.steering.default_pathway:
            pairs.append(("PATHWAY-ID", _quote(p.steering.default_pathway)))
        lines.append("#EXT-X-CONTENT-STEERING:" + _attrs(pairs))

    audio_groups: list[str] = []
    text_groups: list[str] = []
    cc_groups: list[str] = []
    video_groups: list[str] = []
    for t, r, group in media:
        mtype = _media_type(t)
        uri = add_playlist(r)
        name = t.name or t.language or r.id
        pairs = [
            ("TYPE", mtype),
            ("GROUP-ID", _quote(group)),
            ("NAME", _quote(name)),
            ("LANGUAGE", _quote(t.language) if t.language else None),
            ("DEFAULT", _yes(t.default)),
            ("AUTOSELECT", _yes(t.autoselect or t.default)),
            ("CHANNELS", _quote(r.channels) if r.channels else None),
            (
                "INSTREAM-ID",
                _quote(r.instream_id) if mtype == "CLOSED-CAPTIONS" and r.instream_id else None,
            ),
            ("URI", _quote(uri) if uri and mtype != "CLOSED-CAPTIONS" else None),
        ]
        lines.append("#EXT-X-MEDIA:" + _attrs(pairs))
        if mtype == "AUDIO" and group not in audio_groups:
            audio_groups.append(group)
        if mtype == "SUBTITLES" and group not in text_groups:
            text_groups.append(group)
        if mtype == "CLOSED-CAPTIONS" and group not in cc_groups:
            cc_groups.append(group)
        if mtype == "VIDEO" and group not in video_groups:
            video_groups.append(group)

    for r in variants:
        uri = add_playlist(r)
        if uri is None:
            continue
        audio = (
            r.audio_group
            if r.audio_group in audio_groups
            else (audio_groups[0] if audio_groups else None)
        )
        subs = (
            r.subtitle_group
            if r.subtitle_group in text_groups
            else (text_groups[0] if text_groups else None)
        )
        cc = r.closed_captions_group if r.closed_captions_group in cc_groups else None
        pairs = [
            ("BANDWIDTH", int(r.bandwidth)),
            ("AVERAGE-BANDWIDTH", r.average_bandwidth),
            ("RESOLUTION", f"{r.width}x{r.height}" if r.width and r.height else None),
            ("CODECS", _quote(r.codecs) if r.codecs else None),
            ("FRAME-RATE", f"{r.frame_rate:.3f}" if r.frame_rate else None),
            ("AUDIO", _quote(audio) if audio else None),
            ("VIDEO", _quote(r.video_group) if r.video_group in video_groups else None),
            ("SUBTITLES", _quote(subs) if subs else None),
            ("CLOSED-CAPTIONS", _quote(cc) if cc else None),
            ("PATHWAY-ID", _quote(r.pathway_id) if r.pathway_id else None),
        ]
        lines.append("#EXT-X-STREAM-INF:" + _attrs(pairs))
        lines.append(uri)

    for r in iframes:
        uri = add_playlist(r)
        if uri is None:
            continue
        pairs = [
            ("BANDWIDTH", int(r.bandwidth)),
            ("AVERAGE-BANDWIDTH", r.average_bandwidth),
            ("RESOLUTION", f"{r.width}x{r.height}" if r.width and r.height else None),
            ("CODECS", _quote(r.codecs) if r.codecs else None),
            ("PATHWAY-ID", _quote(r.pathway_id) if r.pathway_id else None),
            ("URI", _quote(uri)),
        ]
        lines.append("#EXT-X-I-FRAME-STREAM-INF:" + _attrs(pairs))

    files[MASTER_NAME] = "\n".join(lines) + "\n"
    return files
