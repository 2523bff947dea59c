"""benchmarks.harness / results_io / plots / __main__ on small synthetic trace sets."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest

from benchmarks import harness, plots, results_io
from benchmarks.__main__ import benchmark_modules
from benchmarks.harness import RunResult, SessionRow
from player.errors import TraceError, VideoError

from . import write_catalog, write_trace_dir, write_video_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("harness")
    return {
        "traces": write_trace_dir(root / "traces", count=4),
        "traces2": write_trace_dir(root / "traces2", count=2, seed=7),
        "video": write_video_dir(root / "video", chunks=12),
        "cache": root / "opt-cache.json",
    }


# ----------------------------------------------------------------- input
def test_load_traces_sorted_limited_and_skips_source(data: dict[str, Path]) -> None:
    got = harness.load_traces([data["traces"], data["traces2"]], limit=3)
    assert [(Path(d).name, t.name) for d, t in got] == [
        ("traces", "trace_00.log"), ("traces", "trace_01.log"), ("traces", "trace_02.log"),
        ("traces2", "trace_00.log"), ("traces2", "trace_01.log"),
    ]


def test_load_traces_bad_input_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="nope"):
        harness.load_traces([tmp_path / "nope"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "SOURCE.md").write_text("x")
    with pytest.raises(TraceError, match="empty: no trace files"):
        harness.load_traces([empty])
    bad = write_trace_dir(tmp_path / "bad", count=2)
    (bad / "trace_01.log").write_text("0\t1.0\n1\tabc\n")
    with pytest.raises(TraceError, match=r"trace_01\.log:2"):
        harness.load_traces([bad])


def test_load_video_kinds(data: dict[str, Path], tmp_path: Path) -> None:
    v = harness.load_video(str(data["video"]))
    assert v.segment_count == 12 and len(v.bitrates_bps) == 6
    sabre = tmp_path / "movie.json"
    sabre.write_text(json.dumps({"segment_duration_ms": 3000, "bitrates_kbps": [100, 200],
                                 "segment_sizes_bits": [[300000, 600000], [310000, 590000]]}))
    m = harness.load_video(str(sabre))
    assert m.segment_duration_s == 3.0 and m.sizes[0] == (37500, 75000)
    cat = write_catalog(tmp_path / "title" / "catalog.json", segments=5)
    for spec in (cat, cat.parent):
        c = harness.load_video(str(spec))
        assert c.bitrates_bps == (400e3, 800e3, 1600e3) and c.segment_count == 5


@pytest.mark.parametrize("content, match", [
    (None, "no such file"),
    ("{}", "neither a Sabre movie nor an abrkit catalog"),
    ("{bad", "invalid JSON"),
])
def test_load_video_bad_specs(tmp_path: Path, content: str | None, match: str) -> None:
    p = tmp_path / "v.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(VideoError, match=match) as info:
        harness.load_video(str(p))
    assert str(p) in str(info.value)


def test_load_video_dir_without_sizes(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="neither Pensieve chunk sizes"):
        harness.load_video(str(tmp_path))
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(VideoError, match="expected a Pensieve"):
        harness.load_video(str(other))


# ----------------------------------------------------------------- sessions
def test_results_identical_for_any_worker_count_and_seed(data: dict[str, Path]) -> None:
    traces = harness.load_traces([data["traces"], data["traces2"]])
    video = harness.load_video(str(data["video"]))
    pols = ["bba", "robustmpc"]
    one = harness.run_sessions(traces, video, pols, "pensieve", workers=1)
    two = harness.run_sessions(traces, video, pols, "pensieve", workers=2, seed=5)
    assert one.rows == two.rows
    assert [(r.trace_dir, r.trace, r.policy) for r in one.rows[:4]] == [
        (str(data["traces"]), "trace_00.log", "bba"),
        (str(data["traces"]), "trace_00.log", "robustmpc"),
        (str(data["traces"]), "trace_01.log", "bba"),
        (str(data["traces"]), "trace_01.log", "robustmpc"),
    ]
    assert set(one.cpu_s) == set(pols) and all(c > 0 for c in one.cpu_s.values())
    assert all(r.state == "ended" and r.chunks == 12 for r in one.rows)


def test_session_row_matches_a_direct_replay(data: dict[str, Path]) -> None:
    traces = harness.load_traces([data["traces"]], limit=1)
    video = harness.load_video(str(data["video"]))
    run = harness.run_sessions(traces, video, ["bola"], "realistic")
    res = harness.replay_one(traces[0][1], video, "bola", "realistic")
    row = run.rows[0]
    assert row.qoe_lin == res.qoe.qoe_lin.total
    assert row.rebuffer_s == res.qoe.rebuffer_s and row.switches == res.qoe.switches


def _row(policy: str, lin: float, opt: float | None, **kw: float) -> SessionRow:
    base = dict(trace_dir="d", trace=f"t{lin}", policy=policy, state="ended", failure=None,
                qoe_lin=lin, qoe_log=0.0, qoe_hd=None, rebuffer_s=0.0, rebuffer_count=0,
                rebuffer_ratio=0.0, played_s=100.0, avg_bitrate_bps=1e6, switches=2,
                startup_s=1.0, chunks=10, optimal_qoe_lin=opt)
    base.update(kw)
    return SessionRow(**base)  # type: ignore[arg-type]


def test_aggregate_share_of_optimal_is_ratio_of_means() -> None:
    rows = (
        _row("a", 10.0, 20.0, rebuffer_s=10.0, played_s=90.0),
        _row("a", 30.0, 40.0),
        _row("a", -5.0, -1.0),  # optimum <= 0: left out of the mean ratio, kept in the share
    )
    agg = harness.aggregate(RunResult(rows, {"a": 0.5}, 1.0, 1))["a"]
    assert agg.share_of_optimal == pytest.approx((35 / 3) / (59 / 3))
    assert agg.mean_ratio_to_optimal == pytest.approx((0.5 + 0.75) / 2)
    assert agg.median_qoe_lin == 10.0 and agg.sessions == 3
    assert agg.rebuffer_ratio == pytest.approx(10.0 / 300.0)
    assert agg.sessions_per_s == pytest.approx(6.0)
    no_opt = harness.aggregate(RunResult((_row("b", 1.0, None),), {"b": 0.0}, 1.0, 1))["b"]
    assert no_opt.share_of_optimal is None and no_opt.sessions_per_s is None


# ----------------------------------------------------------------- optimum
def test_optimum_is_cached_and_at_least_every_policy(data: dict[str, Path]) -> None:
    traces = harness.load_traces([data["traces"]], limit=2)
    video = harness.load_video(str(data["video"]))
    first = harness.compute_optimum(traces, video, "pensieve", cache=data["cache"], workers=2)
    assert first.cached == 0 and first.exact and set(first.rows) == {0, 1}
    again = harness.compute_optimum(traces, video, "pensieve", cache=data["cache"])
    assert again.cached == 2 and again.rows == first.rows
    other = harness.compute_optimum(traces, video, "realistic", cache=data["cache"])
    assert other.cached == 0 and not other.exact  # another preset: another key
    run = harness.attach_optimum(
        harness.run_sessions(traces, video, ["bba", "robustmpc"], "pensieve"), traces, first
    )
    for r in run.rows:
        assert r.optimal_qoe_lin is not None and r.qoe_lin <= r.optimal_qoe_lin + 1e-6


def test_a_corrupt_cache_is_ignored(data: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "c.json"
    cache.write_text("{not json")
    traces = harness.load_traces([data["traces"]], limit=1)
    video = harness.load_video(str(data["video"]))
    got = harness.compute_optimum(traces, video, "pensieve", cache=cache)
    assert got.cached == 0 and json.loads(cache.read_text())["version"] == 1


# ----------------------------------------------------------------- output
def test_document_and_csv(tmp_path: Path) -> None:
    rows = (_row("a", 1.0, 2.0), _row("a", float("nan"), None))
    aggs = harness.aggregate(RunResult(rows, {"a": 0.1}, 1.0, 1))
    doc = results_io.build_document({"preset": "pensieve"}, aggs, rows, None)
    assert doc["schema_version"] == 1
    assert list(doc["policies"]["a"]) == list(results_io.AGGREGATE_FIELDS)
    assert list(doc["sessions"][0]) == list(results_io.SESSION_FIELDS)
    assert doc["sessions"][1]["qoe_lin"] is None  # NaN -> null
    results_io.write_json(tmp_path / "o" / "r.json", doc)
    assert json.loads((tmp_path / "o" / "r.json").read_text()) == doc
    results_io.write_csv(tmp_path / "r.csv", rows)
    with open(tmp_path / "r.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == 2 and list(got[0]) == list(results_io.CSV_FIELDS)
    assert float(got[0]["ratio_to_optimal"]) == 0.5 and got[1]["optimal_qoe_lin"] == ""


def test_plots_are_written(data: dict[str, Path], tmp_path: Path) -> None:
    traces = harness.load_traces([data["traces"]], limit=2)
    video = harness.load_video(str(data["video"]))
    run = harness.run_sessions(traces, video, ["bba", "bola"], "pensieve")
    cdf = plots.qoe_cdf(run.rows, tmp_path / "cdf.png", optimum=[50.0, 60.0])
    res = harness.replay_one(traces[0][1], video, "bba", "pensieve")
    tl = plots.session_timeline(traces[0][1], res, tmp_path / "tl.png", title="t")
    for p in (cdf, tl):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_benchmarks_main_lists_modules(capsys: pytest.CaptureFixture[str]) -> None:
    names = [n for n, _ in benchmark_modules()]
    assert names == sorted(names) and all(n.startswith("bench_") for n in names)
    from benchmarks.__main__ import main

    assert main() == 0
    out = capsys.readouterr().out
    assert all(n in out for n in names)


def test_session_row_is_plain_data() -> None:
    r = _row("a", 1.0, 4.0)
    d = r.to_dict()
    assert d["ratio_to_optimal"] == 0.25 and dataclasses.replace(r, qoe_lin=2.0).qoe_lin == 2.0
    assert math.isclose(_row("a", 1.0, 0.0).to_dict()["optimal_qoe_lin"], 0.0)
    assert _row("a", 1.0, 0.0).ratio_to_optimal is None


def test_load_video_from_an_hls_master_with_a_catalog_beside_it(tmp_path: Path) -> None:
    cat = write_catalog(tmp_path / "catalog.json", segments=3)
    master = ["#EXTM3U", "#EXT-X-VERSION:7"]
    for rid, bw in (("240p", 450000), ("360p", 900000), ("720p", 1700000)):
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION=640x360",
                   f"video/{rid}/playlist.m3u8"]
        media = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4",
                 "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MAP:URI=\"init.mp4\""]
        for k in range(3):
            media += ["#EXTINF:4.0,", f"seg-{k + 1:05d}.m4s"]
        media.append("#EXT-X-ENDLIST")
        (tmp_path / "video" / rid).mkdir(parents=True)
        (tmp_path / "video" / rid / "playlist.m3u8").write_text("\n".join(media) + "\n")
    (tmp_path / "master.m3u8").write_text("\n".join(master) + "\n")
    v = harness.load_video(str(tmp_path / "master.m3u8"))
    sizes = json.loads(cat.read_text())["ladder"]
    assert v.bitrates_bps == (450e3, 900e3, 1700e3)
    assert v.sizes[1] == tuple(e["segment_sizes"][1] for e in sizes)
    (tmp_path / "catalog.json").unlink()
    with pytest.raises(VideoError, match="no catalog.json beside"):
        harness.load_video(str(tmp_path / "master.m3u8"))


def test_markdown_table() -> None:
    rows = (_row("a", 1.0, 2.0), _row("b", 3.0, 2.0))
    aggs = harness.aggregate(RunResult(rows, {"a": 0.1, "b": 0.1}, 1.0, 1))
    opt = {"traces": 1, "mean_qoe_lin": 2.0, "median_qoe_lin": 2.0, "model": "exact",
           "grid_s": 0.2}
    md = results_io.markdown_table(results_io.build_document({}, aggs, rows, opt))
    lines = md.splitlines()
    assert len(lines) == 5 and lines[2].startswith("| a | 1 | 0 | 1.00 |")
    assert "50.0%" in lines[2] and "offline optimum (exact, grid 0.2 s)" in lines[4]


def test_an_unwritable_cache_is_reported_not_fatal(data: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    traces = harness.load_traces([data["traces"]], limit=1)
    video = harness.load_video(str(data["video"]))
    got = harness.compute_optimum(traces, video, "pensieve", cache=blocker / "c.json")
    assert got.cache_error is not None and "c.json" in got.cache_error and len(got.rows) == 1
