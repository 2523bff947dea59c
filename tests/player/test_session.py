"""The sans-IO engine driven by hand: transition table, buffer, stalls, waits, seek, pause,
abandonment, end of stream, stall limit."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from abr.base import AbrContext, Decision, DownloadReport
from abr.base import DownloadProgress as AbrProgress
from player.errors import IllegalEventError, SessionError
from player.session import EngineConfig, Session
from player.states import (
    TRANSITIONS,
    Abandon,
    DownloadComplete,
    DownloadFailed,
    DownloadProgress,
    End,
    Fail,
    FetchSegment,
    Pause,
    Play,
    Resume,
    Seek,
    StallEnded,
    StallStarted,
    Start,
    State,
    Stop,
    Tick,
    Wait,
)
from player.video import Video

VIDEO = Video(
    (1e6, 2e6, 4e6), 4.0, tuple((500_000 + k, 1_000_000 + k, 2_000_000 + k) for k in range(5)), "v"
)


class Fixed:
    name = "fixed"

    def __init__(self, rung: int = 0) -> None:
        self.rung = rung
        self.contexts: list[AbrContext] = []
        self.reports: list[DownloadReport] = []

    def decide(self, ctx: AbrContext) -> Decision:
        self.contexts.append(ctx)
        return Decision(self.rung, "fixed", f"rung {self.rung}")

    def observe(self, report: DownloadReport) -> None:
        self.reports.append(report)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


def only(actions, cls):
    found = [a for a in actions if type(a) is cls]
    assert len(found) == 1, actions
    return found[0]


def make(**cfg) -> tuple[Session, Fixed]:
    policy = Fixed(cfg.pop("rung", 0))
    base = {"buffer_max_s": 60.0, "stall_limit_s": 30.0}
    base.update(cfg)
    return Session(VIDEO, policy, EngineConfig(**base)), policy


# ----- the table ---------------------------------------------------------------
def test_every_state_has_rows_and_terminal_states_are_quiet():
    states = {s for s, _ in TRANSITIONS}
    assert states == set(State)
    for terminal in (State.ENDED, State.FAILED):
        assert {e for s, e in TRANSITIONS if s is terminal} == {Tick, Stop}


@pytest.mark.parametrize(
    "event",
    [
        DownloadComplete(0.0),
        DownloadProgress(0.0, 1),
        Seek(0.0, 1.0),
        Pause(0.0),
        Resume(0.0),
        DownloadFailed(0.0, "x"),
    ],
)
def test_illegal_in_idle(event):
    s, _ = make()
    with pytest.raises(IllegalEventError, match="not allowed in state 'idle'"):
        s.handle(event)


def test_illegal_resume_while_playing_and_double_pause():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    with pytest.raises(IllegalEventError):
        s.handle(Resume(1.5))
    s.handle(Pause(1.5))
    with pytest.raises(IllegalEventError):
        s.handle(Pause(1.6))


def test_illegal_after_end():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(Stop(0.5))
    assert s.state is State.ENDED
    assert s.handle(Tick(1.0)) == []
    with pytest.raises(IllegalEventError):
        s.handle(Start(2.0))
    with pytest.raises(IllegalEventError):
        s.handle(Seek(2.0, 0.0))


def test_time_backwards_is_an_error():
    s, _ = make()
    s.handle(Start(5.0))
    with pytest.raises(SessionError, match="backwards"):
        s.handle(Tick(1.0))


def test_complete_without_download_is_an_error():
    s, _ = make(buffer_max_s=3.0)
    s.handle(Start(0.0))
    acts = s.handle(DownloadComplete(1.0))  # buffer 4 > 3: wait, nothing in flight
    assert kinds(acts) == [Play, Wait]
    with pytest.raises(SessionError, match="without a download in flight"):
        s.handle(DownloadComplete(1.2))
    with pytest.raises(SessionError, match="without a download in flight"):
        s.handle(DownloadFailed(1.2, "x"))


def test_engine_imports_no_io():
    root = Path(__file__).resolve().parents[2] / "player"
    for name in ("session.py", "states.py", "network.py", "replay.py", "presets.py"):
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for m in mods:
                assert m.split(".")[0] not in {"socket", "asyncio", "threading", "time", "httpx"}, (
                    name,
                    m,
                )


# ----- startup, buffer, stalls -----------------------------------------------
def test_start_fetches_start_rung_without_asking_policy():
    s, policy = make(start_rung=1)
    acts = s.handle(Start(0.0))
    f = only(acts, FetchSegment)
    assert (f.segment_index, f.rung, f.size_bytes) == (0, 1, 1_000_000)
    assert policy.contexts == []
    assert s.state is State.STARTUP


def test_startup_threshold_and_startup_delay():
    s, policy = make(startup_threshold_s=8.0)
    s.handle(Start(0.0))
    acts = s.handle(DownloadComplete(1.0))
    assert Play not in kinds(acts) and s.state is State.STARTUP
    assert only(acts, FetchSegment).segment_index == 1
    acts = s.handle(DownloadComplete(2.5))
    assert only(acts, Play).t == 2.5
    assert s.state is State.PLAYING
    assert s.buffer == pytest.approx(8.0)
    r = s.result()
    assert r.qoe.startup_delay_s == pytest.approx(2.5)
    assert r.startup_s == pytest.approx(2.5)


def test_buffer_drains_while_playing():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))  # buffer 4, playing
    assert s.handle(Tick(2.5)) == []
    assert s.buffer == pytest.approx(2.5)
    assert s.result().played_s == pytest.approx(1.5)


def test_stall_detected_and_attributed_to_the_next_segment():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))  # buffer 4
    acts = s.handle(DownloadComplete(8.0))  # 7 s download: stall from 5.0 to 8.0
    assert only(acts, StallStarted).t == pytest.approx(5.0)
    ended = only(acts, StallEnded)
    assert (ended.t, ended.duration_s) == (8.0, pytest.approx(3.0))
    r = s.result()
    assert r.segments[1].rebuffer_s == pytest.approx(3.0)
    assert r.qoe.rebuffer_count == 1
    assert r.stalled_s == pytest.approx(3.0)
    assert s.buffer == pytest.approx(4.0)


def test_stall_seen_by_tick_then_resume_threshold():
    s, _ = make(rebuffer_resume_s=8.0)
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    acts = s.handle(Tick(6.0))
    assert kinds(acts) == [StallStarted] and s.state is State.REBUFFERING
    acts = s.handle(DownloadComplete(7.0))  # 4 s in buffer < 8 s: still stalled
    assert s.state is State.REBUFFERING and StallEnded not in kinds(acts)
    acts = s.handle(DownloadComplete(8.0))
    assert only(acts, StallEnded).duration_s == pytest.approx(3.0)
    assert s.state is State.PLAYING


def test_no_stall_when_download_ends_exactly_as_buffer_empties():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    acts = s.handle(DownloadComplete(5.0))
    assert StallStarted not in kinds(acts)
    assert s.result().qoe.rebuffer_count == 0


# ----- buffer cap ---------------------------------------------------------------
def test_buffer_cap_waits_in_drain_steps_then_decides():
    s, policy = make(buffer_max_s=10.0, drain_step_s=0.5)
    s.handle(Start(0.0))
    for k in range(3):
        acts = s.handle(DownloadComplete(0.1 * (k + 1)))
    # buffer = 12 - 0.2 = 11.8 -> ceil(1.8 / 0.5) * 0.5 = 2.0
    w = only(acts, Wait)
    assert w.reason == "buffer-full" and w.until_s == pytest.approx(0.3 + 2.0)
    n = len(policy.contexts)
    assert s.handle(Tick(1.0)) == []
    acts = s.handle(Tick(w.until_s))
    assert only(acts, FetchSegment).segment_index == 3
    assert len(policy.contexts) == n + 1
    assert policy.contexts[-1].buffer_s == pytest.approx(11.8 - 2.0)


def test_exact_drain_without_step():
    s, _ = make(buffer_max_s=6.0, drain_step_s=0.0)
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    acts = s.handle(DownloadComplete(1.0))
    assert only(acts, Wait).until_s == pytest.approx(1.0 + 2.0)


# ----- end of stream ---------------------------------------------------------------
def run_to_end(s: Session, dl: float = 0.5) -> list:
    acts = s.handle(Start(0.0))
    log = list(acts)
    while not s.finished:
        f = [a for a in acts if type(a) is FetchSegment]
        w = [a for a in acts if type(a) is Wait]
        ev = DownloadComplete(s.t + dl) if f else Tick(w[0].until_s)
        acts = s.handle(ev)
        log += acts
    return log


def test_end_of_stream_plays_out_the_buffer():
    s, _ = make()
    log = run_to_end(s)
    waits = [a for a in log if type(a) is Wait]
    assert waits[-1].reason == "end-of-stream"
    end = only(log, End)
    assert end.t == pytest.approx(5 * 0.5 + (20.0 - 2.0))  # 2 s played during downloads 2..5
    r = s.result()
    assert r.state == "ended" and r.failure is None
    assert r.played_s == pytest.approx(20.0)
    assert r.end_s - r.start_s == pytest.approx(r.played_s + r.stalled_s + r.startup_s)
    assert len(r.segments) == 5
    assert r.qoe.time_per_rung_s[0] == pytest.approx(20.0)


def test_stop_abandons_in_flight_download():
    s, _ = make()
    s.handle(Start(0.0))
    acts = s.handle(Stop(0.3))
    assert kinds(acts) == [Abandon, End]
    assert s.state is State.ENDED


# ----- stall limit ---------------------------------------------------------------
def test_stall_limit_fails_the_session_dated_at_the_limit():
    s, _ = make(stall_limit_s=10.0)
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))  # buffer 4; stall starts at 5
    assert s.deadline_s == pytest.approx(1.0 + 4.0 + 10.0)
    acts = s.handle(DownloadComplete(100.0))  # far too late
    assert kinds(acts) == [StallStarted, Abandon, Fail]
    fail = only(acts, Fail)
    assert fail.t == pytest.approx(15.0) and "stall" in fail.reason
    r = s.result()
    assert r.state == "failed" and r.end_s == pytest.approx(15.0)
    assert r.stalled_s == pytest.approx(10.0)
    assert r.end_s - r.start_s == pytest.approx(r.played_s + r.stalled_s + r.startup_s)


def test_startup_longer_than_limit_fails():
    s, _ = make(stall_limit_s=5.0)
    s.handle(Start(0.0))
    assert s.deadline_s == 5.0
    acts = s.handle(Tick(5.0))
    assert kinds(acts) == [Abandon, Fail]
    assert s.state is State.FAILED


# ----- seek, pause ---------------------------------------------------------------
def test_seek_flushes_and_refetches_from_target():
    s, policy = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    s.handle(DownloadComplete(2.0))  # buffer 7, segment 2 in flight
    acts = s.handle(Seek(2.5, 13.0))
    assert kinds(acts) == [Abandon, FetchSegment]
    assert only(acts, FetchSegment).segment_index == 3
    assert s.state is State.SEEKING and s.buffer == 0.0
    acts = s.handle(DownloadComplete(3.0))
    assert Play in kinds(acts) and s.state is State.PLAYING
    r = s.result()
    assert r.seeking_s == pytest.approx(0.5)
    assert r.end_s - r.start_s == pytest.approx(
        r.played_s + r.stalled_s + r.startup_s + r.seeking_s
    )
    # segments 0 and 1 were in the buffer; 1.5 s of segment 0 was played, the rest was flushed
    assert sum(r.qoe.time_per_rung_s) == pytest.approx(r.played_s)


def test_seek_past_end_ends():
    s, _ = make()
    s.handle(Start(0.0))
    acts = s.handle(Seek(0.1, 99.0))
    assert End in kinds(acts)


def test_pause_stops_the_playhead_but_not_downloads():
    s, _ = make()
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    s.handle(Pause(2.0))
    assert s.state is State.PAUSED
    acts = s.handle(DownloadComplete(3.0))
    assert FetchSegment in kinds(acts)
    s.handle(Tick(10.0))
    assert s.buffer == pytest.approx(4.0 - 1.0 + 4.0)
    acts = s.handle(Resume(10.0))
    assert Play in kinds(acts) and s.state is State.PLAYING
    r = s.result()
    assert r.paused_s == pytest.approx(8.0)
    assert r.end_s - r.start_s == pytest.approx(r.played_s + r.stalled_s + r.startup_s + r.paused_s)


def test_pause_with_full_buffer_waits_for_resume():
    s, _ = make(buffer_max_s=5.0)
    s.handle(Start(0.0))
    s.handle(DownloadComplete(0.5))
    s.handle(Pause(0.6))
    acts = s.handle(DownloadComplete(0.7))  # buffer > cap while paused: nothing to do
    assert acts == []
    acts = s.handle(Resume(5.0))
    assert kinds(acts) == [Play, Wait]


# ----- policy interplay ------------------------------------------------------------
def test_context_contents_and_observe_reports():
    s, policy = make(rung=2, start_rung=1, max_samples=2)
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    s.handle(DownloadComplete(2.0))
    s.handle(DownloadComplete(2.5))
    ctx = policy.contexts[-1]
    assert ctx.segment_index == 3 and ctx.segment_count == 5
    assert ctx.last_rung == 2 and ctx.sizes is VIDEO.sizes
    assert ctx.bitrates_bps == VIDEO.bitrates_bps
    assert len(ctx.samples) == 2 and ctx.samples[-1].bytes == VIDEO.sizes[2][2]
    assert ctx.samples[-1].seconds == pytest.approx(0.5)
    assert ctx.state == "playing" and ctx.now_s == 2.5
    assert [r.segment_index for r in policy.reports] == [0, 1, 2]
    assert policy.reports[0].rung == 1 and policy.reports[0].seconds == 1.0
    recs = s.result().segments
    assert recs[0].rule == "start" and recs[1].rule == "fixed" and recs[1].reason == "rung 2"
    assert recs[1].throughput_bps == pytest.approx(8 * VIDEO.sizes[1][2] / 1.0)


def test_out_of_range_rung_is_clamped_and_max_rung_respected():
    s, _ = make(rung=99, max_rung=1)
    f = only(s.handle(Start(0.0)), FetchSegment)
    assert f.rung == 1


class Waiter(Fixed):
    def decide(self, ctx):
        self.contexts.append(ctx)
        return Decision(
            2, "wait", "buffer above target", wait_s=1.5 if ctx.segment_index == 2 else 0.0
        )


def test_policy_wait_then_fetch_the_decided_rung():
    s = Session(VIDEO, Waiter(), EngineConfig())
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))
    acts = s.handle(DownloadComplete(2.0))
    w = only(acts, Wait)
    assert w.reason == "policy" and w.until_s == 3.5
    acts = s.handle(Tick(3.5))
    f = only(acts, FetchSegment)
    assert (f.segment_index, f.rung) == (2, 2)


class HalfRule:
    name = "half"

    def __init__(self) -> None:
        self.seen: list[AbrProgress] = []

    def check(self, p: AbrProgress) -> Decision | None:
        self.seen.append(p)
        if p.elapsed_s >= 1.0 and p.bytes_done < p.bytes_total / 2 and p.rung > 0:
            return Decision(0, "half", "too slow")
        return None


def test_abandonment_refetches_same_segment_lower():
    rule = HalfRule()
    s = Session(VIDEO, Fixed(2), EngineConfig(), abandon_rules=[rule])
    s.handle(Start(0.0))
    s.handle(DownloadComplete(1.0))  # segment 1 at rung 2 in flight
    assert s.handle(DownloadProgress(1.5, 100)) == []
    acts = s.handle(DownloadProgress(2.0, 100_000))
    assert kinds(acts) == [Abandon, FetchSegment]
    ab, f = acts
    assert (ab.segment_index, ab.rung) == (1, 2)
    assert (f.segment_index, f.rung) == (1, 0)
    assert rule.seen[-1].bytes_total == VIDEO.sizes[1][2] and rule.seen[
        -1
    ].buffer_s == pytest.approx(3.0)
    s.handle(DownloadComplete(2.5))
    r = s.result()
    assert [(x.segment_index, x.rung) for x in r.segments] == [(0, 2), (1, 0)]
    assert r.abandoned[0][1:4] == (1, 2, "half")
    assert r.segments[1].download_start_s == 2.0


def test_progress_without_rules_is_ignored():
    s, _ = make()
    s.handle(Start(0.0))
    assert s.handle(DownloadProgress(0.5, 10)) == []


def test_download_failures_retry_then_fail():
    s, _ = make(max_download_retries=2)
    s.handle(Start(0.0))
    for k in range(2):
        f = only(s.handle(DownloadFailed(0.1 * (k + 1), "HTTP 503")), FetchSegment)
        assert f.segment_index == 0
    acts = s.handle(DownloadFailed(0.3, "HTTP 503"))
    assert "HTTP 503" in only(acts, Fail).reason
    assert s.state is State.FAILED


def test_config_validation():
    with pytest.raises(ValueError):
        EngineConfig(buffer_max_s=0)
    with pytest.raises(ValueError):
        EngineConfig(startup_threshold_s=-1)
    with pytest.raises(ValueError):
        EngineConfig(drain_step_s=math.nan)
    with pytest.raises(ValueError, match="could never start"):
        EngineConfig(startup_threshold_s=20.0, buffer_max_s=10.0)
    with pytest.raises(SessionError, match="start_rung"):
        Session(VIDEO, Fixed(), EngineConfig(start_rung=7))


def test_start_position_resumes_mid_video():
    s, _ = make()
    f = only(s.handle(Start(0.0, position_s=9.0)), FetchSegment)
    assert f.segment_index == 2


def test_result_to_dict():
    s, _ = make()
    run_to_end(s)
    d = s.result().to_dict()
    assert d["state"] == "ended" and len(d["segments"]) == 5
    assert d["qoe"]["qoe_lin"]["total"] == pytest.approx(s.result().qoe.qoe_lin.total)


def test_public_surface():
    import player

    for name in player.__all__:
        assert getattr(player, name) is not None, name
    core = {"Session", "replay", "Trace", "Video", "Link", "PENSIEVE", "REALISTIC"}
    assert core <= set(player.__all__)


class Broken:
    name = "broken"

    def __init__(self, answer) -> None:
        self.answer = answer

    def decide(self, ctx):
        return self.answer


@pytest.mark.parametrize("answer", [None, Decision(1.5, "x", "y"), "rung 2"])  # type: ignore[arg-type]
def test_bad_policy_answer_is_a_clear_error(answer):
    s = Session(VIDEO, Broken(answer), EngineConfig())
    with pytest.raises(SessionError, match="policy 'broken' returned"):
        s.handle(Start(0.0))
