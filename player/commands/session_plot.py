"""The session plot of ``abrkit play --plot`` and ``abrkit demo``.

Two panels over session time (the engine's clock: media seconds, so a
``--speed 4`` session reads like one at speed 1):

- top: the chosen bitrate (a step per segment) and the measured throughput
  of each segment download, both in kb/s;
- bottom: the buffer level after each segment.

Both panels shade stalls (red) and draw a dashed line at each failover,
labelled with the edge delivery moved to. Stalls come from the segment
records (a stall ends when a segment arrives); a stall still open when the
session ended comes from its ``stall_start`` event. Failovers come from the
``failover`` telemetry events, whose ``ts`` is wall-clock time: it is placed
on the session clock as ``start_s + (ts - ts of the play event) x speed``.

:func:`plot_data` is pure (records and events in, what to draw out);
:func:`draw_session_plot` draws it with matplotlib (Agg), :func:`write_session_plot`
into a PNG.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Marker", "PlotData", "draw_session_plot", "failover_markers", "plot_data",
    "write_session_plot",
]


@dataclass(frozen=True, slots=True)
class Marker:
    """A failover at session time ``t_s``: delivery moved ``from_edge`` -> ``to_edge``."""

    t_s: float
    from_edge: str
    to_edge: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PlotData:
    """What the plot draws; times are session seconds, rates kb/s."""

    t_s: tuple[float, ...]
    bitrate_kbps: tuple[float, ...]
    throughput_kbps: tuple[float, ...]
    buffer_s: tuple[float, ...]
    stalls: tuple[tuple[float, float], ...]  # (start, end)
    failovers: tuple[Marker, ...]
    end_s: float


def _event_fields(e: Any) -> dict[str, Any]:
    return e if isinstance(e, dict) else e.to_dict()


def failover_markers(events: Iterable[Any], *, start_s: float, speed: float) -> list[Marker]:
    """The ``failover`` events on the session clock (see the module docstring).

    ``events``: telemetry ``Event`` objects or their dicts (a JSONL file's
    lines). Without a ``play`` event there is no anchor: no markers.
    """
    rows = [_event_fields(e) for e in events]
    play = next((r for r in rows if r.get("type") == "play"), None)
    if play is None:
        return []
    t0 = float(play["ts"])
    return [
        Marker(start_s + (float(r["ts"]) - t0) * speed, str(r["from_pathway"]),
               str(r["to_pathway"]), str(r.get("reason", "")))
        for r in rows
        if r.get("type") == "failover"
    ]


def _open_stall(rows: Sequence[dict[str, Any]], start_s: float, speed: float,
                end_s: float) -> tuple[float, float] | None:
    """A stall started and never ended (the session failed or was stopped stalled)."""
    play = next((r for r in rows if r.get("type") == "play"), None)
    last = next((r for r in reversed(rows) if r.get("type") in ("stall_start", "stall_end")), None)
    if play is None or last is None or last["type"] != "stall_start":
        return None
    t = start_s + (float(last["ts"]) - float(play["ts"])) * speed
    return (min(t, end_s), end_s)


def plot_data(result: Any, events: Iterable[Any] = (), *, speed: float = 1.0) -> PlotData:
    """From a ``SessionResult`` (``segments``, ``start_s``, ``end_s``) and the session's
    telemetry events."""
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed!r}")
    rows = [_event_fields(e) for e in events]
    segs = result.segments
    stalls = [(r.download_end_s - r.rebuffer_s, r.download_end_s) for r in segs
              if r.rebuffer_s > 0]
    end_s = float(result.end_s)
    tail = _open_stall(rows, result.start_s, speed, end_s)
    if tail is not None and (not stalls or tail[0] >= stalls[-1][1]):
        stalls.append(tail)
    return PlotData(
        t_s=tuple(r.download_end_s for r in segs),
        bitrate_kbps=tuple(r.bitrate_bps / 1e3 for r in segs),
        throughput_kbps=tuple(r.throughput_bps / 1e3 for r in segs),
        buffer_s=tuple(r.buffer_after_s for r in segs),
        stalls=tuple(stalls),
        failovers=tuple(failover_markers(rows, start_s=result.start_s, speed=speed)),
        end_s=end_s,
    )


def draw_session_plot(data: PlotData, *, title: str = "") -> Any:
    """A matplotlib ``Figure`` of ``data`` (Agg backend); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.step(data.t_s, data.bitrate_kbps, where="post", label="chosen bitrate")
    top.plot(data.t_s, data.throughput_kbps, ".", color="tab:green", alpha=0.7,
             label="measured throughput")
    top.set_ylabel("kb/s")
    rates = [x for x in (*data.bitrate_kbps, *data.throughput_kbps) if x > 0]
    if rates and max(rates) > 10 * min(rates):  # loopback throughput dwarfs the ladder
        top.set_yscale("log")
        top.set_ylabel("kb/s (log)")
    bottom.plot(data.t_s, data.buffer_s, marker=".", color="tab:blue", label="buffer")
    bottom.set_ylabel("buffer (s)")
    bottom.set_xlabel("session time (media s)")
    for ax in (top, bottom):
        for a, b in data.stalls:
            ax.axvspan(a, max(b, a + 0.05), color="red", alpha=0.3, lw=0)
        for m in data.failovers:
            ax.axvline(m.t_s, color="tab:purple", ls="--", lw=1)
    for m in data.failovers:
        top.annotate(f"\u2192 {m.to_edge}", (m.t_s, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(3, -12), textcoords="offset points", color="tab:purple",
                     fontsize=8)
    handles, _ = top.get_legend_handles_labels()
    if data.stalls:
        handles.append(Patch(color="red", alpha=0.3, label=f"stall ({len(data.stalls)})"))
    if data.failovers:
        handles.append(Line2D([], [], color="tab:purple", ls="--",
                              label=f"failover ({len(data.failovers)})"))
    top.legend(handles=handles, loc="lower right", fontsize=8)
    bottom.set_xlim(0.0, max(data.end_s, *data.t_s[-1:], 1.0))
    if title:
        top.set_title(title)
    fig.tight_layout()
    return fig


def write_session_plot(data: PlotData, path: str | Path, *, title: str = "") -> Path:
    """Draw ``data`` into the PNG ``path`` (its folder is created); return the path."""
    import matplotlib.pyplot as plt

    fig = draw_session_plot(data, title=title)
    try:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out
