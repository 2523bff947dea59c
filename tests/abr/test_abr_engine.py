"""Every registered policy plays whole sessions in the replay engine, on both presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from abr import available_policies, policy_factory

replay_mod = pytest.importorskip("player.replay")
presets = pytest.importorskip("player.presets")
traces_mod = pytest.importorskip("player.traces")
video_mod = pytest.importorskip("player.video")

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TRACES = SHARED / "traces" / "pensieve_train"
VIDEO = SHARED / "traces" / "pensieve_video"

pytestmark = pytest.mark.skipif(
    not (TRACES.is_dir() and VIDEO.is_dir()), reason="shared Pensieve traces not available"
)


@pytest.fixture(scope="module")
def setup():
    traces = traces_mod.load_trace_dir(TRACES)
    # sorted names: Norway HSDPA (3G) traces first, FCC broadband ones last
    picked = [traces[0], traces[-1]]
    return picked, video_mod.load_pensieve_video(VIDEO)


@pytest.mark.parametrize("preset_name", ["pensieve", "realistic"])
@pytest.mark.parametrize("name", available_policies())
def test_policy_plays_sessions(setup, name, preset_name):
    traces, video = setup
    preset = presets.get_preset(preset_name)
    for trace in traces:
        result = replay_mod.replay(trace, video, policy_factory(name), preset)
        assert result.state == "ended", (name, trace.name, result.failure)
        top = len(video.bitrates_bps) - 1
        assert all(0 <= rec.rung <= top for rec in result.segments)
        assert all(rec.rule for rec in result.segments)
