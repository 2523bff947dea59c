"""``abrkit play --plot`` on a short real playback with a failover: the plot's
failover marker names the edges the player really moved between, and the file
is a PNG."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from player.commands.play import run_session, write_plot
from player.commands.session_plot import plot_data
from player.config import DEFAULT_ENGINE, DecodeConfig, PlayerConfig, TelemetryConfig
from server.runner import Backend
from telemetry.sinks import MemorySink

from .conftest import TITLE

pytestmark = pytest.mark.integration

SPEED = 8.0


def test_plot_of_a_real_session_marks_its_failover(fresh_backend: Backend, tmp_path: Path) -> None:
    sink = MemorySink()
    config = PlayerConfig(
        policy="bba", speed=SPEED, steering=False, engine=replace(DEFAULT_ENGINE, buffer_max_s=6.0),
        decode=DecodeConfig(enabled=False),
        telemetry=TelemetryConfig(sinks=(sink,), heartbeat_interval_s=2.0),
        resume=replace(PlayerConfig().resume, use_grant=False),
    )
    bad: list[str] = []

    def on_open(player: Any) -> None:  # the first-ranked edge answers 503 to every segment
        bad.append(player.pool.ranking[0])
        fresh_backend.edge(bad[0]).set_faults(
            {"match": "*.m4s", "error": {"status": 503, "probability": 1.0}})

    summary = asyncio.run(run_session(fresh_backend.grant_url(TITLE), config, quiet=True,
                                      on_open=on_open))
    assert summary.ok, summary.failure
    assert summary.failovers >= 1

    data = plot_data(summary.result, sink.events, speed=SPEED)
    first = data.failovers[0]
    assert first.from_edge == bad[0] and first.to_edge != bad[0]
    assert first.to_edge in summary.edges
    assert summary.result.start_s <= first.t_s <= data.end_s
    assert len(data.t_s) == len(summary.result.segments) > 0

    png = write_plot(summary, tmp_path / "session.png", sink.events, speed=SPEED)
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", raw[16:24]) == (900, 550)
