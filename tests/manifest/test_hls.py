"""Unit tests of the HLS parser: one fixture (or inline playlist) per quirk."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifest import (
    ByteRange,
    InitSegment,
    ManifestError,
    ManifestSyntaxError,
    ManifestValueError,
)
from manifest.hls import parse_hls, parse_media_playlist
from manifest.parse import parse

FIXTURES = Path(__file__).parent / "hls_fixtures"
BASE = "https://cdn.example.com/title/video/index.m3u8"


def load(name: str, url: str = BASE):  # type: ignore[no-untyped-def]
    return parse_hls((FIXTURES / name).read_bytes(), url)


def index_of(name: str, url: str = BASE):  # type: ignore[no-untyped-def]
    return parse_media_playlist((FIXTURES / name).read_bytes(), url)


# ------------------------------------------------------------------ media
def test_minimal_media_playlist() -> None:
    p = parse_hls("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.m4s\n#EXT-X-ENDLIST\n", BASE)
    assert (p.format, p.kind, p.dynamic, p.duration) == ("hls", "hls-media", False, 4.0)
    (r,) = p.renditions()
    assert r.uri == BASE
    assert r.segments is not None
    (s,) = r.segments.segments
    assert s.url == "https://cdn.example.com/title/video/seg0.m4s"
    assert (s.start, s.duration, s.number) == (0.0, 4.0, 0)
    assert r.segments.addressing == "hls"
    assert r.segments.target_duration == 4


def test_sniffed_through_manifest_parse() -> None:
    p = parse("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n", "http://h/x.m3u8")
    assert p.kind == "hls-media"
    assert p.dynamic  # no ENDLIST, no PLAYLIST-TYPE:VOD
    assert p.duration is None


def test_byterange_offsets_continue_for_the_same_resource() -> None:
    idx = index_of("byterange_implicit.m3u8")
    assert [s.byte_range for s in idx.segments] == [
        ByteRange(700, 1000),
        ByteRange(1700, 2000),  # continues main.mp4
        ByteRange(0, 500),  # a new resource starts at 0
        ByteRange(500, 300),
    ]
    init = InitSegment("https://cdn.example.com/title/video/main.mp4", ByteRange(0, 700))
    assert idx.init == init
    assert all(s.init is idx.init for s in idx.segments)  # one shared object
    assert [s.start for s in idx.segments] == [0.0, 4.0, 8.0, 12.0]
    assert idx.duration == pytest.approx(14.5)
    assert idx.playlist_type == "VOD"
    assert idx.ended


def test_keys_rotate_and_none_resets() -> None:
    p = load("keys_rotation.m3u8")
    idx = p.renditions()[0].segments
    assert idx is not None
    keys = [s.key for s in idx.segments]
    assert keys[0] is None
    assert keys[1] is not None and keys[1].method == "AES-128"
    assert keys[1].uri == "https://keys.example.com/k1"
    assert keys[1].iv == "0x00000000000000000000000000000001"
    # a FairPlay key does not replace the identity key (different KEYFORMAT)
    assert keys[2] == keys[1]
    assert keys[3] is not None and keys[3].uri == "https://cdn.example.com/title/keys/k2"
    assert keys[4] is None
    assert dict(p.extra)["key_methods"] == "AES-128,NONE,SAMPLE-AES"
    assert [s.number for s in idx.segments] == [100, 101, 102, 103, 104]
    assert idx.media_sequence == 100
    assert {c.system for c in p.protection} == {"aes-128"}


def test_map_changes_discontinuity_and_gap() -> None:
    idx = index_of("map_changes.m3u8")
    inits = [s.init.url.rsplit("/", 1)[1] if s.init else None for s in idx.segments]
    assert inits == ["init-a.mp4", "init-a.mp4", "init-b.mp4", "init-b.mp4"]
    assert idx.init is not None and idx.init.url.endswith("init-a.mp4")
    assert [s.discontinuity for s in idx.segments] == [False, False, True, False]
    assert [s.gap for s in idx.segments] == [False, False, False, True]
    assert (idx.discontinuity_count, idx.gap_count) == (1, 1)


def test_low_latency_parts_and_skip() -> None:
    idx = index_of("ll_parts_skip.m3u8")
    assert len(idx) == 2  # parts and preload hints are not segments
    assert [s.number for s in idx.segments] == [55, 56]  # EXT-X-SKIP counts
    assert [s.parts for s in idx.segments] == [0, 4]
    assert idx.part_count == 5  # includes the parts of the unfinished segment
    assert idx.part_target == 1.0
    assert idx.skipped_segments == 5
    assert not idx.ended


def test_bom_crlf_and_whitespace_are_tolerated() -> None:
    idx = index_of("bom_crlf_whitespace.m3u8")
    (s,) = idx.segments
    assert s.duration == 9.5
    assert s.url == "https://cdn.example.com/title/video/seg 1.ts"


def test_vod_type_without_endlist_is_not_dynamic() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2,\na.ts\n"
    p = parse_hls(text, BASE)
    assert not p.dynamic
    text = text.replace("VOD", "EVENT")
    assert parse_hls(text, BASE).dynamic


def test_i_frames_only_playlist_is_a_video_iframe_rendition() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-I-FRAMES-ONLY\n"
        "#EXTINF:4,\n#EXT-X-BYTERANGE:900@100\nmain.ts\n#EXT-X-ENDLIST\n"
    )
    p = parse_hls(text, BASE)
    (t,) = p.tracks()
    assert t.type == "video"
    assert t.renditions[0].iframe
    assert t.renditions[0].segments is not None and t.renditions[0].segments.i_frames_only


def test_track_type_guessed_from_segment_extension() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nsub-1.vtt\n#EXT-X-ENDLIST\n"
    assert parse_hls(text, BASE).tracks()[0].type == "text"
    assert parse_hls(text.replace("sub-1.vtt", "a.aac"), BASE).tracks()[0].type == "audio"
    assert parse_hls(text.replace("sub-1.vtt", "a.ts"), BASE).tracks()[0].type == "unknown"


def test_relative_urls_without_base_stay_relative() -> None:
    idx = parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na/b.ts\n", "")
    assert idx.segments[0].url == "a/b.ts"


def test_local_path_base() -> None:
    idx = parse_media_playlist(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nb.ts\n", "/data/title/v/index.m3u8"
    )
    assert idx.segments[0].url == "/data/title/v/b.ts"


def test_query_and_dot_segments_resolve_like_urljoin() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n../a.ts?x=1\n#EXTINF:1,\n/abs.ts\n"
    idx = parse_media_playlist(text, "https://h/t/v/index.m3u8?token=abc")
    assert [s.url for s in idx.segments] == ["https://h/t/a.ts?x=1", "https://h/abs.ts"]


# ------------------------------------------------------------------ master
def test_master_tracks() -> None:
    p = load("master_mixed.m3u8", "https://cdn.example.com/title/master.m3u8")
    assert p.kind == "hls-master"
    video = p.tracks("video")
    variants = next(t for t in video if t.id == "variants")
    assert [r.id for r in variants.renditions] == ["v0", "v1"]
    v0, v1 = variants.renditions
    assert (v0.bandwidth, v0.average_bandwidth, v0.width, v0.height) == (
        2000000,
        1800000,
        1280,
        720,
    )
    assert v0.frame_rate == pytest.approx(29.97)
    assert v0.codecs == "avc1.64001f,mp4a.40.2"
    assert v0.uri == "https://cdn.example.com/title/east/720p.m3u8"
    assert v1.uri == "https://west.example.net/title/720p.m3u8"
    assert (v0.audio_group, v0.subtitle_group, v0.closed_captions_group) == ("aac", "subs", "cc")
    assert v1.closed_captions_group is None  # CLOSED-CAPTIONS=NONE
    assert (v0.pathway_id, v1.pathway_id) == ("east", "west")
    assert v0.segments is None

    audio_variants = next(t for t in p.tracks("audio") if t.id == "audio-variants")
    assert [r.id for r in audio_variants.renditions] == ["v2"]

    iframes = next(t for t in video if t.id == "iframes")
    (i0,) = iframes.renditions
    assert i0.iframe and i0.bandwidth == 150000 and i0.uri.endswith("/east/720p-iframes.m3u8")

    en = next(t for t in p.tracks("audio") if t.name == "English")
    assert (en.group_id, en.language, en.default, en.autoselect) == ("aac", "en", True, True)
    assert en.renditions[0].uri == "https://cdn.example.com/title/audio/en.m3u8"
    assert en.renditions[0].channels == "2"
    assert en.renditions[0].codecs == "mp4a.40.2"  # learnt from the variants using the group
    de = next(t for t in p.tracks("audio") if t.name == "Deutsch")
    assert not de.default and de.autoselect

    subs, cc = p.tracks("text")
    assert subs.roles == ("subtitle",) and subs.renditions[0].uri is not None
    assert cc.roles == ("caption",) and cc.renditions[0].uri is None
    assert cc.renditions[0].instream_id == "CC1"

    assert p.steering is not None
    assert p.steering.server_uri == "https://cdn.example.com/steer?session=1"
    assert p.steering.default_pathway == "east"

    systems = [c.system for c in p.protection]
    assert systems == ["fairplay", "widevine"]
    assert p.protection[0].licence_url == "skd://key-1"
    assert p.protection[1].pssh == "AAAAW3Bzc2g="
    assert dict(p.extra)["independent_segments"] == "YES"


def test_master_rendition_ids_are_unique_and_with_segments_attaches() -> None:
    p = load("master_mixed.m3u8", "https://cdn.example.com/title/master.m3u8")
    ids = [r.id for r in p.renditions()]
    assert len(ids) == len(set(ids))
    idx = index_of("map_changes.m3u8")
    q = p.with_segments("v0", idx)
    assert next(r for r in q.renditions() if r.id == "v0").segments is idx


def test_all_audio_variants_form_an_audio_track() -> None:
    text = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"\na.m3u8\n'
    (t,) = parse_hls(text, BASE).tracks()
    assert t.type == "audio"


def test_duplicate_media_names_get_unique_ids() -> None:
    text = (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="1.m3u8"\n'
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="2.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="a"\nv.m3u8\n'
    )
    ids = [r.id for r in parse_hls(text, BASE).renditions()]
    assert len(ids) == len(set(ids)) == 3


def test_parse_media_playlist_rejects_a_master() -> None:
    with pytest.raises(ManifestSyntaxError, match="master"):
        parse_media_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", BASE)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("text", "error", "where"),
    [
        ("", ManifestSyntaxError, "line 1"),
        ("\n  \n", ManifestSyntaxError, "line 1"),
        ("#EXT-X-TARGETDURATION:1\n", ManifestSyntaxError, "line 1"),
        ("#EXTM3U\n#EXTINF:1,\na.ts\n", ManifestValueError, "TARGETDURATION"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", ManifestValueError, "line 2"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:abc,\na.ts\n", ManifestValueError, "line 3"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:NaN,\na.ts\n", ManifestValueError, "line 3"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:1\na.ts\n", ManifestSyntaxError, "line 3"),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MEDIA-SEQUENCE:2\n",
            ManifestSyntaxError,
            "line 4",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:-3\n",
            ManifestValueError,
            "line 3",
        ),
        ('#EXTM3U\n#EXT-X-STREAM-INF:CODECS="a"\nv.m3u8\n', ManifestValueError, "line 2"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=lots\nv.m3u8\n", ManifestValueError, "line 2"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", ManifestSyntaxError, "line 2"),
        (
            '#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH="x",URI="i.m3u8"\n',
            ManifestValueError,
            "line 2",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts\n",
            ManifestSyntaxError,
            "line 4",
        ),
        ('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:URI="k"\n', ManifestValueError, "line 3"),
        (
            '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:BYTERANGE="1@0"\n',
            ManifestValueError,
            "line 3",
        ),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-BYTERANGE:1@x\n", ManifestValueError, "line 3"),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=fast\nv.m3u8\n",
            ManifestValueError,
            "line 2",
        ),
    ],
)
def test_bad_input_names_what_and_where(text: str, error: type[ManifestError], where: str) -> None:
    with pytest.raises(error) as info:
        parse_hls(text, BASE)
    assert where in str(info.value)
    assert BASE in str(info.value)


def test_non_utf8_bytes() -> None:
    with pytest.raises(ManifestSyntaxError, match="UTF-8"):
        parse_hls(b"#EXTM3U\n\xff\xfe\n", BASE)


def test_wrong_type() -> None:
    with pytest.raises(ManifestSyntaxError):
        parse_hls(12, BASE)  # type: ignore[arg-type]


def test_unused_malformed_tags_are_ignored() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:not-a-date\n"
        '#EXT-X-DATERANGE:ID="x",DURATION=soon\n#EXT-X-CUE-OUT:what\n#EXTINF:2,\na.ts\n'
    )
    assert len(parse_media_playlist(text, BASE)) == 1


def test_tolerated_deviations() -> None:
    """MUST violations lenient players live with parse (the corpus's spec_deviations)."""
    # a stray URI line in a master, EXT-X-MEDIA without GROUP-ID, a media tag in a master
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\nstray.m3u8\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,NAME="x",URI="a.m3u8"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"
    )
    p = parse_hls(text, BASE)
    assert p.kind == "hls-master"
    assert [r.id for r in p.renditions()] == ["v0", "audio//x"]
    # a key without URI, a malformed DISCONTINUITY-SEQUENCE
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-DISCONTINUITY-SEQUENCE:x\n"
        "#EXT-X-KEY:METHOD=AES-128\n#EXTINF:1,\na.ts\n"
    )
    (s,) = parse_media_playlist(text, BASE).segments
    assert s.key is not None and s.key.method == "AES-128" and s.key.uri is None


def test_variable_substitution() -> None:
    text = (
        "#EXTM3U\n"
        '#EXT-X-DEFINE:NAME="host",VALUE="https://media.example.com"\n'
        '#EXT-X-DEFINE:QUERYPARAM="token"\n'
        "#EXT-X-TARGETDURATION:2\n"
        '#EXT-X-MAP:URI="{$host}/init.mp4"\n'
        "#EXTINF:2,\n{$host}/s1.m4s?t={$token}\n"
        "#EXTINF:2,\n{$undefined}/s2.m4s\n"
    )
    idx = parse_media_playlist(text, "https://cdn.example.com/v/index.m3u8?token=abc")
    assert idx.init is not None and idx.init.url == "https://media.example.com/init.mp4"
    assert idx.segments[0].url == "https://media.example.com/s1.m4s?t=abc"
    assert idx.segments[1].url.endswith("/v/{$undefined}/s2.m4s")


def test_fractional_target_duration_and_extm3u_with_trailing_text() -> None:
    text = "#EXTM3U  \n#EXT-X-TARGETDURATION:6.0\n#EXTINF:6,\na.ts\n"
    assert parse_media_playlist(text, BASE).target_duration == 6.0
    with pytest.raises(ManifestSyntaxError, match="line 1"):
        parse_hls("#EXTM3Ux\n#EXT-X-TARGETDURATION:6\n", BASE)


def test_hls_modules_do_no_io() -> None:
    """The parsers and the writer are pure: no network, clock or thread imports."""
    import ast

    forbidden = {"socket", "httpx", "asyncio", "threading", "time", "urllib.request", "requests"}
    root = Path(__file__).parents[2] / "manifest"
    for path in sorted(root.glob("hls*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name not in forbidden and name.split(".")[0] not in forbidden - {"urllib"}, (
                    f"{path.name} imports {name}"
                )


def test_discontinuity_and_gap_counts_are_tag_counts() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n"
        "#EXT-X-GAP\n#EXTINF:2,\nb.ts\n#EXT-X-DISCONTINUITY\n"
    )
    idx = parse_media_playlist(text, BASE)
    assert [s.discontinuity for s in idx.segments] == [False, True]
    assert [s.gap for s in idx.segments] == [False, True]
    assert (idx.discontinuity_count, idx.gap_count) == (2, 1)  # a trailing tag counts


def test_unknown_tags_that_extend_a_known_name_are_ignored() -> None:
    # RFC 8216 4.1: tags are whole names and unrecognised ones are ignored, so
    # #EXT-X-MAPPING is not an EXT-X-MAP, #EXT-X-GAPS not an EXT-X-GAP, ...
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n"
        '#EXT-X-MAPPING:URI="init.mp4"\n#EXTINF:5,\na.ts\n'
        "#EXT-X-GAPS\n#EXT-X-DISCONTINUITY-X\n#EXTINF:5,\nb.ts\n#EXT-X-ENDLIST-NOT\n"
    )
    idx = parse_hls(text, BASE).renditions()[0].segments
    assert idx is not None
    assert [(s.init, s.gap, s.discontinuity) for s in idx.segments] == [(None, False, False)] * 2
    assert (idx.ended, idx.gap_count, idx.discontinuity_count) == (False, 0, 0)


def test_unknown_stream_inf_lookalike_is_not_a_variant() -> None:
    # found by mutation: "#EXT-X-STREAM-INF99:" reached m3u8 as a variant and failed
    text = (
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"
        "#EXT-X-STREAM-INF99:BANDWIDTH=x\nw.m3u8\n#EXT-X-STREAM-INFO:BANDWIDTH=5\nz.m3u8\n"
    )
    p = parse_hls(text, BASE)
    assert [(r.id, r.bandwidth) for r in p.renditions()] == [("v0", 1)]


def test_errors_say_where_for_bad_bytes_and_a_missing_target_duration() -> None:
    with pytest.raises(ManifestSyntaxError) as info:
        parse_hls(b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n\xff.ts\n", BASE)
    assert info.value.where == "line 4"
    with pytest.raises(ManifestValueError) as info2:
        parse_hls("#EXTM3U\n#EXTINF:4,\na.ts\n", BASE)
    assert info2.value.where == "lines 1-3"
