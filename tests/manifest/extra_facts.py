"""Independent fact extractor for tests/manifest/extra_corpus (regenerates expected.json).

Follows the key definitions of corpus/README.md literally and shares no code with
``manifest/``: HLS is read line by line with regular expressions, DASH with the
standard library's ElementTree.  A fact that cannot be established with certainty
is left out.  Run ``python tests/manifest/extra_facts.py`` to print the facts of
every file; ``--write`` stores them (merged with the hand-written ``features``,
``notes`` and ``spec_deviations`` of expected.json).
"""

from __future__ import annotations

import json
import math
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "extra_corpus"
ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
HAND_KEYS = ("features", "notes", "spec_deviations", "source", "valid", "invalid_reasons")


def attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in ATTR.findall(text)}


# ---------------------------------------------------------------- HLS


def hls_facts(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    if not text.strip():
        return {"format": "hls", "valid": False, "invalid_reasons": ["empty file"]}
    if lines[0] != "#EXTM3U":
        return {"format": "hls", "valid": False, "invalid_reasons": ["first line is not #EXTM3U"]}
    tags = [ln for ln in lines if ln.startswith("#EXT")]
    is_master = any(
        t.startswith(("#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA:"))
        for t in tags
    )
    return _master(lines) if is_master else _media(lines)


def _master(lines: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"format": "hls", "kind": "hls-master"}
    variants = [attrs(ln.split(":", 1)[1]) for ln in lines if ln.startswith("#EXT-X-STREAM-INF:")]
    if any("BANDWIDTH" not in v or not v["BANDWIDTH"].isdigit() for v in variants):
        return {
            "format": "hls",
            "valid": False,
            "invalid_reasons": ["EXT-X-STREAM-INF without BANDWIDTH"],
        }
    out["variant_count"] = len(variants)
    out["bandwidths"] = [int(v["BANDWIDTH"]) for v in variants]
    out["resolutions"] = [v.get("RESOLUTION") for v in variants]
    out["codecs"] = [v.get("CODECS") for v in variants]
    media = [attrs(ln.split(":", 1)[1]) for ln in lines if ln.startswith("#EXT-X-MEDIA:")]
    out["media_count_by_type"] = dict(Counter(m["TYPE"] for m in media))
    out["iframe_variant_count"] = sum(ln.startswith("#EXT-X-I-FRAME-STREAM-INF:") for ln in lines)
    out["has_content_steering"] = any(ln.startswith("#EXT-X-CONTENT-STEERING:") for ln in lines)
    return out


def _media(lines: list[str]) -> dict[str, Any]:
    bad = {"format": "hls", "valid": False}
    td = [ln.split(":", 1)[1] for ln in lines if ln.startswith("#EXT-X-TARGETDURATION:")]
    if len(td) != 1 or not td[0].isdigit():
        return {**bad, "invalid_reasons": ["EXT-X-TARGETDURATION missing or unparseable"]}
    ms = [ln.split(":", 1)[1] for ln in lines if ln.startswith("#EXT-X-MEDIA-SEQUENCE:")]
    if len(ms) > 1 or (ms and not ms[0].isdigit()):
        return {**bad, "invalid_reasons": ["EXT-X-MEDIA-SEQUENCE duplicated or unparseable"]}
    durations: list[float] = []
    pending: float | None = None
    for ln in lines:
        if ln.startswith("#EXTINF:"):
            value = ln.split(":", 1)[1].split(",", 1)[0]
            try:
                pending = float(value)
            except ValueError:
                return {**bad, "invalid_reasons": ["EXTINF unparseable"]}
        elif ln and not ln.startswith("#"):
            if pending is None:
                return {**bad, "invalid_reasons": ["URI without EXTINF"]}
            durations.append(pending)
            pending = None
    maps = [ln for ln in lines if ln.startswith("#EXT-X-MAP:")]
    skips = [attrs(ln.split(":", 1)[1]) for ln in lines if ln.startswith("#EXT-X-SKIP:")]
    ptype = [ln.split(":", 1)[1] for ln in lines if ln.startswith("#EXT-X-PLAYLIST-TYPE:")]
    out: dict[str, Any] = {
        "format": "hls",
        "kind": "hls-media",
        "target_duration": int(td[0]),
        "segment_count": len(durations),
        "extinf_sum": round(sum(durations), 3),
        "media_sequence": int(ms[0]) if ms else 0,
        "has_endlist": "#EXT-X-ENDLIST" in lines,
        "has_map": bool(maps),
        "key_methods": sorted(
            {attrs(ln.split(":", 1)[1])["METHOD"] for ln in lines if ln.startswith("#EXT-X-KEY:")}
        ),
        "has_byterange": any(ln.startswith("#EXT-X-BYTERANGE:") for ln in lines),
        "map_has_byterange": any("BYTERANGE" in attrs(m.split(":", 1)[1]) for m in maps),
        "discontinuity_count": lines.count("#EXT-X-DISCONTINUITY"),
        "part_count": sum(ln.startswith("#EXT-X-PART:") for ln in lines),
        "playlist_type": ptype[0] if ptype else None,
        "i_frames_only": "#EXT-X-I-FRAMES-ONLY" in lines,
        "gap_count": lines.count("#EXT-X-GAP"),
    }
    if skips:
        out["skipped_segments"] = int(skips[0]["SKIPPED-SEGMENTS"])
    return out


# ---------------------------------------------------------------- DASH

DUR = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$")


def iso_duration(text: str | None) -> float | None:
    if text is None:
        return None
    m = DUR.match(text.strip())
    if not m:
        raise ValueError(text)
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def local(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def kids(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local(c) == name]


def dash_facts(raw: bytes) -> dict[str, Any]:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        return {
            "format": "dash",
            "valid": False,
            "invalid_reasons": [f"XML not well-formed: {exc}"],
        }
    if local(root) != "MPD":
        return {"format": "dash", "valid": False, "invalid_reasons": ["root element is not MPD"]}
    everything = list(root.iter())
    out: dict[str, Any] = {"format": "dash", "kind": "dash"}
    mtype = root.get("type", "static")
    out["type"] = mtype
    periods = kids(root, "Period")
    out["period_count"] = len(periods)
    mpd_dur = iso_duration(root.get("mediaPresentationDuration"))
    out["media_presentation_duration"] = mpd_dur
    out["baseurl_count"] = sum(local(e) == "BaseURL" for e in everything)
    out["mpd_level_baseurl_count"] = len(kids(root, "BaseURL"))
    out["content_protection_schemes"] = sorted(
        {e.get("schemeIdUri", "") for e in everything if local(e) == "ContentProtection"}
    )
    out["has_content_steering"] = any(local(e) == "ContentSteering" for e in everything)
    out["utc_timing_schemes"] = [e.get("schemeIdUri") for e in kids(root, "UTCTiming")]
    starts = [iso_duration(p.get("start")) for p in periods]
    out["periods"] = []
    for i, period in enumerate(periods):
        pdur = iso_duration(period.get("duration"))
        if pdur is None and starts[i] is not None:
            if i + 1 < len(periods) and starts[i + 1] is not None:
                pdur = starts[i + 1] - starts[i]  # type: ignore[operator]
            elif i + 1 == len(periods) and mpd_dur is not None:
                pdur = mpd_dur - starts[i]  # type: ignore[operator]
        if pdur is None and i == 0 and len(periods) == 1 and period.get("start") is None:
            pdur = mpd_dur
        if pdur is not None and pdur <= 0:
            pdur = None  # the Period starts at/after the presentation's end: no certain count
        pfacts: dict[str, Any] = {"id": period.get("id")} if period.get("id") is not None else {}
        pfacts["adaptation_sets"] = [
            _aset(period, a, pdur if mtype == "static" else None)
            for a in kids(period, "AdaptationSet")
        ]
        out["periods"].append(pfacts)
    return out


def _chain(levels: list[ET.Element], name: str) -> list[ET.Element]:
    """The ``name`` elements from the most general level (Period) to the most specific."""
    return [c for lvl in levels for c in kids(lvl, name)]


def _aset(period: ET.Element, aset: ET.Element, pdur: float | None) -> dict[str, Any]:
    reps = kids(aset, "Representation")
    out: dict[str, Any] = {"contentType": aset.get("contentType")}
    mimes = {r.get("mimeType") for r in reps}
    if aset.get("mimeType") is not None:
        out["mimeType"] = aset.get("mimeType")
    elif len(mimes) == 1:
        out["mimeType"] = mimes.pop()
    out["representation_count"] = len(reps)
    out["bandwidths"] = [int(r.get("bandwidth")) if r.get("bandwidth") else None for r in reps]  # type: ignore[arg-type]
    infos = [_segment_info([period, aset, r], pdur) for r in reps]
    modes = [m for m, _, _ in infos]
    if None not in modes:
        out["addressing"] = modes[0] if len(set(modes)) == 1 else modes
    out["segment_timeline"] = any(tl for _, tl, _ in infos)
    counts = [n for _, _, n in infos]
    if reps and all(n is not None for n in counts):
        out["segments_per_representation"] = counts
    return out


def _segment_info(
    levels: list[ET.Element], pdur: float | None
) -> tuple[str | None, bool, int | None]:
    """(addressing, timeline used, segment count or None) of one Representation."""
    kind = None
    for lvl in reversed(levels):  # the most specific level that says anything decides
        for name in ("SegmentTemplate", "SegmentList", "SegmentBase"):
            if kids(lvl, name):
                kind = name
                break
        if kind:
            break
    if kind is None:
        return "none", False, None
    chain = _chain(levels, kind)
    merged: dict[str, str] = {}
    for el in chain:
        merged.update(el.attrib)
    timelines = [t for el in chain for t in kids(el, "SegmentTimeline")]
    timeline = timelines[-1] if timelines else None
    if kind == "SegmentBase":
        return "base", False, None
    timescale = int(merged.get("timescale", "1"))
    pto = int(merged.get("presentationTimeOffset", "0"))
    starts: list[float] | None = None
    if timeline is not None:
        starts = _timeline_starts(timeline, timescale, pto, pdur)
    if kind == "SegmentList":
        urls = [u for el in chain for u in kids(el, "SegmentURL")]
        n: int | None = len(urls)
        if starts is None and "duration" in merged and pdur is not None:
            starts = [k * int(merged["duration"]) / timescale for k in range(len(urls))]
        if pdur is None or starts is None or any(s >= pdur - 1e-9 for s in starts[: len(urls)]):
            n = None
        return "list", timeline is not None, n
    media = merged.get("media", "")
    has_number, has_time = "$Number" in media, "$Time" in media
    if has_number and has_time:
        mode = None
    elif has_time:
        mode = "template-time"
    else:
        mode = "template-number"
    n = None
    if timeline is not None:
        if starts is not None and pdur is not None and all(s < pdur - 1e-9 for s in starts):
            n = len(starts)
    elif "duration" in merged and pdur is not None:
        n = math.ceil(round(pdur * timescale / int(merged["duration"]), 9))
        if "endNumber" in merged:
            n = min(n, int(merged["endNumber"]) - int(merged.get("startNumber", "1")) + 1)
    return mode, timeline is not None, n


def _timeline_starts(
    timeline: ET.Element, timescale: int, pto: int, pdur: float | None
) -> list[float] | None:
    starts: list[float] = []
    t = 0
    for s in kids(timeline, "S"):
        if s.get("t") is not None:
            t = int(s.get("t"))  # type: ignore[arg-type]
        d, r = int(s.get("d")), int(s.get("r", "0"))  # type: ignore[arg-type]
        if r < 0:
            return None  # open-ended repeat: count depends on the next S / Period end
        for _ in range(r + 1):
            starts.append((t - pto) / timescale)
            t += d
    return starts


def facts(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    return hls_facts(raw) if path.suffix == ".m3u8" else dash_facts(raw)


def main() -> None:
    exp_path = HERE / "expected.json"
    old = json.loads(exp_path.read_text()) if exp_path.exists() else {}
    new = {}
    for p in sorted(HERE.iterdir()):
        if p.suffix not in (".m3u8", ".mpd"):
            continue
        f = facts(p)
        hand = {
            k: v for k, v in old.get(p.name, {}).items() if k in HAND_KEYS or k.startswith("omit")
        }
        for key in hand.get("omit", []):
            f.pop(key, None)
        if hand.get("valid") is False:
            f = {"format": f["format"]}
        f.update(hand)
        if f.get("valid") is False:
            f = {k: v for k, v in f.items() if k in HAND_KEYS or k == "format"}
        new[p.name] = f
    if "--write" in sys.argv:
        exp_path.write_text(json.dumps(new, indent=1, sort_keys=False) + "\n")
    else:
        print(json.dumps(new, indent=1))


if __name__ == "__main__":
    main()
