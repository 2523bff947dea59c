"""DASH MPD writer for static (VOD) presentations: ``write_mpd(p) -> str``.

Writes an isoff-live MPD: one AdaptationSet per track, one Representation per
rendition, and per rendition the addressing its segments allow:

* SegmentTemplate + SegmentTimeline (``$Number$``) when every segment URL is one
  pattern of its number and segments carry no byte ranges;
* SegmentBase (``indexRange``) when the index says so;
* a bare BaseURL when the rendition is one whole-file segment;
* SegmentList (+ SegmentTimeline, so starts survive) otherwise.

URLs are written relative to the MPD's URL (or its first MPD-level BaseURL)
when they lie under it. The output parses back with :func:`manifest.dash.parse_mpd`
into the same renditions, segment URLs, byte ranges, starts and durations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from urllib.parse import urljoin
from xml.sax.saxutils import escape, quoteattr

from .dash_xml import MPD_NAMESPACE, format_duration
from .model import (
    ByteRange,
    ContentProtection,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)

__all__ = ["write_mpd"]

PROFILE_LIVE = "urn:mpeg:dash:profile:isoff-live:2011"
CENC_NS = "urn:mpeg:cenc:2013"
DASHIF_NS = "https://dashif.org/CPS"
DVB_NS = "urn:dvb:dash:profile:dvb-dash:2014"
ROLE_SCHEME = "urn:mpeg:dash:role:2011"
CLEARKEY_UUID = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"
DEFAULT_MIN_BUFFER_TIME_S = 2.0
#: Timescales tried, in order, for SegmentTimeline values; the last one is always exact to 1e-7 s.
_TIMESCALES = (1000, 90000, 48000, 44100, 30000, 1_000_000, 10_000_000)


class _El:
    __slots__ = ("tag", "attrs", "children", "text")

    def __init__(
        self, tag: str, attrs: Iterable[tuple[str, object]] = (), text: str | None = None
    ) -> None:
        self.tag = tag
        self.attrs = [(k, v) for k, v in attrs if v is not None]
        self.children: list[_El] = []
        self.text = text

    def add(
        self, tag: str, attrs: Iterable[tuple[str, object]] = (), text: str | None = None
    ) -> _El:
        child = _El(tag, attrs, text)
        self.children.append(child)
        return child

    def write(self, out: list[str], indent: int) -> None:
        pad = "  " * indent
        attrs = "".join(f" {k}={quoteattr(_attr_text(v))}" for k, v in self.attrs)
        if self.text is None and not self.children:
            out.append(f"{pad}<{self.tag}{attrs}/>\n")
        elif not self.children:
            out.append(f"{pad}<{self.tag}{attrs}>{escape(self.text or '')}</{self.tag}>\n")
        else:
            out.append(f"{pad}<{self.tag}{attrs}>\n")
            for c in self.children:
                c.write(out, indent + 1)
            out.append(f"{pad}</{self.tag}>\n")


def _attr_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_mpd(p: Presentation) -> str:
    """The MPD text of a static presentation (periods, tracks, renditions, segments).

    The MPD is always ``type="static"`` (a VOD snapshot). Raises ``ValueError`` for a
    model an MPD cannot express (a segment without a positive duration).
    """
    ref = p.base_urls[0].url if p.base_urls else p.url
    w = _Writer(urljoin(ref, ".") if ref else "")
    duration = p.duration
    if duration is None:
        ends = [_period_end(per) for per in p.periods]
        duration = max((e for e in ends if e is not None), default=None)
    root = _El(
        "MPD",
        [
            ("xmlns", MPD_NAMESPACE),
            ("xmlns:cenc", CENC_NS),
            ("xmlns:dashif", DASHIF_NS),
            ("xmlns:dvb", DVB_NS),
            ("profiles", PROFILE_LIVE),
            ("type", "static"),
            (
                "mediaPresentationDuration",
                format_duration(duration) if duration is not None else None,
            ),
            ("minBufferTime", format_duration(p.min_buffer_time or DEFAULT_MIN_BUFFER_TIME_S)),
        ],
    )
    for b in p.base_urls:
        root.add(
            "BaseURL",
            [
                ("serviceLocation", b.service_location),
                ("dvb:priority", b.priority),
                ("dvb:weight", b.weight),
            ],
            _rel_to(p.url, b.url),
        )
    if p.steering is not None:
        s = p.steering
        root.add(
            "ContentSteering",
            [
                ("defaultServiceLocation", s.default_pathway),
                ("queryBeforeStart", True if s.query_before_start else None),
                ("proxyServerURL", s.proxy_server_url),
            ],
            s.server_uri,
        )
    for i, per in enumerate(p.periods):
        w.period(root, i, per, single=len(p.periods) == 1)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    root.write(out, 0)
    return "".join(out)


def _period_end(per: Period) -> float | None:
    if per.duration is not None:
        return per.start + per.duration
    ends = [
        s.start + s.duration
        for r in (x for t in per.tracks for x in t.renditions)
        for s in (r.segments.segments if r.segments is not None else ())
    ]
    return max(ends) if ends else None


def _rel_to(base: str, url: str) -> str:
    if not base:
        return url
    d = urljoin(base, ".")
    return _safe_rel(url[len(d) :]) if url.startswith(d) and len(url) > len(d) else url


def _safe_rel(rel: str) -> str:
    # a relative reference whose first segment has a ':' would read as a scheme
    first = rel.split("/", 1)[0]
    return "./" + rel if ":" in first or rel.startswith("//") else rel


class _Writer:
    def __init__(self, ref_dir: str) -> None:
        self.ref_dir = ref_dir

    def rel(self, url: str) -> str:
        d = self.ref_dir
        if d and url.startswith(d) and len(url) > len(d):
            return _safe_rel(url[len(d) :])
        return url

    def period(self, root: _El, index: int, per: Period, single: bool) -> None:
        pel = root.add(
            "Period",
            [
                ("id", per.id if per.id is not None else str(index)),
                ("start", format_duration(per.start)),
                (
                    "duration",
                    format_duration(per.duration)
                    if per.duration is not None and not single
                    else None,
                ),
            ],
        )
        for j, t in enumerate(per.tracks):
            self.adaptation_set(pel, j, t, per)

    def adaptation_set(self, pel: _El, index: int, t: Track, per: Period) -> None:
        mimes = {r.mime_type for r in t.renditions}
        mime = t.mime_type or (next(iter(mimes)) if len(mimes) == 1 else None)
        ctype = t.content_type or (
            t.type if t.type in ("video", "audio", "text", "image") else None
        )
        ael = pel.add(
            "AdaptationSet",
            [
                ("id", t.id),
                ("contentType", ctype),
                ("mimeType", mime),
                ("segmentAlignment", True),
                ("lang", t.language),
            ],
        )
        for cp in t.protection:
            self.protection(ael, cp)
        if t.name:  # Label belongs to RepresentationBase: before Role (schema order)
            ael.add("Label", text=t.name)
        for role in t.roles:
            ael.add("Role", [("schemeIdUri", ROLE_SCHEME), ("value", role)])
        for r in t.renditions:
            self.representation(ael, r, t, mime, per)

    def protection(self, parent: _El, cp: ContentProtection) -> None:
        kid = cp.default_kid
        if kid and len(kid) == 32:
            kid = f"{kid[:8]}-{kid[8:12]}-{kid[12:16]}-{kid[16:20]}-{kid[20:]}"
        el = parent.add(
            "ContentProtection",
            [("schemeIdUri", cp.scheme_id_uri), ("value", cp.value), ("cenc:default_KID", kid)],
        )
        if cp.licence_url:
            el.add("dashif:Laurl", text=cp.licence_url)
        if cp.pssh:
            el.add("cenc:pssh", text=cp.pssh)

    def representation(
        self, ael: _El, r: Rendition, t: Track, as_mime: str | None, per: Period
    ) -> None:
        rel = ael.add(
            "Representation",
            [
                ("id", r.id),
                ("bandwidth", r.bandwidth),
                ("width", r.width),
                ("height", r.height),
                ("codecs", r.codecs),
                ("frameRate", _frame_rate(r.frame_rate) if r.frame_rate else None),
                ("audioSamplingRate", r.sample_rate),
                ("mimeType", r.mime_type if r.mime_type != as_mime else None),
            ],
        )
        if r.channels:
            rel.add(
                "AudioChannelConfiguration",
                [
                    ("schemeIdUri", "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"),
                    ("value", r.channels),
                ],
            )
        for cp in r.protection:
            if cp not in t.protection:
                self.protection(rel, cp)
        idx = r.segments
        if idx is None:
            return
        if idx.addressing == "base":
            self.segment_base(rel, idx)
            return
        segs = idx.segments
        if (
            len(segs) == 1
            and segs[0].byte_range is None
            and _is_whole_period(segs[0], per)
            and idx.addressing == "none"
            and segs[0].number == 1
        ):
            rel.add("BaseURL", text=self.rel(segs[0].url))
            return
        ts = _timescale(idx, segs, per)
        pto = _pto(segs, ts, per)
        if segs and all(s.byte_range is None for s in segs):
            pattern = _number_pattern(segs)
            if pattern is None and idx.addressing == "template-time":
                pattern, pto = _time_pattern(segs, ts, per, pto)
            if pattern is not None and (idx.init is None or idx.init.byte_range is None):
                self.template(rel, idx, segs, pattern, per, ts, pto)
                return
        self.segment_list(rel, idx, segs, per, ts, pto)

    def segment_base(self, rel: _El, idx: SegmentIndex) -> None:
        if idx.media_url:
            rel.add("BaseURL", text=self.rel(idx.media_url))
        ir = idx.index_range
        sb = rel.add(
            "SegmentBase",
            [
                ("timescale", idx.timescale if idx.timescale != 1 else None),
                ("indexRange", f"{ir.offset}-{ir.last}" if ir else None),
            ],
        )
        if idx.init is not None:
            self.initialization(sb, idx.init.url, idx.init.byte_range, idx.media_url)

    def initialization(
        self, parent: _El, url: str, br: ByteRange | None, media_url: str | None
    ) -> None:
        rng = f"{br.offset}-{br.last}" if br is not None else None
        parent.add(
            "Initialization",
            [("sourceURL", None if url == media_url else self.rel(url)), ("range", rng)],
        )

    def template(
        self,
        rel: _El,
        idx: SegmentIndex,
        segs: Sequence[Segment],
        pattern: tuple[str, str, int, str],
        per: Period,
        ts: int,
        pto: int,
    ) -> None:
        prefix, suffix, width, ident = pattern
        fmt = f"${ident}$" if width == 0 else f"${ident}%0{width}d$"
        rel_prefix = "" if prefix == self.ref_dir else self.rel(prefix)
        media = _dollar(rel_prefix) + fmt + _dollar(suffix)
        st = rel.add(
            "SegmentTemplate",
            [
                ("timescale", ts),
                ("presentationTimeOffset", pto or None),
                ("startNumber", segs[0].number),
                ("media", media),
                (
                    "initialization",
                    _dollar(self.rel(idx.init.url)) if idx.init is not None else None,
                ),
            ],
        )
        _timeline(st, segs, ts, per, pto)

    def segment_list(
        self, rel: _El, idx: SegmentIndex, segs: Sequence[Segment], per: Period, ts: int, pto: int
    ) -> None:
        sl = rel.add(
            "SegmentList",
            [
                ("timescale", ts),
                ("presentationTimeOffset", pto or None),
                ("startNumber", segs[0].number if segs else None),
            ],
        )
        if idx.init is not None:
            self.initialization(sl, idx.init.url, idx.init.byte_range, None)
        if segs:
            _timeline(sl, segs, ts, per, pto)
        for s in segs:
            br = s.byte_range
            sl.add(
                "SegmentURL",
                [
                    ("media", self.rel(s.url)),
                    ("mediaRange", f"{br.offset}-{br.last}" if br else None),
                ],
            )


def _dollar(s: str) -> str:
    return s.replace("$", "$$")


def _is_whole_period(seg: Segment, per: Period) -> bool:
    return abs(seg.start - per.start) < 1e-6 and (
        per.duration is None or abs(seg.duration - per.duration) < 1e-6
    )


_DIGITS = re.compile(r"[0-9]+")


def _number_pattern(segs: Sequence[Segment]) -> tuple[str, str, int, str] | None:
    """``(prefix, suffix, width)`` when every URL is prefix + number + suffix."""
    if not segs:
        return None
    first = segs[0]
    for m in reversed(list(_DIGITS.finditer(first.url))):
        if int(m.group()) != first.number:
            continue
        prefix, suffix = first.url[: m.start()], first.url[m.end() :]
        run = m.end() - m.start()
        for width in (run,) if run > len(str(first.number)) else (0, run):
            if all(s.url == f"{prefix}{s.number:0{width}d}{suffix}" for s in segs):
                return prefix, suffix, width, "Number"
    return None


def _timescale(idx: SegmentIndex, segs: Sequence[Segment], per: Period) -> int:
    values = [s.start - per.start for s in segs] + [s.duration for s in segs]
    candidates = ([idx.timescale] if idx.timescale > 1 else []) + list(_TIMESCALES)
    for ts in candidates:
        if all(abs(v * ts - round(v * ts)) <= 1e-7 * ts for v in values):
            return ts
    return _TIMESCALES[-1]


def _pto(segs: Sequence[Segment], ts: int, per: Period) -> int:
    """A presentationTimeOffset keeping every S@t non-negative (segments may start
    before their Period)."""
    first = min((round((s.start - per.start) * ts) for s in segs), default=0)
    return max(0, -first)


def _time_pattern(
    segs: Sequence[Segment], ts: int, per: Period, pto: int
) -> tuple[tuple[str, str, int, str] | None, int]:
    """A ``$Time$`` pattern (and the presentationTimeOffset it implies), if any."""
    first = segs[0]
    rel0 = round((first.start - per.start) * ts)
    for m in reversed(list(_DIGITS.finditer(first.url))):
        guess = int(m.group()) - rel0
        if guess < pto:
            continue
        prefix, suffix = first.url[: m.start()], first.url[m.end() :]
        if all(
            s.url == f"{prefix}{round((s.start - per.start) * ts) + guess}{suffix}" for s in segs
        ):
            return (prefix, suffix, 0, "Time"), guess
    return None, pto


def _timeline(parent: _El, segs: Sequence[Segment], ts: int, per: Period, pto: int) -> None:
    tl = parent.add("SegmentTimeline")
    expected_t: int | None = None
    cur: list[int] | None = None  # [t, d, r]
    for s in segs:
        t = round((s.start - per.start) * ts) + pto
        d = round(s.duration * ts)
        if d <= 0:
            raise ValueError(f"segment {s.url} has no positive duration ({s.duration!r} s)")
        if cur is not None and t == expected_t and d == cur[1]:
            cur[2] += 1
        else:
            if cur is not None:
                _s(tl, cur, explicit_t=cur[3])
            cur = [t, d, 0, 1 if t != expected_t else 0]
        expected_t = t + d
    if cur is not None:
        _s(tl, cur, explicit_t=cur[3])


def _s(tl: _El, cur: list[int], explicit_t: int) -> None:
    t, d, r = cur[0], cur[1], cur[2]
    tl.add("S", [("t", t if explicit_t else None), ("d", d), ("r", r if r else None)])


def _frame_rate(fps: float) -> str:
    if math.isclose(fps, round(fps), abs_tol=1e-9):
        return str(round(fps))
    f = Fraction(fps).limit_denominator(1001)
    return f"{f.numerator}/{f.denominator}"
