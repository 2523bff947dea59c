"""The built-in demo title: ``ensure_demo_title`` packages once, then reuses."""

from __future__ import annotations

import importlib
import time

import pytest

from manifest.dash import parse_mpd
from manifest.hls import parse_hls
from server.packager import ensure_demo_title, load_catalog, package
from server.packager.demo_source import write_demo_source

# the module, not the function of the same name that server.packager exports
package_module = importlib.import_module("server.packager.package")


@pytest.fixture
def small_demo(monkeypatch):
    """The demo pipeline with a 4.5 s 320x180 clip instead of 60 s of 720p."""

    def small(path, progress=None):
        return write_demo_source(path, duration=4.5, width=320, height=180, progress=progress)

    monkeypatch.setattr(package_module, "write_demo_source", small)


def test_ensure_demo_title_packages_once_then_reuses(small_demo, tmp_path):
    stages: list[str] = []
    title = ensure_demo_title(tmp_path, progress=lambda s, d, t: stages.append(s))
    assert title == tmp_path / "demo"
    assert "demo source" in stages and "encode" in stages
    c = load_catalog(title)
    assert c.title == "demo" and c.source == "demo" and c.audio is not None
    assert c.duration == pytest.approx(4.5)
    assert [r.id for r in c.ladder] == ["180p"]  # nothing of the default ladder fits 180p
    assert (tmp_path / ".sources").is_dir()
    stages.clear()
    t = time.perf_counter()
    assert ensure_demo_title(tmp_path, progress=lambda s, d, t: stages.append(s)) == title
    assert stages == [] and time.perf_counter() - t < 1.0
    # a damaged rendition is noticed and re-encoded; the demo source is reused
    (title / c.ladder[0].segment_file(1)).unlink()
    ensure_demo_title(tmp_path, progress=lambda s, d, t: stages.append(s))
    assert stages and "demo source" not in stages
    assert (title / c.ladder[0].segment_file(1)).is_file()


def test_package_without_source_is_the_demo(small_demo, tmp_path):
    c = package(None, tmp_path, segment_seconds=1.5, title="clock")
    assert c.title == "clock" and c.source == "demo"
    assert c.ladder[0].segment_durations == (1.5, 1.5, 1.5)


@pytest.mark.slow
def test_default_demo_title(tmp_path):
    """The real thing: 60 s of 720p30, ladder 240p..720p, 4 s segments (minutes on 2 cores)."""
    title = ensure_demo_title(tmp_path)
    c = load_catalog(title)
    assert [(r.id, r.width, r.height) for r in c.ladder] == [
        ("240p", 426, 240),
        ("360p", 640, 360),
        ("480p", 854, 480),
        ("720p", 1280, 720),
    ]
    assert c.duration == pytest.approx(60.0) and c.frame_rate == 30.0
    assert all(r.segment_durations == (4.0,) * 15 for r in c.ladder)
    assert c.audio is not None and c.audio.segment_count == 15
    master = parse_hls((title / "master.m3u8").read_text(), "http://x/demo/master.m3u8")
    assert len(master.renditions("video")) == 4
    mpd = parse_mpd((title / "manifest.mpd").read_text(), "http://x/demo/manifest.mpd")
    assert len(mpd.renditions()) == 5
