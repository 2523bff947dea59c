"""The replay driver: the playback engine on virtual time over a bandwidth trace.

    result = replay(trace, video, policy_factory, PENSIEVE)   # -> SessionResult
    results = replay_many(traces, video, policy_factory, PENSIEVE)

The driver is the whole world of the engine: it answers ``FetchSegment``
with a ``DownloadComplete`` at the time the network model
(:class:`~player.network.Link`) says, ``Wait`` with a ``Tick`` at its time
(the trace position moves by the time waited), and stops at ``End`` or
``Fail``. When abandon rules are set it also sends ``DownloadProgress`` every
``preset.progress_interval_s`` during each download. Deterministic: no
clock, no randomness. The session starts at trace position 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import ReplayError
from .network import Link
from .presets import REALISTIC, Preset, get_preset
from .session import Session, SessionResult
from .states import (
    Abandon,
    DownloadComplete,
    DownloadProgress,
    FetchSegment,
    Start,
    Tick,
    Wait,
    fast_constructor,
)

if TYPE_CHECKING:
    from abr.base import AbandonRule, Policy

    from .session import EngineConfig
    from .traces import Trace
    from .video import Video

__all__ = ["default_abandon_rules", "replay", "replay_many"]

_complete = fast_constructor(DownloadComplete)
_tick = fast_constructor(Tick)
_progress = fast_constructor(DownloadProgress)

_TRUNCATED: dict[tuple[int, int], tuple[Video, Video]] = {}


def default_abandon_rules() -> tuple[AbandonRule, ...]:
    """The abandon rules a preset with ``abandonment=True`` uses when none are given."""
    from abr.policies.abandon import BufferAbandonRule

    return (BufferAbandonRule(),)


def _prepared(video: Video, segments: int | None) -> Video:
    if segments is None or video.segment_count <= segments:
        return video
    key = (id(video), segments)
    hit = _TRUNCATED.get(key)
    if hit is None or hit[0] is not video:
        if len(_TRUNCATED) > 256:
            _TRUNCATED.clear()
        hit = (video, video.truncated(segments))
        _TRUNCATED[key] = hit
    return hit[1]


def replay(
    trace: Trace,
    video: Video,
    policy_factory: Callable[[], Policy],
    preset: Preset | str = REALISTIC,
    *,
    abandon_rules: Sequence[AbandonRule] | None = None,
    engine: EngineConfig | None = None,
) -> SessionResult:
    """Play ``video`` over ``trace`` with a fresh policy from ``policy_factory``.

    ``preset``: a :class:`~player.presets.Preset` or its name ("pensieve", "realistic").

    ``abandon_rules``: None = the preset's default (none, or
    :func:`default_abandon_rules` when ``preset.abandonment``); ``()`` = none.
    ``engine`` overrides the preset's engine config.
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    video = _prepared(video, preset.segments)
    if abandon_rules is None:
        abandon_rules = default_abandon_rules() if preset.abandonment else ()
    session = Session(video, policy_factory(), engine or preset.engine, abandon_rules)
    link = Link.for_trace(trace, preset.network)
    handle = session.handle
    progress = preset.progress_interval_s if abandon_rules else 0.0
    if abandon_rules and not progress > 0:
        raise ReplayError(
            f"preset {preset.name!r}: progress_interval_s must be > 0 with abandon rules"
        )
    pos = 0.0
    actions = handle(Start(0.0))
    while not session.finished:
        fetch: FetchSegment | None = None
        wait: Wait | None = None
        for a in actions:
            if type(a) is FetchSegment:
                fetch = a
            elif type(a) is Wait:
                wait = a
        if fetch is not None:
            t = session.t
            size = fetch.size_bytes
            assert size is not None
            if progress:
                actions, pos = _download_with_progress(session, link, pos, t, fetch, progress)
                continue
            delay, pos = link.request(pos, size)
            actions = handle(_complete(t + delay, None))
        elif wait is not None:
            pos = link.advance(pos, wait.until_s - session.t)
            actions = handle(_tick(wait.until_s))
        else:  # pragma: no cover - the engine always asks for something until it finishes
            raise ReplayError(
                f"engine in state {session.state} asked for nothing (trace {trace.name})"
            )
    return session.result()


def _download_with_progress(
    session: Session, link: Link, pos: float, t: float, fetch: FetchSegment, step: float
) -> tuple[list, float]:
    """One download with progress events; returns the actions after it and the new position."""
    size = fetch.size_bytes
    assert size is not None
    lat = link.latency_at(pos)
    moves = link.config.latency_advances_trace
    p0 = link.advance(pos, lat) if (lat and moves) else pos
    seconds, end_pos = link.transfer(p0, size)
    t0 = t + lat
    end = t0 + seconds
    handle = session.handle
    bytes_before = link.bytes_at(p0)
    k = 1
    while True:
        tp = t + k * step
        if tp >= end:
            return handle(_complete(end, None)), end_pos
        done = int(link.bytes_until(p0 + (tp - t0)) - bytes_before) if tp > t0 else 0
        actions = handle(_progress(tp, done if done < size else size))
        if actions and (session.finished or any(type(a) is Abandon for a in actions)):
            if tp > t0:
                new_pos = link.advance(p0, tp - t0)
            else:
                new_pos = link.advance(pos, tp - t) if moves else pos
            return actions, new_pos
        k += 1


def replay_many(
    traces: Iterable[Trace],
    video: Video,
    policy_factory: Callable[[], Policy],
    preset: Preset | str = REALISTIC,
    *,
    abandon_rules: Sequence[AbandonRule] | None = None,
    engine: EngineConfig | None = None,
    processes: int | None = None,
) -> list[SessionResult]:
    """:func:`replay` over each trace; results in trace order.

    ``processes`` > 1 spreads the traces over that many worker processes
    (``policy_factory`` and the rules must then be picklable: a class or a
    module-level function, not a lambda). The results are the same as the
    sequential ones.
    """
    traces = list(traces)
    if processes is None or processes <= 1 or len(traces) < 2:
        return [
            replay(tr, video, policy_factory, preset, abandon_rules=abandon_rules, engine=engine)
            for tr in traces
        ]
    from concurrent.futures import ProcessPoolExecutor

    chunk = -(-len(traces) // processes)
    parts = [traces[i : i + chunk] for i in range(0, len(traces), chunk)]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        futures = [
            pool.submit(
                replay_many,
                part,
                video,
                policy_factory,
                preset,
                abandon_rules=abandon_rules,
                engine=engine,
            )
            for part in parts
        ]
        return [r for f in futures for r in f.result()]
