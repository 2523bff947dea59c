"""Real playback against the reference backend: failover, exhaustion, stalls, truncation."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from player.breaker import BreakerConfig
from player.config import DEFAULT_ENGINE, DEFAULT_OCA, DecodeConfig, PlayerConfig, TelemetryConfig
from player.player import Player
from player.retry import RetryPolicy
from server.runner import Backend
from telemetry.sinks import MemorySink

from .conftest import FPS, TITLE, TITLE_SECONDS

pytestmark = pytest.mark.integration


def _config(sink: MemorySink, **kw: object) -> PlayerConfig:
    base: dict[str, object] = {
        "speed": 4.0,
        "engine": replace(DEFAULT_ENGINE, buffer_max_s=6.0),
        "decode": DecodeConfig(enabled=False),
        "telemetry": TelemetryConfig(sinks=(sink,), heartbeat_interval_s=2.0),
        "resume": replace(PlayerConfig().resume, use_grant=False),
    }
    base.update(kw)
    return PlayerConfig(**base)  # type: ignore[arg-type]


def _segments_once(summary: object) -> None:
    idx = [r.segment_index for r in summary.result.segments]  # type: ignore[attr-defined]
    assert sorted(idx) == list(range(int(TITLE_SECONDS / 2))), idx


def test_serving_edge_down_with_10s_buffered(live: Backend) -> None:
    """(a) zero stalls, one failover event, every frame presented once, in order."""
    sink = MemorySink()
    # a frame is never skipped for lateness here (drop_after_s 5 s): on a loaded shared
    # machine the renderer can fall behind; what this test checks is that the failover
    # loses and repeats nothing. Lateness is counted separately (frames.late).
    cfg = _config(
        sink, speed=3.0, engine=replace(DEFAULT_ENGINE, buffer_max_s=12.0),
        decode=DecodeConfig(enabled=True, drop_after_s=5.0),
    )

    async def main() -> object:
        player = await Player.open(live.grant_url(TITLE), cfg)
        downed: list[str] = []

        async def saboteur() -> None:
            while not (player.driver.buffer_s() >= 10.0 and player.session.next_index >= 6):
                await asyncio.sleep(0.02)
            assert player.session.next_index < player.session.video.segment_count
            edge = player.pool.current_edge
            assert edge is not None
            downed.append(edge)
            await asyncio.to_thread(live.edge(edge).down)

        task = asyncio.ensure_future(saboteur())
        summary = await player.wait()
        await task
        await player.aclose()
        return summary, downed[0]

    summary, downed = asyncio.run(main())
    assert summary.state == "ended", summary.failure
    assert summary.qoe.rebuffer_count == 0
    failovers = sink.of_type("failover")
    assert len(failovers) == 1 and summary.failovers == 1
    assert failovers[0].from_pathway == downed
    assert downed in summary.edges and len(summary.edges) == 2
    _segments_once(summary)
    frames = summary.frames
    expected = int(TITLE_SECONDS * FPS)
    assert frames.decoded == expected
    assert frames.presented == expected and frames.dropped == 0 and frames.out_of_order == 0
    pts = frames.presented_pts
    assert all(abs((b - a) - 1 / FPS) < 1e-3 for a, b in zip(pts, pts[1:], strict=False))
    assert abs(pts[0]) < 1e-6


def test_all_edges_down_fails_clearly(live: Backend) -> None:
    """(b) a clear error after bounded attempts and time, reported as an error event."""
    sink = MemorySink()
    # a request that finds every breaker open waits for the first half-open time and
    # probes (player.oca): a 3 s cool-down keeps that wait short
    oca = replace(DEFAULT_OCA, timeout_s=1.0, stall_timeout_s=0.5,
                  retry=RetryPolicy(max_attempts=2, base_s=0.05, cap_s=0.2, deadline_s=2.0),
                  breaker=BreakerConfig(failure_threshold=1, cooldown_s=3.0))
    cfg = _config(sink, oca=oca, engine=replace(DEFAULT_ENGINE, buffer_max_s=4.0,
                                                max_download_retries=1))

    async def main() -> tuple[object, float, int]:
        player = await Player.open(live.grant_url(TITLE), cfg)
        await player.play()
        while player.session.state.value != "playing":
            await asyncio.sleep(0.02)
        for e in live.edges:
            await asyncio.to_thread(e.down)
        t0 = time.monotonic()
        summary = await player.wait()
        requests = sum(s.requests - s.successes for s in player.pool.stats().values())
        return summary, time.monotonic() - t0, requests

    summary, took, failed_requests = asyncio.run(main())
    assert summary.state == "failed"
    assert "failed 2 times" in (summary.failure or "")
    assert took < 15.0
    assert failed_requests <= 2 * 2 * 3 * 2  # (retries+1) x passes x edges x (video+audio)
    fatal = [e for e in sink.of_type("error") if e.fatal]
    assert len(fatal) == 1 and fatal[0].code == "playback_failed"
    assert sink.of_type("session_end")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [({"stall": {"after_bytes": 3000}}, "stalled"),
     ({"truncate": {"after_bytes": 3000}}, "truncated")],
)
def test_stalled_or_truncated_edge_fails_over(
    live: Backend, fault: dict, reason: str
) -> None:
    """(c) a stall mid-body and a truncated body are detected and failed over.

    On the shared backend: ``live`` waits until the control plane sees every edge
    again (an edge downed by an earlier test used to be missing from this test's
    grant, leaving the faulty edge alone with nowhere to fail over to).
    """
    sink = MemorySink()
    # no steering: a steering answer could rank the faulty edge lower before the first fetch
    cfg = _config(sink, speed=6.0, oca=replace(DEFAULT_OCA, stall_timeout_s=2.0),
                  steering=False)

    async def main() -> tuple[object, str]:
        player = await Player.open(live.grant_url(TITLE), cfg)
        first = player.pool.ranking[0]
        assert len(player.pool.ranking) == 3, player.pool.ranking  # somewhere to fail over to
        await asyncio.to_thread(live.edge(first).set_faults, {"match": "*.m4s", **fault})
        summary = await player.wait()
        await player.aclose()
        return summary, first

    summary, bad = asyncio.run(main())
    assert summary.state == "ended", summary.failure
    events = sink.of_type("failover")
    assert events, "no failover"
    assert events[0].from_pathway == bad and events[0].reason == reason, events
    assert [e.from_pathway for e in events].count(bad) == 1, events
    assert bad not in summary.edges
    _segments_once(summary)
