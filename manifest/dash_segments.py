"""DASH segment addressing: SegmentTemplate ($Number$/$Time$, with or without
SegmentTimeline), SegmentList, SegmentBase and plain BaseURL representations.

Segment information is resolved Representation > AdaptationSet > Period
(ISO/IEC 23009-1 5.3.9): the most specific level carrying a SegmentTemplate,
SegmentList or SegmentBase decides the addressing mode; attributes and child
elements of elements of that kind are then inherited from the levels above.

Limits (so bad or hostile manifests neither hang nor exhaust memory):

* :data:`MAX_SEGMENTS` segments per Representation, :data:`MAX_TOTAL_SEGMENTS`
  per MPD: a manifest that would produce more raises :class:`ManifestValueError`.
  Counts are computed arithmetically before anything is expanded, so
  ``r="1000000000000"`` fails at once.
* Live (dynamic) Representations whose end is unknown get a bounded window:
  ``timeShiftBufferDepth`` (or :data:`DEFAULT_LIVE_WINDOW_S`) worth of segments,
  at most :data:`MAX_LIVE_WINDOW_SEGMENTS`, ending at the live edge when the caller
  passed ``now``, else starting at the first addressable segment.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from .dash_xml import parse_int, parse_offset, parse_range, parse_uint, resolve_url
from .errors import ManifestValueError
from .model import Addressing, ByteRange, InitSegment, KeyInfo, Segment, SegmentIndex

MAX_SEGMENTS = 1_000_000
MAX_TOTAL_SEGMENTS = 2_000_000  # ~0.5 GB of Segment objects
DEFAULT_LIVE_WINDOW_S = 300.0
MAX_LIVE_WINDOW_SEGMENTS = 100_000
#: Widest ``%0<width>d`` format tag accepted in a template (wider ones only waste memory).
MAX_FORMAT_WIDTH = 64
#: Tolerance (seconds) when deciding whether a segment starts at/after its Period's end.
_EPS = 1e-6

_KINDS = ("SegmentTemplate", "SegmentList", "SegmentBase")


@dataclass(slots=True)
class SegmentBudget:
    """Segments still allowed for the whole MPD (shared by all Representations)."""

    remaining: int = MAX_TOTAL_SEGMENTS

    def take(self, n: int, where: str, url: str | None) -> None:
        if n > MAX_SEGMENTS:
            raise ManifestValueError(
                f"Representation would have {n} segments (limit {MAX_SEGMENTS})",
                where=where,
                url=url,
            )
        if n > self.remaining:
            raise ManifestValueError(
                f"MPD would have more than {MAX_TOTAL_SEGMENTS} segments", where=where, url=url
            )
        self.remaining -= n


@dataclass(frozen=True, slots=True)
class SegmentContext:
    """What addressing needs to know about one Representation and its Period."""

    rep_id: str
    bandwidth: int
    base_url: str  # absolute, after BaseURL resolution
    period_start: float
    period_duration: float | None
    dynamic: bool
    live_edge: float | None  # seconds since Period start that are available (caller's ``now``)
    live_window: float  # seconds of segments to keep when the end is unknown
    where: str
    url: str | None
    key: KeyInfo | None = None  # how the Representation's segments are encrypted, if known


@dataclass(slots=True)
class _Merged:
    kind: str | None
    attrs: dict[str, str]
    timeline: ET.Element | None = None
    initialization: ET.Element | None = None
    segment_urls: list[ET.Element] | None = None


def merge_segment_info(levels: list[ET.Element]) -> _Merged:
    """Merge segment information of ``levels`` (most specific first)."""
    kind = None
    for el in levels:
        for k in _KINDS:
            if el.find(k) is not None:
                kind = k
                break
        if kind:
            break
    if kind is None:
        return _Merged(None, {})
    merged = _Merged(kind, {})
    for el in reversed(levels):  # least specific first, so specific values override
        node = el.find(kind)
        if node is None:
            continue
        merged.attrs.update(node.attrib)
        tl = node.find("SegmentTimeline")
        if tl is not None:
            merged.timeline = tl
        ini = node.find("Initialization")
        if ini is not None:
            merged.initialization = ini
        urls = node.findall("SegmentURL")
        if urls:
            merged.segment_urls = urls
    return merged


# ----------------------------------------------------------------------------- templates

_IDENT = re.compile(
    r"\$(RepresentationID|Number|Bandwidth|Time|SubNumber)(%0?(\d*)([diuxXo]))?\$|\$\$"
)
_MARK = "zq9abrkitfield{}zq9"


def compile_template(template: str, ctx: SegmentContext) -> str:
    """Resolve a SegmentTemplate pattern against the base URL into a ``str.format``
    pattern with fields ``n`` (segment number) and ``t`` (segment time)."""
    fields: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _IDENT.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        name = m.group(1)
        if name is None:
            out.append("$")
            continue
        width, conv = m.group(3), m.group(4)
        spec = ""
        if conv:
            conv = "d" if conv in "diu" else conv
            if width and int(width) > MAX_FORMAT_WIDTH:
                raise ManifestValueError(
                    f"format tag width {int(width)} in {template!r} (limit {MAX_FORMAT_WIDTH})",
                    where=ctx.where,
                    url=ctx.url,
                )
            spec = f":0{int(width)}{conv}" if width else f":{conv}"
        if name == "RepresentationID":
            out.append(ctx.rep_id)
        elif name == "Bandwidth":
            out.append(format(ctx.bandwidth, spec[1:]) if spec else str(ctx.bandwidth))
        elif name == "SubNumber":
            out.append("1")
        else:
            out.append(_MARK.format(len(fields)))
            fields.append("{" + ("n" if name == "Number" else "t") + spec + "}")
    out.append(template[pos:])
    joined = resolve_url(ctx.base_url, "".join(out), where=ctx.where, url=ctx.url)
    joined = joined.replace("{", "{{").replace("}", "}}")
    for i, f in enumerate(fields):
        joined = joined.replace(_MARK.format(i), f)
    return joined


def _init_segment(merged: _Merged, ctx: SegmentContext) -> InitSegment | None:
    where = ctx.where
    if merged.kind == "SegmentTemplate" and merged.attrs.get("initialization") is not None:
        pattern = compile_template(merged.attrs["initialization"], ctx)
        try:
            return InitSegment(pattern.format(n=0, t=0))
        except (ValueError, IndexError, KeyError):
            raise ManifestValueError(
                "bad initialization template", where=where, url=ctx.url
            ) from None
    ini = merged.initialization
    if ini is None:
        return None
    src = ini.get("sourceURL")
    url = resolve_url(ctx.base_url, src.strip(), where=where, url=ctx.url) if src else ctx.base_url
    rng = ini.get("range")
    br = (
        ByteRange(*parse_range(rng, where=where + "/Initialization@range", url=ctx.url))
        if rng
        else None
    )
    return InitSegment(url, br)


def _uint_attr(attrs: dict[str, str], name: str, default: int, ctx: SegmentContext) -> int:
    v = attrs.get(name)
    return default if v is None else parse_uint(v, where=f"{ctx.where}@{name}", url=ctx.url)


def build_segment_index(
    levels: list[ET.Element], ctx: SegmentContext, budget: SegmentBudget
) -> SegmentIndex:
    """The :class:`SegmentIndex` of a Representation given its levels (Rep, AS, Period)."""
    merged = merge_segment_info(levels)
    ended = not ctx.dynamic
    if merged.kind is None:
        return _single(ctx, "none", None, ended)
    attrs = merged.attrs
    timescale = _uint_attr(attrs, "timescale", 1, ctx)
    if timescale == 0:
        raise ManifestValueError("timescale must be positive", where=ctx.where, url=ctx.url)
    init = _init_segment(merged, ctx)
    if merged.kind == "SegmentBase":
        rng = attrs.get("indexRange")
        if rng is None:
            idx = _single(ctx, "base", init, ended)
            return SegmentIndex(
                "base",
                idx.segments,
                init,
                None,
                False,
                timescale,
                ended=ended,
                media_url=ctx.base_url,
            )
        br = ByteRange(*parse_range(rng, where=ctx.where + "/SegmentBase@indexRange", url=ctx.url))
        return SegmentIndex(
            "base", (), init, br, False, timescale, ended=ended, media_url=ctx.base_url
        )
    if ctx.live_edge is not None:
        ctx = replace(ctx, live_edge=ctx.live_edge + _availability_offset(attrs, timescale, ctx))
    if merged.kind == "SegmentList":
        return _segment_list(merged, ctx, timescale, init, budget, ended)
    return _segment_template(merged, ctx, timescale, init, budget, ended)


def _availability_offset(attrs: dict[str, str], timescale: int, ctx: SegmentContext) -> float:
    """Seconds by which segments become available before their end (low latency).

    ISO/IEC 23009-1 (segment availability times): a Segment is available from
    AST + Period@start + its end time - @availabilityTimeOffset.  ``INF`` (chunked
    delivery: a Segment is available as it is produced) counts as one @duration, i.e.
    the Segment in production; with a SegmentTimeline (no @duration) it adds nothing.
    """
    v = attrs.get("availabilityTimeOffset")
    if v is None:
        return 0.0
    ato = parse_offset(v, where=ctx.where + "@availabilityTimeOffset", url=ctx.url)
    if math.isinf(ato):
        return _uint_attr(attrs, "duration", 0, ctx) / timescale
    return ato


def _single(
    ctx: SegmentContext, addressing: Addressing, init: InitSegment | None, ended: bool
) -> SegmentIndex:
    seg = Segment(
        ctx.base_url, ctx.period_start, ctx.period_duration or 0.0, 1, key=ctx.key, init=init
    )
    return SegmentIndex(addressing, (seg,), init, ended=ended, media_url=ctx.base_url)


# ----------------------------------------------------------------------------- timelines


def timeline_runs(
    timeline: ET.Element,
    *,
    pto: int,
    timescale: int,
    ctx: SegmentContext,
) -> list[tuple[int, int, int, int | None]]:
    """``(t, d, count, n)`` runs of a SegmentTimeline in timescale units (``n``: the
    S@n segment number of the run's first segment, when given), clipped to the
    Period (segments starting at/after its end are dropped) and bounded for live.

    ``r < 0`` repeats until the next S@t, else until the Period end (or the live
    edge, or the live window when neither is known).
    """
    ss = timeline.findall("S")
    url = ctx.url
    period_end: float | None = None
    if ctx.period_duration is not None:
        period_end = pto + (ctx.period_duration - _EPS) * timescale
    elif ctx.live_edge is not None:
        period_end = pto + ctx.live_edge * timescale
    runs: list[tuple[int, int, int, int | None]] = []
    t = 0
    total = 0
    n_s = len(ss)

    def where(i: int, attr: str = "") -> str:
        return f"{ctx.where}/SegmentTimeline/S[{i + 1}]" + (f"@{attr}" if attr else "")

    for i, s in enumerate(ss):
        a = s.attrib
        v = a.get("t")
        if v is not None:
            t = (
                int(v)
                if v.isdigit() and v.isascii()
                else parse_uint(v, where=where(i, "t"), url=url)
            )
        v = a.get("d")
        if v is None:
            raise ManifestValueError("S@d missing", where=where(i), url=url)
        d = int(v) if v.isdigit() and v.isascii() else parse_uint(v, where=where(i, "d"), url=url)
        if d == 0:
            raise ManifestValueError("S@d must be positive", where=where(i), url=url)
        v = a.get("r")
        r = (
            0
            if v is None
            else (
                int(v)
                if v.isdigit() and v.isascii()
                else parse_int(v, where=where(i, "r"), url=url)
            )
        )
        v = a.get("n")
        n = None if v is None else parse_uint(v, where=where(i, "n"), url=url)
        if r < 0:
            nxt = ss[i + 1].get("t") if i + 1 < n_s else None
            if nxt is not None:
                end: float = parse_uint(nxt, where=where(i + 1, "t"), url=url)
            elif period_end is not None:
                end = period_end
            else:
                end = t + ctx.live_window * timescale
            count = max(0, math.ceil((end - t) / d))
        else:
            count = r + 1
        if period_end is not None and t + d * count > period_end:
            # segments starting at/after the Period end do not belong to it
            count = max(0, min(count, math.ceil((period_end - t) / d)))
        total += count
        if total > MAX_SEGMENTS:
            raise ManifestValueError(
                f"SegmentTimeline would have more than {MAX_SEGMENTS} segments",
                where=f"{ctx.where}/SegmentTimeline",
                url=url,
            )
        if count:
            runs.append((t, d, count, n))
        t += d * count
    return runs


# ----------------------------------------------------------------------------- modes


def _number_window(
    count_known: int | None, dur: int, timescale: int, ctx: SegmentContext
) -> tuple[int, int]:
    """Index range ``[first, last)`` of @duration segments to generate."""
    if count_known is not None:
        return 0, count_known
    window = min(MAX_LIVE_WINDOW_SEGMENTS, max(1, math.ceil(ctx.live_window * timescale / dur)))
    if ctx.live_edge is not None:
        last = max(0, math.floor(ctx.live_edge * timescale / dur))  # segments fully available
        return max(0, last - window), last
    return 0, window


def _segment_template(
    merged: _Merged,
    ctx: SegmentContext,
    timescale: int,
    init: InitSegment | None,
    budget: SegmentBudget,
    ended: bool,
) -> SegmentIndex:
    attrs = merged.attrs
    media = attrs.get("media")
    addressing: Addressing = "template-time" if media and "$Time" in media else "template-number"
    pto = _uint_attr(attrs, "presentationTimeOffset", 0, ctx)
    start_number = _uint_attr(attrs, "startNumber", 1, ctx)
    end_number = attrs.get("endNumber")
    end_n = (
        parse_uint(end_number, where=ctx.where + "@endNumber", url=ctx.url) if end_number else None
    )
    pattern = compile_template(media, ctx) if media else None
    base = ctx.base_url
    p0 = ctx.period_start
    segs: list[Segment] = []
    timeline = merged.timeline is not None
    if timeline:
        runs = timeline_runs(merged.timeline, pto=pto, timescale=timescale, ctx=ctx)  # type: ignore[arg-type]
        total = sum(run[2] for run in runs)
        if end_n is not None:
            total = min(total, max(0, end_n - start_number + 1))
        budget.take(total, ctx.where, ctx.url)
        fmt = pattern.format if pattern else None
        append = segs.append
        key = ctx.key
        n = start_number
        left = total
        for t, d, count, n_first in runs:
            if left <= 0:
                break
            if n_first is not None:
                n = n_first
            dur = d / timescale
            count = min(count, left)
            left -= count
            for tt in range(t, t + count * d, d):
                u = fmt(n=n, t=tt) if fmt else base
                append(Segment(u, p0 + (tt - pto) / timescale, dur, n, None, key, init))
                n += 1
    else:
        dur_s = attrs.get("duration")
        if dur_s is None:
            # no @duration and no timeline: the Representation is one segment
            u = pattern.format(n=start_number, t=pto) if pattern else base
            seg = Segment(u, p0, ctx.period_duration or 0.0, start_number, key=ctx.key, init=init)
            return SegmentIndex(addressing, (seg,), init, None, False, timescale, ended=ended)
        d = parse_uint(dur_s, where=ctx.where + "/SegmentTemplate@duration", url=ctx.url)
        if d == 0:
            raise ManifestValueError(
                "SegmentTemplate@duration must be positive", where=ctx.where, url=ctx.url
            )
        count_known = None
        if ctx.period_duration is not None:
            exact = ctx.period_duration * timescale / d
            count_known = max(0, math.ceil(exact - 1e-9 * max(1.0, exact)))
        first, last = _number_window(count_known, d, timescale, ctx)
        if end_n is not None:
            last = min(last, max(0, end_n - start_number + 1))
        budget.take(max(0, last - first), ctx.where, ctx.url)
        seg_dur = d / timescale
        pdur = ctx.period_duration
        for i in range(first, last):
            start_rel = i * seg_dur
            dur = seg_dur
            if pdur is not None and start_rel + dur > pdur:
                dur = max(0.0, pdur - start_rel)
            n = start_number + i
            u = pattern.format(n=n, t=pto + i * d) if pattern else base
            segs.append(Segment(u, p0 + start_rel, dur, n, key=ctx.key, init=init))
    if timeline and segs and ctx.live_edge is not None and ctx.period_duration is None:
        # live timeline: keep the time-shift window behind the live edge (or behind the
        # last segment the MPD lists, when the caller's clock is ahead of the MPD)
        edge = min(p0 + ctx.live_edge, segs[-1].start + segs[-1].duration)
        oldest = edge - ctx.live_window
        segs = [s for s in segs if s.start + s.duration >= oldest]
    return SegmentIndex(addressing, tuple(segs), init, None, timeline, timescale, ended=ended)


def _segment_list(
    merged: _Merged,
    ctx: SegmentContext,
    timescale: int,
    init: InitSegment | None,
    budget: SegmentBudget,
    ended: bool,
) -> SegmentIndex:
    attrs = merged.attrs
    urls = merged.segment_urls or []
    pto = _uint_attr(attrs, "presentationTimeOffset", 0, ctx)
    start_number = _uint_attr(attrs, "startNumber", 1, ctx)
    budget.take(len(urls), ctx.where, ctx.url)
    # times: from a SegmentTimeline, else @duration, else the Period split evenly
    times: list[tuple[float, float]] = []
    timeline = merged.timeline is not None
    if timeline:
        runs = timeline_runs(merged.timeline, pto=pto, timescale=timescale, ctx=ctx)  # type: ignore[arg-type]
        for t, d, count, _n in runs:
            for k in range(min(count, len(urls) - len(times))):
                times.append(((t + k * d - pto) / timescale, d / timescale))
        # SegmentURLs beyond the timeline keep their place, with the last known duration
        while len(times) < len(urls):
            last_start, last_dur = times[-1] if times else (0.0, 0.0)
            times.append((last_start + last_dur, last_dur))
    elif attrs.get("duration") is not None:
        d = parse_uint(attrs["duration"], where=ctx.where + "/SegmentList@duration", url=ctx.url)
        if d == 0:
            raise ManifestValueError(
                "SegmentList@duration must be positive", where=ctx.where, url=ctx.url
            )
        times = [(i * d / timescale, d / timescale) for i in range(len(urls))]
    elif urls:
        each = (ctx.period_duration or 0.0) / len(urls)
        times = [(i * each, each) for i in range(len(urls))]
    pdur = ctx.period_duration
    if pdur is not None:
        # ISO/IEC 23009-1 5.3.9: a Segment whose presentation starts at/after the Period
        # end is not part of the Period (as for SegmentTemplate and SegmentTimeline)
        times = [(s, d) for s, d in times if s < pdur - _EPS]
    segs: list[Segment] = []
    base = ctx.base_url
    for i, su in enumerate(urls[: len(times)]):
        where = f"{ctx.where}/SegmentList/SegmentURL[{i + 1}]"
        media = su.get("media")
        u = resolve_url(base, media.strip(), where=where, url=ctx.url) if media else base
        mr = su.get("mediaRange")
        br = ByteRange(*parse_range(mr, where=where + "@mediaRange", url=ctx.url)) if mr else None
        start, dur = times[i]
        segs.append(Segment(u, ctx.period_start + start, dur, start_number + i, br, ctx.key, init))
    return SegmentIndex("list", tuple(segs), init, None, timeline, timescale, ended=ended)
