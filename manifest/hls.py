"""HLS (RFC 8216) playlists into the :mod:`manifest.model`.

``parse_hls(text, url)`` reads a master or a media playlist;
``parse_media_playlist(text, url)`` reads a media playlist into the
:class:`~manifest.model.SegmentIndex` that :meth:`Presentation.with_segments`
attaches to a variant of a master.  Nothing here fetches anything.

Master playlists (kind ``"hls-master"``):

- EXT-X-STREAM-INF variants are renditions ``v0, v1, ...`` (file order) of
  one ``"video"`` track ``"variants"``; variants that are evidently audio
  only (only audio CODECS, no RESOLUTION) go to an ``"audio"``
  track ``"audio-variants"`` (or form the only track when every variant is
  audio only).  Their ``segments`` stay ``None`` until resolved.
- EXT-X-I-FRAME-STREAM-INF variants are renditions ``i0, i1, ...`` with
  ``iframe=True`` of the ``"video"`` track ``"iframes"``.
- every EXT-X-MEDIA is a track of its own (``id`` ``"<type>/<group>/<name>"``,
  one rendition of the same id) with ``group_id``, language, name, default,
  autoselect.  SUBTITLES are ``"text"`` tracks with role ``"subtitle"``,
  CLOSED-CAPTIONS ``"text"`` tracks with role ``"caption"`` and no URI.
- EXT-X-IMAGE-STREAM-INF (thumbnails) are renditions ``img0, ...`` of the
  ``"image"`` track ``"images"``.
- EXT-X-CONTENT-STEERING gives ``Presentation.steering``; EXT-X-SESSION-KEY
  gives ``Presentation.protection``; ``extra`` has ``version`` and
  ``independent_segments``.

Media playlists (kind ``"hls-media"``) give one track with one rendition
whose ``SegmentIndex(addressing="hls")`` lists the segments with absolute
URLs.  Segment ``start`` accumulates EXTINF from 0 at the first listed
segment; ``number`` is the media sequence number (EXT-X-SKIP included).
Each segment's ``key`` is the EXT-X-KEY in effect (the identity KEYFORMAT one
when several KEYFORMATs apply), ``None`` when clear or after METHOD=NONE.
``Presentation.extra`` carries ``key_methods`` (comma-separated EXT-X-KEY
METHODs, NONE included) and ``version`` when present.  The track type is
guessed from the segment extension (``"unknown"`` for .ts/.m4s/.mp4).

Errors: :mod:`manifest.hls_lines` checks the lines first (first line
``#EXTM3U``, TARGETDURATION, BANDWIDTH, MEDIA-SEQUENCE, EXTINF, URIs without
EXTINF, byte ranges...) and names the line; deviations lenient players
tolerate are accepted; anything ``m3u8`` still chokes on is located by line
and re-raised as a ManifestError.  EXT-X-DEFINE variables are substituted.
"""

from __future__ import annotations

from typing import Any

import m3u8

from .errors import ManifestError, ManifestSyntaxError, ManifestValueError
from .hls_lines import KeyTag, Scan, decode, scan, substitute_variables, tag_name
from .hls_master import build_master
from .hls_util import Resolver, protection
from .model import (
    ByteRange,
    InitSegment,
    KeyInfo,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
    TrackType,
)

__all__ = ["parse_hls", "parse_media_playlist"]


def parse_hls(text: str | bytes, url: str) -> Presentation:
    """Parse an HLS master or media playlist fetched from ``url``.

    Raises :class:`~manifest.errors.ManifestError` (and nothing else) on bad input.
    """
    try:
        lines, data = _load(text, url)
        if lines.is_master:
            return build_master(data, url, lines)
        index, extra = _media_index(data, lines, url)
        return _media_presentation(index, extra, url)
    except ManifestError:
        raise
    except Exception as exc:  # a foreign error is a bug or bad input: never let it out
        raise ManifestError(
            f"cannot read HLS playlist: {type(exc).__name__}: {exc}",
            where="whole playlist",
            url=url or None,
        ) from exc


def parse_media_playlist(text: str | bytes, url: str) -> SegmentIndex:
    """Parse an HLS media playlist into its segment index (absolute URLs).

    Raises ManifestSyntaxError for a master playlist.
    """
    try:
        lines, data = _load(text, url)
        if lines.is_master:
            raise ManifestSyntaxError(
                "expected a media playlist, got a master playlist",
                where="whole playlist",
                url=url or None,
            )
        return _media_index(data, lines, url)[0]
    except ManifestError:
        raise
    except Exception as exc:
        raise ManifestError(
            f"cannot read HLS playlist: {type(exc).__name__}: {exc}",
            where="whole playlist",
            url=url or None,
        ) from exc


# --------------------------------------------------------------------------
def _load(text: str | bytes, url: str) -> tuple[Scan, dict[str, Any]]:
    where_url = url or None
    s = substitute_variables(decode(text, where_url), url)
    lines = scan(s, where_url)
    try:
        data = m3u8.parse(s, custom_tags_parser=_skip_unused)
    except Exception as exc:
        raise _locate(lines.lines, exc, where_url) from exc
    return lines, data


# Tags abrkit does not read (or reads itself in hls_lines): m3u8 never sees them,
# so a malformed date or SCTE-35 cue cannot fail an otherwise playable playlist.
_UNUSED = (
    "#EXT-X-TARGETDURATION",  # read by hls_lines.scan (m3u8 wants an int)
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-DATERANGE",
    "#EXT-X-CUE",
    "#EXT-OATCLS",
    "#EXT-X-ASSET",
    "#EXT-X-KEY",
    "#EXT-X-SERVER-CONTROL",
    "#EXT-X-RENDITION-REPORT",
    "#EXT-X-PRELOAD-HINT",
    "#EXT-X-SESSION-DATA",
    "#EXT-X-START",
    "#EXT-X-BITRATE",
    "#EXT-X-ALLOW-CACHE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-TILES",
    "#EXT-X-DEFINE",
)


# every tag m3u8 reads; it matches them by prefix, so a longer, unknown tag
# (#EXT-X-MAPPING, #EXT-X-STREAM-INF2) would be read as the known one
_M3U8_TAGS = frozenset(
    v for k, v in vars(m3u8.protocol).items() if isinstance(v, str) and v.startswith("#EXT")
)


def _skip_unused(line: str, lineno: int, data: Any, state: Any) -> bool:
    if line.startswith("#EXT") and tag_name(line.strip()) not in _M3U8_TAGS:
        return True  # RFC 8216 4.1: tags the client does not recognise are ignored
    return line.startswith(_UNUSED)


def _locate(lines: list[str], exc: Exception, url: str | None) -> ManifestError:
    """Find the line m3u8 choked on by feeding it tag lines one at a time."""
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line.startswith("#EXT") or line == "#EXTM3U":
            continue
        try:
            m3u8.parse("#EXTM3U\n" + line, custom_tags_parser=_skip_unused)
        except Exception as one:
            return ManifestValueError(
                f"cannot parse {line.partition(':')[0]}: {one}", where=f"line {n}", url=url
            )
    return ManifestValueError(
        f"cannot parse playlist: {type(exc).__name__}: {exc}",
        where=f"lines 1-{len(lines)}",
        url=url,
    )


def _byterange(text: str, default_offset: int) -> ByteRange:
    length, _, offset = text.strip().strip('"').partition("@")
    return ByteRange(int(offset) if offset else default_offset, int(length))


def key_info(tag: KeyTag, resolve: Resolver) -> KeyInfo:
    return KeyInfo(
        method=tag.method,
        uri=resolve(tag.uri) if tag.uri else None,
        iv=tag.iv,
        keyformat=tag.keyformat,
        keyformat_versions=tag.keyformat_versions,
    )


def _preferred(keys: tuple[KeyTag, ...]) -> KeyTag | None:
    for k in keys:
        if k.keyformat in (None, "identity"):
            return k
    return keys[0] if keys else None


def _media_index(
    data: dict[str, Any], lines: Scan, url: str
) -> tuple[SegmentIndex, dict[str, str]]:
    resolve = Resolver(url)
    raw = [s for s in data["segments"] if "uri" in s]
    if len(raw) != len(lines.segment_lines):  # pragma: no cover - scan and m3u8 disagree
        raise ManifestSyntaxError(
            f"found {len(lines.segment_lines)} segment URIs but m3u8 read {len(raw)}",
            where="whole playlist",
            url=url or None,
        )
    skipped = int((data.get("skip") or {}).get("skipped_segments") or 0)
    media_sequence = lines.media_sequence or 0
    inits: dict[tuple[str, str | None], InitSegment] = {}
    keys: dict[int, KeyInfo | None] = {}
    last_end: dict[str, int] = {}
    segments: list[Segment] = []
    start = 0.0
    first_init: InitSegment | None = None
    for i, s in enumerate(raw):
        seg_url = resolve(s["uri"])
        br = None
        if s.get("byterange"):
            try:
                br = _byterange(s["byterange"], last_end.get(seg_url, 0))
            except ValueError:
                raise ManifestValueError(
                    f"bad EXT-X-BYTERANGE {s['byterange'][:40]!r} for segment {s['uri'][:60]!r}",
                    where=f"line {lines.segment_lines[i]}",
                    url=url or None,
                ) from None
            last_end[seg_url] = br.offset + br.length
        init = None
        section = s.get("init_section")
        if section:
            ikey = (section.get("uri", ""), section.get("byterange"))
            init = inits.get(ikey)
            if init is None:
                ibr = section.get("byterange")
                init = InitSegment(resolve(ikey[0]), _byterange(ibr, 0) if ibr else None)
                inits[ikey] = init
            if first_init is None:
                first_init = init
        tags = lines.segment_keys[i]
        kid = id(tags)
        if kid not in keys:
            pref = _preferred(tags)
            keys[kid] = key_info(pref, resolve) if pref else None
        duration = float(s["duration"])
        disc = bool(s.get("discontinuity"))
        gap = bool(s.get("gap_tag"))
        segments.append(
            Segment(
                url=seg_url,
                start=start,
                duration=duration,
                number=media_sequence + skipped + i,
                byte_range=br,
                key=keys[kid],
                init=init,
                discontinuity=disc,
                gap=gap,
                parts=len(s.get("parts") or ()),
            )
        )
        start += duration
    playlist_type = data.get("playlist_type")
    part_inf = data.get("part_inf") or {}
    index = SegmentIndex(
        addressing="hls",
        segments=tuple(segments),
        init=first_init,
        target_duration=lines.target_duration,
        media_sequence=media_sequence,
        ended=bool(data.get("is_endlist")),
        playlist_type=playlist_type.upper() if playlist_type else None,
        i_frames_only=bool(data.get("is_i_frames_only")),
        part_count=lines.part_count,
        part_target=part_inf.get("part_target"),
        skipped_segments=skipped,
        discontinuity_count=lines.discontinuity_count,
        gap_count=lines.gap_count,
    )
    extra = {"key_methods": ",".join(sorted(lines.key_methods))}
    if data.get("version") is not None:
        extra["version"] = str(data["version"])
    return index, extra


_AUDIO_EXT = (".aac", ".mp3", ".ac3", ".ec3", ".m4a", ".cmfa", ".opus", ".flac")
_TEXT_EXT = (".vtt", ".webvtt", ".srt", ".ttml", ".cmft")
_VIDEO_EXT = (".cmfv", ".m4v")


def _guess_type(index: SegmentIndex) -> TrackType:
    if index.i_frames_only:
        return "video"
    if not index.segments:
        return "unknown"
    path = index.segments[0].url.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(_AUDIO_EXT):
        return "audio"
    if path.endswith(_TEXT_EXT):
        return "text"
    if path.endswith(_VIDEO_EXT):
        return "video"
    return "unknown"


def _media_presentation(index: SegmentIndex, extra: dict[str, str], url: str) -> Presentation:
    dynamic = not index.ended and index.playlist_type != "VOD"
    duration = None if dynamic else index.duration
    prot = tuple(
        dict.fromkeys(
            protection(s.key.method, s.key.keyformat, s.key.uri)
            for s in index.segments
            if s.key is not None
        )
    )
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    rid = name.rsplit(".", 1)[0] if name else "media"
    rendition = Rendition(
        id=rid or "media",
        bandwidth=0,
        uri=url or None,
        segments=index,
        protection=prot,
        iframe=index.i_frames_only,
    )
    track = Track(id="media", type=_guess_type(index), renditions=(rendition,), protection=prot)
    return Presentation(
        format="hls",
        kind="hls-media",
        url=url,
        dynamic=dynamic,
        duration=duration,
        periods=(Period(id=None, start=0.0, duration=duration, tracks=(track,)),),
        protection=prot,
        extra=tuple(sorted(extra.items())),
    )
