"""ISO-BMFF ``sidx`` (segment index) boxes and DASH SegmentBase resolution.

A DASH Representation addressed with SegmentBase@indexRange names one file and
the byte range of its ``sidx`` box; the media segments (subsegments) are only
known once that box is read. The player fetches ``index_range`` and calls
:func:`resolve_segment_base`; this module never fetches anything.

Layout (ISO/IEC 14496-12 8.16.3)::

    size:u32 type:'sidx' [largesize:u64 when size == 1]
    version:u8 flags:u24 reference_ID:u32 timescale:u32
    v0: earliest_presentation_time:u32 first_offset:u32
    v1: earliest_presentation_time:u64 first_offset:u64
    reserved:u16 reference_count:u16
    reference_count x { reference_type:1 referenced_size:31
                        subsegment_duration:u32
                        starts_with_SAP:1 SAP_type:3 SAP_delta_time:28 }
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from .errors import ManifestSyntaxError, ManifestValueError, UnsupportedManifestError
from .model import ByteRange, Segment, SegmentIndex

__all__ = ["Sidx", "SidxReference", "parse_sidx", "resolve_segment_base"]

#: Boxes skipped at most while looking for the sidx (a guard against garbage input).
MAX_BOXES_SKIPPED = 1024


@dataclass(frozen=True, slots=True)
class SidxReference:
    reference_type: int  # 0 = media (a subsegment), 1 = another sidx
    referenced_size: int  # bytes
    subsegment_duration: int  # timescale units
    starts_with_sap: bool
    sap_type: int
    sap_delta_time: int


@dataclass(frozen=True, slots=True)
class Sidx:
    version: int
    reference_id: int
    timescale: int
    earliest_presentation_time: int
    first_offset: int
    references: tuple[SidxReference, ...]
    box_offset: int  # where the box starts in the bytes given
    box_size: int

    @property
    def end(self) -> int:
        """Offset (in the bytes given) of the first byte after the box."""
        return self.box_offset + self.box_size


def _box_header(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """``(size, type, header_length)`` of the box at ``pos``."""
    if pos + 8 > len(data):
        raise ManifestSyntaxError(f"truncated box header at byte {pos}", where="sidx")
    size, btype = struct.unpack_from(">I4s", data, pos)
    header = 8
    if size == 1:
        if pos + 16 > len(data):
            raise ManifestSyntaxError(f"truncated largesize box header at byte {pos}", where="sidx")
        (size,) = struct.unpack_from(">Q", data, pos + 8)
        header = 16
    elif size == 0:  # box extends to the end of the data
        size = len(data) - pos
    if size < header:
        raise ManifestSyntaxError(f"box at byte {pos} has impossible size {size}", where="sidx")
    return size, btype, header


def parse_sidx(data: bytes) -> Sidx:
    """Parse the first ``sidx`` box in ``data``, skipping other boxes before it.

    Raises :class:`ManifestSyntaxError` on truncated or garbage bytes.
    """
    data = bytes(data)
    pos = 0
    for _ in range(MAX_BOXES_SKIPPED):
        size, btype, header = _box_header(data, pos)
        if btype == b"sidx":
            if pos + size > len(data):
                raise ManifestSyntaxError(
                    f"truncated sidx box: {size} bytes declared, {len(data) - pos} present",
                    where="sidx",
                )
            return _parse_sidx_body(data, pos, size, header)
        pos += size
        if pos >= len(data):
            break
    raise ManifestSyntaxError("no sidx box in the bytes given", where="sidx")


def _parse_sidx_body(data: bytes, pos: int, size: int, header: int) -> Sidx:
    p = pos + header
    end = pos + size
    try:
        version, f1, f2, f3 = struct.unpack_from(">BBBB", data, p)
        p += 4
        reference_id, timescale = struct.unpack_from(">II", data, p)
        p += 8
        if version == 0:
            ept, first_offset = struct.unpack_from(">II", data, p)
            p += 8
        elif version == 1:
            ept, first_offset = struct.unpack_from(">QQ", data, p)
            p += 16
        else:
            raise ManifestSyntaxError(f"unknown sidx version {version}", where="sidx")
        _reserved, count = struct.unpack_from(">HH", data, p)
        p += 4
    except struct.error:
        raise ManifestSyntaxError("truncated sidx box", where="sidx") from None
    if p + 12 * count > end:
        raise ManifestSyntaxError(
            f"sidx declares {count} references but has room for {(end - p) // 12}", where="sidx"
        )
    if timescale == 0:
        raise ManifestValueError("sidx timescale is 0", where="sidx")
    refs = []
    for _ in range(count):
        a, dur, b = struct.unpack_from(">III", data, p)
        p += 12
        refs.append(
            SidxReference(
                reference_type=a >> 31,
                referenced_size=a & 0x7FFFFFFF,
                subsegment_duration=dur,
                starts_with_sap=bool(b >> 31),
                sap_type=(b >> 28) & 0x7,
                sap_delta_time=b & 0x0FFFFFFF,
            )
        )
    return Sidx(version, reference_id, timescale, ept, first_offset, tuple(refs), pos, size)


def resolve_segment_base(
    index: SegmentIndex, sidx_bytes: bytes, url: str, period_start: float
) -> SegmentIndex:
    """Fill a SegmentBase index (``addressing == "base"``) with the subsegments of its sidx.

    ``sidx_bytes`` are the bytes of ``index.index_range`` (fetched from ``url``).
    The first subsegment starts at the first byte after the sidx box plus
    ``first_offset`` (with an indexRange covering exactly the box: index_range
    end + 1 + first_offset); each next one follows the previous. The first
    subsegment starts at ``period_start`` (the sidx earliest_presentation_time is
    taken as the Period's presentationTimeOffset); durations come from the sidx.
    """
    if index.index_range is None:
        raise ManifestValueError("SegmentIndex has no index_range to resolve", url=url or None)
    sidx = parse_sidx(sidx_bytes)
    if any(r.reference_type == 1 for r in sidx.references):
        raise UnsupportedManifestError(
            "hierarchical sidx (references to other sidx boxes)", where="sidx", url=url
        )
    offset = index.index_range.offset + sidx.end + sidx.first_offset
    t = 0
    segs = []
    ts = sidx.timescale
    for i, r in enumerate(sidx.references):
        segs.append(
            Segment(
                url=url,
                start=period_start + t / ts,
                duration=r.subsegment_duration / ts,
                number=i + 1,
                byte_range=ByteRange(offset, r.referenced_size),
                init=index.init,
            )
        )
        offset += r.referenced_size
        t += r.subsegment_duration
    return replace(index, segments=tuple(segs), timescale=ts, media_url=index.media_url or url)
