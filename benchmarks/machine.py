"""The machine a benchmark ran on: CPU model, core count, Python, load average.

Every ``benchmarks/bench_*.py`` writes one ``Machine:`` line with its figures;
this module is where that line (and the dict the JSON-writing benchmarks
record at the start and the end of a run) is made.

    machine_line(f"PyAV {av.__version__}")
    # 'Machine: nproc 2, <CPU>; Python 3.11.9 (CPython), Linux x86_64; PyAV 12.0.0;
    #  load average at the end 1.20 / 1.05 / 0.98 (the machine is shared ...).'
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "loadavg", "machine", "machine_line"]

SHARED_NOTE = "the machine is shared with other users: figures vary with their load"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The ``model name`` of the first CPU in ``cpuinfo``, else ``platform.processor()``."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loadavg() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages; NaN where the OS has none."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return (math.nan, math.nan, math.nan)
    return (one, five, fifteen)


def machine() -> dict[str, Any]:
    """The machine as a JSON-ready dict (nproc, cpu, python, platform, loadavg, utc)."""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in loadavg()],
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_line(*extras: str) -> str:
    """``Machine: nproc N, CPU; Python X (impl), OS arch; *extras; load average …``.

    ``extras`` are library versions or notes ("pinned to one CPU"), put in
    before the load average, which is read when the line is made (call it at
    the end of the run).
    """
    la = " / ".join(f"{x:.2f}" for x in loadavg())
    parts = [
        f"nproc {os.cpu_count()}, {cpu_model()}",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}",
        *extras,
        f"load average at the end {la} ({SHARED_NOTE})",
    ]
    return "Machine: " + "; ".join(parts) + "."
