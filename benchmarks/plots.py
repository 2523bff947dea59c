"""PNG plots of replay results (matplotlib's Agg canvas: no display, no global pyplot state).

    qoe_cdf(rows, "out/qoe_lin_cdf.png", optimum=[...])     # one curve per policy
    session_timeline(trace, result, "out/timeline_bba.png", title="bba on ...")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from player.session import SessionResult
from player.traces import Trace

from .harness import SessionRow

__all__ = ["qoe_cdf", "session_timeline", "safe_name"]


def safe_name(text: str) -> str:
    """``text`` as a file-name fragment."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(p, dpi=80)
    return p


def qoe_cdf(
    rows: Sequence[SessionRow],
    path: str | Path,
    *,
    optimum: Sequence[float] | None = None,
    title: str = "QoE_lin per session",
) -> Path:
    """Empirical CDF of each policy's session QoE_lin (plus the optimum's, when given)."""
    fig = Figure(figsize=(8.5, 4.5))
    ax = fig.add_subplot()
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r.policy, []).append(r.qoe_lin)
    series = list(by.items())
    if optimum:
        series.append(("offline optimum", list(optimum)))
    for name, values in series:
        xs = sorted(values)
        n = len(xs)
        ys = [(i + 1) / n for i in range(n)]
        style = "k--" if name == "offline optimum" else "-"
        ax.step(xs, ys, style, where="post", label=f"{name} (n={n})", linewidth=1.2)
    xlabel = "QoE_lin per session"
    everything = sorted(v for _, values in series for v in values)
    if len(everything) >= 20:
        # heavy left tails (long stalls) would squash the body: clip at the 5th percentile
        low = everything[len(everything) // 20]
        span = everything[-1] - low
        if everything[0] < low - 0.5 * span:
            below = sum(1 for v in everything if v < low)
            ax.set_xlim(low - 0.05 * span, everything[-1] + 0.05 * span)
            xlabel += f" (axis cut at the 5th percentile: {below} values further left)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of sessions")
    ax.set_ylim(0, 1.01)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, path)


def _trace_steps(trace: Trace, end_s: float) -> tuple[list[float], list[float]]:
    """The trace's bandwidth (Mbps) as step points over [0, end_s], wrapping."""
    t, bw = trace.times_s, trace.bandwidth_bps
    period = t[-1]
    xs: list[float] = []
    ys: list[float] = []
    offset = 0.0
    while offset < end_s and len(xs) < 200_000:
        for i in range(1, len(t)):
            xs.append(offset + t[i - 1])
            ys.append(bw[i] / 1e6)
            if offset + t[i] >= end_s:
                break
        offset += period
    xs.append(end_s)
    ys.append(ys[-1] if ys else 0.0)
    return xs, ys


def session_timeline(
    trace: Trace, result: SessionResult, path: str | Path, *, title: str = ""
) -> Path:
    """Buffer level, chosen bitrate and throughput (trace bandwidth and each segment's
    measured throughput) over the session's time, from its per-segment records."""
    segs = result.segments
    fig = Figure(figsize=(8, 6.5))
    ax_buf, ax_rate, ax_tp = fig.subplots(3, 1, sharex=True)
    end = max(result.end_s, *(s.download_end_s for s in segs), 1.0)
    # buffer: at each request, just before each arrival (drained while downloading), after it
    bx: list[float] = []
    by: list[float] = []
    for s in segs:
        drained = max(s.buffer_before_s - s.download_s, 0.0)
        bx += [s.download_start_s, s.download_end_s, s.download_end_s]
        by += [s.buffer_before_s, drained, s.buffer_after_s]
    ax_buf.plot(bx, by, "-", color="tab:blue", linewidth=1)
    ax_buf.set_ylabel("buffer (s)")
    for s in segs:
        if s.rebuffer_s > 0:
            ax_buf.axvspan(s.download_end_s - s.rebuffer_s, s.download_end_s, color="tab:red",
                           alpha=0.25, linewidth=0)
    # chosen bitrate, held from each download's start
    rx = [s.download_start_s for s in segs] + ([segs[-1].download_end_s] if segs else [])
    ry = [s.bitrate_bps / 1e3 for s in segs] + ([segs[-1].bitrate_bps / 1e3] if segs else [])
    ax_rate.step(rx, ry, where="post", color="tab:green", linewidth=1.2)
    ax_rate.set_ylabel("bitrate (kbps)")
    # throughput
    tx, ty = _trace_steps(trace, end)
    ax_tp.step(tx, ty, where="post", color="0.5", linewidth=0.8, label="trace bandwidth")
    ax_tp.plot([s.download_end_s for s in segs], [s.throughput_bps / 1e6 for s in segs], ".",
               color="tab:orange", markersize=4, label="segment throughput")
    ax_tp.set_ylabel("Mbps")
    ax_tp.set_xlabel("session time (s)")
    ax_tp.legend(fontsize=8, loc="upper right")
    for ax in (ax_buf, ax_rate, ax_tp):
        ax.grid(True, alpha=0.3)
    ax_tp.set_xlim(0, end)
    q = result.qoe
    fig.suptitle(
        f"{title}\nQoE_lin {q.qoe_lin.total:.2f}, rebuffer {q.rebuffer_s:.2f} s, "
        f"{q.switches} switches, mean {q.average_bitrate_bps / 1e3:.0f} kbps",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)
