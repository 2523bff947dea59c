"""One builder of hand-made :class:`abr.AbrContext` objects for the policy tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from abr import AbrContext, ThroughputSample


def make_ctx(
    buffer_s: float,
    *,
    bitrates: Sequence[float],
    index: int,
    count: int,
    last: int,
    samples: Iterable[ThroughputSample] = (),
    seg: float = 4.0,
    buffer_max: float = 60.0,
    max_rung: int | None = None,
    sizes: Sequence[Sequence[int]] = (),
) -> AbrContext:
    """A context at segment ``index`` of ``count`` (``seg`` seconds each), clock at 0."""
    return AbrContext(
        bitrates_bps=tuple(bitrates),
        segment_index=index,
        segment_count=count,
        segment_duration_s=seg,
        buffer_s=buffer_s,
        buffer_max_s=buffer_max,
        last_rung=last,
        samples=tuple(samples),
        now_s=0.0,
        max_rung=max_rung,
        sizes=sizes,
    )
