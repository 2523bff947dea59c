"""Packaging a small source end to end: CMAF segments, durations, decodability,
catalog, manifests parsed back with ``manifest``, idempotency, crash safety,
bad input. Sources are 6 s of 320x180 so the whole module runs in seconds."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from manifest.dash import parse_mpd
from manifest.hls import parse_hls, parse_media_playlist
from player.cli import main as cli_main
from server.errors import PackagerError
from server.packager import Rung, fmp4, load_catalog, package
from server.packager.demo_source import write_demo_source

LADDER = (Rung(120, 150_000), Rung(180, 300_000), Rung(360, 800_000))  # 360p > source: dropped
SEG = 2.0
FPS = 30


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_demo_source(
        tmp_path_factory.mktemp("src") / "clip.mp4", duration=6.5, width=320, height=180, fps=FPS
    )


@pytest.fixture(scope="module")
def packaged(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    catalog = package(source, out, segment_seconds=SEG, ladder=LADDER)
    return catalog, out


def _decode(init: bytes, seg: bytes, kind: str) -> list:
    with av.open(io.BytesIO(init + seg), format="mp4") as c:
        stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        return list(c.decode(stream))


# ----- layout, ladder, segments -------------------------------------------------
def test_ladder_never_above_source(packaged):
    catalog, _ = packaged
    assert [(r.id, r.width, r.height) for r in catalog.ladder] == [
        ("120p", 214, 120),
        ("180p", 320, 180),
    ]
    assert catalog.audio is not None and catalog.audio.codecs == "mp4a.40.2"


def test_layout(packaged):
    catalog, out = packaged
    d = out / "clip"
    assert catalog.directory == d
    for name in ("catalog.json", "master.m3u8", "manifest.mpd"):
        assert (d / name).is_file()
    for r in catalog.renditions:
        rd = d / r.path
        files = sorted(p.name for p in rd.iterdir() if not p.name.startswith("."))
        assert files == ["init.mp4", "playlist.m3u8"] + [f"seg-{i:05d}.m4s" for i in range(1, 5)]
    assert not [p for p in d.rglob(".tmp-*")]


def test_init_and_segment_boxes(packaged):
    catalog, out = packaged
    for r in catalog.renditions:
        rd = out / "clip" / r.path
        init = (rd / "init.mp4").read_bytes()
        assert [b.type for b in fmp4.iter_boxes(init)] == [b"ftyp", b"moov"]
        for i in range(1, r.segment_count + 1):
            types = [b.type for b in fmp4.iter_boxes((rd / f"seg-{i:05d}.m4s").read_bytes())]
            assert types.count(b"moof") == 1 and types[-2:] == [b"moof", b"mdat"]


def test_codecs_come_from_the_sps(packaged):
    catalog, out = packaged
    for r in catalog.ladder:
        assert r.codecs.startswith("avc1.64")  # High profile
        # level_idc in the SPS (first NAL of avcC) equals the one in the codecs string
        init = (out / "clip" / r.init_file).read_bytes()
        i = init.index(b"avcC")
        assert r.codecs == f"avc1.{init[i + 5]:02x}{init[i + 6]:02x}{init[i + 7]:02x}"


def test_video_segments_start_with_keyframes_and_have_the_right_durations(packaged):
    catalog, out = packaged
    for r in catalog.ladder:
        init = (out / "clip" / r.init_file).read_bytes()
        assert r.segment_durations == (2.0, 2.0, 2.0, 0.5)
        assert r.segment_starts == (0.0, 2.0, 4.0, 6.0)
        for n in range(1, r.segment_count + 1):
            frames = _decode(init, (out / "clip" / r.segment_file(n)).read_bytes(), "video")
            assert len(frames) == round(r.segment_durations[n - 1] * FPS)
            assert frames[0].key_frame
            assert sum(f.key_frame for f in frames) == 1  # closed GOP = one segment
            assert (frames[0].width, frames[0].height) == (r.width, r.height)


def test_audio_segments_decode_and_track_the_video(packaged):
    catalog, out = packaged
    a = catalog.audio
    init = (out / "clip" / a.init_file).read_bytes()
    total = 0
    for n in range(1, a.segment_count + 1):
        frames = _decode(init, (out / "clip" / a.segment_file(n)).read_bytes(), "audio")
        assert frames and all(f.sample_rate == 48_000 for f in frames)
        total += sum(f.samples for f in frames)
    assert a.segment_count == catalog.ladder[0].segment_count
    # segment boundaries within one AAC frame (1024 samples) of the video's
    for s_a, s_v in zip(a.segment_starts, catalog.ladder[0].segment_starts, strict=True):
        assert abs(s_a - s_v) <= 1024 / 48_000 + 1e-9
    # the track's timeline (encoder priming included) ends with the video's
    assert abs(sum(a.segment_durations) - catalog.duration) <= 1024 / 48_000
    # decoding a segment alone (init + segment) may lose one frame to the priming edit
    assert abs(total - catalog.duration * 48_000) <= (a.segment_count + 1) * 1024


def test_catalog_sizes_match_files(packaged):
    catalog, out = packaged
    data = json.loads((out / "clip" / "catalog.json").read_text())
    assert data["title"] == "clip" and data["duration"] == pytest.approx(6.5)
    assert data["segment_seconds"] == SEG
    assert data["source_fingerprint"].startswith("sha256:")
    assert [r["id"] for r in data["ladder"]] == ["120p", "180p"]
    for r in catalog.renditions:
        sizes = [
            (out / "clip" / r.segment_file(i)).stat().st_size for i in range(1, r.segment_count + 1)
        ]
        assert list(r.segment_sizes) == sizes
        assert r.init_size == (out / "clip" / r.init_file).stat().st_size
        assert r.bandwidth >= r.average_bandwidth > 0
    assert load_catalog(out / "clip") == catalog


# ----- manifests ------------------------------------------------------------------
BASE = "http://cdn.example/clip/"


def test_hls_parses_back(packaged):
    catalog, out = packaged
    d = out / "clip"
    master = parse_hls((d / "master.m3u8").read_text(), BASE + "master.m3u8")
    variants = master.renditions("video")
    assert [(v.width, v.height) for v in variants] == [(214, 120), (320, 180)]
    for v, r in zip(variants, catalog.ladder, strict=True):
        assert v.codecs == f"{r.codecs},mp4a.40.2"
        assert v.bandwidth == r.bandwidth + catalog.audio.bandwidth
        assert v.frame_rate == pytest.approx(30)
    (audio,) = master.renditions("audio")
    for r, uri in [(r, v.uri) for r, v in zip(catalog.ladder, variants, strict=True)] + [
        (catalog.audio, audio.uri)
    ]:
        assert uri == BASE + r.path + "/playlist.m3u8"
        rel = uri[len(BASE) :]
        index = parse_media_playlist((d / rel).read_text(), uri)
        assert index.init.url == BASE + r.init_file
        assert [s.url for s in index.segments] == [
            BASE + r.segment_file(i) for i in range(1, r.segment_count + 1)
        ]
        assert [s.duration for s in index.segments] == pytest.approx(
            list(r.segment_durations), abs=1e-3
        )
        assert index.ended


def test_dash_parses_back(packaged):
    catalog, out = packaged
    p = parse_mpd((out / "clip" / "manifest.mpd").read_text(), BASE + "manifest.mpd")
    assert p.duration == pytest.approx(catalog.duration)
    by_id = {r.id: r for r in p.renditions()}
    assert set(by_id) == {"120p", "180p", "aac"}
    for r in catalog.renditions:
        m = by_id[r.id]
        assert (m.bandwidth, m.codecs, m.width, m.height) == (
            r.bandwidth,
            r.codecs,
            r.width,
            r.height,
        )
        idx = m.segments
        assert idx.init.url == BASE + r.init_file
        assert [s.url for s in idx.segments] == [
            BASE + r.segment_file(i) for i in range(1, r.segment_count + 1)
        ]
        assert [s.number for s in idx.segments] == list(range(1, r.segment_count + 1))
        assert [s.start for s in idx.segments] == pytest.approx(list(r.segment_starts), abs=1e-6)
        assert [s.duration for s in idx.segments] == pytest.approx(
            list(r.segment_durations), abs=1e-6
        )


# ----- idempotency and crash safety -------------------------------------------------
def _mtimes(d: Path) -> dict[str, int]:
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in d.rglob("*.m4s")}


def test_second_run_reuses_and_changed_settings_reencode(source, tmp_path):
    ladder = (Rung(120, 150_000),)
    first = package(source, tmp_path, segment_seconds=SEG, ladder=ladder)
    before = _mtimes(tmp_path / "clip")
    stages: list[str] = []
    second = package(
        source,
        tmp_path,
        segment_seconds=SEG,
        ladder=ladder,
        progress=lambda s, d, t: stages.append(s),
    )
    assert stages == []  # nothing encoded
    assert _mtimes(tmp_path / "clip") == before
    assert second.settings_hash == first.settings_hash and second.created == first.created
    # a new rung: only it is encoded (the audio and 120p are reused)
    third = package(source, tmp_path, segment_seconds=SEG, ladder=ladder + (Rung(180, 300_000),))
    after = _mtimes(tmp_path / "clip")
    assert {k: v for k, v in after.items() if k.startswith(("video/120p", "audio"))} == before
    assert third.settings_hash != first.settings_hash
    # a changed bitrate re-encodes that rung only
    package(source, tmp_path, segment_seconds=SEG, ladder=(Rung(120, 200_000), Rung(180, 300_000)))
    again = _mtimes(tmp_path / "clip")
    assert again["video/120p/seg-00001.m4s"] != after["video/120p/seg-00001.m4s"]
    assert again["video/180p/seg-00001.m4s"] == after["video/180p/seg-00001.m4s"]
    # changed segment length: everything re-encoded, segments re-cut
    c = package(source, tmp_path, segment_seconds=3.0, ladder=ladder)
    assert c.ladder[0].segment_durations == (3.0, 3.0, 0.5)
    assert not (tmp_path / "clip" / "video" / "180p").exists()  # dropped rung removed
    assert not (tmp_path / "clip" / "video" / "120p" / "seg-00004.m4s").exists()


def test_interrupted_encode_is_not_served_or_reused(source, tmp_path):
    class Boom(Exception):
        pass

    def explode(stage, done, total):
        if done > 2.0:
            raise Boom

    with pytest.raises(Boom):
        package(
            source, tmp_path, segment_seconds=SEG, ladder=(Rung(120, 150_000),), progress=explode
        )
    d = tmp_path / "clip"
    assert not (d / "catalog.json").exists()
    assert not (d / "video" / "120p").exists() and not (d / "audio" / "aac").exists()
    assert not list(d.rglob(".tmp-*"))
    c = package(source, tmp_path, segment_seconds=SEG, ladder=(Rung(120, 150_000),))
    assert c.ladder[0].segment_count == 4


def test_leftovers_and_damaged_renditions_are_not_reused(source, tmp_path):
    ladder = (Rung(120, 150_000),)
    package(source, tmp_path, segment_seconds=SEG, ladder=ladder)
    d = tmp_path / "clip"
    # a leftover temporary directory from a killed run, and a truncated segment
    stale = d / "video" / ".tmp-120p-999-deadbeef"
    stale.mkdir()
    (stale / "seg-00001.m4s").write_bytes(b"half")
    seg = d / "video" / "120p" / "seg-00002.m4s"
    seg.write_bytes(seg.read_bytes()[:100])
    stages: list[str] = []
    c = package(
        source,
        tmp_path,
        segment_seconds=SEG,
        ladder=ladder,
        progress=lambda s, dn, t: stages.append(s),
    )
    assert "encode" in stages
    assert not stale.exists()
    assert seg.stat().st_size == c.ladder[0].segment_sizes[1] > 100


def test_killed_process_leaves_nothing_reusable(tmp_path):
    # a whole number of segments: the audio must not spill into an extra segment
    src = write_demo_source(tmp_path / "long.mp4", duration=4, width=320, height=180)
    out = tmp_path / "out"
    code = (
        "import sys; from pathlib import Path; from server.packager import package, Rung;"
        f"package(Path({str(src)!r}), Path({str(out)!r}), segment_seconds=2,"
        " ladder=(Rung(120, 150000), Rung(180, 300000)))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob("long/video/.tmp-*/stream.mp4")):
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    d = out / "long"
    assert not (d / "catalog.json").exists()
    assert not (d / "video" / "120p").exists()
    c = package(src, out, segment_seconds=2, ladder=(Rung(120, 150_000), Rung(180, 300_000)))
    assert [r.segment_count for r in c.renditions] == [2, 2, 2]
    assert [r.segment_durations for r in c.ladder] == [(2.0, 2.0)] * 2
    assert not list(d.rglob(".tmp-*"))


# ----- sources: frame-rate grid, no audio -----------------------------------------
def _write_video(path: Path, pts: list[int], fps: int | Fraction) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 160, 90, "yuv420p"
        s.codec_context.time_base = 1 / Fraction(fps)
        for p in pts:
            f = av.VideoFrame.from_ndarray(np.full((90, 160, 3), p % 255, np.uint8), format="rgb24")
            f.pts, f.time_base = p, 1 / Fraction(fps)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def test_variable_frame_rate_source_is_put_on_a_constant_grid(tmp_path):
    # 25 fps time base, every 5th frame missing: gaps are filled by repetition
    pts = [i for i in range(150) if i % 5 != 4]
    src = _write_video(tmp_path / "vfr.mp4", pts, 25)
    c = package(src, tmp_path / "out", segment_seconds=2, ladder=(Rung(90, 100_000),))
    assert c.audio is None
    r = c.ladder[0]
    assert c.frame_rate == 25.0
    assert sum(r.segment_durations) == pytest.approx(c.duration)
    for n in range(1, r.segment_count + 1):
        init = (c.directory / r.init_file).read_bytes()
        frames = _decode(init, (c.directory / r.segment_file(n)).read_bytes(), "video")
        assert frames[0].key_frame
        assert len(frames) == round(r.segment_durations[n - 1] * c.frame_rate)
    assert not (c.directory / "audio").exists()
    assert "#EXT-X-MEDIA" not in (c.directory / "master.m3u8").read_text()


def test_ntsc_rate_segments_are_whole_frames(tmp_path):
    src = _write_video(tmp_path / "ntsc.mp4", list(range(150)), Fraction(30000, 1001))
    c = package(src, tmp_path / "out", segment_seconds=2, ladder=(Rung(90, 100_000),))
    assert c.frame_rate == pytest.approx(30000 / 1001)
    assert c.segment_duration == pytest.approx(60 * 1001 / 30000)  # 60 frames, 2.002 s
    assert c.ladder[0].segment_durations == pytest.approx([2.002, 2.002, 1.001], abs=1e-4)
    text = (c.directory / c.ladder[0].path / "playlist.m3u8").read_text()
    assert text.count("#EXTINF:2.002,") == 2 and "#EXTINF:1.001," in text


def test_odd_sized_mjpeg_source(tmp_path):
    src = tmp_path / "odd.avi"
    with av.open(str(src), "w") as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 321, 241, "yuvj420p"
        rng = np.random.default_rng(1)
        for i in range(25):
            img = rng.integers(0, 255, (241, 321, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
            f.pts, f.time_base = i, Fraction(1, 10)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    c = package(src, tmp_path / "out", segment_seconds=1)
    assert [(r.id, r.width, r.height) for r in c.ladder] == [("240p", 320, 240)]
    assert c.ladder[0].segment_durations == (1.0, 1.0, 0.5)


# ----- bad input ----------------------------------------------------------------------
def test_bad_input_raises_packager_error(tmp_path, source):
    with pytest.raises(PackagerError, match="not found"):
        package(tmp_path / "missing.mp4", tmp_path)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(PackagerError, match="decode"):
        package(junk, tmp_path)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(PackagerError, match="segment seconds"):
            package(source, tmp_path, segment_seconds=bad)
    with pytest.raises(PackagerError, match="title"):
        package(source, tmp_path, title="../escape")
    with pytest.raises(PackagerError):
        package(source, tmp_path, ladder=())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]  # nothing written


def test_unwritable_output_is_a_packager_error(source, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(PackagerError, match="cannot write"):
        package(source, not_a_dir, ladder=(Rung(120, 150_000),))


def test_audio_only_source_is_rejected(tmp_path):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=48_000, layout="mono")
        for i in range(20):
            f = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            f.sample_rate, f.pts = 48_000, i * 1024
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    with pytest.raises(PackagerError, match="no video"):
        package(path, tmp_path / "out")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["package", "/no/such/file.mp4"], "not found"),
        (["package", "SRC", "--ladder", "240p,bogus"], "--ladder"),
        (["package", "SRC", "--segment-seconds", "0"], "segment seconds"),
        (["package", "SRC", "--segment-seconds", "-2"], "segment seconds"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, message, source, tmp_path, capsys):
    argv = [str(source) if a == "SRC" else a for a in argv] + ["--out", str(tmp_path)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_packages_quietly(source, tmp_path, capsys):
    assert (
        cli_main(
            [
                "package",
                str(source),
                "--out",
                str(tmp_path),
                "--ladder",
                "120p:150k",
                "--segment-seconds",
                "2",
                "--title",
                "t1",
                "--quiet",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    assert load_catalog(tmp_path / "t1").ladder[0].id == "120p"


def test_ffmpeg_hls_demuxer_plays_every_rendition(packaged):
    """An independent reader: FFmpeg's HLS demuxer (through PyAV) on the files."""
    catalog, _ = packaged
    with av.open(str(catalog.master_path)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video", "video"]
    for r in catalog.ladder:
        with av.open(str(catalog.directory / r.path / "playlist.m3u8")) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == round(catalog.duration * FPS)
        assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    with av.open(str(catalog.directory / catalog.audio.path / "playlist.m3u8")) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert abs(samples / 48_000 - catalog.duration) <= 2 * 1024 / 48_000


def _write_av(path: Path, audio_start: float, seconds: float = 3.0) -> Path:
    """160x90 at 25 fps from t=0; a 1 kHz tone whose first sample is at ``audio_start``."""
    rate = 48_000
    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 90, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 25)
        aud = c.add_stream("aac", rate=rate, layout="mono")
        n_audio = int((seconds - audio_start) * rate) // 1024
        a_i = 0
        for i in range(int(seconds * 25)):
            f = av.VideoFrame.from_ndarray(np.zeros((90, 160, 3), np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 25)
            c.mux(vs.encode(f))
            while a_i < n_audio and audio_start + a_i * 1024 / rate <= (i + 1) / 25:
                t = np.arange(a_i * 1024, (a_i + 1) * 1024) / rate
                tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                af.sample_rate = rate
                af.pts = round(audio_start * rate) + a_i * 1024
                af.time_base = Fraction(1, rate)
                c.mux(aud.encode(af))
                a_i += 1
        c.mux(vs.encode(None))
        c.mux(aud.encode(None))
    return path


def test_late_audio_is_aligned_with_silence(tmp_path):
    src = _write_av(tmp_path / "late.mp4", audio_start=1.0)
    c = package(src, tmp_path / "out", segment_seconds=2, ladder=(Rung(90, 100_000),))
    a = c.audio
    init = (c.directory / a.init_file).read_bytes()
    frames = _decode(init, (c.directory / a.segment_file(1)).read_bytes(), "audio")
    pcm = np.concatenate([f.to_ndarray()[0] for f in frames])
    level = np.abs(pcm)
    # silent for most of the first second, the tone from about 1.0 s on (AAC smears a frame)
    assert level[: int(0.9 * 48_000)].max() < 0.05
    assert level[int(1.1 * 48_000) : int(1.9 * 48_000)].max() > 0.3
    assert sum(a.segment_durations) == pytest.approx(c.duration, abs=1024 / 48_000)
