"""Property tests: write_hls -> parse_hls round trips; bad playlists raise ManifestError only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifest import (
    ByteRange,
    InitSegment,
    KeyInfo,
    ManifestError,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from manifest.hls import parse_hls, parse_media_playlist
from manifest.hls_writer import MASTER_NAME, relative, write_hls

BASE = "https://cdn.example.com/title/master.m3u8"
ROOT = "https://cdn.example.com/title/"
CORPUS = Path(__file__).parent / "corpus"
CORPUS_HLS = sorted(CORPUS.glob("*.m3u8")) + sorted((CORPUS.parent / "extra_corpus").glob("*.m3u8"))

CODECS = ["avc1.64001f,mp4a.40.2", "hvc1.2.4.L93.B0", "avc1.4d401e", None]


@st.composite
def segment_indexes(draw: st.DrawFn, prefix: str) -> SegmentIndex:
    count = draw(st.integers(1, 12))
    durations = draw(
        st.lists(st.floats(0.2, 12.0, allow_nan=False), min_size=count, max_size=count)
    )
    single_file = draw(st.booleans())
    with_init = draw(st.booleans())
    init = None
    if with_init:
        if single_file:
            init = InitSegment(
                ROOT + f"{prefix}/media.mp4", ByteRange(0, draw(st.integers(1, 5000)))
            )
        else:
            init = InitSegment(ROOT + f"{prefix}/init.mp4")
    key = None
    if draw(st.booleans()):
        key = KeyInfo("AES-128", uri=ROOT + "keys/k1.key", iv="0x" + "ab" * 16)
    first = draw(st.integers(0, 1000))
    offset = init.byte_range.length if init and init.byte_range else 0
    segs = []
    start = 0.0
    for k, d in enumerate(durations):
        if single_file:
            gap_bytes = draw(st.sampled_from([0, 0, 0, 17]))
            length = draw(st.integers(1, 10**7))
            br = ByteRange(offset + gap_bytes, length)
            offset = br.offset + br.length
            url = ROOT + f"{prefix}/media.mp4"
        else:
            br = None
            url = ROOT + f"{prefix}/seg-{k}.m4s"
        segs.append(
            Segment(
                url=url,
                start=start,
                duration=d,
                number=first + k,
                byte_range=br,
                key=key,
                init=init,
            )
        )
        start += d
    return SegmentIndex(addressing="hls", segments=tuple(segs), init=init, media_sequence=first)


@st.composite
def ladders(draw: st.DrawFn) -> Presentation:
    n = draw(st.integers(1, 4))
    renditions = []
    for i in range(n):
        width = draw(st.sampled_from([None, 640, 1280, 1920]))
        renditions.append(
            Rendition(
                id=f"video-{i}",
                bandwidth=draw(st.integers(50_000, 20_000_000)),
                average_bandwidth=draw(st.one_of(st.none(), st.integers(40_000, 20_000_000))),
                width=width,
                height=None if width is None else width * 9 // 16,
                codecs=draw(st.sampled_from(CODECS)),
                frame_rate=draw(st.sampled_from([None, 24.0, 25.0, 29.97, 60.0])),
                uri=ROOT + f"video/{i}/index.m3u8" if draw(st.booleans()) else None,
                segments=draw(segment_indexes(f"video/{i}")),
            )
        )
    tracks = [Track(id="video", type="video", renditions=tuple(renditions))]
    if draw(st.booleans()):
        audio = Rendition(
            id="audio-en",
            bandwidth=128_000,
            codecs="mp4a.40.2",
            uri=ROOT + "audio/en/index.m3u8",
            segments=draw(segment_indexes("audio/en")),
        )
        tracks.append(
            Track(
                id="audio-en",
                type="audio",
                renditions=(audio,),
                language="en",
                name="English",
                group_id="aud",
                default=True,
                autoselect=True,
            )
        )
    if draw(st.booleans()):
        idx = draw(segment_indexes("subs/en"))
        subs = Rendition(id="subs-en", bandwidth=0, uri=ROOT + "subs/en/index.m3u8", segments=idx)
        tracks.append(
            Track(
                id="subs-en",
                type="text",
                renditions=(subs,),
                language="en",
                name="English CC",
                group_id="subs",
                roles=("subtitle",),
            )
        )
    if draw(st.booleans()):
        idx = draw(segment_indexes("video/iframes"))
        idx = SegmentIndex(
            addressing="hls", segments=idx.segments, init=idx.init, i_frames_only=True
        )
        iframe = Rendition(
            id="iframes", bandwidth=90_000, width=640, height=360, iframe=True, segments=idx
        )
        tracks.append(Track(id="iframes", type="video", renditions=(iframe,)))
    return Presentation(
        format="hls",
        kind="hls-master",
        url=BASE,
        dynamic=False,
        duration=None,
        periods=(Period(id=None, start=0.0, duration=None, tracks=tuple(tracks)),),
    )


def _resolve_all(files: dict[str, str]) -> Presentation:
    p = parse_hls(files[MASTER_NAME], BASE)
    for r in p.renditions():
        assert r.uri is not None
        name = relative(r.uri, BASE)
        p = p.with_segments(r.id, parse_media_playlist(files[name], r.uri))
    return p


def _same_index(got: SegmentIndex | None, want: SegmentIndex) -> None:
    assert got is not None
    assert len(got) == len(want)
    assert got.ended
    for g, w in zip(got.segments, want.segments, strict=True):
        assert g.url == w.url
        assert g.duration == pytest.approx(w.duration, abs=1e-3)
        assert g.start == pytest.approx(w.start, abs=1e-3 * len(want))
        assert g.number == w.number
        assert g.byte_range == w.byte_range
        assert g.init == w.init
        assert g.key == w.key


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ladders())
def test_write_then_parse_round_trips(p: Presentation) -> None:
    files = write_hls(p)
    back = _resolve_all(files)
    want_video = [r for r in p.renditions("video") if not r.iframe]
    got_video = sorted(
        (r for r in back.renditions("video") if not r.iframe), key=lambda r: int(r.id[1:])
    )
    assert [r.bandwidth for r in got_video] == [r.bandwidth for r in want_video]
    assert [r.average_bandwidth for r in got_video] == [r.average_bandwidth for r in want_video]
    assert [(r.width, r.height) for r in got_video] == [(r.width, r.height) for r in want_video]
    assert [r.codecs for r in got_video] == [r.codecs for r in want_video]
    for g, w in zip(got_video, want_video, strict=True):
        assert (
            g.frame_rate == pytest.approx(w.frame_rate, abs=1e-3)
            if w.frame_rate
            else g.frame_rate is None
        )
        assert w.segments is not None
        _same_index(g.segments, w.segments)
    want_audio = p.tracks("audio")
    got_audio = back.tracks("audio")
    assert len(got_audio) == len(want_audio)
    for g_t, w_t in zip(got_audio, want_audio, strict=True):
        assert (g_t.language, g_t.name, g_t.group_id, g_t.default) == (
            w_t.language,
            w_t.name,
            w_t.group_id,
            w_t.default,
        )
        w_idx = w_t.renditions[0].segments
        assert w_idx is not None
        _same_index(g_t.renditions[0].segments, w_idx)
        # variants reference the audio group
        assert all(r.audio_group == w_t.group_id for r in got_video)
    want_text = p.tracks("text")
    got_text = back.tracks("text")
    assert [(t.language, t.name, t.group_id, t.roles) for t in got_text] == [
        (t.language, t.name, t.group_id, t.roles) for t in want_text
    ]
    for g_t, w_t in zip(got_text, want_text, strict=True):
        w_idx = w_t.renditions[0].segments
        assert w_idx is not None
        _same_index(g_t.renditions[0].segments, w_idx)
        assert all(r.subtitle_group == w_t.group_id for r in got_video)
    want_iframes = [r for r in p.renditions("video") if r.iframe]
    got_iframes = [r for r in back.renditions("video") if r.iframe]
    assert [(r.bandwidth, r.width, r.height) for r in got_iframes] == [
        (r.bandwidth, r.width, r.height) for r in want_iframes
    ]
    for g, w in zip(got_iframes, want_iframes, strict=True):
        assert w.segments is not None and g.segments is not None
        assert g.segments.i_frames_only
        _same_index(g.segments, w.segments)


# ---------------------------------------------------------------- robustness
MUTATIONS = st.sampled_from(["truncate", "delete", "duplicate", "swap", "replace", "insert"])
JUNK = st.sampled_from(
    [
        "#EXTINF:abc,",
        "#EXT-X-BYTERANGE:12@",
        '#EXT-X-MAP:URI="',
        "#EXT-X-KEY:METHOD",
        "#EXT-X-STREAM-INF:BANDWIDTH=",
        "#EXT-X-MEDIA:TYPE=AUDIO",
        "#EXT-X-TARGETDURATION:-1",
        "#EXT-X-PART:DURATION=x",
        "#EXT-X-SKIP:SKIPPED-SEGMENTS=",
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1",
        "#EXT-X-PROGRAM-DATE-TIME:yesterday",
        "#EXT-X-CONTENT-STEERING:",
        "seg.ts",
        "\x00\xff",
        "",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(CORPUS_HLS),
    ops=st.lists(
        st.tuples(MUTATIONS, st.integers(0, 10**6), JUNK, st.text(max_size=8)), max_size=4
    ),
    as_bytes=st.booleans(),
)
def test_mangled_playlists_only_raise_manifest_error(
    path: Path, ops: list[tuple[str, int, str, str]], as_bytes: bool
) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    for op, pos, junk, noise in ops:
        lines = text.splitlines()
        i = pos % (len(lines) + 1)
        if op == "truncate":
            text = text[: pos % (len(text) + 1)]
            continue
        if op == "delete" and i < len(lines):
            del lines[i]
        elif op == "duplicate" and i < len(lines):
            lines.insert(i, lines[i])
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif op == "replace" and i < len(lines):
            line = lines[i]
            cut = pos % (len(line) + 1)
            lines[i] = line[:cut] + noise + line[cut + len(noise) :]
        else:
            lines.insert(i, junk)
        text = "\n".join(lines)
    data: str | bytes = text.encode("utf-8", errors="surrogatepass") if as_bytes else text
    try:
        p = parse_hls(data, "https://cdn.example.com/a/" + path.name)
    except ManifestError as exc:
        assert exc.where, f"no where-message: {exc}"
    else:
        assert p.format == "hls"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_manifest_error(blob: bytes) -> None:
    try:
        parse_hls(b"#EXTM3U\n" + blob, "https://cdn.example.com/x.m3u8")
    except ManifestError as exc:
        assert exc.where, f"no where-message: {exc}"
