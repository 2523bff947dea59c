"""Top-level ISO-BMFF box walking for fragmented MP4 / CMAF.

Splits a fragmented MP4 (``ftyp moov (moof mdat)+ [mfra]``) into its init
segment and its media fragments, and reads the few facts the packager needs
from them: the track timescale (``mdhd``), the AVC profile/level (``avcC``)
and, per fragment, the decode time (``tfdt``), sample durations and whether
the first sample is a sync sample (``trun``/``tfhd``/``trex``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import PackagerError

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts"}


@dataclass(frozen=True, slots=True)
class Box:
    type: bytes
    offset: int  # of the box header in the buffer
    size: int  # whole box, header included
    header: int  # header length (8 or 16)

    @property
    def payload(self) -> slice:
        return slice(self.offset + self.header, self.offset + self.size)


@dataclass(frozen=True, slots=True)
class Fragment:
    """One ``moof`` (plus the ``mdat`` after it) as found in a fragmented MP4."""

    data: bytes
    decode_time: int  # tfdt, in track timescale units
    duration: int  # sum of sample durations, timescale units
    sample_count: int
    starts_with_sync: bool


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes of ``data[start:end]`` at one level; raises PackagerError on a bad size."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        if end - pos < 8:
            raise PackagerError(f"truncated box header at byte {pos}")
        size, typ = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise PackagerError(f"truncated large box header at byte {pos}")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise PackagerError(f"box {typ!r} at byte {pos} has a bad size {size}")
        yield Box(typ, pos, size, header)
        pos += size


def find_box(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> Box | None:
    """The first box along ``path`` (e.g. ``[b"moov", b"trak", b"mdia", b"mdhd"]``)."""
    for box in iter_boxes(data, start, end):
        if box.type == path[0]:
            if len(path) == 1:
                return box
            inner_start = box.offset + box.header
            if box.type == b"stsd":
                inner_start += 8  # full box header + entry count
            found = find_box(data, path[1:], inner_start, box.offset + box.size)
            if found is not None:
                return found
    return None


def split_fragmented(data: bytes) -> tuple[bytes, list[bytes]]:
    """Split a fragmented MP4 into (init segment, [moof+mdat ...]); ``mfra`` etc. dropped."""
    init = bytearray()
    fragments: list[bytes] = []
    current: bytearray | None = None
    for box in iter_boxes(data):
        raw = data[box.offset : box.offset + box.size]
        if box.type == b"moof":
            if current is not None:
                fragments.append(bytes(current))
            current = bytearray(raw)
        elif box.type == b"mdat":
            if current is None:
                raise PackagerError("mdat before the first moof: not a fragmented MP4")
            current += raw
        elif box.type in (b"ftyp", b"moov") and current is None:
            init += raw
        elif box.type in (b"styp", b"sidx", b"prft") and current is None and fragments:
            continue
    if current is not None:
        fragments.append(bytes(current))
    if not init or find_box(bytes(init), [b"moov"]) is None:
        raise PackagerError("no ftyp/moov at the start: not a fragmented MP4")
    return bytes(init), fragments


def split_fragmented_file(path: str | os.PathLike[str]) -> tuple[bytes, Iterator[bytes]]:
    """Like :func:`split_fragmented` for a file, reading one top-level box at a
    time so a long rendition never has to fit in memory. The fragments iterator
    must be consumed before the file is removed."""
    f = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    try:
        init = bytearray()
        first: bytes | None = None
        while True:
            box = _read_box(f)
            if box is None:
                break
            if box[4:8] == b"moof":
                first = box
                break
            if box[4:8] in (b"ftyp", b"moov"):
                init += box
        if not init or find_box(bytes(init), [b"moov"]) is None:
            raise PackagerError("no ftyp/moov at the start: not a fragmented MP4", where=str(path))
    except BaseException:
        f.close()
        raise

    def fragments() -> Iterator[bytes]:
        with f:
            current = bytearray(first) if first is not None else None
            while True:
                box = _read_box(f)
                if box is None:
                    break
                typ = box[4:8]
                if typ == b"moof":
                    if current is not None:
                        yield bytes(current)
                    current = bytearray(box)
                elif typ == b"mdat":
                    if current is None:
                        raise PackagerError("mdat before the first moof", where=str(path))
                    current += box
            if current is not None:
                yield bytes(current)

    return bytes(init), fragments()


def _read_box(f: BinaryIO) -> bytes | None:
    """The next whole top-level box of a file, or None at the end."""
    head = f.read(8)
    if not head:
        return None
    if len(head) < 8:
        raise PackagerError("truncated box header at the end of the file")
    size, _ = struct.unpack(">I4s", head)
    if size == 1:
        ext = f.read(8)
        if len(ext) < 8:
            raise PackagerError("truncated large box header")
        (size,) = struct.unpack(">Q", ext)
        head += ext
    elif size == 0:
        rest = f.read()
        return head + rest
    if size < len(head):
        raise PackagerError(f"box {head[4:8]!r} has a bad size {size}")
    body = f.read(size - len(head))
    if len(body) != size - len(head):
        raise PackagerError(f"box {head[4:8]!r} is truncated")
    return head + body


def timescale(init: bytes) -> int:
    """The media timescale of the (single) track in an init segment."""
    box = find_box(init, [b"moov", b"trak", b"mdia", b"mdhd"])
    if box is None:
        raise PackagerError("init segment has no mdhd")
    p = box.payload.start
    version = init[p]
    return struct.unpack_from(">I", init, p + (20 if version == 1 else 12))[0]


def _trex_defaults(init: bytes) -> tuple[int, int]:
    box = find_box(init, [b"moov", b"mvex", b"trex"])
    if box is None:
        return 0, 0
    p = box.payload.start
    # version/flags, track_ID, default_sample_description_index, duration, size, flags
    _, _, _, dur, _, flags = struct.unpack_from(">IIIIII", init, p)
    return dur, flags


def avc_codecs(init: bytes) -> str:
    """RFC 6381 ``avc1.PPCCLL`` from the avcC box of an init segment."""
    box = find_box(init, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"avcC"],)
    if box is None:
        # avc1 sample entry: 78 bytes of fields before its child boxes
        entry = find_box(init, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"])
        if entry is None:
            raise PackagerError("init segment has no avc1 sample entry")
        box = find_box(init, [b"avcC"], entry.offset + 8 + 78, entry.offset + entry.size)
        if box is None:
            raise PackagerError("avc1 sample entry has no avcC")
    p = box.payload.start
    profile, compat, level = init[p + 1], init[p + 2], init[p + 3]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def parse_fragment(fragment: bytes, init: bytes) -> Fragment:
    """Decode time, duration, sample count and first-sample sync flag of one moof+mdat."""
    trex_dur, trex_flags = _trex_defaults(init)
    moof = next((b for b in iter_boxes(fragment) if b.type == b"moof"), None)
    if moof is None:
        raise PackagerError("fragment has no moof")
    traf = find_box(fragment, [b"traf"], moof.payload.start, moof.offset + moof.size)
    if traf is None:
        raise PackagerError("moof has no traf")
    decode_time = 0
    default_dur, default_flags = trex_dur, trex_flags
    total = 0
    count = 0
    first_flags: int | None = None
    for box in iter_boxes(fragment, traf.payload.start, traf.offset + traf.size):
        p = box.payload.start
        vf = struct.unpack_from(">I", fragment, p)[0]
        version, flags = vf >> 24, vf & 0xFFFFFF
        if box.type == b"tfdt":
            fmt = ">Q" if version == 1 else ">I"
            decode_time = struct.unpack_from(fmt, fragment, p + 4)[0]
        elif box.type == b"tfhd":
            q = p + 8  # version/flags + track_ID
            if flags & 0x1:
                q += 8
            if flags & 0x2:
                q += 4
            if flags & 0x8:
                default_dur = struct.unpack_from(">I", fragment, q)[0]
                q += 4
            if flags & 0x10:
                q += 4
            if flags & 0x20:
                default_flags = struct.unpack_from(">I", fragment, q)[0]
        elif box.type == b"trun":
            n = struct.unpack_from(">I", fragment, p + 4)[0]
            q = p + 8
            if flags & 0x1:
                q += 4
            run_first: int | None = None
            if flags & 0x4:
                run_first = struct.unpack_from(">I", fragment, q)[0]
                q += 4
            for i in range(n):
                dur = default_dur
                sflags = default_flags
                if flags & 0x100:
                    dur = struct.unpack_from(">I", fragment, q)[0]
                    q += 4
                if flags & 0x200:
                    q += 4
                if flags & 0x400:
                    sflags = struct.unpack_from(">I", fragment, q)[0]
                    q += 4
                if flags & 0x800:
                    q += 4
                if i == 0 and run_first is not None:
                    sflags = run_first
                if count == 0 and i == 0:
                    first_flags = sflags
                total += dur
            count += n
    sync = first_flags is not None and not (first_flags & 0x10000)
    return Fragment(fragment, decode_time, total, count, sync)
