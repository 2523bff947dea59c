"""parse_mpd: one fixture per quirk (tests/manifest/dash_fixtures/) plus inline edge cases."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from manifest import (
    BaseUrl,
    ByteRange,
    ContentSteering,
    InitSegment,
    KeyInfo,
    ManifestSyntaxError,
    ManifestValueError,
    Presentation,
)
from manifest.dash import parse_mpd, protection_system
from manifest.dash_segments import MAX_SEGMENTS
from manifest.dash_xml import format_duration, parse_duration
from manifest.parse import parse as parse_any

FIX = Path(__file__).parent / "dash_fixtures"
URL = "https://cdn.example.com/t/manifest.mpd"
T = "https://cdn.example.com/t/"


def load(name: str, **kw: object) -> Presentation:
    return parse_mpd((FIX / name).read_bytes(), URL, **kw)  # type: ignore[arg-type]


def mpd(body: str, attrs: str = 'type="static" mediaPresentationDuration="PT8S"') -> str:
    return f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" minBufferTime="PT2S" {attrs}>{body}</MPD>'


def one_rep(seg_xml: str, attrs: str = 'type="static" mediaPresentationDuration="PT8S"') -> str:
    return mpd(
        f'<Period><AdaptationSet mimeType="video/mp4">{seg_xml}'
        '<Representation id="v" bandwidth="1"/></AdaptationSet></Period>',
        attrs,
    )


# ----------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0S", 0.0),
        ("PT1.5S", 1.5),
        ("PT0H12M14.000S", 734.0),
        ("P0Y0M0DT0H0M16S", 16.0),
        ("PT1H", 3600.0),
        ("P1D", 86400.0),
        ("P1DT1S", 86401.0),
        ("P1M", 30 * 86400.0),
        ("P1Y", 365 * 86400.0),
        (" PT6S ", 6.0),
        ("PT.5S", 0.5),
        ("PT5.S", 5.0),
    ],
)
def test_duration_valid(text: str, seconds: float) -> None:
    assert parse_duration(text, where="x", url=None) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "PT1.5M",
        "P1W",
        "1S",
        "PT-1S",
        "PTS",
        "PT1S1M",
        "pt1s",
        "P1.5D",
        "PT1,5S",
        "-PT1S",
    ],
)
def test_duration_invalid(text: str) -> None:
    with pytest.raises(ManifestValueError):
        parse_duration(text, where="x", url=None)


def test_duration_negative_when_allowed() -> None:
    assert parse_duration("-PT2S", where="x", url=None, allow_negative=True) == -2.0


@pytest.mark.parametrize("seconds", [0.0, 1.5, 59.999, 60.0, 3600.0, 7322.25])
def test_format_duration_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds), where="x", url=None) == pytest.approx(seconds)


def test_bad_duration_in_mpd_names_attribute() -> None:
    with pytest.raises(ManifestValueError, match="mediaPresentationDuration"):
        parse_mpd(one_rep("", 'type="static" mediaPresentationDuration="PT1W"'), URL)


# ----------------------------------------------------------------------------- templates


def test_template_number_format_tags() -> None:
    p = load("template_number_format.mpd")
    v1, v2 = p.renditions()
    assert v1.segments is not None
    urls = [s.url for s in v1.segments.segments]
    assert urls[0] == f"{T}v1/1000000/cost$/seg-00000.m4s"
    assert urls[-1] == f"{T}v1/1000000/cost$/seg-00004.m4s"
    assert [s.number for s in v1.segments.segments] == [0, 1, 2, 3, 4]
    assert [s.duration for s in v1.segments.segments] == [2.0, 2.0, 2.0, 2.0, 1.0]
    assert v1.segments.init == InitSegment(f"{T}v1/init.mp4")
    assert v1.segments.segments[0].init == v1.segments.init
    assert v1.segments.addressing == "template-number" and not v1.segments.timeline
    assert (v1.width, v1.height, v2.width, v2.height) == (1280, 720, 1920, 1080)
    assert v1.frame_rate == pytest.approx(30000 / 1001)
    assert v1.mime_type == "video/mp4" and v1.codecs == "avc1.64001f"
    assert p.tracks()[0].type == "video"


def test_timeline_time_with_presentation_time_offset() -> None:
    p = load("timeline_time.mpd")
    (a,) = p.renditions()
    idx = a.segments
    assert idx is not None
    assert idx.addressing == "template-time" and idx.timeline and idx.timescale == 48000
    assert [s.url for s in idx.segments] == [
        f"{T}a/{t}.m4s" for t in (96000, 192000, 288000, 384000, 432000)
    ]
    assert [s.start for s in idx.segments] == pytest.approx([0, 2, 4, 6, 7])
    assert [s.duration for s in idx.segments] == pytest.approx([2, 2, 2, 1, 3])
    assert [s.number for s in idx.segments] == [1, 2, 3, 4, 5]
    assert a.sample_rate == 48000
    assert p.tracks()[0].language == "fr" and p.tracks()[0].type == "audio"


def test_timeline_negative_repeat() -> None:
    idx = load("timeline_negative_repeat.mpd").renditions()[0].segments
    assert idx is not None
    assert [s.start for s in idx.segments] == pytest.approx([0, 2, 4, 6, 7, 10, 13, 16, 19])
    assert [s.number for s in idx.segments] == list(range(5, 14))


def test_template_duration_count_and_end_number() -> None:
    all_, capped = load("template_end_number.mpd").renditions()
    assert all_.segments is not None and capped.segments is not None
    assert [s.number for s in all_.segments.segments] == [1, 2, 3, 4, 5, 6]
    assert all_.segments.segments[-1].duration == pytest.approx(1.0)
    assert sum(s.duration for s in all_.segments.segments) == pytest.approx(11.0)
    assert [s.url for s in capped.segments.segments] == [f"{T}c/{n}.m4s" for n in (10, 11, 12)]


def test_segment_information_inherited_and_merged() -> None:
    r1, r2 = load("inheritance.mpd").renditions()
    assert r1.segments is not None and r2.segments is not None
    assert [s.url for s in r1.segments.segments] == [f"{T}period/1.m4s", f"{T}period/2.m4s"]
    assert r1.segments.init == InitSegment(f"{T}r1/init.mp4")
    assert [s.url for s in r2.segments.segments] == [f"{T}rep/r2-{n}.m4s" for n in (1, 2, 3, 4)]
    assert r2.segments.init == InitSegment(f"{T}r2/init.mp4")
    assert r2.segments.timescale == 1000


def test_empty_template_is_one_segment() -> None:
    p = parse_mpd(one_rep('<SegmentTemplate initialization="init.mp4"/>'), URL)
    idx = p.renditions()[0].segments
    assert idx is not None and len(idx) == 1 and idx.segments[0].url == URL


TL = '<SegmentTemplate media="$Number$"><SegmentTimeline>{}</SegmentTimeline></SegmentTemplate>'


@pytest.mark.parametrize(
    "seg",
    [
        TL.format('<S t="0"/>'),
        TL.format('<S d="0" r="-1"/>'),
        TL.format('<S d="x"/>'),
        TL.format('<S d="2" r="y"/>'),
        '<SegmentTemplate media="$Number$" duration="0"/>',
        '<SegmentTemplate media="$Number$" duration="2" timescale="0"/>',
        '<SegmentTemplate media="$Number$" duration="-2"/>',
        '<SegmentTemplate media="$Number%0999999d$" duration="2"/>',
        '<SegmentList duration="1"><SegmentURL media="a" mediaRange="9-1"/></SegmentList>',
        '<SegmentBase indexRange="abc"/>',
    ],
)
def test_bad_segment_values_raise(seg: str) -> None:
    with pytest.raises(ManifestValueError):
        parse_mpd(one_rep(seg), URL)


# ----------------------------------------------------------------------------- list / base / none


def test_segment_list_with_ranges() -> None:
    idx = load("segment_list_ranges.mpd").renditions()[0].segments
    assert idx is not None and idx.addressing == "list"
    media = f"{T}media/v.mp4"
    assert idx.init == InitSegment(media, ByteRange(0, 100))
    assert [(s.url, s.byte_range, s.number) for s in idx.segments] == [
        (media, ByteRange(100, 1000), 3),
        (media, ByteRange(1100, 500), 4),
        (f"{T}media/other.mp4", ByteRange(0, 10), 5),
    ]
    assert [s.start for s in idx.segments] == [0.0, 4.0, 8.0]
    assert ByteRange(100, 1000).header() == "bytes=100-1099"


def test_segment_list_keeps_urls_beyond_its_timeline() -> None:
    seg = (
        '<SegmentList timescale="10"><SegmentTimeline><S t="0" d="20" r="1"/></SegmentTimeline>'
        '<SegmentURL media="a"/><SegmentURL media="b"/><SegmentURL media="c"/></SegmentList>'
    )
    idx = parse_mpd(one_rep(seg), URL).renditions()[0].segments
    assert idx is not None and idx.timeline
    assert [(s.url, s.start, s.duration) for s in idx.segments] == [
        (f"{T}a", 0.0, 2.0),
        (f"{T}b", 2.0, 2.0),
        (f"{T}c", 4.0, 2.0),
    ]


def test_segment_base_leaves_segments_to_sidx() -> None:
    idx = load("segment_base.mpd").renditions()[0].segments
    media = "https://media.example.org/vod/v.mp4"
    assert idx is not None
    assert (idx.addressing, idx.segments, idx.index_range) == ("base", (), ByteRange(674, 308))
    assert idx.init == InitSegment(media, ByteRange(0, 674))
    assert idx.media_url == media and idx.timescale == 90000


def test_plain_base_url_is_one_segment_covering_the_period() -> None:
    p = load("track_types.mpd")
    idx = p.renditions()[0].segments
    assert idx is not None and idx.addressing == "none"
    assert [(s.url, s.start, s.duration) for s in idx.segments] == [(f"{T}1.mp4", 0.0, 4.0)]


# ----------------------------------------------------------------------------- base URLs


def test_base_urls_every_level_with_alternatives() -> None:
    p = load("base_urls.mpd")
    assert p.base_urls == (
        BaseUrl("https://a.example.com/root/", "a", 1, 70),
        BaseUrl("https://b.example.com/root/", "b", 2, 30),
    )
    assert p.periods[0].base_urls == (
        "https://a.example.com/root/period/",
        "https://b.example.com/root/period/",
    )
    r, absolute = p.renditions()
    assert r.base_urls == (
        "https://a.example.com/root/period/as/rep/",
        "https://b.example.com/root/period/as/rep/",
    )
    assert [loc.service_location for loc in r.locations] == ["a", "b"]
    assert r.segments is not None
    assert r.segments.segments[0].url == "https://a.example.com/root/period/as/rep/r_1.m4s"
    assert absolute.base_urls == ("https://c.example.com/x/",)
    assert absolute.locations == (BaseUrl("https://c.example.com/x/"),)
    extra = dict(p.extra)
    assert (extra["baseurl_count"], extra["mpd_level_baseurl_count"]) == ("6", "2")


def test_no_base_url_resolves_against_manifest() -> None:
    p = parse_mpd(one_rep('<SegmentTemplate media="s/$Number$.m4s" duration="4"/>'), URL)
    r = p.renditions()[0]
    assert r.base_urls == () and p.base_urls == ()
    assert r.segments is not None and r.segments.segments[0].url == f"{T}s/1.m4s"


# ----------------------------------------------------------------------------- protection etc.


def test_content_protection() -> None:
    p = load("content_protection.mpd")
    track = p.tracks()[0]
    systems = [cp.system for cp in track.protection]
    assert systems == ["mp4protection", "clearkey", "clearkey", "widevine", "playready"]
    mp4, ck, ck2, wv, pr = track.protection
    assert mp4.default_kid == "9eb4050de44b4802932e27d75083e266" and mp4.value == "cenc"
    assert ck.licence_url == "https://lic.example.com/ck"
    assert ck2.licence_url == f"{T}licence/ck2"
    assert wv.pssh == "AAAANHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABQIARIQnrQFDeRLSAKTLifXUIPiZg=="
    assert wv.scheme_id_uri == "urn:uuid:EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED"
    assert pr.licence_url == "https://pr.example.com/rightsmanager.asmx"
    rep = p.renditions()[0]
    assert rep.protection[:5] == track.protection
    assert rep.protection[5].system == "fairplay"
    # segments carry the key info a decryptor needs
    assert rep.segments is not None
    key = rep.segments.segments[0].key
    assert key == KeyInfo(method="cenc", kid="9eb4050de44b4802932e27d75083e266")


def test_clear_segments_have_no_key_and_main_role_is_default() -> None:
    p = load("track_types.mpd")
    assert all(s.key is None for r in p.renditions() for s in r.segments.segments)  # type: ignore[union-attr]
    body = (
        '<Period><AdaptationSet><Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>'
        '<Representation id="a" bandwidth="5"/></AdaptationSet></Period>'
    )
    assert parse_mpd(mpd(body), URL).tracks()[0].default


def test_content_protection_references() -> None:
    p = load("content_protection_ref.mpd")
    (ck,) = p.protection
    assert (ck.system, ck.licence_url) == ("clearkey", "https://lic.example.com/ck")
    mp4, ref = p.tracks()[0].protection
    assert ref.system == "clearkey" and ref.licence_url == "https://lic.example.com/ck"
    assert ref.value == "ClearKey1.0"
    key = p.renditions()[0].segments.segments[0].key  # type: ignore[union-attr]
    assert key == KeyInfo(method="cbcs", kid="00112233445566778899aabbccddeeff")
    assert mp4.default_kid == key.kid


@pytest.mark.parametrize(
    ("scheme", "system"),
    [
        ("urn:mpeg:dash:mp4protection:2011", "mp4protection"),
        ("urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e", "clearkey"),
        ("urn:uuid:1077EFEC-C0B2-4D02-ACE3-3C1E52E2FB4B", "clearkey"),
        ("urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed", "widevine"),
        ("urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95", "playready"),
        ("urn:uuid:00000000-0000-0000-0000-000000000000", "unknown"),
        ("http://example.com/drm", "unknown"),
    ],
)
def test_protection_system_names(scheme: str, system: str) -> None:
    assert protection_system(scheme) == system


def test_invalid_kid_is_unknown_not_fatal() -> None:
    body = (
        '<Period><AdaptationSet mimeType="video/mp4">'
        '<ContentProtection xmlns:cenc="urn:mpeg:cenc:2013" '
        'schemeIdUri="urn:mpeg:dash:mp4protection:2011" '
        'cenc:default_KID="aaa"/><Representation id="v" bandwidth="1"/></AdaptationSet></Period>'
    )
    assert parse_mpd(mpd(body), URL).tracks()[0].protection[0].default_kid is None


def test_content_steering_utc_timing_min_buffer() -> None:
    p = load("content_steering.mpd")
    assert p.steering == ContentSteering(
        f"{T}steering/v1", "beta", True, "https://proxy.example.com/steer"
    )
    assert p.utc_timing == ("urn:mpeg:dash:utc:http-xsdate:2014", "urn:mpeg:dash:utc:direct:2014")
    assert p.min_buffer_time == 1.5
    assert [b.service_location for b in p.base_urls] == ["alpha", "beta"]


# ----------------------------------------------------------------------------- periods / live


def test_multi_period_timing() -> None:
    p = load("multi_period.mpd")
    assert [(x.id, x.start, x.duration) for x in p.periods] == [
        ("a", 0.0, 10.0),
        ("b", 10.0, 8.0),
        ("c", 18.0, 12.0),
    ]
    starts = [[s.start for s in r.segments.segments] for r in p.renditions()]  # type: ignore[union-attr]
    assert starts == [[0.0, 5.0], [10.0, 14.0], [18.0, 24.0]]
    assert p.duration == 30.0 and not p.dynamic


def test_static_duration_from_last_period_when_mpd_has_none() -> None:
    text = mpd('<Period start="PT2S" duration="PT5S"><AdaptationSet/></Period>', 'type="static"')
    p = parse_mpd(text, URL)
    assert p.duration == 7.0 and dict(p.extra).get("mediaPresentationDuration") is None


def test_dynamic_window_without_now_is_bounded() -> None:
    p = load("dynamic_window.mpd")
    assert p.dynamic
    extra = dict(p.extra)
    assert extra["type"] == "dynamic" and float(extra["timeShiftBufferDepth"]) == 60.0
    assert extra["availabilityStartTime"] == "2026-01-01T00:00:00Z"
    v, a = p.renditions()
    assert v.segments is not None and a.segments is not None
    assert not v.segments.ended
    assert [s.number for s in v.segments.segments] == list(range(1, 31))
    assert len(a.segments) == 30 and a.segments.segments[0].url == f"{T}a/100.m4s"


def test_dynamic_window_at_live_edge() -> None:
    ast = 1767225600.0  # 2026-01-01T00:00:00Z
    p = load("dynamic_window.mpd", now=ast + 1000.0)
    v, a = p.renditions()
    assert v.segments is not None and a.segments is not None
    assert [s.number for s in v.segments.segments] == list(range(471, 501))
    assert v.segments.segments[-1].start + 2.0 == pytest.approx(1000.0)
    assert a.segments.segments[-1].start + 2.0 == pytest.approx(1000.0)
    assert a.segments.segments[0].start >= 1000.0 - 60.0 - 2.0


def test_stale_live_timeline_keeps_its_last_window() -> None:
    text = one_rep(
        '<SegmentTemplate media="$Time$" timescale="1"><SegmentTimeline>'
        '<S t="1000" d="2" r="99"/></SegmentTimeline></SegmentTemplate>',
        'type="dynamic" availabilityStartTime="1970-01-01T00:00:00Z" timeShiftBufferDepth="PT20S"',
    )
    # the caller's clock is far ahead of what the MPD lists: keep the MPD's last 20 s
    idx = parse_mpd(text, URL, now=10**6).renditions()[0].segments
    assert idx is not None
    assert [s.start for s in idx.segments] == [1178.0 + 2 * i for i in range(11)]
    # clock inside the listed range: the window ends at the live edge; later S are not
    # available yet
    idx = parse_mpd(text, URL, now=1100).renditions()[0].segments
    assert idx is not None
    assert idx.segments[0].start == 1078.0 and idx.segments[-1].start == 1098.0  # ends at the edge


def test_huge_repeat_count_fails_fast() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ManifestValueError, match=str(MAX_SEGMENTS)):
        load("huge_repeat.mpd")
    assert time.perf_counter() - t0 < 1.0


def test_too_many_segments_by_duration_fails_fast() -> None:
    text = one_rep(
        '<SegmentTemplate media="$Number$" duration="1"/>',
        'type="static" mediaPresentationDuration="P10Y"',
    )
    t0 = time.perf_counter()
    with pytest.raises(ManifestValueError):
        parse_mpd(text, URL)
    assert time.perf_counter() - t0 < 1.0


# ----------------------------------------------------------------------------- tracks


def test_track_types_labels_roles() -> None:
    p = load("track_types.mpd")
    assert [t.type for t in p.tracks()] == ["audio", "text", "text", "video", "unknown", "image"]
    sub = p.tracks()[1]
    assert (sub.language, sub.name, sub.roles) == ("de", "Deutsch", ("subtitle",))
    assert p.tracks()[4].name == "Mystery"
    assert p.tracks()[0].content_type == "audio" and p.tracks()[0].mime_type == "video/mp4"


def test_missing_representation_id_and_bandwidth() -> None:
    text = mpd(
        '<Period><AdaptationSet mimeType="video/mp4">'
        "<Representation/><Representation/></AdaptationSet></Period>"
    )
    r1, r2 = parse_mpd(text, URL).renditions()
    assert r1.bandwidth == 0 and r1.id != r2.id


@pytest.mark.parametrize("attrs", ['bandwidth="fast"', 'bandwidth="-1"', 'bandwidth="1.5e6"'])
def test_bad_bandwidth_raises(attrs: str) -> None:
    text = mpd(f'<Period><AdaptationSet><Representation id="a" {attrs}/></AdaptationSet></Period>')
    with pytest.raises(ManifestValueError, match="bandwidth"):
        parse_mpd(text, URL)


@pytest.mark.parametrize(
    "attrs",
    [
        'width="wide" height=" "',
        'frameRate="0"',
        'frameRate="30/0"',
        'frameRate="x"',
        'audioSamplingRate=" "',
        'audioSamplingRate="\u00b2"',
    ],
)
def test_bad_descriptive_values_are_absent(attrs: str) -> None:
    rep = f'<Representation id="a" bandwidth="5" {attrs}/>'
    r = parse_mpd(mpd(f"<Period><AdaptationSet>{rep}</AdaptationSet></Period>"), URL).renditions()[
        0
    ]
    assert (r.width, r.height, r.frame_rate, r.sample_rate) == (None, None, None, None)


def test_content_component_gives_type() -> None:
    body = (
        '<Period><AdaptationSet><ContentComponent contentType="audio" id="1"/>'
        '<Representation id="a" bandwidth="5"/></AdaptationSet></Period>'
    )
    t = parse_mpd(mpd(body), URL).tracks()[0]
    assert t.type == "audio" and t.content_type is None


def test_bad_availability_start_time_is_kept_as_text() -> None:
    text = '<MPD type="dynamic" availabilityStartTime="yesterday"><Period/></MPD>'
    p = parse_mpd(text, URL, now=1e9)
    assert dict(p.extra)["availabilityStartTime"] == "yesterday"


# ----------------------------------------------------------------------------- input hygiene


def test_billion_laughs_rejected() -> None:
    with pytest.raises(ManifestSyntaxError, match="DOCTYPE"):
        load("billion_laughs.mpd")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32"])
def test_doctype_rejected_after_comments_in_any_encoding(encoding: str) -> None:
    # expat knows neither UTF-32 nor the name "utf-16-be": those fail as undecodable
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!-- a <!DOCTYPE in a comment is fine -->\n'
        '<?pi x?><!DOCTYPE MPD [<!ENTITY e "x">]><MPD xmlns="urn:mpeg:dash:schema:mpd:2011">'
        "<Period/></MPD>"
    )
    data = text.encode(encoding)
    match = "DOCTYPE" if encoding in ("utf-8", "utf-16") else None
    with pytest.raises(ManifestSyntaxError, match=match):
        parse_mpd(data, URL)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_comment_mentioning_doctype_is_fine(encoding: str) -> None:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?><!-- <!DOCTYPE x> -->'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period id="p"/></MPD>'
    )
    assert parse_mpd(text.encode(encoding), URL).periods[0].id == "p"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "data",
        "/etc/passwd",
        "<MPD",
        "<foo/>",
        '<MPD xmlns="http://example.com/other"/>',
        "<MPD><Period></MPD>",
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><x:Period/></MPD>',
        '<?xml version="1.0"?><!DOCTYPE MPD SYSTEM "file:///etc/passwd"><MPD/>',
        b"\xff\xfe\x00garbage",
    ],
)
def test_not_an_mpd(text: str | bytes) -> None:
    with pytest.raises(ManifestSyntaxError):
        parse_mpd(text, URL)


@pytest.mark.parametrize(
    "text",
    [
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="live"><Period/></MPD>',
    ],
)
def test_bad_mpd_values(text: str) -> None:
    with pytest.raises(ManifestValueError):
        parse_mpd(text, URL)


def test_mpd_without_period_is_empty() -> None:
    p = parse_mpd('<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"/>', URL)
    assert p.periods == () and p.dynamic and p.duration is None


def test_accepts_legacy_and_missing_namespace() -> None:
    for ns in ('xmlns="urn:mpeg:DASH:schema:MPD:2011"', ""):
        text = (
            f'<MPD {ns} type="static" mediaPresentationDuration="PT4S"><Period>'
            '<AdaptationSet mimeType="audio/mp4"><Representation id="a" bandwidth="9"/>'
            "</AdaptationSet></Period></MPD>"
        )
        assert parse_mpd(text, URL).renditions()[0].bandwidth == 9


def test_bytes_with_bom_and_declared_encoding() -> None:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT4S">'
        '<Period><AdaptationSet lang="fr" label="Fran\xe7ais"/></Period></MPD>'
    )
    assert parse_mpd(text.encode("latin-1"), URL).tracks()[0].name == "Fran\xe7ais"
    assert parse_mpd(text, URL).tracks()[0].name == "Fran\xe7ais"
    utf8 = b"\xef\xbb\xbf" + text.replace("ISO-8859-1", "UTF-8").encode("utf-8")
    assert parse_mpd(utf8, URL).tracks()[0].name == "Fran\xe7ais"


def test_generic_parse_entry_point_sniffs_dash() -> None:
    p = parse_any((FIX / "multi_period.mpd").read_text(), URL)
    assert p.format == "dash" and p.kind == "dash" and len(p.periods) == 3


def test_with_segments_attaches_resolved_index() -> None:
    p = load("segment_base.mpd")
    idx = p.renditions()[0].segments
    assert idx is not None
    from dataclasses import replace

    q = p.with_segments("v", replace(idx, segments=()))
    assert q.renditions()[0].segments == replace(idx, segments=())


def test_segment_budget_is_shared_by_the_mpd() -> None:
    from manifest.dash_segments import SegmentBudget

    budget = SegmentBudget(remaining=10)
    budget.take(6, "a", None)
    with pytest.raises(ManifestValueError, match="more than"):
        budget.take(5, "b", None)
    with pytest.raises(ManifestValueError, match=str(MAX_SEGMENTS)):
        SegmentBudget().take(MAX_SEGMENTS + 1, "c", None)


def test_segment_list_drops_segments_starting_at_or_after_the_period_end() -> None:
    # ISO/IEC 23009-1 5.3.9: Segments belong to a Period only while they start before
    # its end (the same rule as SegmentTemplate and SegmentTimeline)
    urls = "".join(f'<SegmentURL media="s{i}"/>' for i in range(4))
    idx = parse_mpd(one_rep(f'<SegmentList duration="3">{urls}</SegmentList>'), URL)
    segs = idx.renditions()[0].segments.segments  # type: ignore[union-attr]
    assert [(s.url, s.start, s.duration) for s in segs] == [
        (f"{T}s0", 0.0, 3.0),
        (f"{T}s1", 3.0, 3.0),
        (f"{T}s2", 6.0, 3.0),
    ]


def test_segment_list_urls_beyond_a_clipped_timeline_are_dropped() -> None:
    # the timeline's 60 s segments reach past the 8 s Period: only the first belongs to it
    urls = "".join(f'<SegmentURL media="s{i}"/>' for i in range(3))
    tl = '<SegmentTimeline><S t="0" d="60" r="2"/></SegmentTimeline>'
    idx = parse_mpd(one_rep(f"<SegmentList>{tl}{urls}</SegmentList>"), URL)
    segs = idx.renditions()[0].segments.segments  # type: ignore[union-attr]
    assert [(s.url, s.start, s.duration) for s in segs] == [(f"{T}s0", 0.0, 60.0)]


XLINK_NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
TWO_SEG = '<SegmentTemplate media="$Number$" duration="4"/><Representation id="v" bandwidth="1"/>'


def test_resolve_to_zero_elements_are_removed() -> None:
    # ISO/IEC 23009-1 5.5: xlink:href="urn:mpeg:dash:resolve-to-zero:2013" removes the element
    zero = 'xlink:href="urn:mpeg:dash:resolve-to-zero:2013"'
    body = (
        f'<Period {zero}><AdaptationSet mimeType="video/mp4">{TWO_SEG}</AdaptationSet></Period>'
        f'<Period id="main"><AdaptationSet {zero} mimeType="audio/mp4">{TWO_SEG}</AdaptationSet>'
        f'<AdaptationSet mimeType="video/mp4">{TWO_SEG}</AdaptationSet></Period>'
    )
    p = parse_mpd(mpd(body, f'{XLINK_NS} type="static" mediaPresentationDuration="PT8S"'), URL)
    assert [q.id for q in p.periods] == ["main"]
    assert [t.mime_type for t in p.periods[0].tracks] == ["video/mp4"]
    assert p.periods[0].start == 0.0 and len(p.renditions()[0].segments) == 2  # type: ignore[arg-type]
    assert "xlink_unresolved" not in dict(p.extra)


def test_remote_elements_are_kept_as_written_and_counted() -> None:
    # no I/O in the parser: a remote Period is not fetched; the caller sees how many remain
    body = (
        '<Period id="ad" duration="PT4S" xlink:href="https://ads.example.com/p.xml" '
        'xlink:actuate="onLoad"/>'
        f'<Period id="main"><AdaptationSet mimeType="video/mp4">{TWO_SEG}</AdaptationSet></Period>'
    )
    p = parse_mpd(mpd(body, f'{XLINK_NS} type="static" mediaPresentationDuration="PT12S"'), URL)
    assert [(q.id, q.start, len(q.tracks)) for q in p.periods] == [("ad", 0.0, 0), ("main", 4.0, 1)]
    assert dict(p.extra)["xlink_unresolved"] == "1"


LIVE = 'type="dynamic" availabilityStartTime="1970-01-01T00:00:00Z" timeShiftBufferDepth="PT20S"'


@pytest.mark.parametrize(("ato", "last_number"), [(None, 50), ("1.5", 50), ("2", 51), ("INF", 51)])
def test_availability_time_offset_moves_the_live_edge(ato: str | None, last_number: int) -> None:
    # ISO/IEC 23009-1 (segment availability times): a Segment is available from its end
    # minus @availabilityTimeOffset
    # (INF: chunked, the Segment in production is available). 2 s segments, now = 100 s.
    extra = "" if ato is None else f' availabilityTimeOffset="{ato}"'
    text = one_rep(f'<SegmentTemplate media="$Number$" duration="2"{extra}/>', LIVE)
    segs = parse_mpd(text, URL, now=100.0).renditions()[0].segments.segments  # type: ignore[union-attr]
    assert segs[-1].number == last_number


def test_availability_time_offset_must_be_a_number_or_inf() -> None:
    text = one_rep(
        '<SegmentTemplate media="$Number$" duration="2" availabilityTimeOffset="-1"/>', LIVE
    )
    with pytest.raises(ManifestValueError, match="availabilityTimeOffset"):
        parse_mpd(text, URL, now=100.0)


@pytest.mark.parametrize("descriptor", ["EssentialProperty", "SupplementalProperty"])
def test_trick_mode_adaptation_set_in_either_descriptor(descriptor: str) -> None:
    # DASH-IF IOP v4.3 3.2.9 allows both descriptors (androidx sample_mpd_trick_play_property_*)
    prop = f'<{descriptor} schemeIdUri="http://dashif.org/guidelines/trickmode" value="1"/>'
    body = (
        '<Period><AdaptationSet id="1" mimeType="video/mp4">'
        f"{TWO_SEG}</AdaptationSet>"
        f'<AdaptationSet id="2" mimeType="video/mp4">{prop}'
        '<SegmentTemplate media="t$Number$" duration="4"/>'
        '<Representation id="t" bandwidth="1"/></AdaptationSet></Period>'
    )
    p = parse_mpd(mpd(body), URL)
    assert [(r.id, r.iframe) for r in p.renditions()] == [("v", False), ("t", True)]


def test_undecodable_mpd_says_which_line() -> None:
    text = mpd("<Period/>").encode().replace(b"<Period/>", b"\n\n<Period/>\xff")
    with pytest.raises(ManifestSyntaxError) as info:
        parse_mpd(b'<?xml version="1.0" encoding="utf-8"?>' + text, URL)
    assert info.value.where is not None and info.value.where.startswith("line ")
    with pytest.raises(ManifestSyntaxError) as info2:
        parse_mpd(b'<?xml version="1.0" encoding="no-such-codec"?><MPD/>', URL)
    assert info2.value.where == "line 1"
