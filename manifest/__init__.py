"""Manifest model, parsers and writers for HLS and DASH.

    presentation = manifest.parse(text, url)        # HLS (master or media) or DASH
    index = manifest.parse_media_playlist(text, url) # an HLS media playlist's segments
    presentation = presentation.with_segments(rendition_id, index)
    files = manifest.write_hls(presentation)         # {relative name: text}
    mpd = manifest.write_mpd(presentation)

Parsers take text plus the URL it came from and never fetch anything; bad
input raises :class:`ManifestError` (and nothing else) naming what and where.
"""

from .dash import parse_mpd
from .dash_writer import write_mpd
from .errors import ManifestError, ManifestSyntaxError, ManifestValueError, UnsupportedManifestError
from .hls import parse_hls, parse_media_playlist
from .hls_writer import write_hls, write_media_playlist
from .model import (
    BaseUrl,
    ByteRange,
    ContentProtection,
    ContentSteering,
    InitSegment,
    KeyInfo,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from .parse import parse, sniff
from .sidx import resolve_segment_base

__all__ = [
    "BaseUrl",
    "ByteRange",
    "ContentProtection",
    "ContentSteering",
    "InitSegment",
    "KeyInfo",
    "ManifestError",
    "ManifestSyntaxError",
    "ManifestValueError",
    "Period",
    "Presentation",
    "Rendition",
    "Segment",
    "SegmentIndex",
    "Track",
    "UnsupportedManifestError",
    "parse",
    "parse_hls",
    "parse_media_playlist",
    "parse_mpd",
    "resolve_segment_base",
    "sniff",
    "write_hls",
    "write_media_playlist",
    "write_mpd",
]
