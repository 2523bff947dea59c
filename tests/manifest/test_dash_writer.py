"""write_mpd: static VOD ladders written as MPD text that parses back to the same model."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from manifest import (
    BaseUrl,
    ByteRange,
    ContentProtection,
    ContentSteering,
    InitSegment,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from manifest.dash import parse_mpd
from manifest.dash_writer import write_mpd

URL = "https://cdn.example.com/titles/demo/manifest.mpd"
D = "https://cdn.example.com/titles/demo/"
NS = "{urn:mpeg:dash:schema:mpd:2011}"
KID = "0123456789abcdef0123456789abcdef"


def template_index(
    rid: str, n: int = 5, seg: float = 2.0, pad: int = 0, first: int = 1
) -> SegmentIndex:
    init = InitSegment(f"{D}{rid}/init.mp4")
    segs = tuple(
        Segment(f"{D}{rid}/seg-{i + first:0{pad}d}.m4s", i * seg, seg, i + first, init=init)
        for i in range(n)
    )
    return SegmentIndex("template-number", segs, init, timeline=True, timescale=1000)


def ladder(**kw: object) -> Presentation:
    video = Track(
        "v",
        "video",
        tuple(
            Rendition(
                f"v{h}",
                bw,
                width=w,
                height=h,
                codecs="avc1.64001f",
                frame_rate=30000 / 1001,
                mime_type="video/mp4",
                segments=template_index(f"v{h}"),
            )
            for w, h, bw in ((640, 360, 800_000), (1280, 720, 2_500_000), (1920, 1080, 5_000_000))
        ),
        mime_type="video/mp4",
        content_type="video",
    )
    audio = Track(
        "a",
        "audio",
        (
            Rendition(
                "a128",
                128_000,
                codecs="mp4a.40.2",
                mime_type="audio/mp4",
                sample_rate=48000,
                channels="2",
                segments=template_index("a128"),
            ),
        ),
        language="en",
        mime_type="audio/mp4",
        content_type="audio",
        roles=("main",),
        name="English",
    )
    args: dict[str, object] = dict(
        format="dash",
        kind="dash",
        url=URL,
        dynamic=False,
        duration=10.0,
        periods=(Period("p0", 0.0, 10.0, (video, audio)),),
        min_buffer_time=2.0,
    )
    args.update(kw)
    return Presentation(**args)  # type: ignore[arg-type]


def roundtrip(p: Presentation) -> tuple[str, Presentation]:
    text = write_mpd(p)
    return text, parse_mpd(text, p.url)


def test_ladder_writes_template_with_timeline() -> None:
    text, q = roundtrip(ladder())
    root = ET.fromstring(text)
    assert root.tag == NS + "MPD"
    assert root.get("profiles") == "urn:mpeg:dash:profile:isoff-live:2011"
    assert root.get("type") == "static"
    assert root.get("mediaPresentationDuration") == "PT10S"
    assert root.get("minBufferTime") == "PT2S"
    assert root.find(f".//{NS}SegmentList") is None
    st = root.find(f".//{NS}SegmentTemplate")
    assert st is not None
    assert st.get("media") == "v360/seg-$Number$.m4s"
    assert st.get("initialization") == "v360/init.mp4"
    s_elems = st.findall(f"{NS}SegmentTimeline/{NS}S")
    assert [(s.get("t"), s.get("d"), s.get("r")) for s in s_elems] == [("0", "2000", "4")]
    aset = root.find(f".//{NS}AdaptationSet")
    assert aset is not None
    assert aset.get("contentType") == "video" and aset.get("segmentAlignment") == "true"
    assert aset.get("mimeType") == "video/mp4"
    rep = aset.find(f"{NS}Representation")
    assert rep is not None and rep.get("frameRate") == "30000/1001"
    assert q.duration == 10.0 and q.min_buffer_time == 2.0
    v = q.tracks("video")[0]
    assert [(r.id, r.bandwidth, r.width, r.height) for r in v.renditions] == [
        ("v360", 800_000, 640, 360),
        ("v720", 2_500_000, 1280, 720),
        ("v1080", 5_000_000, 1920, 1080),
    ]
    assert v.renditions[0].frame_rate == pytest.approx(29.97002997)
    a = q.tracks("audio")[0]
    assert a.language == "en" and a.roles == ("main",) and a.name == "English"
    assert a.renditions[0].sample_rate == 48000 and a.renditions[0].channels == "2"


def test_segments_round_trip_exactly() -> None:
    p = ladder()
    _, q = roundtrip(p)
    for r0, r1 in zip(p.renditions(), q.renditions(), strict=True):
        assert r1.segments is not None and r0.segments is not None
        assert r1.segments.init == r0.segments.init
        assert [(s.url, s.number) for s in r1.segments.segments] == [
            (s.url, s.number) for s in r0.segments.segments
        ]
        for s0, s1 in zip(r0.segments.segments, r1.segments.segments, strict=True):
            assert s1.start == pytest.approx(s0.start, abs=1e-6)
            assert s1.duration == pytest.approx(s0.duration, abs=1e-6)


def test_zero_padded_numbers_use_format_tag() -> None:
    idx = template_index("v", pad=5, first=7)
    p = ladder()
    per = p.periods[0]
    v = per.tracks[0]
    v2 = Track(
        "v",
        "video",
        (Rendition("v", 1, segments=idx, mime_type="video/mp4"),),
        mime_type="video/mp4",
    )
    p2 = Presentation("dash", "dash", URL, False, 10.0, (Period("p0", 0.0, 10.0, (v2,)),))
    text, q = roundtrip(p2)
    assert "v/seg-$Number%05d$.m4s" in text
    assert 'startNumber="7"' in text
    assert [s.url for s in q.renditions()[0].segments.segments] == [s.url for s in idx.segments]  # type: ignore[union-attr]
    assert v.id == "v"


def test_irregular_urls_write_segment_list_with_ranges() -> None:
    init = InitSegment(f"{D}v.mp4", ByteRange(0, 800))
    segs = (
        Segment(f"{D}v.mp4", 0.0, 4.0, 1, ByteRange(800, 1000), init=init),
        Segment(f"{D}v.mp4", 4.0, 3.5, 2, ByteRange(1800, 900), init=init),
        Segment(f"{D}other/part.mp4", 7.5, 2.5, 3, None, init=init),
    )
    idx = SegmentIndex("list", segs, init)
    t = Track("v", "video", (Rendition("v", 1000, segments=idx, mime_type="video/mp4"),))
    p = Presentation("dash", "dash", URL, False, 10.0, (Period(None, 0.0, 10.0, (t,)),))
    text, q = roundtrip(p)
    assert "<SegmentList" in text and "<SegmentTemplate" not in text
    assert 'mediaRange="800-1799"' in text
    got = q.renditions()[0].segments
    assert got is not None and got.addressing == "list"
    assert got.init == init
    assert [(s.url, s.byte_range) for s in got.segments] == [(s.url, s.byte_range) for s in segs]
    assert [s.start for s in got.segments] == pytest.approx([0.0, 4.0, 7.5])
    assert [s.duration for s in got.segments] == pytest.approx([4.0, 3.5, 2.5])


def test_segment_base_rendition() -> None:
    init = InitSegment(f"{D}v.mp4", ByteRange(0, 674))
    idx = SegmentIndex("base", (), init, ByteRange(674, 308), media_url=f"{D}v.mp4")
    t = Track("v", "video", (Rendition("v", 1000, segments=idx, mime_type="video/mp4"),))
    p = Presentation("dash", "dash", URL, False, 6.0, (Period(None, 0.0, 6.0, (t,)),))
    text, q = roundtrip(p)
    assert '<SegmentBase indexRange="674-981">' in text
    assert "<BaseURL>v.mp4</BaseURL>" in text
    got = q.renditions()[0].segments
    assert got is not None
    assert (got.addressing, got.index_range, got.init, got.media_url) == (
        "base",
        idx.index_range,
        init,
        idx.media_url,
    )


def test_single_file_rendition_written_as_base_url() -> None:
    idx = SegmentIndex(
        "none", (Segment(f"{D}subs/en.vtt", 0.0, 6.0, 1),), media_url=f"{D}subs/en.vtt"
    )
    t = Track(
        "t", "text", (Rendition("en", 256, segments=idx, mime_type="text/vtt"),), language="en"
    )
    p = Presentation("dash", "dash", URL, False, 6.0, (Period(None, 0.0, 6.0, (t,)),))
    text, q = roundtrip(p)
    assert "<BaseURL>subs/en.vtt</BaseURL>" in text
    got = q.renditions()[0].segments
    assert got is not None and got.addressing == "none"
    assert [(s.url, s.start, s.duration) for s in got.segments] == [(f"{D}subs/en.vtt", 0.0, 6.0)]
    assert q.tracks()[0].type == "text"


def test_content_protection_and_steering() -> None:
    prot = (
        ContentProtection(
            "urn:mpeg:dash:mp4protection:2011", "mp4protection", "cenc", default_kid=KID
        ),
        ContentProtection(
            "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e",
            "clearkey",
            "ClearKey1.0",
            licence_url="https://licence.example.com/clearkey",
        ),
    )
    p = ladder(
        steering=ContentSteering("https://steer.example.com/dash", "cdn-a", True, None),
        base_urls=(
            BaseUrl(D, "cdn-a", 1, 10),
            BaseUrl("https://cdn-b.example.com/titles/demo/", "cdn-b", 2, 10),
        ),
    )
    per = p.periods[0]
    video = per.tracks[0]
    from dataclasses import replace

    video = replace(
        video,
        protection=prot,
        renditions=tuple(replace(r, protection=prot) for r in video.renditions),
    )
    p = replace(p, periods=(replace(per, tracks=(video, per.tracks[1])),))
    text, q = roundtrip(p)
    assert 'cenc:default_KID="01234567-89ab-cdef-0123-456789abcdef"' in text
    assert "<dashif:Laurl>https://licence.example.com/clearkey</dashif:Laurl>" in text
    qv = q.tracks("video")[0]
    assert qv.protection == prot
    assert all(r.protection == prot for r in qv.renditions)
    assert q.steering == p.steering
    assert q.base_urls == p.base_urls
    assert q.renditions()[0].base_urls[1].startswith("https://cdn-b.example.com/")
    assert [loc.service_location for loc in q.renditions()[0].locations] == ["cdn-a", "cdn-b"]
    # segment URLs still resolve to the first location
    assert q.renditions()[0].segments.segments[0].url == f"{D}v360/seg-1.m4s"  # type: ignore[union-attr]


def test_urls_outside_manifest_dir_stay_absolute() -> None:
    init = InitSegment("https://other.example.net/x/init.mp4")
    segs = tuple(
        Segment(f"https://other.example.net/x/{i}.m4s", 2.0 * i, 2.0, i, init=init)
        for i in range(1, 4)
    )
    idx = SegmentIndex("template-number", segs, init)
    t = Track("v", "video", (Rendition("v", 1, segments=idx, mime_type="video/mp4"),))
    p = Presentation("dash", "dash", URL, False, 8.0, (Period(None, 0.0, 8.0, (t,)),))
    text, q = roundtrip(p)
    assert 'media="https://other.example.net/x/$Number$.m4s"' in text
    got = q.renditions()[0].segments
    assert got is not None
    assert [s.url for s in got.segments] == [s.url for s in segs]
    assert [s.start for s in got.segments] == pytest.approx([2.0, 4.0, 6.0])


def test_segments_before_period_start_use_presentation_time_offset() -> None:
    segs = tuple(Segment(f"{D}s{i}.m4s", 10.0 + 2.0 * i - 0.5, 2.0, i + 1) for i in range(3))
    idx = SegmentIndex("template-number", segs)
    t = Track("v", "video", (Rendition("v", 1, segments=idx, mime_type="video/mp4"),))
    p = Presentation("dash", "dash", URL, False, 16.0, (Period("x", 10.0, 6.0, (t,)),))
    text, q = roundtrip(p)
    assert "presentationTimeOffset=" in text
    got = q.renditions()[0].segments
    assert got is not None
    assert [s.start for s in got.segments] == pytest.approx([9.5, 11.5, 13.5])


def test_dollar_in_urls_is_escaped() -> None:
    segs = tuple(Segment(f"{D}a$b/{i}.m4s", 2.0 * (i - 1), 2.0, i) for i in range(1, 4))
    idx = SegmentIndex("template-number", segs)
    t = Track("v", "video", (Rendition("v", 1, segments=idx, mime_type="video/mp4"),))
    p = Presentation("dash", "dash", URL, False, 6.0, (Period(None, 0.0, 6.0, (t,)),))
    text, q = roundtrip(p)
    assert "a$$b/$Number$.m4s" in text
    assert [s.url for s in q.renditions()[0].segments.segments] == [s.url for s in segs]  # type: ignore[union-attr]


def test_xml_special_characters_escaped() -> None:
    p = ladder()
    per = p.periods[0]
    from dataclasses import replace

    audio = replace(per.tracks[1], name='Commentary <"director"> & cast')
    p = replace(p, periods=(replace(per, tracks=(per.tracks[0], audio)),))
    _, q = roundtrip(p)
    assert q.tracks("audio")[0].name == 'Commentary <"director"> & cast'


def test_unknown_durations_derived_from_segments() -> None:
    segs = tuple(Segment(f"{D}{i}.m4s", 2.0 * i, 2.0, i) for i in range(3))
    idx = SegmentIndex("template-number", segs)
    t = Track("v", "video", (Rendition("v", 5, segments=idx),))
    p = Presentation("dash", "dash", URL, False, None, (Period(None, 0.0, None, (t,)),))
    text, q = roundtrip(p)
    assert 'mediaPresentationDuration="PT6S"' in text
    assert 'media="$Number$.m4s"' in text
    assert q.duration == 6.0
    assert [s.url for s in q.renditions()[0].segments.segments] == [s.url for s in segs]  # type: ignore[union-attr]


def test_zero_duration_segment_is_refused() -> None:
    segs = (Segment(f"{D}1.m4s", 0.0, 2.0, 1), Segment(f"{D}2.m4s", 2.0, 0.0, 2))
    t = Track("v", "video", (Rendition("v", 5, segments=SegmentIndex("template-number", segs)),))
    p = Presentation("dash", "dash", URL, False, 2.0, (Period(None, 0.0, 2.0, (t,)),))
    with pytest.raises(ValueError, match="positive duration"):
        write_mpd(p)
