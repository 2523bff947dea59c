"""``abrkit replay`` end to end on small synthetic trace sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks.results_io import AGGREGATE_FIELDS, SESSION_FIELDS
from player.cli import main

from .benchmarks import write_catalog, write_trace_dir, write_video_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("replay_cli")
    return {
        "root": root,
        "traces": write_trace_dir(root / "traces", count=5),
        "video": write_video_dir(root / "video", chunks=10),
        "cache": root / "cache.json",
    }


def _run(data: dict[str, Path], *extra: str) -> int:
    return main(["replay", "--traces", str(data["traces"]), "--video", str(data["video"]),
                 "--quiet", "--optimal-cache", str(data["cache"]), *extra])


def test_end_to_end(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    code = _run(data, "--policy", "bba,robustmpc", "--limit", "3", "--workers", "2",
                "--preset", "pensieve",
                "--optimal", "--out", str(out), "--csv", str(table), "--plot", str(tmp_path / "p"))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    for word in ("policy", "share of optimal", "bba", "robustmpc", "offline optimum"):
        assert word in printed.out
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1
    assert set(doc) == {"schema_version", "run", "policies", "optimum", "sessions"}
    run = doc["run"]
    for key in ("preset", "video", "trace_dirs", "policies", "workers", "abrkit_version",
                "command", "traces", "machine", "wall_s"):
        assert key in run
    assert run["policies"] == ["bba", "robustmpc"] and run["workers"] == 2 and run["traces"] == 3
    assert run["command"].startswith("abrkit replay --traces ")
    assert run["mpc_search"].startswith(("compiled kernel", "numpy ("))
    assert list(doc["policies"]) == ["bba", "robustmpc"]
    for agg in doc["policies"].values():
        assert list(agg) == list(AGGREGATE_FIELDS)
        assert agg["sessions"] == 3 and agg["share_of_optimal"] <= 1.0 + 1e-9
        assert agg["mean_qoe_lin"] <= agg["mean_optimal_qoe_lin"]
    assert doc["optimum"]["traces"] == 3 and doc["optimum"]["model"] == "exact"
    assert len(doc["sessions"]) == 6
    assert all(list(s) == list(SESSION_FIELDS) for s in doc["sessions"])
    assert all(s["optimal_qoe_lin"] is not None for s in doc["sessions"])
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["policy"] == "bba" and rows[1]["policy"] == "robustmpc"
    pngs = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert pngs == ["qoe_lin_cdf.png", "timeline_bba.png", "timeline_robustmpc.png"]
    assert all((tmp_path / "p" / n).stat().st_size > 5000 for n in pngs)


def _deterministic(doc: dict) -> dict:
    for agg in doc["policies"].values():
        agg.pop("cpu_s")
        agg.pop("sessions_per_s")
    return {"policies": doc["policies"], "sessions": doc["sessions"]}


def test_same_results_with_one_or_two_workers(data: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    docs = []
    for w in ("1", "2"):
        out = tmp_path / f"w{w}.json"
        assert _run(data, "--policy", "bola,throughput,bba", "--workers", w, "--preset",
                    "realistic", "--out", str(out)) == 0
        docs.append(json.loads(out.read_text()))
    capsys.readouterr()
    assert _deterministic(docs[0]) == _deterministic(docs[1])
    assert len(docs[0]["sessions"]) == 15


def test_all_policies(data: dict[str, Path], capsys: pytest.CaptureFixture[str],
                      tmp_path: Path) -> None:
    from abr.registry import available_policies

    out = tmp_path / "all.json"
    assert _run(data, "--policy", "all", "--limit", "1", "--workers", "1", "--out", str(out)) == 0
    assert list(json.loads(out.read_text())["policies"]) == available_policies()
    capsys.readouterr()


def test_catalog_video(data: dict[str, Path], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    cat = write_catalog(tmp_path / "title" / "catalog.json", segments=6)
    code = main(["replay", "--traces", str(data["traces"]), "--video", str(cat), "--policy",
                 "bba", "--limit", "2", "--workers", "1", "--quiet", "--preset", "realistic"])
    assert code == 0, capsys.readouterr().err


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("abrkit replay: error:")
    return err


def test_bad_inputs_exit_2_naming_the_file(data: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    video = str(data["video"])
    missing = tmp_path / "missing"
    assert str(missing) in _usage_error(
        capsys, ["replay", "--traces", str(missing), "--video", video, "--policy", "bba"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert str(empty) in _usage_error(
        capsys, ["replay", "--traces", str(empty), "--video", video, "--policy", "bba"])
    bad = write_trace_dir(tmp_path / "bad", count=2)
    (bad / "trace_01.log").write_text("0\t1.0\n1\t2.0\n2\tfast\n")
    err = _usage_error(capsys, ["replay", "--traces", str(bad), "--video", video,
                                "--policy", "bba"])
    assert f"{bad / 'trace_01.log'}:3" in err
    err = _usage_error(capsys, ["replay", "--traces", str(data["traces"]), "--video",
                                str(tmp_path / "nothing.json"), "--policy", "bba"])
    assert "nothing.json" in err


def test_bad_arguments_exit_2(data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["replay", "--traces", str(data["traces"]), "--video", str(data["video"])]
    err = _usage_error(capsys, [*base, "--policy", "bba,nosuch"])
    assert "'nosuch'" in err and "robustmpc" in err  # lists the known names
    assert "known" in _usage_error(capsys, [*base, "--policy", "bba", "--preset", "fast"])
    assert "--limit" in _usage_error(capsys, [*base, "--policy", "bba", "--limit", "0"])
    assert "--workers" in _usage_error(capsys, [*base, "--policy", "bba", "--workers", "0"])
