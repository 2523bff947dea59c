"""``abrkit play`` against the live backend, and DASH playback."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from player.cli import main
from player.config import DEFAULT_ENGINE, DecodeConfig, PlayerConfig
from player.player import Player
from server.runner import Backend

from .conftest import TITLE, TITLE_SECONDS

pytestmark = pytest.mark.integration


def test_play_command_success_with_telemetry_file_and_plot(live: Backend, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    jsonl, png = tmp_path / "t.jsonl", tmp_path / "p.png"
    code = main(["play", live.grant_url(TITLE), "--speed", "8", "--no-decode", "--quiet",
                 "--telemetry", str(jsonl), "--plot", str(png), "--cmcd", "headers"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "QoE" in err and "startup" in err
    types = [json.loads(line)["type"] for line in jsonl.read_text().splitlines()]
    assert types[0] == "play" and types[-1] == "session_end"
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(
    "argv",
    [["play", "not-a-url"], ["play", "http://127.0.0.1:1/x.m3u8", "--speed", "0"],
     ["play", "http://127.0.0.1:1/x.m3u8", "--policy", "nope"]],
)
def test_play_command_bad_arguments_exit_2(argv: list[str]) -> None:
    assert main(argv) == 2


def test_play_command_unknown_title_exits_1(live: Backend, capsys: pytest.CaptureFixture) -> None:
    assert main(["play", live.grant_url("no-such-title"), "--quiet"]) == 1
    assert "grant" in capsys.readouterr().err


def test_dash_and_direct_manifest_urls_play(live: Backend) -> None:
    cfg = PlayerConfig(protocol="dash", speed=10.0, decode=DecodeConfig(enabled=False),
                       engine=replace(DEFAULT_ENGINE, buffer_max_s=8.0))

    async def play(url: str, config: PlayerConfig) -> object:
        player = await Player.open(url, config)
        try:
            return await player.wait()
        finally:
            await player.aclose()

    dash = asyncio.run(play(live.grant_url(TITLE), cfg))
    assert dash.state == "ended", dash.failure
    assert dash.qoe.played_s == pytest.approx(TITLE_SECONDS, abs=0.1)
    edge = next(iter(live.edge_urls.values()))
    direct = asyncio.run(play(f"{edge}/{TITLE}/master.m3u8", replace(cfg, protocol="hls")))
    assert direct.state == "ended", direct.failure
    assert direct.sizes_from == "catalog"
    assert len(direct.result.segments) == int(TITLE_SECONDS / 2)
