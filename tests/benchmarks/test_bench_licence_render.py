"""bench_licence's report: one TTFF table, the same in both sections that show it."""

import argparse

from benchmarks import bench_licence

RUNS = {"enc": [(0.1, 0.01), (0.12, 0.012), (0.2, None)], "clear": [(0.09, None), (0.1, None)]}


def test_ttff_table_rows_and_both_reports_use_it():
    rows = bench_licence.ttff_table(RUNS)
    assert rows[2].startswith("| cenc | 3 | 120.0 |")  # p50 of 0.10/0.12/0.20 s
    assert "| 11.0 |" in rows[2]  # licence p50 over the runs that had one
    assert rows[3].startswith("| clear | 2 | 95.0 |")
    full = bench_licence.render(argparse.Namespace(requests=3, ttff_runs=3, player_runs=3),
                                [0.002, 0.003, 0.004], RUNS)
    player = bench_licence.render_player(RUNS)
    for row in rows:
        assert row in full.splitlines() and row in player.splitlines()
    assert "TTFF difference cenc - clear (p50): 25.0 ms." in full
