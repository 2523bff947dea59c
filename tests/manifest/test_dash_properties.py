"""Property tests: write_mpd -> parse_mpd round trips generated VOD ladders, and
mutated or truncated corpus MPDs only ever raise ManifestError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifest import (
    ByteRange,
    InitSegment,
    ManifestError,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from manifest.dash import parse_mpd
from manifest.dash_writer import write_mpd

URL = "https://cdn.example.com/vod/title/manifest.mpd"
DIR = "https://cdn.example.com/vod/title/"
CORPUS = Path(__file__).parent / "corpus"
MPDS = sorted(CORPUS.glob("*.mpd")) + sorted((CORPUS.parent / "extra_corpus").glob("*.mpd"))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

codecs_v = st.sampled_from(["avc1.64001f", "avc1.4d401e", "hvc1.1.6.L93.B0", "av01.0.05M.08"])
fps = st.sampled_from([24.0, 25.0, 30.0, 50.0, 60.0, 24000 / 1001, 30000 / 1001, 60000 / 1001])
name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)


@st.composite
def segment_index(draw: st.DrawFn, rid: str, period_start: float) -> tuple[SegmentIndex, float]:
    n = draw(st.integers(1, 25))
    durations = draw(
        st.one_of(
            st.lists(st.integers(200, 8000).map(lambda ms: ms / 1000), min_size=n, max_size=n),
            st.lists(st.floats(0.05, 10.0, allow_nan=False), min_size=n, max_size=n),
        )
    )
    first = draw(st.integers(0, 1000))
    style = draw(st.sampled_from(["number", "padded", "irregular", "ranges"]))
    has_init = draw(st.booleans())
    init = InitSegment(f"{DIR}{rid}/init.mp4") if has_init else None
    if style == "ranges" and has_init:
        init = InitSegment(f"{DIR}{rid}.mp4", ByteRange(0, draw(st.integers(1, 5000))))
    segs = []
    t = period_start
    offset = 10_000
    for i, d in enumerate(durations):
        number = first + i
        br = None
        if style == "number":
            u = f"{DIR}{rid}/seg-{number}.m4s"
        elif style == "padded":
            u = f"{DIR}{rid}/chunk_{number:06d}.m4s"
        elif style == "irregular":
            u = f"{DIR}{rid}/{draw(name)}-{i}.m4s"
        else:
            size = draw(st.integers(1, 10**6))
            u, br = f"{DIR}{rid}.mp4", ByteRange(offset, size)
            offset += size
        segs.append(Segment(u, t, d, number, br, init=init))
        t += d
    idx = SegmentIndex(
        "list" if style in ("irregular", "ranges") else "template-number", tuple(segs), init
    )
    return idx, t - period_start


@st.composite
def ladders(draw: st.DrawFn) -> Presentation:
    period_start = draw(st.sampled_from([0.0, 0.0, 10.0, 3.5]))
    renditions = []
    total = 0.0
    heights = draw(
        st.lists(
            st.sampled_from([144, 240, 360, 480, 720, 1080, 2160]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    for h in heights:
        rid = f"v{h}"
        idx, dur = draw(segment_index(rid, period_start))
        total = max(total, dur)
        renditions.append(
            Rendition(
                rid,
                draw(st.integers(10_000, 50_000_000)),
                width=h * 16 // 9,
                height=h,
                codecs=draw(codecs_v),
                frame_rate=draw(fps),
                mime_type="video/mp4",
                segments=idx,
            )
        )
    tracks = [
        Track("video", "video", tuple(renditions), mime_type="video/mp4", content_type="video")
    ]
    if draw(st.booleans()):
        idx, dur = draw(segment_index("audio", period_start))
        total = max(total, dur)
        audio = Rendition(
            "audio",
            draw(st.integers(32_000, 320_000)),
            codecs="mp4a.40.2",
            mime_type="audio/mp4",
            sample_rate=48000,
            segments=idx,
        )
        tracks.append(Track("audio", "audio", (audio,), language="en", mime_type="audio/mp4"))
    # the Period covers the longest rendition (segments never start at/after its end)
    per = Period("0", period_start, total, tuple(tracks))
    return Presentation(
        "dash", "dash", URL, False, period_start + total, (per,), min_buffer_time=2.0
    )


@SETTINGS
@given(ladders())
def test_write_then_parse_round_trips(p: Presentation) -> None:
    q = parse_mpd(write_mpd(p), URL)
    assert not q.dynamic and q.duration == pytest.approx(p.duration, abs=1e-3)
    assert len(q.renditions()) == len(p.renditions())
    for r0, r1 in zip(p.renditions(), q.renditions(), strict=True):
        assert (r1.id, r1.bandwidth, r1.width, r1.height, r1.codecs) == (
            r0.id,
            r0.bandwidth,
            r0.width,
            r0.height,
            r0.codecs,
        )
        if r0.frame_rate is not None:
            assert r1.frame_rate == pytest.approx(r0.frame_rate, rel=1e-9)
        assert r0.segments is not None and r1.segments is not None
        assert r1.segments.init == r0.segments.init
        s0, s1 = r0.segments.segments, r1.segments.segments
        assert [(s.url, s.byte_range, s.number) for s in s1] == [
            (s.url, s.byte_range, s.number) for s in s0
        ]
        for a, b in zip(s0, s1, strict=True):
            assert b.start == pytest.approx(a.start, abs=1e-6)
            assert b.duration == pytest.approx(a.duration, abs=1e-6)
            assert b.init == a.init


# ----------------------------------------------------------------------------- robustness

_ATTR = re.compile(rb'="[^"]*"')
nasty_values = st.one_of(
    st.sampled_from(
        [
            b"",
            b"-1",
            b"0",
            b"abc",
            b"1e400",
            b"PT",
            b"P1W",
            b"99999999999999999999999",
            b"$Number%0999999d$",
            b"NaN",
            b"-0",
            b"1-",
            b"5-2",
            b"INF",
            b"$$$",
            b"urn:uuid:",
            b"P100000000Y",
        ]
    ),
    st.binary(max_size=12).map(
        lambda b: b.replace(b'"', b"").replace(b"<", b"").replace(b"&", b"")
    ),
)


def _only_manifest_errors(data: bytes) -> None:
    try:
        parse_mpd(data, URL)
    except ManifestError as exc:
        assert exc.where, f"no where-message: {exc}"


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MPDS), st.floats(0.0, 1.0))
def test_truncated_corpus_files(path: Path, frac: float) -> None:
    data = path.read_bytes()
    _only_manifest_errors(data[: int(len(data) * frac)])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MPDS), st.data())
def test_mutated_attribute_values(path: Path, data: st.DataObject) -> None:
    text = path.read_bytes()
    spans = [m.span() for m in _ATTR.finditer(text)]
    if not spans:
        return
    for _ in range(data.draw(st.integers(1, 4))):
        start, end = spans[data.draw(st.integers(0, len(spans) - 1))]
        value = data.draw(nasty_values)
        text = text[: start + 2] + value + text[end - 1 :]
        spans = [m.span() for m in _ATTR.finditer(text)]
        if not spans:
            break
    _only_manifest_errors(text)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MPDS), st.data())
def test_byte_level_mutations(path: Path, data: st.DataObject) -> None:
    text = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, max(0, len(text) - 1)))
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if op == "flip" and text:
            text[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del text[pos : pos + data.draw(st.integers(1, 40))]
        else:
            text[pos:pos] = data.draw(
                st.sampled_from([b'<S d="1" r="-1"/>', b"<", b">", b'"', b"&amp;", b"$"])
            )
    _only_manifest_errors(bytes(text))
