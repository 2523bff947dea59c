"""sidx parsing and SegmentBase resolution, on synthetic boxes and on a real fMP4."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from manifest import ByteRange, InitSegment, ManifestError, SegmentIndex, UnsupportedManifestError
from manifest.sidx import parse_sidx, resolve_segment_base


def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), btype) + payload


def sidx_box(
    refs: list[tuple[int, int, int]],
    *,
    version: int = 0,
    timescale: int = 1000,
    ept: int = 0,
    first_offset: int = 0,
    reference_id: int = 1,
) -> bytes:
    body = struct.pack(">B3sII", version, b"\0\0\0", reference_id, timescale)
    body += struct.pack(">II" if version == 0 else ">QQ", ept, first_offset)
    body += struct.pack(">HH", 0, len(refs))
    for rtype, size, dur in refs:
        body += struct.pack(">III", (rtype << 31) | size, dur, (1 << 31) | (1 << 28))
    return box(b"sidx", body)


REFS = [(0, 1000, 2000), (0, 1500, 2000), (0, 700, 1000)]


@pytest.mark.parametrize("version", [0, 1])
def test_parse_versions(version: int) -> None:
    s = parse_sidx(sidx_box(REFS, version=version, timescale=90000, ept=5, first_offset=7))
    assert s.version == version
    assert s.timescale == 90000
    assert s.earliest_presentation_time == 5
    assert s.first_offset == 7
    assert [
        (r.reference_type, r.referenced_size, r.subsegment_duration) for r in s.references
    ] == REFS
    assert s.references[0].starts_with_sap and s.references[0].sap_type == 1


def test_version1_large_values() -> None:
    s = parse_sidx(sidx_box(REFS, version=1, ept=2**40, first_offset=2**33))
    assert s.earliest_presentation_time == 2**40
    assert s.first_offset == 2**33


def test_skips_boxes_before_sidx() -> None:
    data = box(b"styp", b"msdh\0\0\0\0") + box(b"free", b"x" * 13) + sidx_box(REFS)
    s = parse_sidx(data)
    assert s.box_offset == 16 + 21
    assert len(s.references) == 3


def test_largesize_box_header_skipped() -> None:
    free = struct.pack(">I4sQ", 1, b"free", 16 + 4) + b"abcd"
    s = parse_sidx(free + sidx_box(REFS))
    assert s.box_offset == 20


@pytest.mark.parametrize("cut", [1, 7, 8, 20, 31, 40, 50])
def test_truncated_raises(cut: int) -> None:
    data = sidx_box(REFS)
    with pytest.raises(ManifestError):
        parse_sidx(data[:cut])


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 64, b"garbage garbage garbage", b"\xff" * 40, struct.pack(">I4s", 4, b"sidx")],
)
def test_garbage_raises(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_sidx(data)


def test_no_sidx_raises() -> None:
    with pytest.raises(ManifestError, match="no sidx"):
        parse_sidx(box(b"moof", b"") + box(b"mdat", b"12"))


def test_reference_count_beyond_box_raises() -> None:
    data = bytearray(sidx_box(REFS))
    struct.pack_into(">H", data, 30, 200)  # reference_count of a v0 box
    with pytest.raises(ManifestError, match="references"):
        parse_sidx(bytes(data))


def base_index(first: int, last: int) -> SegmentIndex:
    init = InitSegment("https://cdn/v.mp4", ByteRange(0, first))
    return SegmentIndex(
        "base", (), init, ByteRange(first, last - first + 1), media_url="https://cdn/v.mp4"
    )


def test_resolve_offsets_and_times() -> None:
    data = sidx_box(REFS, first_offset=10)
    idx = base_index(800, 800 + len(data) - 1)
    out = resolve_segment_base(idx, data, "https://cdn/v.mp4", period_start=30.0)
    assert out.addressing == "base"
    first = 800 + len(data) + 10  # index_range end + 1 + first_offset
    assert [s.byte_range for s in out.segments] == [
        ByteRange(first, 1000),
        ByteRange(first + 1000, 1500),
        ByteRange(first + 2500, 700),
    ]
    assert [s.start for s in out.segments] == pytest.approx([30.0, 32.0, 34.0])
    assert [s.duration for s in out.segments] == pytest.approx([2.0, 2.0, 1.0])
    assert [s.number for s in out.segments] == [1, 2, 3]
    assert all(s.url == "https://cdn/v.mp4" and s.init == idx.init for s in out.segments)
    assert out.timescale == 1000
    assert out.index_range == idx.index_range


def test_resolve_hierarchical_unsupported() -> None:
    data = sidx_box([(1, 500, 2000), (0, 100, 2000)])
    with pytest.raises(UnsupportedManifestError):
        resolve_segment_base(base_index(0, len(data) - 1), data, "u", 0.0)


def test_resolve_needs_index_range() -> None:
    with pytest.raises(ManifestError):
        resolve_segment_base(SegmentIndex("base"), sidx_box(REFS), "u", 0.0)


def _boxes(data: bytes) -> list[tuple[int, int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        size, t = struct.unpack_from(">I4s", data, pos)
        out.append((pos, size, t))
        pos += size
    return out


@pytest.fixture(scope="module")
def real_fmp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    av = pytest.importorskip("av")
    np = pytest.importorskip("numpy")
    path = Path(tmp_path_factory.mktemp("fmp4")) / "v.mp4"
    out = av.open(
        str(path),
        mode="w",
        format="mp4",
        options={"movflags": "dash+frag_keyframe+empty_moov+global_sidx"},
    )
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    st = out.add_stream(codec, rate=25)
    st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
    st.gop_size = 25
    for i in range(100):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, dtype=np.uint8), format="rgb24")
        for pkt in st.encode(frame):
            out.mux(pkt)
    for pkt in st.encode():
        out.mux(pkt)
    out.close()
    return path.read_bytes()


def test_real_fmp4_sidx(real_fmp4: bytes) -> None:
    boxes = _boxes(real_fmp4)
    sidx_pos, sidx_size, _ = next(b for b in boxes if b[2] == b"sidx")
    moofs = [b for b in boxes if b[2] == b"moof"]
    idx = base_index(sidx_pos, sidx_pos + sidx_size - 1)
    # hand in the whole head of the file: the parser must skip ftyp/moov
    head = real_fmp4[: sidx_pos + sidx_size]
    s = parse_sidx(head)
    assert s.box_offset == sidx_pos
    out = resolve_segment_base(
        idx, real_fmp4[sidx_pos : sidx_pos + sidx_size], "https://cdn/v.mp4", 0.0
    )
    assert len(out.segments) == len(s.references) > 0
    # every subsegment starts on a moof and they tile the rest of the file
    moof_offsets = {b[0] for b in moofs}
    assert all(seg.byte_range and seg.byte_range.offset in moof_offsets for seg in out.segments)
    last = out.segments[-1].byte_range
    assert last is not None
    assert out.segments[0].byte_range.offset == sidx_pos + sidx_size  # type: ignore[union-attr]
    assert sum(seg.duration for seg in out.segments) == pytest.approx(4.0, abs=0.1)
    mfra = [b for b in boxes if b[2] == b"mfra"]
    end = mfra[0][0] if mfra else len(real_fmp4)
    assert last.offset + last.length == end


def test_segment_base_end_to_end_on_real_fmp4(real_fmp4: bytes) -> None:
    """write_mpd (SegmentBase) -> parse_mpd -> fetch indexRange -> resolve_segment_base."""
    from manifest import Period, Presentation, Rendition, Track
    from manifest.dash import parse_mpd
    from manifest.dash_writer import write_mpd

    boxes = _boxes(real_fmp4)
    sidx_pos, sidx_size, _ = next(b for b in boxes if b[2] == b"sidx")
    media = "https://cdn.example.com/vod/v.mp4"
    idx = SegmentIndex(
        "base",
        (),
        InitSegment(media, ByteRange(0, sidx_pos)),
        ByteRange(sidx_pos, sidx_size),
        media_url=media,
    )
    track = Track("v", "video", (Rendition("v", 100_000, segments=idx, mime_type="video/mp4"),))
    p = Presentation(
        "dash",
        "dash",
        "https://cdn.example.com/vod/manifest.mpd",
        False,
        4.0,
        (Period(None, 0.0, 4.0, (track,)),),
    )
    parsed = parse_mpd(write_mpd(p), p.url).renditions()[0].segments
    assert parsed is not None and parsed.index_range == idx.index_range
    rng = parsed.index_range
    assert rng is not None
    fetched = real_fmp4[rng.offset : rng.offset + rng.length]  # what an HTTP Range request returns
    out = resolve_segment_base(parsed, fetched, parsed.media_url or media, 0.0)
    moofs = {b[0] for b in boxes if b[2] == b"moof"}
    assert out.segments and all(s.byte_range and s.byte_range.offset in moofs for s in out.segments)
    assert out.init == InitSegment(media, ByteRange(0, sidx_pos))
    # the bytes each range names start with a moof box
    for s in out.segments:
        assert s.byte_range is not None
        assert real_fmp4[s.byte_range.offset + 4 : s.byte_range.offset + 8] == b"moof"
