"""Conformance of parse_mpd against the shared corpus (tests/manifest/corpus/expected.json).

One test per (file, fact) for every DASH fact the model expresses; files marked
``valid: false`` must raise ManifestError. Key definitions: corpus/README.md.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from manifest import ManifestError, Presentation
from manifest.dash import parse_mpd

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
BASE = "https://cdn.example.com/content/title/manifest.mpd"

MPD_FILES = sorted(k for k in EXPECTED if k.endswith(".mpd"))
INVALID = [k for k in MPD_FILES if EXPECTED[k].get("valid") is False]
PARSEABLE = [k for k in MPD_FILES if EXPECTED[k].get("valid") is not False]

# facts the model deliberately does not express: {(file, fact): reason}
XFAIL: dict[tuple[str, str], str] = {}

_TOP_FACTS = (
    "format",
    "kind",
    "type",
    "period_count",
    "media_presentation_duration",
    "baseurl_count",
    "mpd_level_baseurl_count",
    "content_protection_schemes",
    "has_content_steering",
    "utc_timing_schemes",
)
_AS_FACTS = (
    "contentType",
    "mimeType",
    "representation_count",
    "bandwidths",
    "addressing",
    "segment_timeline",
    "segments_per_representation",
)


@cache
def parsed(name: str) -> Presentation:
    return parse_mpd((CORPUS / name).read_bytes(), BASE)


def _extra(p: Presentation, key: str) -> str | None:
    return dict(p.extra).get(key)


def actual_top(p: Presentation, fact: str) -> Any:
    if fact == "format":
        return p.format
    if fact == "kind":
        return p.kind
    if fact == "type":
        return _extra(p, "type")
    if fact == "period_count":
        return len(p.periods)
    if fact == "media_presentation_duration":
        v = _extra(p, "mediaPresentationDuration")
        return None if v is None else round(float(v), 6)
    if fact in ("baseurl_count", "mpd_level_baseurl_count"):
        return int(_extra(p, fact) or 0)
    if fact == "content_protection_schemes":
        schemes = {cp.scheme_id_uri for cp in p.protection}
        schemes |= {cp.scheme_id_uri for t in p.tracks() for cp in t.protection}
        schemes |= {cp.scheme_id_uri for r in p.renditions() for cp in r.protection}
        return sorted(schemes)
    if fact == "has_content_steering":
        return p.steering is not None
    if fact == "utc_timing_schemes":
        return list(p.utc_timing)
    raise AssertionError(fact)


def actual_as(p: Presentation, pi: int, ai: int, fact: str) -> Any:
    track = p.periods[pi].tracks[ai]
    reps = track.renditions
    if fact == "contentType":
        return track.content_type
    if fact == "mimeType":
        return track.mime_type
    if fact == "representation_count":
        return len(reps)
    if fact == "bandwidths":
        return [r.bandwidth or None for r in reps]  # a missing @bandwidth is 0 in the model
    if fact == "addressing":
        modes = [r.segments.addressing if r.segments is not None else None for r in reps]
        return modes[0] if len(set(modes)) == 1 else modes
    if fact == "segment_timeline":
        return any(r.segments is not None and r.segments.timeline for r in reps)
    if fact == "segments_per_representation":
        return [len(r.segments) if r.segments is not None else 0 for r in reps]
    raise AssertionError(fact)


def _cases() -> list[Any]:
    out = []
    for name in PARSEABLE:
        exp = EXPECTED[name]
        for fact in _TOP_FACTS:
            if fact in exp:
                out.append((name, fact, None, None))
        for pi, period in enumerate(exp.get("periods", [])):
            out.append((name, "period_id", pi, None))
            out.append((name, "adaptation_set_count", pi, None))
            for ai, aset in enumerate(period.get("adaptation_sets", [])):
                for fact in _AS_FACTS:
                    if fact in aset:
                        out.append((name, fact, pi, ai))
    params = []
    for name, fact, pi, ai in out:
        fid = fact if pi is None else (f"p{pi}.{fact}" if ai is None else f"p{pi}.as{ai}.{fact}")
        marks = []
        if (name, fid) in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[(name, fid)]))
        params.append(pytest.param(name, fact, pi, ai, id=f"{name}::{fid}", marks=marks))
    return params


@pytest.mark.parametrize("name", INVALID)
def test_invalid_mpd_raises(name: str) -> None:
    with pytest.raises(ManifestError):
        parse_mpd((CORPUS / name).read_bytes(), BASE)


@pytest.mark.parametrize("name", PARSEABLE)
def test_parses(name: str) -> None:
    assert parsed(name).format == "dash"


@pytest.mark.parametrize(("name", "fact", "pi", "ai"), _cases())
def test_fact(name: str, fact: str, pi: int | None, ai: int | None) -> None:
    p = parsed(name)
    exp = EXPECTED[name]
    if pi is None:
        want = exp[fact]
        got = actual_top(p, fact)
        if fact == "media_presentation_duration" and want is not None:
            assert got == pytest.approx(want, abs=1e-3)
            return
        assert got == want
        return
    period = exp["periods"][pi]
    if fact == "period_id":
        assert p.periods[pi].id == period.get("id")
        return
    if fact == "adaptation_set_count":
        assert len(p.periods[pi].tracks) == len(period.get("adaptation_sets", []))
        return
    assert actual_as(p, pi, ai, fact) == period["adaptation_sets"][ai][fact]  # type: ignore[arg-type]
