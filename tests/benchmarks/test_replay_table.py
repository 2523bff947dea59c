"""benchmarks.replay_table: markdown from `abrkit replay --out` JSON."""

import json

from benchmarks import replay_table


def _policy(mean, share=None):
    return {
        "sessions": 2,
        "failed": 0,
        "mean_qoe_lin": mean,
        "median_qoe_lin": mean + 1,
        "share_of_optimal": share,
        "rebuffer_ratio": 0.0123,
        "mean_bitrate_bps": 1_234_567.0,
        "mean_switches": 3.25,
    }


DOC = {
    "run": {
        "command": "abrkit replay --traces t --video v --policy a,b",
        "trace_dirs": ["/x/pensieve_train"],
        "video": {"name": "/x/pensieve_video"},
        "preset": "pensieve",
        "traces": 2,
        "sessions_wall_s": 1.25,
        "sessions_cpu_s": 1.5,
        "workers": 2,
        "started_utc": "2026-11-21T00:00:00Z",
        "machine": "test machine",
    },
    "policies": {"bba": _policy(15.68, 0.401), "longmpc": _policy(29.77, 0.761)},
    "optimum": {"traces": 2, "mean_qoe_lin": 39.12, "median_qoe_lin": 55.0},
}


def test_section_rows_and_highlight():
    md = replay_table.section(DOC)
    assert md.startswith("## pensieve_train with pensieve_video, pensieve preset, 2 traces")
    assert "abrkit replay --traces t --video v --policy a,b" in md
    assert "| bba | 2 | 0 | 15.68 | 16.68 | 40.1 % | 1.23 | 1235 | 3.2 |" in md
    assert "| **longmpc** | 2 | 0 | 29.77 |" in md
    assert "| offline optimum | 2 | | 39.12 | 55.00 | 100 % |" in md
    assert "4 sessions in 1.2 s wall (1.5 s CPU, 2 workers)" in md


def test_main_reads_files_and_rejects_others(tmp_path, capsys):
    good = tmp_path / "run.json"
    good.write_text(json.dumps(DOC))
    assert replay_table.main([str(good)]) == 0
    assert "| **longmpc** |" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"run": {}}')
    assert replay_table.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "not an `abrkit replay --out` file" in err
