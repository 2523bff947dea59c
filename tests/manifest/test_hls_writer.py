"""Unit tests of the HLS writer (round trips are in test_hls_properties.py)."""

from __future__ import annotations

import pytest

from manifest import (
    ByteRange,
    ContentSteering,
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
from manifest.hls_writer import relative, write_hls, write_media_playlist

ROOT = "https://cdn.example.com/title/"
KEY = KeyInfo("AES-128", uri=ROOT + "keys/k1", iv="0x01")


def _index(prefix: str = "video/720p", n: int = 3, **kw: object) -> SegmentIndex:
    segs = tuple(
        Segment(url=f"{ROOT}{prefix}/seg-{i}.m4s", start=2.0 * i, duration=2.002, number=i)
        for i in range(n)
    )
    return SegmentIndex(
        addressing="hls", segments=segs, init=InitSegment(f"{ROOT}{prefix}/init.mp4"), **kw
    )  # type: ignore[arg-type]


def _presentation(*tracks: Track, steering: ContentSteering | None = None) -> Presentation:
    return Presentation(
        format="hls",
        kind="hls-master",
        url=ROOT + "master.m3u8",
        dynamic=False,
        duration=None,
        periods=(Period(id=None, start=0.0, duration=None, tracks=tracks),),
        steering=steering,
    )


def test_media_playlist_text() -> None:
    text = write_media_playlist(_index(), ROOT + "video/720p/index.m3u8")
    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:6"]
    assert "#EXT-X-TARGETDURATION:3" in lines  # ceil(2.002)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in lines
    assert '#EXT-X-MAP:URI="init.mp4"' in lines
    assert lines.count("#EXTINF:2.002,") == 3
    assert "seg-0.m4s" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert not any(line.startswith("#EXT-X-MEDIA-SEQUENCE") for line in lines)


def test_extinf_keeps_at_least_three_decimals() -> None:
    idx = SegmentIndex(
        addressing="hls",
        segments=(
            Segment("a.ts", 0.0, 4.0, 0),
            Segment("b.ts", 4.0, 3.3366666, 1),
        ),
    )
    lines = write_media_playlist(idx, "").splitlines()
    assert "#EXTINF:4.000," in lines
    assert "#EXTINF:3.336667," in lines
    assert "#EXT-X-TARGETDURATION:4" in lines
    assert "a.ts" in lines  # no base: written as given


def test_byte_ranges_keys_and_media_sequence() -> None:
    url = ROOT + "v/main.mp4"
    init = InitSegment(url, ByteRange(0, 800))
    segs = (
        Segment(url, 0.0, 4.0, 7, byte_range=ByteRange(800, 1000), key=KEY, init=init),
        Segment(url, 4.0, 4.0, 8, byte_range=ByteRange(1800, 1000), key=KEY, init=init),
        Segment(
            url,
            8.0,
            4.0,
            9,
            byte_range=ByteRange(5000, 10),
            key=None,
            init=init,
            discontinuity=True,
        ),
    )
    idx = SegmentIndex(addressing="hls", segments=segs, init=init, media_sequence=7)
    text = write_media_playlist(idx, ROOT + "v/index.m3u8")
    lines = text.splitlines()
    assert "#EXT-X-MEDIA-SEQUENCE:7" in lines
    assert '#EXT-X-MAP:URI="main.mp4",BYTERANGE="800@0"' in lines
    assert "#EXT-X-BYTERANGE:1000@800" in lines
    assert "#EXT-X-BYTERANGE:1000" in lines  # contiguous: implicit offset
    assert "#EXT-X-BYTERANGE:10@5000" in lines
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{ROOT}keys/k1",IV=0x01' in lines  # no root: absolute
    with_root = write_media_playlist(idx, ROOT + "v/index.m3u8", ROOT + "master.m3u8")
    assert '#EXT-X-KEY:METHOD=AES-128,URI="../keys/k1",IV=0x01' in with_root.splitlines()
    assert "#EXT-X-KEY:METHOD=NONE" in lines
    assert "#EXT-X-DISCONTINUITY" in lines
    back = parse_media_playlist(text, ROOT + "v/index.m3u8")
    assert [s.byte_range for s in back.segments] == [s.byte_range for s in segs]
    assert [s.key for s in back.segments] == [s.key for s in segs]
    assert [s.number for s in back.segments] == [7, 8, 9]


def test_live_index_has_no_endlist() -> None:
    text = write_media_playlist(_index(ended=False), ROOT + "video/720p/index.m3u8")
    assert "#EXT-X-ENDLIST" not in text
    assert "PLAYLIST-TYPE" not in text


def test_relative() -> None:
    assert relative(ROOT + "a/b.ts", ROOT + "master.m3u8") == "a/b.ts"
    assert (
        relative("https://other.example.com/a.ts", ROOT + "master.m3u8")
        == "https://other.example.com/a.ts"
    )
    assert relative(ROOT + "a:b.ts", ROOT + "x.m3u8") == "./a:b.ts"
    # outside the playlist's folder: absolute, or ../ when under the master's folder
    assert relative(ROOT + "v1/a.ts", ROOT + "v2/index.m3u8") == ROOT + "v1/a.ts"
    assert (
        relative(ROOT + "v1/a.ts", ROOT + "v2/x/index.m3u8", ROOT + "master.m3u8")
        == "../../v1/a.ts"
    )
    assert relative(ROOT + "keys/k", ROOT + "v2/index.m3u8", ROOT + "m.m3u8") == "../keys/k"
    assert relative("x.ts", "") == "x.ts"


def test_master_and_file_names() -> None:
    v720 = Rendition(
        id="720p",
        bandwidth=3_000_000,
        average_bandwidth=2_500_000,
        width=1280,
        height=720,
        codecs="avc1.64001f,mp4a.40.2",
        frame_rate=25.0,
        uri=ROOT + "video/720p/index.m3u8",
        segments=_index(),
        pathway_id="east",
    )
    v360 = Rendition(
        id="360p", bandwidth=800_000, width=640, height=360, segments=_index("video/360p")
    )
    iframe = Rendition(
        id="720p-i", bandwidth=90_000, width=1280, height=720, iframe=True, segments=_index()
    )
    audio = Rendition(
        id="aac", bandwidth=128_000, codecs="mp4a.40.2", channels="2", segments=_index("audio")
    )
    subs = Rendition(id="sub-en", bandwidth=0, segments=_index("subs"))
    p = _presentation(
        Track(id="video", type="video", renditions=(v720, v360)),
        Track(id="iframes", type="video", renditions=(iframe,)),
        Track(
            id="audio",
            type="audio",
            renditions=(audio,),
            language="en",
            name="English",
            group_id="aud",
            default=True,
        ),
        Track(id="subs", type="text", renditions=(subs,), language="en", roles=("subtitle",)),
        steering=ContentSteering(server_uri=ROOT + "steer", default_pathway="east"),
    )
    files = write_hls(p)
    assert set(files) == {
        "master.m3u8",
        "video/720p/index.m3u8",
        "360p.m3u8",
        "720p-i.m3u8",
        "aac.m3u8",
        "sub-en.m3u8",
    }
    master = files["master.m3u8"].splitlines()
    assert master[0] == "#EXTM3U"
    assert '#EXT-X-CONTENT-STEERING:SERVER-URI="steer",PATHWAY-ID="east"' in master
    assert (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,'
        'AUTOSELECT=YES,CHANNELS="2",URI="aac.m3u8"'
    ) in master
    assert any(line.startswith('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="text"') for line in master)
    assert (
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,"
        'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=25.000,AUDIO="aud",SUBTITLES="text",PATHWAY-ID="east"'
    ) in master
    assert master[master.index("video/720p/index.m3u8") - 1].startswith(
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000"
    )
    assert (
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1280x720,URI="720p-i.m3u8"' in master
    )
    # the media playlist in a sub-folder addresses its segments relative to itself
    assert "seg-0.m4s" in files["video/720p/index.m3u8"].splitlines()
    # a playlist at the root addresses segments in sub-folders by relative path
    assert "video/360p/seg-0.m4s" in files["360p.m3u8"].splitlines()

    back = parse_hls(files["master.m3u8"], ROOT + "master.m3u8")
    assert back.steering == p.steering
    assert [r.bandwidth for r in back.tracks("video")[0].renditions] == [3_000_000, 800_000]


def test_file_name_collisions_and_unsafe_ids() -> None:
    a = Rendition(id="a/b c", bandwidth=1, segments=_index())
    b = Rendition(id="a b/c", bandwidth=2, segments=_index())
    files = write_hls(_presentation(Track(id="v", type="video", renditions=(a, b))))
    assert set(files) == {"master.m3u8", "a_b_c.m3u8", "a_b_c-2.m3u8"}


def test_rendition_without_segments_keeps_its_uri() -> None:
    r = Rendition(id="x", bandwidth=5, uri=ROOT + "x/index.m3u8")
    files = write_hls(_presentation(Track(id="v", type="video", renditions=(r,))))
    assert set(files) == {"master.m3u8"}
    assert "x/index.m3u8" in files["master.m3u8"].splitlines()


def test_unwritable_presentations() -> None:
    p = _presentation(Track(id="v", type="video", renditions=()))
    two = Presentation(
        format="dash", kind="dash", url="", dynamic=False, duration=None, periods=p.periods * 2
    )
    with pytest.raises(ManifestError, match="period"):
        write_hls(two)
    bad = Rendition(id="x", bandwidth=1, codecs='av"c', segments=_index())
    with pytest.raises(ManifestError, match="quoted-string"):
        write_hls(_presentation(Track(id="v", type="video", renditions=(bad,))))


def test_audio_only_ladder_becomes_the_variants() -> None:
    a1 = Rendition(id="a64", bandwidth=64_000, codecs="mp4a.40.5", segments=_index("a64"))
    a2 = Rendition(id="a128", bandwidth=128_000, codecs="mp4a.40.2", segments=_index("a128"))
    files = write_hls(
        _presentation(Track(id="radio", type="audio", renditions=(a1, a2), language="en"))
    )
    master = files["master.m3u8"]
    assert "#EXT-X-MEDIA" not in master
    assert master.count("#EXT-X-STREAM-INF") == 2
    back = parse_hls(master, ROOT + "master.m3u8")
    (t,) = back.tracks()
    assert t.type == "audio" and [r.bandwidth for r in t.renditions] == [64_000, 128_000]


def test_media_playlist_in_a_sub_folder_reaches_shared_segments_with_dot_dot() -> None:
    shared = _index("shared", n=2)
    r = Rendition(id="v", bandwidth=1, uri=ROOT + "video/720p/index.m3u8", segments=shared)
    files = write_hls(_presentation(Track(id="v", type="video", renditions=(r,))))
    lines = files["video/720p/index.m3u8"].splitlines()
    assert "../../shared/seg-0.m4s" in lines
    assert '#EXT-X-MAP:URI="../../shared/init.mp4"' in lines
    idx = parse_media_playlist(files["video/720p/index.m3u8"], ROOT + "video/720p/index.m3u8")
    assert [s.url for s in idx.segments] == [s.url for s in shared.segments]
