"""benchmarks.machine: the machine line and dict every benchmark records."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

from benchmarks import machine as mach


def test_cpu_model_reads_the_first_model_name(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 1.00GHz\n\n"
        "processor\t: 1\nmodel name\t: Other CPU\n"
    )
    assert mach.cpu_model(info) == "Test CPU @ 1.00GHz"


def test_cpu_model_falls_back_without_cpuinfo(tmp_path: Path) -> None:
    got = mach.cpu_model(tmp_path / "missing")
    assert got == (platform.processor() or "unknown CPU")
    assert got


def test_loadavg_is_three_non_negative_numbers() -> None:
    la = mach.loadavg()
    assert len(la) == 3
    assert all(math.isnan(x) or x >= 0 for x in la)


def test_machine_dict_is_json_ready_and_complete() -> None:
    m = mach.machine()
    assert set(m) == {"nproc", "cpu", "python", "platform", "loadavg", "utc"}
    assert m["nproc"] == os.cpu_count()
    assert m["python"] == platform.python_version()
    assert len(m["loadavg"]) == 3
    assert m["utc"].endswith("Z") and "T" in m["utc"]
    assert json.loads(json.dumps(m)) == m


def test_machine_line_orders_extras_before_the_load_average() -> None:
    line = mach.machine_line("PyAV 1.2.3", "pinned to one CPU")
    assert line.startswith(f"Machine: nproc {os.cpu_count()}, {mach.cpu_model()}; ")
    assert f"Python {platform.python_version()} " in line
    assert line.index("PyAV 1.2.3") < line.index("pinned to one CPU") < line.index("load average")
    assert line.endswith(f"({mach.SHARED_NOTE}).")


def test_bench_concurrency_still_exports_machine() -> None:
    # bench_agreement / bench_ttff / bench_playback_cpu import it from there
    from benchmarks import bench_concurrency

    assert bench_concurrency.machine is mach.machine
