"""QoE aggregation per title from stored telemetry events.

Per title: ``sessions`` (distinct session ids), ``startup_p50_s`` and
``startup_p95_s`` over ``startup.startup_s``; ``rebuffer_ratio`` =
sum(rebuffer_s) / sum(played_s + rebuffer_s) and ``avg_bitrate_bps`` =
played-time-weighted mean of ``bitrate_bps``, both from each session's
latest ``summary`` (else latest ``heartbeat``; these are cumulative);
``stalls`` and ``stall_s`` from ``stall`` (``seconds``) and ``stall_end``
(``stall_s``) events; ``failovers`` counts ``failover`` events. A
``session_end`` whose ``qoe`` carries numeric ``played_s``, ``rebuffer_s``
and ``average_bitrate_bps`` (telemetry.qoe.QoeSummary) counts as the
session's summary. Missing data gives ``null``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

__all__ = ["aggregate", "percentile"]


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), or None when empty."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _session_end_sample(ev: dict[str, Any]) -> dict[str, Any] | None:
    q = ev.get("qoe")
    if not isinstance(q, dict):
        return None
    try:
        sample = {
            "played_s": float(q["played_s"]),
            "rebuffer_s": float(q["rebuffer_s"]),
            "bitrate_bps": float(q["average_bitrate_bps"]),
        }
    except (KeyError, TypeError, ValueError):
        return None
    if any(not math.isfinite(v) or v < 0 for v in sample.values()):
        return None
    return sample


def aggregate(rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """``rows`` are (title, session_id, type, payload) in timestamp order."""
    startups: dict[str, list[float]] = defaultdict(list)
    sessions: dict[str, set[str]] = defaultdict(set)
    latest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    stalls: dict[str, list[float]] = defaultdict(list)
    failovers: dict[str, int] = defaultdict(int)
    for title, sid, typ, ev in rows:
        sessions[title].add(sid)
        if typ == "startup":
            startups[title].append(float(ev["startup_s"]))
        elif typ == "stall":
            stalls[title].append(float(ev["seconds"]))
        elif typ == "stall_end":
            stalls[title].append(float(ev["stall_s"]))
        elif typ == "failover":
            failovers[title] += 1
        elif typ in ("heartbeat", "summary", "session_end"):
            sample = _session_end_sample(ev) if typ == "session_end" else ev
            if sample is None:
                continue
            rank = 0 if typ == "heartbeat" else 1
            prev = latest.get((title, sid))
            if prev is None or rank >= prev[0]:
                latest[(title, sid)] = (rank, sample)
    out: dict[str, dict[str, Any]] = {}
    for title in sorted(sessions):
        played = rebuf = weighted = 0.0
        for (t, _sid), (_rank, ev) in latest.items():
            if t != title:
                continue
            played += float(ev["played_s"])
            rebuf += float(ev["rebuffer_s"])
            weighted += float(ev["bitrate_bps"]) * float(ev["played_s"])
        s = startups[title]
        out[title] = {
            "sessions": len(sessions[title]),
            "startup_p50_s": percentile(s, 50),
            "startup_p95_s": percentile(s, 95),
            "rebuffer_ratio": rebuf / (played + rebuf) if played + rebuf > 0 else None,
            "avg_bitrate_bps": weighted / played if played > 0 else None,
            "stalls": len(stalls[title]),
            "stall_s": sum(stalls[title]),
            "failovers": failovers[title],
        }
    return out
