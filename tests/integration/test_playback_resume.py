"""Resume positions: a stopped session's position comes back in the next grant."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from player.config import DecodeConfig, GrantRequest, PlayerConfig, ResumeConfig
from player.player import Player
from server.runner import Backend

from .conftest import TITLE

pytestmark = pytest.mark.integration


def test_stop_reports_the_position_and_the_next_session_resumes(live: Backend) -> None:
    cfg = PlayerConfig(speed=8.0, decode=DecodeConfig(enabled=False),
                       grant=GrantRequest(account="resume-test"),
                       resume=ResumeConfig(progress_interval_s=2.0))

    async def first() -> float:
        player = await Player.open(live.grant_url(TITLE), cfg)
        assert player.reporter is not None
        await player.play()
        while player.driver.playhead() < 9.0:
            await asyncio.sleep(0.02)
        player.stop()
        summary = await player.wait()
        assert summary.state == "ended"
        assert player.reporter.sent >= 2 and player.reporter.failed == 0
        return player.reporter.last_position_s or 0.0

    stopped_at = asyncio.run(first())
    assert 9.0 <= stopped_at < 11.0
    got = httpx.get(f"{live.control_url}/viewing/{TITLE}/progress",
                    params={"account": "resume-test"}, timeout=5).json()
    assert got["position_s"] == pytest.approx(stopped_at, abs=0.01)

    async def second() -> object:
        player = await Player.open(live.grant_url(TITLE), cfg)
        try:
            return await player.wait()
        finally:
            await player.aclose()

    summary = asyncio.run(second())
    assert summary.start_position_s == pytest.approx(stopped_at, abs=0.01)
    assert summary.result.segments[0].segment_index == int(stopped_at // 2)
