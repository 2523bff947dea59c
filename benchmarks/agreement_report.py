"""Where replay and real playback disagree: the pooled breakdown and the Markdown
tables of :mod:`benchmarks.bench_agreement` (pure: rows in, figures and text out).

Each mismatched segment (real rung != replay rung at the same index) is put in
the first class that fits:

* ``after_abandonment``: the two drivers abandoned different downloads before
  it (different abandonment lists, and the segment comes after the first
  abandonment of either): the sessions diverged through an abandonment;
* ``shifted_switch``: the real rung equals replay's at the previous or next
  segment: the same switch, one segment earlier or later;
* ``one_rung``: one rung apart;
* ``other``: anything else.

Independently, a session is *timing-sensitive* when replay disagrees with itself
on more than 5 % of segments after moving its own latency by 5 media ms (replay
self-agreement at +5 ms < 95 %): its per-segment choices depend on milliseconds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SENSITIVE_BELOW", "breakdown", "classify", "markdown"]

SENSITIVE_BELOW = 0.95
CLASSES = ("after_abandonment", "shifted_switch", "one_rung", "other")


def classify(row: dict[str, Any]) -> dict[str, int]:
    """Counts of the row's mismatched segments per class (see the module doc)."""
    rep = {s[0]: s[1] for s in row["replay_segs"]}  # index -> rung (the last record)
    ab_real = [(a[1], a[2]) for a in row.get("real_abandons", [])]
    ab_rep = [(a[1], a[2]) for a in row.get("replay_abandons", [])]
    first_ab = min([i for i, _ in ab_real + ab_rep], default=None)
    diverged = ab_real != ab_rep
    out = dict.fromkeys(CLASSES, 0)
    for i, a, b in row["diffs"]:
        if diverged and first_ab is not None and i > first_ab:
            out["after_abandonment"] += 1
        elif a is not None and a in (rep.get(i - 1), rep.get(i + 1)):
            out["shifted_switch"] += 1
        elif a is not None and b is not None and abs(a - b) == 1:
            out["one_rung"] += 1
        else:
            out["other"] += 1
    return out


def _sensitive(row: dict[str, Any]) -> bool:
    return row["replay_self_agreement"]["+5ms"] < SENSITIVE_BELOW


def _varied(row: dict[str, Any]) -> bool:
    """Whether either driver used more than one rung (else agreement is trivial)."""
    return len(set(row["real_rungs"]) | set(row["replay_rungs"])) > 1


def _pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
    seg = sum(r["segments"] for r in rows)
    same = sum(r["same"] for r in rows)
    return {"sessions": len(rows), "segments": seg,
            "identical": round(same / seg, 4) if seg else None}


def _calibrated(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Pooled agreement with replay's latency + the in-session overhead, and that
    overhead's median over sessions (media ms)."""
    cal = [r for r in rows if r.get("calibrated_share") is not None]
    if not cal:
        return None
    seg = sum(r["segments"] for r in cal)
    ovh = sorted(r["in_session_overhead_ms"] for r in cal)
    return {"identical": round(sum(r["calibrated_share"] * r["segments"] for r in cal) / seg, 4),
            "overhead_ms_median": ovh[len(ovh) // 2], "overhead_ms_range": [ovh[0], ovh[-1]]}


def breakdown(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled agreement overall, per policy, per trace kind and per timing
    sensitivity, and the mismatches per class."""
    classes = dict.fromkeys(CLASSES, 0)
    for r in rows:
        for k, v in classify(r).items():
            classes[k] += v
    mism = sum(classes.values())
    seg = sum(r["segments"] for r in rows)
    within = sum(r["share_within_1_segment"] * r["segments"] for r in rows)
    return {
        "pooled": _pool(rows),
        "within_1_segment": round(within / seg, 4) if seg else None,
        "per_policy": {p: _pool([r for r in rows if r["policy"] == p])
                       for p in sorted({r["policy"] for r in rows})},
        "pensieve_traces": _pool([r for r in rows if not r["trace"].startswith("step-")]),
        "step_traces": _pool([r for r in rows if r["trace"].startswith("step-")]),
        "one_rung_sessions": _pool([r for r in rows if not _varied(r)]),
        "varied_sessions": _pool([r for r in rows if _varied(r)]),
        "timing_sensitive_sessions": _pool([r for r in rows if _sensitive(r)]),
        "other_sessions": _pool([r for r in rows if not _sensitive(r)]),
        "mismatches": mism,
        "mismatches_in_sensitive_sessions": sum(
            r["segments"] - r["same"] for r in rows if _sensitive(r)),
        "mismatch_classes": classes,
        "sessions_below_90": sum(1 for r in rows if r["share"] < 0.9),
        "calibrated": _calibrated(rows),
        "replay_self_pooled": {k: round(sum(r["replay_self_agreement"][k] * r["segments"]
                                            for r in rows) / seg, 4) if seg else None
                               for k in ("+5ms", "+10ms", "+20ms")},
        "abandonments_real_replay": [sum(r["real_abandoned"] for r in rows),
                                     sum(r["replay_abandoned"] for r in rows)],
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def markdown(out: dict[str, Any]) -> str:
    """The run's header line, per-session table and breakdown, as Markdown."""
    ms, me = out["machine_start"], out["machine_end"]
    b = out["breakdown"]
    lines = [
        f"`{out['command']}` — {ms['utc']}: speed {out['speed']}, latency {out['latency_ms']} ms"
        f" (real request overhead median {out['request_overhead_wall_ms']} ms wall, edge wait"
        f" {out['edge_wait_wall_ms']} ms wall); load {ms['loadavg']} -> {me['loadavg']};"
        f" **pooled {_pct(b['pooled']['identical'])}**, within ±1 segment"
        f" {_pct(b['within_1_segment'])}, lowest session {_pct(out['min_share'])}",
        "",
        "| trace | policy | identical | within ±1 seg | mismatches abandon/shift/1 rung/other"
        " | real / replay stalls | real / replay avg kb/s | real / replay switches"
        " | abandons real / replay | dl diff median ms | replay self +5/+10/+20 ms"
        " | best replay latency | in-session overhead ms → calibrated |",
        "|---|---|---:|---:|---|---|---|---|---|---:|---|---|---|",
    ]
    for r in out["rows"]:
        c = classify(r)
        sa = r["replay_self_agreement"]
        dd = r["download_diff_s"]
        lines.append(
            f"| {r['trace'][:32]} | {r['policy']} | {r['same']}/{r['segments']}"
            f" ({_pct(r['share'])}) | {_pct(r['share_within_1_segment'])}"
            f" | {c['after_abandonment']}/{c['shifted_switch']}/{c['one_rung']}/{c['other']}"
            f" | {r['real']['stalls']} / {r['replay']['stalls']}"
            f" | {r['real']['avg_bitrate_kbps']:.0f} / {r['replay']['avg_bitrate_kbps']:.0f}"
            f" | {r['real']['switches']} / {r['replay']['switches']}"
            f" | {r['real_abandoned']} / {r['replay_abandoned']}"
            f" | {'–' if dd is None else round(dd[0] * 1000)}"
            f" | {100 * sa['+5ms']:.0f} / {100 * sa['+10ms']:.0f} / {100 * sa['+20ms']:.0f} %"
            f" | {r['best_replay_latency_ms']} ms ({_pct(r['best_share'])})"
            f" | {r.get('in_session_overhead_ms', '–')} → {_pct(r.get('calibrated_share'))} |"
        )
    pp = ", ".join(f"{p} {_pct(v['identical'])}" for p, v in b["per_policy"].items())
    cl = b["mismatch_classes"]
    lines += [
        "",
        f"Per policy: {pp}. Pensieve traces {_pct(b['pensieve_traces']['identical'])},"
        f" step traces {_pct(b['step_traces']['identical'])}."
        f" Sessions where both drivers stay on one rung (trivial agreement):"
        f" {b['one_rung_sessions']['sessions']}; the {b['varied_sessions']['sessions']} others:"
        f" **{_pct(b['varied_sessions']['identical'])}** identical."
        f" Timing-sensitive sessions (replay self-agreement at +5 ms < 95 %):"
        f" {b['timing_sensitive_sessions']['sessions']} of {b['pooled']['sessions']},"
        f" {_pct(b['timing_sensitive_sessions']['identical'])} identical; the others"
        f" {_pct(b['other_sessions']['identical'])}."
        f" Mismatches: {b['mismatches']} of {b['pooled']['segments']} segments,"
        f" {b['mismatches_in_sensitive_sessions']} in timing-sensitive sessions. Replay against"
        f" itself with its latency moved, pooled: +5 ms {_pct(b['replay_self_pooled']['+5ms'])},"
        f" +10 ms {_pct(b['replay_self_pooled']['+10ms'])}, +20 ms"
        f" {_pct(b['replay_self_pooled']['+20ms'])}. Mismatches by class:"
        f" after a different abandonment {cl['after_abandonment']}, switch shifted by one"
        f" segment {cl['shifted_switch']}, one rung apart {cl['one_rung']}, other"
        f" {cl['other']}. Sessions below 90 %: {b['sessions_below_90']}."
        f" Abandonments real / replay: {b['abandonments_real_replay'][0]} /"
        f" {b['abandonments_real_replay'][1]}.",
        "",
    ]
    c = b.get("calibrated")
    if c:
        lines += [
            f"Replay with its latency + the real path's in-session overhead (median"
            f" {c['overhead_ms_median']} media ms per download, range {c['overhead_ms_range']}):"
            f" pooled {_pct(c['identical'])} identical.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.agreement_report RUN.json``: the run's Markdown again."""
    import json
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.agreement_report RUN.json", file=sys.stderr)
        return 2
    out = json.loads(Path(args[0]).read_text())
    out["breakdown"] = breakdown(out["rows"])
    print(markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
