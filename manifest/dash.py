"""DASH MPD parser: ``parse_mpd(text, url) -> Presentation``.

Follows ISO/IEC 23009-1: static and dynamic MPDs, multi-Period timing (Period
start from @start, else the previous Period's end; duration from @duration,
else the next Period's start, else mediaPresentationDuration), AdaptationSets
as :class:`Track`, Representations as :class:`Rendition` with attributes
inherited from their AdaptationSet, BaseURL resolution at every level with
alternatives, ContentProtection, ContentSteering, UTCTiming. Segment addressing
lives in :mod:`manifest.dash_segments`, the XML safety checks and value types
in :mod:`manifest.dash_xml`.

Why the tree comes from :mod:`xml.etree` and not from ``mpegdash``: ``mpegdash``
(0.4.1) opens a file or URL when the text lacks ``"<MPD"`` (a parser that must
never fetch), raises ``ValueError`` on non-integer AdaptationSet@id values that
real manifests carry (corpus: streamlink test_baseurl_urljoin), reads every
boolean ``"false"`` as ``True``, drops ContentSteering, dashif:Laurl,
dvb:priority/weight, Label and S@n, and its minidom tree alone takes ~3x longer
to build than this parser's whole model (2-hour ladder, 28,848 explicit S). We
use the C ElementTree builder after a DOCTYPE/ENTITY check (see
:mod:`manifest.dash_xml`).

Facts without a model field are kept in ``Presentation.extra`` as strings:
``type``, ``profiles``, ``availabilityStartTime``, ``publishTime``,
``timeShiftBufferDepth``, ``minimumUpdatePeriod``, ``suggestedPresentationDelay``,
``maxSegmentDuration``, ``mediaPresentationDuration`` (seconds for durations,
text as written for dates),
``baseurl_count`` (BaseURL elements at every level), ``mpd_level_baseurl_count``
and ``xlink_unresolved`` (remote Periods/AdaptationSets kept as written, since the
parser does no I/O; ``resolve-to-zero`` ones are removed, ISO/IEC 23009-1 5.5).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .dash_protection import key_info, parse_content_protection, protection_system
from .dash_segments import DEFAULT_LIVE_WINDOW_S, SegmentBudget, SegmentContext, build_segment_index
from .dash_xml import (
    has_scheme,
    load_mpd_root,
    local_attr,
    parse_bool,
    parse_datetime,
    parse_duration,
    parse_frame_rate,
    parse_uint,
    remote_children,
    resolve_url,
    strip_namespace,
)
from .errors import ManifestError, ManifestValueError
from .model import (
    BaseUrl,
    ContentProtection,
    ContentSteering,
    Period,
    Presentation,
    Rendition,
    Track,
    TrackType,
)

__all__ = ["parse_mpd", "protection_system"]  # protection_system re-exported

#: Most BaseURL alternatives kept per element (their combinations multiply across levels).
MAX_BASE_URL_ALTERNATIVES = 32

_VIDEO_CODECS = ("avc", "hvc", "hev", "vp8", "vp9", "vp09", "av01", "dvh", "dvav", "mp4v", "vvc")
_AUDIO_CODECS = (
    "mp4a",
    "ac-3",
    "ec-3",
    "ac-4",
    "opus",
    "flac",
    "vorbis",
    "dtsc",
    "dtse",
    "mhm",
    "alac",
)
_TEXT_CODECS = ("stpp", "wvtt", "tx3g", "ttml", "vtt")


def parse_mpd(text: str | bytes, url: str, *, now: float | None = None) -> Presentation:
    """Parse a DASH MPD into a :class:`Presentation`.

    ``url`` is where the MPD came from (relative BaseURLs and templates resolve
    against it). ``now`` (POSIX seconds), when given, places the live edge of a
    dynamic MPD; without it a live Representation whose end is unknown gets a
    bounded window from its first segment (see :mod:`manifest.dash_segments`).
    Raises :class:`ManifestError` (and nothing else) on bad input; never fetches.
    """
    try:
        return _MpdParser(url, now).parse(text)
    except ManifestError:
        raise
    except (OverflowError, ZeroDivisionError, RecursionError) as exc:
        raise ManifestValueError(
            f"value out of range: {exc}", where="MPD (a number too large to use)", url=url or None
        ) from None


@dataclass(frozen=True, slots=True)
class _Timing:
    start: float
    duration: float | None


class _MpdParser:
    def __init__(self, url: str, now: float | None) -> None:
        self.url = url
        self.err_url = url or None
        self.now = now
        self.budget = SegmentBudget()
        self.dynamic = False
        self.ast: float | None = None
        self.live_window = DEFAULT_LIVE_WINDOW_S
        self.cp_refs: dict[str, ET.Element] = {}  # MPD-level ContentProtection by @refId

    # ------------------------------------------------------------------ helpers
    def _cp(self, cp: ET.Element) -> ContentProtection:
        return parse_content_protection(cp, self.url, self.cp_refs)

    def _dur(self, el: ET.Element, name: str, where: str) -> float | None:
        v = el.get(name)
        return None if v is None else parse_duration(v, where=f"{where}@{name}", url=self.err_url)

    def _uint(self, el: ET.Element, name: str, where: str) -> int | None:
        v = el.get(name)
        return None if v is None else parse_uint(v, where=f"{where}@{name}", url=self.err_url)

    def _base_urls(self, el: ET.Element, parents: list[BaseUrl]) -> tuple[list[BaseUrl], bool]:
        """Alternatives after applying ``el``'s BaseURL children to each parent alternative."""
        elems = el.findall("BaseURL")[:MAX_BASE_URL_ALTERNATIVES]
        if not elems:
            return parents, False
        out: list[BaseUrl] = []
        seen: set[str] = set()
        for parent in parents:
            for b in elems:
                text = (b.text or "").strip()
                u = (
                    resolve_url(parent.url, text, where="BaseURL", url=self.err_url)
                    if text
                    else parent.url
                )
                if u in seen:
                    continue
                seen.add(u)
                # an absolute BaseURL is a location of its own: it inherits nothing
                inherit = parent if not has_scheme(text) else BaseUrl("")
                prio = local_attr(b, "priority")
                weight = local_attr(b, "weight")
                out.append(
                    BaseUrl(
                        u,
                        b.get("serviceLocation") or inherit.service_location,
                        _opt_int(prio) if _opt_int(prio) is not None else inherit.priority,
                        _opt_int(weight) if _opt_int(weight) is not None else inherit.weight,
                    )
                )
                if len(out) >= MAX_BASE_URL_ALTERNATIVES:
                    return out, True
        return out, True

    # ------------------------------------------------------------------ MPD
    def parse(self, text: str | bytes) -> Presentation:
        root = load_mpd_root(text, self.err_url)
        strip_namespace(root)
        url = self.err_url
        mpd_type = (root.get("type") or "static").strip()
        if mpd_type not in ("static", "dynamic"):
            raise ManifestValueError(
                f"MPD@type must be static or dynamic, not {mpd_type!r}", where="MPD", url=url
            )
        self.dynamic = mpd_type == "dynamic"
        extra: list[tuple[str, str]] = [("type", mpd_type)]
        for name in ("profiles", "availabilityStartTime", "publishTime", "id"):
            v = root.get(name)
            if v is not None:
                extra.append((name, v))
        ast = root.get("availabilityStartTime")
        if ast is not None:
            try:
                self.ast = parse_datetime(ast, where="MPD@availabilityStartTime", url=url)
            except ManifestValueError:
                self.ast = None  # kept as text in extra; only the live edge needs it
        mpd_duration = self._dur(root, "mediaPresentationDuration", "MPD")
        if mpd_duration is not None:
            extra.append(("mediaPresentationDuration", repr(mpd_duration)))
        min_buffer = self._dur(root, "minBufferTime", "MPD")
        for name in (
            "timeShiftBufferDepth",
            "minimumUpdatePeriod",
            "suggestedPresentationDelay",
            "maxSegmentDuration",
        ):
            d = self._dur(root, name, "MPD")
            if d is not None:
                extra.append((name, repr(d)))
                if name == "timeShiftBufferDepth" and d > 0:
                    self.live_window = d

        mpd_bases_el = root.findall("BaseURL")
        extra.append(("baseurl_count", str(sum(1 for _ in root.iter("BaseURL")))))
        extra.append(("mpd_level_baseurl_count", str(len(mpd_bases_el))))
        top = [BaseUrl(self.url)]
        mpd_bases, mpd_has = self._base_urls(root, top)

        steering = None
        cs = root.find("ContentSteering")
        if cs is not None:
            steering = self._steering(cs)
        utc = tuple(u.get("schemeIdUri", "") for u in root.findall("UTCTiming"))
        mpd_cps = root.findall("ContentProtection")  # 5th edition: referenced by @ref
        self.cp_refs = {cp.get("refId", ""): cp for cp in mpd_cps if cp.get("refId")}
        mpd_protection = tuple(self._cp(cp) for cp in mpd_cps)

        # no Period at all is kept as an empty presentation (e.g. a live MPD between
        # events); the player decides what to do with nothing to play
        period_els, remote = remote_children(root, "Period")
        self.xlink_unresolved = remote
        timings = self._period_timings(period_els, mpd_duration)
        periods = tuple(
            self._period(i, p, timings[i], mpd_bases, mpd_has) for i, p in enumerate(period_els)
        )
        if self.xlink_unresolved:
            extra.append(("xlink_unresolved", str(self.xlink_unresolved)))
        duration = mpd_duration
        if duration is None and not self.dynamic and timings and timings[-1].duration is not None:
            duration = timings[-1].start + timings[-1].duration
        return Presentation(
            format="dash",
            kind="dash",
            url=self.url,
            dynamic=self.dynamic,
            duration=duration,
            periods=periods,
            base_urls=tuple(mpd_bases) if mpd_has else (),
            steering=steering,
            protection=mpd_protection,
            min_buffer_time=min_buffer,
            utc_timing=utc,
            extra=tuple(extra),
        )

    def _steering(self, cs: ET.Element) -> ContentSteering:
        where = "MPD/ContentSteering"
        server = (cs.text or "").strip()
        if not server:
            raise ManifestValueError(
                "ContentSteering has no server URL", where=where, url=self.err_url
            )
        qbs = cs.get("queryBeforeStart")
        proxy = cs.get("proxyServerURL")
        return ContentSteering(
            server_uri=resolve_url(self.url, server, where=where, url=self.err_url),
            default_pathway=cs.get("defaultServiceLocation"),
            query_before_start=parse_bool(qbs, where=where + "@queryBeforeStart", url=self.err_url)
            if qbs is not None
            else False,
            proxy_server_url=resolve_url(self.url, proxy.strip(), where=where, url=self.err_url)
            if proxy
            else None,
        )

    def _period_timings(self, els: list[ET.Element], mpd_duration: float | None) -> list[_Timing]:
        starts: list[float] = []
        durs: list[float | None] = []
        for i, p in enumerate(els):
            where = f"MPD/Period[{i + 1}]"
            start = self._dur(p, "start", where)
            dur = self._dur(p, "duration", where)
            if start is None:
                if i == 0:
                    start = 0.0
                elif durs[-1] is not None:
                    start = starts[-1] + durs[-1]  # type: ignore[operator]
                else:  # early-available Period: start unknown, keep the previous one's
                    start = starts[-1]
            starts.append(start)
            durs.append(dur)
        out: list[_Timing] = []
        for i, (start, dur) in enumerate(zip(starts, durs, strict=True)):
            if dur is None:
                if i + 1 < len(starts):
                    dur = starts[i + 1] - start
                elif mpd_duration is not None:
                    dur = mpd_duration - start
                if dur is not None and dur < 0:
                    dur = None  # inconsistent manifest: the end is unknown
            out.append(_Timing(start, dur))
        return out

    # ------------------------------------------------------------------ Period
    def _adaptation_set_els(self, p: ET.Element) -> list[ET.Element]:
        kept, remote = remote_children(p, "AdaptationSet")
        self.xlink_unresolved += remote
        return kept

    def _period(
        self, index: int, p: ET.Element, timing: _Timing, parents: list[BaseUrl], has_base: bool
    ) -> Period:
        where = f"MPD/Period[{index + 1}]"
        bases, has = self._base_urls(p, parents)
        has_base = has_base or has
        live_edge = None
        if self.dynamic and self.now is not None and self.ast is not None:
            live_edge = max(0.0, self.now - self.ast - timing.start)
        tracks = tuple(
            self._adaptation_set(
                f"{where}/AdaptationSet[{i + 1}]", i, a, p, timing, bases, has_base, live_edge
            )
            for i, a in enumerate(self._adaptation_set_els(p))
        )
        return Period(
            id=p.get("id"),
            start=timing.start,
            duration=timing.duration,
            tracks=tracks,
            base_urls=tuple(b.url for b in bases) if has_base else (),
        )

    # ------------------------------------------------------------------ AdaptationSet
    def _adaptation_set(
        self,
        where: str,
        index: int,
        a: ET.Element,
        p: ET.Element,
        timing: _Timing,
        parents: list[BaseUrl],
        has_base: bool,
        live_edge: float | None,
    ) -> Track:
        url = self.err_url
        bases, has = self._base_urls(a, parents)
        has_base = has_base or has
        as_prot = tuple(self._cp(cp) for cp in a.findall("ContentProtection"))
        rep_els = a.findall("Representation")
        # DASH-IF IOP v4.3 3.2.9: a trick-mode AdaptationSet carries the trickmode scheme in
        # an EssentialProperty or a SupplementalProperty
        iframe = any(
            (e.get("schemeIdUri") or "").strip() == "http://dashif.org/guidelines/trickmode"
            for e in [*a.findall("EssentialProperty"), *a.findall("SupplementalProperty")]
        )
        renditions = []
        for j, r in enumerate(rep_els):
            rwhere = f"{where}/Representation[{j + 1}]"
            rbases, rhas = self._base_urls(r, bases)
            locs = tuple(rbases) if (has_base or rhas) else ()
            # a missing @id (schema-required) gets a name unique in the MPD
            rid = r.get("id") or f"{where.replace('MPD/', '')}/Representation[{j + 1}]"
            bw = self._uint(r, "bandwidth", rwhere) or 0

            def inh(name: str, r: ET.Element = r) -> str | None:
                v = r.get(name)
                return v if v is not None else a.get(name)

            fr = inh("frameRate")
            asr = inh("audioSamplingRate")
            sample_rate = None
            if asr:
                sample_rate = _opt_int(asr.split()[0] if asr.split() else None)
            chan = r.find("AudioChannelConfiguration")
            if chan is None:
                chan = a.find("AudioChannelConfiguration")
            protection = as_prot + tuple(self._cp(cp) for cp in r.findall("ContentProtection"))
            ctx = SegmentContext(
                rep_id=r.get("id") or "",
                bandwidth=bw,
                base_url=rbases[0].url,
                period_start=timing.start,
                period_duration=timing.duration,
                dynamic=self.dynamic,
                live_edge=live_edge,
                live_window=self.live_window,
                where=rwhere,
                url=url,
                key=key_info(protection),
            )
            w = r.get("width") or a.get("width")
            h = r.get("height") or a.get("height")
            renditions.append(
                Rendition(
                    id=rid,
                    bandwidth=bw,
                    width=_opt_int(w),
                    height=_opt_int(h),
                    codecs=inh("codecs"),
                    frame_rate=_opt_frame_rate(fr),
                    mime_type=inh("mimeType"),
                    segments=build_segment_index([r, a, p], ctx, self.budget),
                    base_urls=tuple(b.url for b in locs),
                    protection=protection,
                    sample_rate=sample_rate,
                    channels=chan.get("value") if chan is not None else None,
                    iframe=iframe,
                    locations=locs,
                )
            )
        mime = a.get("mimeType")
        if mime is None:
            mimes = {r.get("mimeType") for r in rep_els}
            if len(mimes) == 1:
                mime = mimes.pop()
        label = a.get("label")
        if label is None:
            lab = a.find("Label")
            if lab is not None and lab.text:
                label = lab.text.strip()
        roles = tuple(r.get("value", "") for r in a.findall("Role"))
        content_type = a.get("contentType")
        cc_types = {c.get("contentType") for c in a.findall("ContentComponent")} - {None}
        return Track(
            id=a.get("id") or str(index),
            type=_track_type(
                content_type or (cc_types.pop() if len(cc_types) == 1 else None), mime, renditions
            ),
            renditions=tuple(renditions),
            language=a.get("lang"),
            name=label,
            roles=roles,
            default="main" in roles,
            mime_type=mime,
            content_type=content_type,
            protection=as_prot,
        )


def _opt_int(v: str | None) -> int | None:
    """An optional, descriptive unsigned integer: unparseable text counts as absent."""
    if v is None:
        return None
    v = v.strip()
    return int(v) if v.isascii() and v.isdigit() else None


def _opt_frame_rate(v: str | None) -> float | None:
    if not v:
        return None
    try:
        return parse_frame_rate(v, where="frameRate", url=None)
    except ManifestValueError:
        return None  # descriptive only: a bad value does not stop playback


def _type_of(mime: str | None, codecs: str | None) -> TrackType | None:
    if mime:
        m = mime.strip().lower()
        major = m.split("/", 1)[0]
        if major in ("video", "audio", "text", "image"):
            return major  # type: ignore[return-value]
        if m in ("application/ttml+xml", "application/x-subrip"):
            return "text"
    if codecs:
        c = codecs.strip().lower()
        if c.startswith(_TEXT_CODECS):
            return "text"
        if c.startswith(_VIDEO_CODECS):
            return "video"
        if c.startswith(_AUDIO_CODECS):
            return "audio"
    return None


def _track_type(
    content_type: str | None, mime: str | None, renditions: list[Rendition]
) -> TrackType:
    if content_type and content_type.strip() in ("video", "audio", "text", "image"):
        return content_type.strip()  # type: ignore[return-value]
    t = _type_of(mime, None)
    if t:
        return t
    for r in renditions:
        t = _type_of(r.mime_type, r.codecs)
        if t:
            return t
    return "unknown"
