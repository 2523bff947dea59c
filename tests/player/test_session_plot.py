"""The session plot (player.commands.session_plot, ``abrkit play --plot``) from recorded
segment records and telemetry events: what it draws, and that it writes a real PNG."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest

from player.cli import main
from player.commands.play import write_plot
from player.commands.session_plot import (
    Marker,
    draw_session_plot,
    failover_markers,
    plot_data,
    write_session_plot,
)
from player.states import SegmentRecord
from telemetry.events import (
    FailoverEvent,
    HeartbeatEvent,
    PlayEvent,
    StallEndEvent,
    StallStartEvent,
)

SID = "session-plot-test"
T0 = 1_800_000_000.0  # wall clock of the play event
SPEED = 4.0


def seg(i: int, end: float, kbps: float, tput_kbps: float, buf: float,
        rebuffer: float = 0.0) -> SegmentRecord:
    return SegmentRecord(i, 0, kbps * 1e3, 1000, end - 1.0, end, buf - 2.0, buf, rebuffer,
                         "rule", "reason", tput_kbps * 1e3)


SEGMENTS = (
    seg(0, 1.0, 300, 900, 2.0),
    seg(1, 3.0, 750, 1400, 4.0),
    seg(2, 9.0, 750, 200, 2.0, rebuffer=1.5),  # a stall from 7.5 s to 9 s
    seg(3, 11.0, 300, 800, 4.0),
)
RESULT = SimpleNamespace(segments=SEGMENTS, start_s=0.5, end_s=14.0)


def events(*, open_stall: bool = False) -> list:
    ev = [
        PlayEvent(session_id=SID, ts=T0),
        HeartbeatEvent(session_id=SID, ts=T0 + 0.5, buffer_s=2.0, bitrate_bps=300_000),
        StallStartEvent(session_id=SID, ts=T0 + 1.75),
        StallEndEvent(session_id=SID, ts=T0 + 2.125, stall_s=1.5),
        # wall 2.5 s after play at speed 4: session time 0.5 + 10 = 10.5 s
        FailoverEvent(session_id=SID, ts=T0 + 2.5, from_pathway="edge-1", to_pathway="edge-2",
                      reason="http_503"),
    ]
    if open_stall:
        ev.append(StallStartEvent(session_id=SID, ts=T0 + 3.0))  # 12.5 s, never ended
    return ev


def test_plot_data_places_failovers_on_the_session_clock() -> None:
    d = plot_data(RESULT, events(), speed=SPEED)
    assert d.t_s == (1.0, 3.0, 9.0, 11.0)
    assert d.bitrate_kbps == (300, 750, 750, 300)
    assert d.throughput_kbps == (900, 1400, 200, 800)
    assert d.buffer_s == (2.0, 4.0, 2.0, 4.0)
    assert d.stalls == ((7.5, 9.0),)
    assert d.failovers == (Marker(10.5, "edge-1", "edge-2", "http_503"),)
    assert d.end_s == 14.0


def test_a_stall_still_open_at_the_end_is_drawn_to_the_end() -> None:
    d = plot_data(RESULT, events(open_stall=True), speed=SPEED)
    assert d.stalls == ((7.5, 9.0), (12.5, 14.0))


def test_events_as_jsonl_dicts_give_the_same_markers(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in events()))
    rows = [json.loads(line) for line in f.read_text().splitlines()]
    assert failover_markers(rows, start_s=0.5, speed=SPEED) == failover_markers(
        events(), start_s=0.5, speed=SPEED)
    assert failover_markers(rows[1:], start_s=0.5, speed=SPEED) == []  # no play event: no anchor


def test_bad_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        plot_data(RESULT, events(), speed=0)


def test_the_figure_shows_bitrate_throughput_buffer_stalls_and_failover_edges() -> None:
    fig = draw_session_plot(plot_data(RESULT, events(open_stall=True), speed=SPEED), title="t")
    try:
        top, bottom = fig.axes
        labels = [t.get_text() for t in top.get_legend().get_texts()]
        assert labels == ["chosen bitrate", "measured throughput", "stall (2)", "failover (1)"]
        assert [ln.get_label() for ln in bottom.get_lines()][0] == "buffer"
        assert [t.get_text() for t in top.texts] == ["\u2192 edge-2"]
        for ax in (top, bottom):
            dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
            assert [ln.get_xdata()[0] for ln in dashed] == [10.5]
            assert len(ax.patches) == 2  # the two stall spans
        assert bottom.get_xlim() == (0.0, 14.0)
        assert top.get_yscale() == "linear"  # 200..1400 kb/s: within a factor 10
    finally:
        plt.close(fig)


def test_rates_spanning_more_than_a_factor_10_use_a_log_axis() -> None:
    fast = SimpleNamespace(segments=(seg(0, 1.0, 300, 50_000, 2.0),), start_s=0.0, end_s=2.0)
    fig = draw_session_plot(plot_data(fast))
    try:
        assert fig.axes[0].get_yscale() == "log"
    finally:
        plt.close(fig)


def png_size(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


def test_write_plot_from_a_summary_writes_a_png(tmp_path: Path) -> None:
    summary = SimpleNamespace(session_id=SID, state="ended", failovers=1, result=RESULT,
                              qoe=SimpleNamespace(rebuffer_count=1))
    out = write_plot(summary, tmp_path / "sub" / "s.png", events(), speed=SPEED)
    assert out == tmp_path / "sub" / "s.png"
    assert png_size(out) == (900, 550)
    assert png_size(write_session_plot(plot_data(RESULT), tmp_path / "empty.png")) == (900, 550)


def test_a_session_without_segments_still_plots(tmp_path: Path) -> None:
    empty = SimpleNamespace(segments=(), start_s=0.0, end_s=0.0)
    assert png_size(write_session_plot(plot_data(empty, [PlayEvent(session_id=SID, ts=T0)]),
                                       tmp_path / "e.png")) == (900, 550)


def test_play_refuses_a_plot_that_is_not_png(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "http://127.0.0.1:1/x.m3u8", "--plot", "s.svg"]) == 2
    assert "--plot 's.svg': the plot is a PNG" in capsys.readouterr().err
