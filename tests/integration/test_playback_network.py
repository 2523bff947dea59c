"""Real playback: a rate-limited edge makes the policy step down and climb back;
the collector goes away and comes back without losing or duplicating an event."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from player.config import DEFAULT_ENGINE, DecodeConfig, PlayerConfig, TelemetryConfig
from player.player import Player
from server.runner import Backend
from telemetry.sinks import MemorySink

from .conftest import TITLE

pytestmark = pytest.mark.integration


def test_rate_limit_steps_down_and_restore_climbs(live: Backend) -> None:
    """(d) every edge limited to ~0.3 Mb/s of media time mid-session, then restored."""
    sink = MemorySink()
    cfg = PlayerConfig(
        policy="throughput",  # short half-lives: the estimate follows the last downloads
        policy_config={"fast_half_life_s": 0.02, "slow_half_life_s": 0.04},
        speed=2.0,
        engine=replace(DEFAULT_ENGINE, startup_threshold_s=2.0, buffer_max_s=6.0),
        decode=DecodeConfig(enabled=False),
        telemetry=TelemetryConfig(sinks=(sink,)),
    )
    limited_from: list[int] = []
    restored_from: list[int] = []

    async def main() -> object:
        player = await Player.open(live.grant_url(TITLE), cfg)
        top = len(player.media.video.bitrates_bps) - 1
        await player.play()
        s = player.session
        while not (s.records and s.records[-1].rung == top):
            assert not s.finished
            await asyncio.sleep(0.02)
        # 30 kB/s real at speed 2 = ~120 kb/s of media time: below every rung
        for e in live.edges:
            await asyncio.to_thread(e.set_faults, {"match": "*.m4s",
                                                   "rate": {"bytes_per_s": 30_000}})
        limited_from.append(len(s.records))
        while not any(r.rung < top for r in s.records[limited_from[0]:]):
            assert not s.finished
            await asyncio.sleep(0.02)
        for e in live.edges:
            await asyncio.to_thread(e.clear_faults)
        restored_from.append(len(s.records))
        summary = await player.wait()
        await player.aclose()
        return summary

    summary = asyncio.run(main())
    assert summary.state == "ended", summary.failure
    rungs = [r.rung for r in summary.result.segments]
    top = max(rungs)
    limited = rungs[limited_from[0]:restored_from[0] + 1]
    after = rungs[restored_from[0] + 1:]
    assert min(limited) < top, rungs  # stepped down under the limit
    assert after and max(after) > min(limited), rungs  # and climbed once it was lifted
    switches = sink.of_type("rendition_switch")
    assert any(e.to_rung < e.from_rung for e in switches if e.from_rung is not None)
    assert all(e.rule for e in switches)


def test_collector_down_and_back_every_event_once(live: Backend, tmp_path: Path) -> None:
    """(e) events emitted while the collector is down are spooled and delivered once."""
    mem = MemorySink()
    cfg = PlayerConfig(
        speed=4.0,
        engine=replace(DEFAULT_ENGINE, buffer_max_s=6.0),
        decode=DecodeConfig(enabled=False),
        telemetry=TelemetryConfig(sinks=(mem,), collector=True, spool_dir=str(tmp_path / "spool"),
                                  heartbeat_interval_s=1.0),
    )

    async def main() -> object:
        player = await Player.open(live.grant_url(TITLE), cfg)
        await player.play()
        while player.driver.playhead() < 4.0:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(live.control.stop)
        n_down = len(mem.events)
        while player.driver.playhead() < 12.0:
            await asyncio.sleep(0.02)
        assert len(mem.events) > n_down  # events were emitted while it was down
        await asyncio.to_thread(live.control.start)
        summary = await player.wait()
        await player.aclose()
        return summary

    summary = asyncio.run(main())
    assert summary.state == "ended", summary.failure
    ids = [e.id for e in mem.events]
    assert len(ids) == len(set(ids)) == summary.events
    db = sqlite3.connect(live.control_plane.config.db_path)
    try:
        rows = db.execute(
            "SELECT id FROM events WHERE session_id = ?", (summary.session_id,)
        ).fetchall()
    finally:
        db.close()
    stored = [r[0] for r in rows]
    assert sorted(stored) == sorted(ids)
