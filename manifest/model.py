"""One model of a streaming presentation, shared by the HLS and DASH parsers.

Everything here is a frozen dataclass of plain values; parsers build it from
text and a base URL, writers turn it back into text, and the player reads it.

    Presentation
     ├── periods: Period ...                 (HLS: exactly one)
     │    └── tracks: Track ...              video / audio / text / image
     │         └── renditions: Rendition ... id, bandwidth, resolution, codecs, fps
     │              └── segments: SegmentIndex | None
     │                   ├── init: InitSegment | None
     │                   └── segments: Segment ...  url, byte range, start, duration, number, key
     ├── base_urls: BaseUrl ...              alternative locations (DASH BaseURL / serviceLocation)
     └── steering: ContentSteering | None    HLS EXT-X-CONTENT-STEERING / DASH ContentSteering

Times are seconds (float), sizes bytes, bandwidths bits per second.  A
rendition of an HLS master playlist has ``segments=None`` until its media
playlist is parsed and attached with :meth:`Presentation.with_segments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

TrackType = Literal["video", "audio", "text", "image", "unknown"]
Addressing = Literal["template-number", "template-time", "list", "base", "none", "hls"]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``length`` bytes starting at byte ``offset`` (HTTP Range: offset..offset+length-1)."""

    offset: int
    length: int

    @property
    def last(self) -> int:
        return self.offset + self.length - 1

    def header(self) -> str:
        """The value of an HTTP ``Range`` header for this range."""
        return f"bytes={self.offset}-{self.last}"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """How a segment is encrypted (HLS EXT-X-KEY, or derived from DASH ContentProtection)."""

    method: str  # "NONE", "AES-128", "SAMPLE-AES", "SAMPLE-AES-CTR", "cenc", "cbcs", ...
    uri: str | None = None  # absolute key URI (HLS)
    iv: str | None = None  # hex string as written, e.g. "0x0123..."
    keyformat: str | None = None
    keyformat_versions: str | None = None
    kid: str | None = None  # key id, lower-case hex without dashes, when known


@dataclass(frozen=True, slots=True)
class ContentProtection:
    """A DRM/protection descriptor (DASH ContentProtection, HLS session/segment keys)."""

    scheme_id_uri: str  # as written, e.g. "urn:mpeg:dash:mp4protection:2011"
    system: str  # "mp4protection", "clearkey", "widevine", "playready", "fairplay", "aes-128", ...
    value: str | None = None  # e.g. "cenc"
    default_kid: str | None = None  # lower-case hex without dashes
    licence_url: str | None = None  # absolute, when the manifest carries one
    pssh: str | None = None  # base64, as written


@dataclass(frozen=True, slots=True)
class InitSegment:
    url: str
    byte_range: ByteRange | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One media segment. ``start`` is the presentation time in seconds from the
    presentation's start (period start included); ``number`` is the DASH
    segment number or the HLS media sequence number."""

    url: str
    start: float
    duration: float
    number: int
    byte_range: ByteRange | None = None
    key: KeyInfo | None = None
    # the init segment this segment needs (HLS EXT-X-MAP may change)
    init: InitSegment | None = None
    discontinuity: bool = False  # a discontinuity precedes this segment
    gap: bool = False  # HLS EXT-X-GAP
    parts: int = 0  # LL-HLS EXT-X-PART count noted for this segment


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """The ordered segments of one rendition.

    ``addressing`` says how the manifest addressed them. For DASH SegmentBase
    (``addressing == "base"``) the segments are only known after the ``sidx``
    box is read: ``index_range`` says where it is and
    :func:`manifest.sidx.resolve_segment_base` fills ``segments`` in.
    """

    addressing: Addressing
    segments: tuple[Segment, ...] = ()
    init: InitSegment | None = None
    index_range: ByteRange | None = None  # DASH SegmentBase@indexRange
    timeline: bool = False  # DASH SegmentTimeline used
    timescale: int = 1
    # HLS media playlist facts (None/defaults for DASH)
    target_duration: float | None = None
    media_sequence: int = 0
    ended: bool = True  # HLS: EXT-X-ENDLIST seen; DASH: static
    playlist_type: str | None = None  # "VOD" | "EVENT" | None
    i_frames_only: bool = False
    part_count: int = 0
    part_target: float | None = None
    skipped_segments: int = 0
    discontinuity_count: int = 0
    gap_count: int = 0
    # DASH SegmentBase / single-segment ("none") addressing: the one media resource
    # (absolute URL) that index_range and the sidx byte ranges refer to.
    media_url: str | None = None

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def __len__(self) -> int:
        return len(self.segments)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoding of a track: an HLS variant/rendition or a DASH Representation."""

    id: str
    bandwidth: int  # bits per second (HLS BANDWIDTH, DASH @bandwidth)
    average_bandwidth: int | None = None
    width: int | None = None
    height: int | None = None
    codecs: str | None = None
    frame_rate: float | None = None
    mime_type: str | None = None
    uri: str | None = None  # HLS: absolute media playlist URL; DASH: None
    segments: SegmentIndex | None = None  # None until resolved (HLS master)
    base_urls: tuple[str, ...] = ()  # absolute alternatives for this rendition (DASH)
    audio_group: str | None = None  # HLS AUDIO group of a variant
    subtitle_group: str | None = None
    pathway_id: str | None = None  # HLS content-steering PATHWAY-ID
    protection: tuple[ContentProtection, ...] = ()
    sample_rate: int | None = None
    channels: str | None = None
    iframe: bool = False  # HLS I-frame variant / DASH trick-play
    video_group: str | None = None  # HLS VIDEO group of a variant (alternate video renditions)
    closed_captions_group: str | None = None  # HLS CLOSED-CAPTIONS group of a variant
    instream_id: str | None = None  # HLS CLOSED-CAPTIONS INSTREAM-ID ("CC1", "SERVICE1", ...)
    # DASH: the BaseURL alternatives behind ``base_urls`` with their serviceLocation /
    # dvb:priority / dvb:weight (for content steering and CDN failover); first = the one used.
    locations: tuple[BaseUrl, ...] = ()


@dataclass(frozen=True, slots=True)
class Track:
    """A switching set: renditions of one content of one type (DASH AdaptationSet,
    HLS variants or one EXT-X-MEDIA group/name)."""

    id: str
    type: TrackType
    renditions: tuple[Rendition, ...]
    language: str | None = None
    name: str | None = None
    group_id: str | None = None  # HLS EXT-X-MEDIA GROUP-ID
    default: bool = False
    autoselect: bool = False
    roles: tuple[str, ...] = ()
    mime_type: str | None = None
    content_type: str | None = None  # DASH @contentType as written
    protection: tuple[ContentProtection, ...] = ()


@dataclass(frozen=True, slots=True)
class Period:
    id: str | None
    start: float
    duration: float | None
    tracks: tuple[Track, ...]
    base_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BaseUrl:
    """An alternative location (DASH BaseURL with serviceLocation; HLS pathway)."""

    url: str
    service_location: str | None = None
    priority: int | None = None
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class ContentSteering:
    """Content steering (HLS EXT-X-CONTENT-STEERING, DASH ContentSteering)."""

    server_uri: str  # absolute
    default_pathway: str | None = None  # HLS PATHWAY-ID / DASH @defaultServiceLocation
    query_before_start: bool = False
    proxy_server_url: str | None = None


@dataclass(frozen=True, slots=True)
class Presentation:
    format: Literal["hls", "dash"]
    kind: Literal["hls-master", "hls-media", "dash"]
    url: str  # the base URL the manifest was parsed against
    dynamic: bool  # live (DASH type=dynamic, HLS without ENDLIST)
    duration: float | None  # seconds, when known
    periods: tuple[Period, ...]
    base_urls: tuple[BaseUrl, ...] = ()
    steering: ContentSteering | None = None
    protection: tuple[ContentProtection, ...] = ()  # presentation-level (HLS session keys)
    min_buffer_time: float | None = None
    utc_timing: tuple[str, ...] = ()  # DASH UTCTiming schemeIdUri values
    extra: tuple[tuple[str, str], ...] = field(default=())  # format-specific facts, name/value

    # ----- convenience -------------------------------------------------
    def tracks(self, type: TrackType | None = None) -> tuple[Track, ...]:
        """All tracks of all periods, optionally of one type."""
        return tuple(t for p in self.periods for t in p.tracks if type is None or t.type == type)

    def renditions(self, type: TrackType | None = None) -> tuple[Rendition, ...]:
        return tuple(r for t in self.tracks(type) for r in t.renditions)

    def with_segments(self, rendition_id: str, index: SegmentIndex) -> Presentation:
        """A copy with ``index`` attached to the rendition ``rendition_id`` (every period)."""
        found = False
        periods = []
        for p in self.periods:
            tracks = []
            for t in p.tracks:
                rs = []
                for r in t.renditions:
                    if r.id == rendition_id:
                        found = True
                        r = replace(r, segments=index)
                    rs.append(r)
                tracks.append(replace(t, renditions=tuple(rs)))
            periods.append(replace(p, tracks=tuple(tracks)))
        if not found:
            from .errors import ManifestError

            raise ManifestError(f"no rendition with id {rendition_id!r}", url=self.url)
        return replace(self, periods=tuple(periods))
