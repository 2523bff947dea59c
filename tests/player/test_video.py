"""Video descriptions: Pensieve and Sabre loaders, manifests, and consistency errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifest.model import ByteRange, Period, Presentation, Rendition, Segment, SegmentIndex, Track
from player.errors import ReplayError, VideoError
from player.video import (
    PENSIEVE_BITRATES_KBPS,
    Video,
    load_pensieve_video,
    load_sabre_movie,
    video_from_presentation,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TRACES = SHARED / "traces"


def test_pensieve_video():
    v = load_pensieve_video(TRACES / "pensieve_video")
    assert v.segment_count == 49
    assert v.bitrates_bps == tuple(k * 1000.0 for k in PENSIEVE_BITRATES_KBPS)
    assert v.segment_duration_s == 4.0
    assert v.sizes[0] == (181801, 450283, 668286, 1034108, 1728879, 2354772)
    v48 = load_pensieve_video(TRACES / "pensieve_video", segments=48)
    assert v48.segment_count == 48 and v48.sizes == v.sizes[:48]
    assert v.truncated(48) == v48 or v.truncated(48).sizes == v48.sizes
    assert v48.duration_s == 192.0


def test_sabre_movie():
    v = load_sabre_movie(TRACES / "sabre_movies" / "bbb.json")
    assert v.segment_duration_s == 3.0
    assert v.bitrates_bps[0] == 230_000.0
    assert v.sizes[0][0] == 886360 // 8
    assert v.segment_count == 199


def test_error_tree():
    assert issubclass(VideoError, ReplayError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bitrates_bps": ()}, "empty bitrate ladder"),
        ({"bitrates_bps": (2e6, 1e6)}, "ascending"),
        ({"bitrates_bps": (1e6, 1e6)}, "ascending"),
        ({"bitrates_bps": (0.0, 1e6)}, "positive"),
        ({"sizes": ()}, "no segments"),
        ({"sizes": ((1, 2), (1,))}, "segment 1 has 1 sizes"),
        ({"sizes": ((1, 0),)}, "positive integer"),
        ({"sizes": ((1, -5),)}, "positive integer"),
        ({"sizes": ((1, 2.5),)}, "positive integer"),
        ({"segment_duration_s": 0.0}, "duration"),
        ({"segment_durations_s": (4.0, 4.0)}, "2 durations for 1"),
    ],
)
def test_inconsistent_video(kwargs, match):
    base = {
        "bitrates_bps": (1e6, 2e6),
        "segment_duration_s": 4.0,
        "sizes": ((10, 20),),
        "name": "v",
    }
    base.update(kwargs)
    with pytest.raises(VideoError, match=match):
        Video(**base)


def test_bad_pensieve_dirs(tmp_path):
    with pytest.raises(VideoError, match="not a directory"):
        load_pensieve_video(tmp_path / "x")
    with pytest.raises(VideoError, match="rung 0"):
        load_pensieve_video(tmp_path)
    (tmp_path / "video_size_0").write_text("10\n20\n")
    (tmp_path / "video_size_1").write_text("30\n")
    with pytest.raises(VideoError, match="different chunk counts"):
        load_pensieve_video(tmp_path, bitrates_kbps=(100, 200))
    (tmp_path / "video_size_1").write_text("30\nxx\n")
    with pytest.raises(VideoError, match="line 2"):
        load_pensieve_video(tmp_path, bitrates_kbps=(100, 200))
    (tmp_path / "video_size_1").write_text("30\n40\n")
    with pytest.raises(VideoError, match="ascending"):
        load_pensieve_video(tmp_path, bitrates_kbps=(200, 100))
    with pytest.raises(VideoError, match="asked for 5"):
        load_pensieve_video(tmp_path, bitrates_kbps=(100, 200), segments=5)
    assert load_pensieve_video(tmp_path, bitrates_kbps=(100, 200)).sizes == ((10, 30), (20, 40))


def test_bad_sabre_movie(tmp_path):
    f = tmp_path / "m.json"
    f.write_text("{")
    with pytest.raises(VideoError, match="invalid JSON"):
        load_sabre_movie(f)
    f.write_text('{"segment_duration_ms": 3000, "bitrates_kbps": [1, 2]}')
    with pytest.raises(VideoError, match="segment_sizes_bits"):
        load_sabre_movie(f)
    f.write_text(
        '{"segment_duration_ms": 3000, "bitrates_kbps": [1, 2],'
        ' "segment_sizes_bits": [[8, 16], [8]]}'
    )
    with pytest.raises(VideoError, match="segment 1 has 1 sizes"):
        load_sabre_movie(f)


def _presentation(with_ranges: bool = False) -> Presentation:
    def rendition(rid: str, bw: int) -> Rendition:
        segs = tuple(
            Segment(
                url=f"http://x/{rid}/{i}.m4s",
                start=4.0 * i,
                duration=4.0,
                number=i,
                byte_range=ByteRange(i * 1000, 100 + i + bw // 1000) if with_ranges else None,
            )
            for i in range(3)
        )
        return Rendition(id=rid, bandwidth=bw, segments=SegmentIndex("list", segs))

    track = Track(
        id="v", type="video", renditions=(rendition("hi", 2_000_000), rendition("lo", 500_000))
    )
    return Presentation(
        "dash", "dash", "http://x/m.mpd", False, 12.0, (Period(None, 0.0, 12.0, (track,)),)
    )


def test_video_from_presentation_with_sizes():
    v = video_from_presentation(_presentation(), {"lo": [10, 11, 12], "hi": [40, 41, 42]})
    assert v.bitrates_bps == (500_000.0, 2_000_000.0)
    assert v.sizes == ((10, 40), (11, 41), (12, 42))
    assert v.urls is not None and v.urls[1] == ("http://x/lo/1.m4s", "http://x/hi/1.m4s")
    assert v.segment_durations_s == (4.0, 4.0, 4.0)


def test_video_from_presentation_byte_ranges():
    v = video_from_presentation(_presentation(with_ranges=True), {})
    assert v.sizes[0] == (600, 2100)
    assert v.byte_ranges is not None and v.byte_ranges[0][0] == ByteRange(0, 600)


def test_video_from_presentation_errors():
    with pytest.raises(VideoError, match="no segment sizes"):
        video_from_presentation(_presentation(), {"lo": [1, 2, 3]})
    with pytest.raises(VideoError, match="2 sizes for 3"):
        video_from_presentation(_presentation(), {"lo": [1, 2], "hi": [1, 2, 3]})
    with pytest.raises(VideoError, match="no audio track"):
        video_from_presentation(_presentation(), {}, track_type="audio")


def test_truncated_keeps_cut_rows_as_lookahead():
    from player.video import Video

    v = Video((1e6, 2e6), 4.0, ((10, 20), (11, 21), (12, 22)))
    t = v.truncated(2)
    assert t.segment_count == 2 and t.sizes == ((10, 20), (11, 21))
    assert t.lookahead_sizes == ((12, 22),)
    assert t.known_sizes == v.sizes
    assert t.truncated(1).known_sizes == v.sizes
    assert v.known_sizes is v.sizes
