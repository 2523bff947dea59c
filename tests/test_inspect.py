"""``abrkit inspect``: table and JSON output, local files, loopback HTTP, bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from manifest import (
    InitSegment,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)
from manifest.hls_writer import write_hls
from player.cli import main

CORPUS = Path(__file__).parent / "manifest" / "corpus"

TOP_KEYS = {
    "schema_version",
    "source",
    "url",
    "format",
    "kind",
    "dynamic",
    "duration",
    "periods",
    "protection",
    "steering",
    "base_urls",
    "errors",
}
RENDITION_KEYS = {
    "id",
    "bandwidth",
    "average_bandwidth",
    "width",
    "height",
    "codecs",
    "frame_rate",
    "mime_type",
    "uri",
    "iframe",
    "audio_group",
    "subtitle_group",
    "pathway_id",
    "segments",
    "error",
}
SEGMENTS_KEYS = {
    "addressing",
    "count",
    "duration",
    "init_url",
    "byte_ranges",
    "target_duration",
    "media_sequence",
    "ended",
    "playlist_type",
    "i_frames_only",
    "key_methods",
    "discontinuities",
    "gaps",
    "parts",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    assert main(["inspect", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def _ladder(root: str) -> Presentation:
    def index(name: str, n: int) -> SegmentIndex:
        segs = tuple(
            Segment(url=f"{root}{name}/s{i}.m4s", start=2.0 * i, duration=2.0, number=i)
            for i in range(n)
        )
        return SegmentIndex(
            addressing="hls", segments=segs, init=InitSegment(f"{root}{name}/init.mp4")
        )

    video = tuple(
        Rendition(
            id=f"v{h}",
            bandwidth=h * 5000,
            width=h * 16 // 9,
            height=h,
            codecs="avc1.64001f",
            frame_rate=25.0,
            uri=f"{root}v{h}/index.m3u8",
            segments=index(f"v{h}", 5),
        )
        for h in (360, 720)
    )
    audio = Rendition(id="a", bandwidth=128000, codecs="mp4a.40.2", segments=index("a", 5))
    return Presentation(
        format="hls",
        kind="hls-master",
        url=root + "master.m3u8",
        dynamic=False,
        duration=10.0,
        periods=(
            Period(
                id=None,
                start=0.0,
                duration=10.0,
                tracks=(
                    Track(id="video", type="video", renditions=video),
                    Track(
                        id="audio", type="audio", renditions=(audio,), language="en", group_id="aud"
                    ),
                ),
            ),
        ),
    )


@pytest.fixture
def ladder_dir(tmp_path: Path) -> Path:
    root = str(tmp_path) + "/"
    for name, text in write_hls(_ladder(root)).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.fixture
def http_root(ladder_dir: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(ladder_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_table_for_a_media_playlist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(CORPUS / "vjsm3u8__fmp4.m3u8")]) == 0
    out = capsys.readouterr().out
    assert "hls-media" in out
    assert "12.012 s" in out
    assert "protection: none" in out


def test_json_schema_for_an_unresolved_master(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "--no-resolve", str(CORPUS / "androidx__multivariant_with_content_steering.m3u8")
    )
    assert set(doc) == TOP_KEYS
    assert doc["schema_version"] == 1
    assert (doc["format"], doc["kind"], doc["dynamic"]) == ("hls", "hls-master", False)
    (period,) = doc["periods"]
    (track,) = period["tracks"]
    assert track["type"] == "video"
    assert [r["bandwidth"] for r in track["renditions"]] == [1000000, 500000, 1000000, 500000]
    for r in track["renditions"]:
        assert set(r) == RENDITION_KEYS
        assert r["segments"] is None and r["error"] is None
    assert doc["steering"]["default_pathway"] == "CDN-A"
    assert doc["errors"] == []


def test_local_master_resolves_media_playlists_next_to_it(
    ladder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, str(ladder_dir / "master.m3u8"))
    renditions = [r for p in doc["periods"] for t in p["tracks"] for r in t["renditions"]]
    assert len(renditions) == 3
    for r in renditions:
        assert set(r["segments"]) == SEGMENTS_KEYS
        assert r["segments"]["count"] == 5
        assert r["segments"]["duration"] == 10.0
        assert r["segments"]["addressing"] == "hls"
    assert doc["errors"] == []
    assert doc["duration"] == 10.0 and doc["dynamic"] is False  # learnt from the media playlists
    assert main(["inspect", str(ladder_dir / "master.m3u8")]) == 0
    out = capsys.readouterr().out
    assert "1280x720" in out and "avc1.64001f" in out


def test_missing_media_playlists_are_reported_not_fatal(
    ladder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ladder_dir / "v360" / "index.m3u8").unlink()
    doc = run_json(capsys, str(ladder_dir / "master.m3u8"))
    assert len(doc["errors"]) == 1 and "v360" in doc["errors"][0]


def test_url_over_loopback_http(http_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, http_root + "master.m3u8")
    assert doc["url"] == http_root + "master.m3u8"
    counts = [
        r["segments"]["count"] for p in doc["periods"] for t in p["tracks"] for r in t["renditions"]
    ]
    assert counts == [5, 5, 5]
    assert main(["inspect", http_root + "nope.m3u8"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 404" in err and err.count("\n") == 1


def test_dash_goes_through_manifest_parse(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("manifest.dash")
    doc = run_json(capsys, str(CORPUS / "androidx__sample_mpd_segment_template.mpd"))
    assert doc["format"] == "dash"
    assert doc["periods"][0]["tracks"]


@pytest.mark.parametrize(
    "name", ["vjsm3u8__empty.m3u8", "vjsm3u8__invalidTargetDuration.m3u8", "does-not-exist.m3u8"]
)
def test_bad_input_exits_2_with_one_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(CORPUS / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("abrkit inspect: error: ")
    assert captured.err.count("\n") == 1


def test_unreachable_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "http://127.0.0.1:9/master.m3u8"]) == 2
    assert "cannot fetch" in capsys.readouterr().err
