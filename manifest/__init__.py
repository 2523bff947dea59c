"""Manifest model, parsers and writers for HLS and DASH.

Parsers take text plus the URL it came from and never fetch anything.
"""

from .errors import ManifestError, ManifestSyntaxError, ManifestValueError, UnsupportedManifestError
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
]
