"""Fixtures for the control-plane and edge tests: fake content and a live backend.

The fake content mimics the packager's layout (DIR/<title>/catalog.json,
master.m3u8, manifest.mpd, video/<rendition>/{init.mp4, seg-*.m4s}) with
random bytes, so these tests do not depend on an encode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.runner import Backend, start_backend

SEGMENT_BYTES = 200_000
RULES = {
    "titles": {
        "demo": {"windows": [{"countries": ["US", "GB", "NO"], "start": "2020-01-01"}]},
        "later": {"windows": [{"countries": ["US"], "start": "2099-01-01"}]},
    }
}
STEERING_TTL_S = 1.0


def make_title(
    root: Path, title: str, *, segments: int = 3, seg_bytes: int = SEGMENT_BYTES
) -> Path:
    d = root / title
    (d / "video" / "v0").mkdir(parents=True, exist_ok=True)
    (d / "audio" / "a0").mkdir(parents=True, exist_ok=True)
    (d / "catalog.json").write_text(json.dumps({"title": title, "duration": 4.0 * segments}))
    (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:7\n")
    (d / "manifest.mpd").write_text("<MPD/>\n")
    for kind, rend in (("video", "v0"), ("audio", "a0")):
        (d / kind / rend / "init.mp4").write_bytes(os.urandom(1000))
        for i in range(1, segments + 1):
            (d / kind / rend / f"seg-{i:05d}.m4s").write_bytes(os.urandom(seg_bytes))
    (d / "video" / "v0" / ".done.json").write_text("{}")
    return d


@pytest.fixture(scope="session")
def content_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("content")
    make_title(root, "demo")
    make_title(root, "later", segments=1)
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, root / "demo" / "escape.txt")
    return root


@pytest.fixture(scope="session")
def backend(content_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with start_backend(
        content_dir,
        edges=3,
        rules=RULES,
        secret=b"test-secret",
        steering_ttl_s=STEERING_TTL_S,
        edge_poll_interval_s=0.2,
        work_dir=tmp_path_factory.mktemp("work"),
        max_batch_bytes=64 * 1024,
        max_batch_events=100,
    ) as b:
        yield b


@pytest.fixture
def live(backend: Backend) -> Iterator[Backend]:
    """The shared backend, with every edge up and fault-free after the test."""
    yield backend
    for e in backend.edges:
        if not e.running:
            e.up()
        e.edge.faults.clear()  # in-process: no HTTP round trip needed


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c
