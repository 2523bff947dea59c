"""Tiered edges: pull-through from an origin edge, with request coalescing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.edge.tiering import holds_path
from server.runner import Backend, EdgeSpec, start_backend

SEG = "demo/video/v0/seg-00002.m4s"


def test_holds_path() -> None:
    assert holds_path(None, "demo/x.m4s")
    assert not holds_path((), "demo/x.m4s")
    assert holds_path(("demo",), "demo/video/v0/seg-00001.m4s")
    assert not holds_path(("demo",), "demolition/a")
    assert holds_path(("*.m3u8",), "demo/master.m3u8")
    assert holds_path(("demo/video/*",), "demo/video/v0/init.mp4")


@pytest.fixture(scope="module")
def tiered(content_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with start_backend(
        content_dir,
        edges=2,
        edge_specs=[
            EdgeSpec("edge-2", holds=("*.m3u8", "*.mpd", "*/catalog.json"), origin="edge-1")
        ],
        work_dir=tmp_path_factory.mktemp("tiered"),
    ) as b:
        yield b


pytestmark = pytest.mark.integration


async def _fetch_many(url: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=10) as c:
        return list(await asyncio.gather(*(c.get(url) for _ in range(n))))


def test_concurrent_misses_fetch_once(tiered: Backend, content_dir: Path) -> None:
    origin, tier = tiered.edge("edge-1"), tiered.edge("edge-2")
    origin.set_faults({"latency_ms": 300})  # keep the first fetch in flight
    before = origin.edge.stats.requests_total
    responses = asyncio.run(_fetch_many(f"{tier.url}/{SEG}", 10))
    body = (content_dir / SEG).read_bytes()
    assert [r.status_code for r in responses] == [200] * 10
    assert all(r.content == body for r in responses)
    assert origin.edge.stats.requests_total - before == 1  # one origin read
    cache = tier.edge.cache
    assert cache is not None
    assert cache.origin_fetches == 1 and cache.coalesced == 9
    cached = cache.cache_dir / SEG
    assert cached.read_bytes() == body
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".part")]
    # now a hit: no new origin request, and ranges work from the cache
    r = httpx.get(f"{tier.url}/{SEG}", headers={"range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == body[10:20]
    assert origin.edge.stats.requests_total - before == 1
    text = httpx.get(f"{tier.url}/metrics").text
    assert 'edge_origin_fetches_total{edge="edge-2"} 1' in text
    origin.clear_faults()


def test_held_files_are_local(tiered: Backend) -> None:
    origin, tier = tiered.edge("edge-1"), tiered.edge("edge-2")
    before = origin.edge.stats.requests_total
    assert httpx.get(f"{tier.url}/demo/master.m3u8").status_code == 200
    assert origin.edge.stats.requests_total == before


def test_origin_missing_and_down(tiered: Backend) -> None:
    tier = tiered.edge("edge-2")
    assert httpx.get(f"{tier.url}/demo/video/v0/nope.m4s").status_code == 404
    tiered.edge("edge-1").down()
    try:
        r = httpx.get(f"{tier.url}/demo/audio/a0/seg-00003.m4s", timeout=10)
        assert r.status_code == 502
    finally:
        tiered.edge("edge-1").up()
    assert httpx.get(f"{tier.url}/demo/audio/a0/seg-00003.m4s").status_code == 200
