"""Writers for replay results: one JSON document (stable schema) and per-session CSV rows.

The JSON schema is documented in ``docs/replay.md``; ``schema_version`` is 1.
Additions of new keys keep version 1; renaming or removing a key, or changing
a unit, bumps it. Units: seconds (``_s``), bits per second (``_bps``), ratios
in [0, 1] (not percent). Floats that are not finite are written as ``null``.

    doc = build_document(run_meta, aggregates, rows, optimum=...)
    write_json(path, doc)
    write_csv(path, rows)
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .harness import PolicyAggregate, SessionRow

__all__ = [
    "AGGREGATE_FIELDS",
    "CSV_FIELDS",
    "SCHEMA_VERSION",
    "SESSION_FIELDS",
    "build_document",
    "markdown_table",
    "write_csv",
    "write_json",
]

SCHEMA_VERSION = 1

SESSION_FIELDS = (
    "trace_dir",
    "trace",
    "policy",
    "state",
    "failure",
    "unplayed_s",
    "qoe_lin",
    "qoe_log",
    "qoe_hd",
    "rebuffer_s",
    "rebuffer_count",
    "rebuffer_ratio",
    "played_s",
    "avg_bitrate_bps",
    "switches",
    "startup_s",
    "chunks",
    "optimal_qoe_lin",
    "ratio_to_optimal",
)
"""Keys of each ``sessions[]`` object, and the CSV columns, in order."""

CSV_FIELDS = SESSION_FIELDS

AGGREGATE_FIELDS = (
    "sessions",
    "failed",
    "mean_qoe_lin",
    "median_qoe_lin",
    "mean_qoe_log",
    "mean_qoe_hd",
    "share_of_optimal",
    "mean_ratio_to_optimal",
    "mean_optimal_qoe_lin",
    "rebuffer_ratio",
    "mean_rebuffer_s",
    "mean_bitrate_bps",
    "mean_switches",
    "mean_startup_s",
    "cpu_s",
    "sessions_per_s",
)
"""Keys of each ``policies[name]`` object, in order."""


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def session_dict(row: SessionRow) -> dict[str, Any]:
    d = row.to_dict()
    return {k: _clean(d[k]) for k in SESSION_FIELDS}


def build_document(
    run: Mapping[str, Any],
    aggregates: Mapping[str, PolicyAggregate],
    rows: Sequence[SessionRow],
    optimum: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document: ``{"schema_version", "run", "policies", "optimum", "sessions"}``.

    ``run`` is the run metadata (see docs/replay.md); ``optimum`` None when
    the optimum was not computed.
    """
    policies = {}
    for name, agg in aggregates.items():
        d = agg.to_dict()
        policies[name] = {k: _clean(d[k]) for k in AGGREGATE_FIELDS}
    return {
        "schema_version": SCHEMA_VERSION,
        "run": _clean(dict(run)),
        "policies": policies,
        "optimum": None if optimum is None else _clean(dict(optimum)),
        "sessions": [session_dict(r) for r in rows],
    }


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as indented UTF-8 JSON (``allow_nan=False``: NaN must be cleaned first)."""
    _atomic_write(Path(path), json.dumps(doc, indent=1, allow_nan=False) + "\n")


def write_csv(path: str | Path, rows: Sequence[SessionRow]) -> None:
    """One row per session, columns :data:`CSV_FIELDS`; empty cell = null."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in rows:
        d = session_dict(r)
        w.writerow(["" if d[k] is None else repr(d[k]) if isinstance(d[k], float) else d[k]
                    for k in CSV_FIELDS])
    _atomic_write(Path(path), buf.getvalue())


def _md(v: Any, spec: str, scale: float = 1.0) -> str:
    return "—" if v is None else format(v * scale, spec)


def markdown_table(doc: Mapping[str, Any]) -> str:
    """The per-policy table of a results document as Markdown (what the CLI prints)."""
    head = ("| policy | sessions | failed | mean QoE_lin | median QoE_lin | share of optimal "
            "| mean/session ratio | bitrate kbps | rebuffer % | switches | startup s "
            "| sessions/s (1 core) |")
    lines = [head, "|---|" + "---:|" * 11]
    for name, a in doc["policies"].items():
        lines.append(
            f"| {name} | {a['sessions']} | {a['failed']} | {_md(a['mean_qoe_lin'], '.2f')} "
            f"| {_md(a['median_qoe_lin'], '.2f')} | {_md(a['share_of_optimal'], '.1%')} "
            f"| {_md(a['mean_ratio_to_optimal'], '.1%')} "
            f"| {_md(a['mean_bitrate_bps'], '.0f', 1e-3)} "
            f"| {_md(a['rebuffer_ratio'], '.3f', 100.0)} | {_md(a['mean_switches'], '.1f')} "
            f"| {_md(a['mean_startup_s'], '.2f')} | {_md(a['sessions_per_s'], '.0f')} |"
        )
    opt = doc.get("optimum")
    if opt:
        lines.append(
            f"| offline optimum ({opt['model']}, grid {opt.get('grid_s')} s) | {opt['traces']} | "
            f"| {_md(opt['mean_qoe_lin'], '.2f')} | {_md(opt['median_qoe_lin'], '.2f')} "
            "| 100% | | | | | | |"
        )
    return "\n".join(lines) + "\n"
