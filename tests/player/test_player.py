"""Player against mocks: grant, manifest, failover, CMCD, resume, events (virtual time)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from player.config import DEFAULT_ENGINE, DecodeConfig, PlayerConfig, TelemetryConfig
from player.player import PlaybackError, Player
from player.realtime import AutojumpClock
from player.transport import MockRequest, MockResponse, MockTransport
from telemetry.sinks import MemorySink

MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=320x180
v0/playlist.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=640x360
v1/playlist.m3u8
"""
MEDIA = (
    '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init.mp4"\n'
    + "".join(f"#EXTINF:2.0,\nseg-{i:05d}.m4s\n" for i in range(1, 5))
    + "#EXT-X-ENDLIST\n"
)


class SlowMock(MockTransport):
    """A MockTransport whose fetches take 0.05 s of virtual time."""

    def __init__(self, handler: Any, clock: AutojumpClock, **kw: Any) -> None:
        super().__init__(handler, **kw)
        self.clock = clock

    async def fetch(self, url: str, **kw: Any) -> Any:  # type: ignore[override]
        await self.clock.sleep(0.05)
        return await super().fetch(url, **kw)


def edge_handler(bad_edge: str | None = "a.test"):
    def handler(req: MockRequest) -> MockResponse | bytes:
        url = httpx.URL(req.url)
        path = url.path
        if path.endswith("master.m3u8"):
            return MASTER.encode()
        if path.endswith("playlist.m3u8"):
            return MEDIA.encode()
        if path.endswith("init.mp4"):
            return b"init"
        if path.endswith(".m4s"):
            if url.host == bad_edge:
                return MockResponse(status=503)
            size = 50_000 if "/v0/" in path else 100_000
            return b"x" * size
        return MockResponse(status=404)

    return handler


def control(puts: list[dict], *, status: int = 200):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if status != 200:
                return httpx.Response(status, json={"error": "not_licensed", "reason": "nope"})
            return httpx.Response(200, json={
                "title": "t", "session_id": "sess1", "resume_at": 4.0,
                "pathways": [
                    {"id": "edge-a", "base_url": "http://a.test",
                     "hls": "http://a.test/t/master.m3u8"},
                    {"id": "edge-b", "base_url": "http://b.test",
                     "hls": "http://b.test/t/master.m3u8"},
                ],
                "progress_url": "http://cp.test/viewing/t/progress",
            })
        puts.append(json.loads(request.content))
        return httpx.Response(200, json={})

    return handler


def config(sink: MemorySink, **kw: Any) -> PlayerConfig:
    base: dict[str, Any] = {
        "policy": "throughput",
        "engine": replace(DEFAULT_ENGINE, startup_threshold_s=2.0, buffer_max_s=4.0),
        "decode": DecodeConfig(enabled=False),
        "telemetry": TelemetryConfig(sinks=(sink,), heartbeat_interval_s=1.0),
    }
    base.update(kw)
    return PlayerConfig(**base)


async def session(cfg: PlayerConfig, bad_edge: str | None = "a.test",
                  puts: list | None = None, cmcd_mode: str = "query") -> tuple[Any, SlowMock, list]:
    clock = AutojumpClock()
    puts = [] if puts is None else puts
    transport = SlowMock(edge_handler(bad_edge), clock, cmcd_mode=cmcd_mode)
    http = httpx.AsyncClient(transport=httpx.MockTransport(control(puts)))
    player = await Player.open("http://cp.test/playback/t", cfg, transport=transport, http=http,
                               monotonic=clock.monotonic)
    player.use_clock(clock)
    seen: list = []

    async def listen() -> None:
        async for e in player.events():
            seen.append(e)

    listener = asyncio.ensure_future(listen())
    summary = await player.wait()
    await listener
    await http.aclose()
    return summary, transport, seen


def test_grant_resume_failover_and_events() -> None:
    sink = MemorySink()
    puts: list[dict] = []
    summary, transport, seen = asyncio.run(session(config(sink), puts=puts))
    assert summary.state == "ended", summary.failure
    assert summary.session_id == "sess1"
    assert summary.start_position_s == 4.0
    assert [r.segment_index for r in summary.result.segments] == [2, 3]
    assert summary.sizes_from == "nominal"
    fo = sink.of_type("failover")
    assert len(fo) == 1 and (fo[0].from_pathway, fo[0].to_pathway) == ("edge-a", "edge-b")
    assert fo[0].reason == "http-503"
    assert summary.edges == {"edge-b": 2}
    assert [e.id for e in seen] == [e.id for e in sink.events]
    types = [e.type for e in seen]
    assert types[0] == "play" and types[-1] == "session_end"
    assert "startup" in types and "rendition_switch" in types and "heartbeat" in types
    assert puts and puts[-1]["account"] == "anonymous"
    assert puts[-1]["position_s"] == pytest.approx(8.0, abs=0.01)
    assert seen[-1].qoe["played_s"] == pytest.approx(4.0, abs=0.01)


def test_cmcd_query_headers_and_off() -> None:
    for mode in ("query", "headers", "off"):
        sink = MemorySink()
        cfg = config(sink, telemetry=TelemetryConfig(sinks=(sink,), cmcd=mode))
        _, transport, _ = asyncio.run(
            session(cfg, bad_edge=None, cmcd_mode="headers" if mode == "headers" else "query")
        )
        segs = [r for r in transport.requests if ".m4s" in r.url]
        assert segs
        if mode == "query":
            assert all("CMCD=" in r.url and "sid%3D%22sess1%22" in r.url for r in segs)
        elif mode == "headers":
            assert all("CMCD=" not in r.url for r in segs)
            assert all('sid="sess1"' in r.headers.get("CMCD-Session", "") for r in segs)
        else:
            assert all(r.cmcd is None and "CMCD" not in r.url for r in segs)


def test_denied_grant_is_a_playback_error_with_an_error_event() -> None:
    sink = MemorySink()

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(control([], status=403)))
        try:
            await Player.open("http://cp.test/playback/t", config(sink), http=http,
                              transport=MockTransport(edge_handler()))
        finally:
            await http.aclose()

    with pytest.raises(PlaybackError) as info:
        asyncio.run(main())
    assert info.value.code == "grant" and "nope" in str(info.value)
    errors = sink.of_type("error")
    assert len(errors) == 1 and errors[0].fatal and errors[0].code == "grant"


def test_max_height_keeps_lower_renditions() -> None:
    sink = MemorySink()
    summary, _, _ = asyncio.run(session(config(sink, max_height=200), bad_edge=None))
    assert summary.state == "ended"
    assert {r.bitrate_bps for r in summary.result.segments} == {200000.0}


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        PlayerConfig(speed=0)
    with pytest.raises(ValueError):
        TelemetryConfig(cmcd="body")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PlayerConfig(max_height=-1)


def test_pause_seek_and_stop_through_the_player() -> None:
    sink = MemorySink()
    cfg = config(sink, resume=replace(PlayerConfig().resume, use_grant=False))

    async def main() -> Any:
        clock = AutojumpClock()
        transport = SlowMock(edge_handler(None), clock)
        http = httpx.AsyncClient(transport=httpx.MockTransport(control([])))
        player = await Player.open("http://cp.test/playback/t", cfg, transport=transport,
                                   http=http, monotonic=clock.monotonic)
        player.use_clock(clock)
        await player.play()
        while player.driver.playhead() < 1.0:
            await clock.sleep(0.1)
        player.pause()
        await clock.sleep(3.0)
        await player.play()  # resumes
        await clock.sleep(0.5)
        player.seek(6.5)
        while player.driver.playhead() < 7.0:
            await clock.sleep(0.1)
        player.stop()
        summary = await player.wait()
        await player.aclose()
        await http.aclose()
        return summary

    summary = asyncio.run(main())
    assert summary.state == "ended"
    types = [e.type for e in sink.events]
    for kind in ("pause", "resume", "seek", "session_end"):
        assert kind in types, types
    resume = sink.of_type("resume")[0]
    assert resume.paused_s == pytest.approx(3.0, abs=0.2)
    seek = sink.of_type("seek")[0]
    assert seek.to_s == 6.5 and seek.from_s == pytest.approx(1.5, abs=0.3)
    assert summary.result.paused_s == pytest.approx(3.0, abs=0.2)
    assert [r.segment_index for r in summary.result.segments][-1] == 3


def test_prefetch_inits_fetches_each_init_once_before_play() -> None:
    async def run() -> tuple[int, int, list[str], Any]:
        clock = AutojumpClock()
        transport = SlowMock(edge_handler(None), clock)
        http = httpx.AsyncClient(transport=httpx.MockTransport(control([])))
        player = await Player.open("http://cp.test/playback/t", config(MemorySink()),
                                   transport=transport, http=http, monotonic=clock.monotonic)
        player.use_clock(clock)
        first = await player.prefetch_inits()
        again = await player.prefetch_inits()  # cached: no new request
        before_play = [r.url for r in transport.requests]
        summary = await player.wait()
        await http.aclose()
        inits_after = [r.url for r in transport.requests[len(before_play):] if "init" in r.url]
        return first, again, before_play, (summary, inits_after)

    first, again, before_play, (summary, inits_after) = asyncio.run(run())
    assert first == again == 2  # two video rungs, no audio in this title
    inits = [u for u in before_play if u.endswith("init.mp4")]
    assert sorted(u.split("/")[-2] for u in inits) == ["v0", "v1"]
    assert summary.state == "ended", summary.failure
    assert inits_after == []  # playback found both in the cache
