"""Fixtures for real-playback integration tests: a tiny packaged title and a live backend.

The title (20 s of the synthetic demo clip at 320x180, 30 fps, 2 s segments,
a 90p/144p/180p ladder, AAC audio) is packaged once into a directory under the
system temp dir and reused by later runs (the packager is idempotent: a
rerun only checks its markers). The backend (control plane + 3 edges on
127.0.0.1) is session-scoped; ``live`` restores every edge and the control
plane and clears faults before and after each test, and waits until the
control plane's health view has caught up: an edge that an earlier test took
down is left out of grants until the control plane's next successful poll,
so without the wait a test could get a grant naming fewer edges than it
expects (its "healthy" edges missing: nothing to fail over to).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.runner import Backend, start_backend

TITLE = "tiny"
TITLE_SECONDS = 20.0
FPS = 30
LADDER = "90p:100k,144p:200k,180p:400k"


@pytest.fixture(scope="session")
def tiny_content() -> Path:
    from server.packager import package, parse_ladder
    from server.packager.demo_source import write_demo_source

    root = Path(tempfile.gettempdir()) / "abrkit-integration-content-v1"
    if (root / TITLE / "catalog.json").is_file():
        return root
    src = root / ".src" / "tiny.mp4"
    if not src.is_file():
        write_demo_source(src, duration=TITLE_SECONDS, width=320, height=180, fps=FPS)
    package(src, root, segment_seconds=2.0, ladder=parse_ladder(LADDER), title=TITLE)
    return root


@pytest.fixture(scope="session")
def backend(tiny_content: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # a long steering TTL: the tests decide when edges fail, steering must not move first
    with start_backend(
        tiny_content,
        edges=3,
        steering_ttl_s=30.0,
        edge_poll_interval_s=0.5,
        work_dir=tmp_path_factory.mktemp("backend"),
    ) as b:
        yield b


def restore(backend: Backend, timeout_s: float = 15.0) -> None:
    """Control plane and every edge up, no faults, and every edge eligible in the
    control plane's own view (so a grant lists them all). RuntimeError after
    ``timeout_s``."""
    if not backend.control.running:
        backend.control.start()
    for e in backend.edges:
        if not e.running:
            e.up()
        e.edge.faults.clear()
    monitor = backend.control_plane.monitor
    deadline = time.monotonic() + timeout_s
    while not all(monitor.eligible(st) for st in monitor.edges.values()):
        if time.monotonic() > deadline:
            states = {n: st.last_error or st.status for n, st in monitor.edges.items()}
            raise RuntimeError(f"control plane did not see every edge back: {states}")
        time.sleep(0.02)


@pytest.fixture
def live(backend: Backend) -> Iterator[Backend]:
    restore(backend)
    yield backend
    restore(backend)


@pytest.fixture
def fresh_backend(tiny_content: Path, tmp_path: Path) -> Iterator[Backend]:
    """A backend of the test's own, for tests that must not inherit any state
    (edge restarts, open connections) from tests that ran before them."""
    with start_backend(
        tiny_content, edges=3, steering_ttl_s=30.0, edge_poll_interval_s=0.5, work_dir=tmp_path
    ) as b:
        yield b
