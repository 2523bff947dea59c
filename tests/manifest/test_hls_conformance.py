"""HLS conformance over the shared corpus (tests/manifest/corpus/expected.json).

One test per (file, fact): the number of passing facts is the conformance
score.  Facts are read back from the model only (plus ``Presentation.extra``
for ``key_methods``), never from the text.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from manifest import ManifestError, Presentation
from manifest.hls import parse_hls

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
HLS = {name: facts for name, facts in sorted(EXPECTED.items()) if name.endswith(".m3u8")}
BASE = "https://cdn.example.com/corpus/"

MASTER_FACTS = (
    "variant_count",
    "bandwidths",
    "resolutions",
    "codecs",
    "media_count_by_type",
    "iframe_variant_count",
    "has_content_steering",
)
MEDIA_FACTS = (
    "target_duration",
    "segment_count",
    "extinf_sum",
    "media_sequence",
    "has_endlist",
    "has_map",
    "key_methods",
    "has_byterange",
    "map_has_byterange",
    "discontinuity_count",
    "part_count",
    "playlist_type",
    "i_frames_only",
    "gap_count",
    "skipped_segments",
)
# Facts abrkit deliberately does not model: {(file, fact): reason}.
UNSUPPORTED: dict[tuple[str, str], str] = {}

_cache: dict[str, Presentation] = {}


def _parse(name: str) -> Presentation:
    if name not in _cache:
        _cache[name] = parse_hls((CORPUS / name).read_bytes(), BASE + name)
    return _cache[name]


def _variants(p: Presentation) -> list[Any]:
    """EXT-X-STREAM-INF renditions in file order (ids are v0, v1, ...)."""
    rs = [
        r
        for t in p.tracks()
        if t.group_id is None
        for r in t.renditions
        if not r.iframe and r.id.startswith("v")
    ]
    return sorted(rs, key=lambda r: int(r.id[1:]))


_HLS_MEDIA_TYPE = {"audio": "AUDIO", "video": "VIDEO", "image": "IMAGE", "unknown": "UNKNOWN"}


def _media_type(t: Any) -> str:
    if t.type == "text":
        return "CLOSED-CAPTIONS" if "caption" in t.roles else "SUBTITLES"
    return _HLS_MEDIA_TYPE[t.type]


def master_fact(p: Presentation, fact: str) -> Any:
    vs = _variants(p)
    if fact == "variant_count":
        return len(vs)
    if fact == "bandwidths":
        return [r.bandwidth for r in vs]
    if fact == "resolutions":
        return [f"{r.width}x{r.height}" if r.width is not None else None for r in vs]
    if fact == "codecs":
        return [r.codecs for r in vs]
    if fact == "media_count_by_type":
        return dict(Counter(_media_type(t) for t in p.tracks() if t.group_id is not None))
    if fact == "iframe_variant_count":
        return sum(1 for r in p.renditions() if r.iframe)
    if fact == "has_content_steering":
        return p.steering is not None
    raise AssertionError(fact)


def media_fact(p: Presentation, fact: str) -> Any:
    (r,) = p.renditions()
    idx = r.segments
    assert idx is not None and idx.addressing == "hls"
    segs = idx.segments
    if fact == "target_duration":
        return idx.target_duration
    if fact == "segment_count":
        return len(segs)
    if fact == "extinf_sum":
        return round(sum(s.duration for s in segs), 3)
    if fact == "media_sequence":
        return idx.media_sequence
    if fact == "has_endlist":
        return idx.ended
    if fact == "has_map":
        return any(s.init is not None for s in segs)
    if fact == "key_methods":
        methods = dict(p.extra).get("key_methods", "")
        return sorted(m for m in methods.split(",") if m)
    if fact == "has_byterange":
        return any(s.byte_range is not None for s in segs)
    if fact == "map_has_byterange":
        return any(s.init is not None and s.init.byte_range is not None for s in segs)
    if fact == "discontinuity_count":
        return idx.discontinuity_count
    if fact == "part_count":
        return idx.part_count
    if fact == "playlist_type":
        return idx.playlist_type
    if fact == "i_frames_only":
        return idx.i_frames_only
    if fact == "gap_count":
        return idx.gap_count
    if fact == "skipped_segments":
        return idx.skipped_segments
    raise AssertionError(fact)


def _cases() -> list[Any]:
    cases = []
    for name, facts in HLS.items():
        if facts.get("valid") is False:
            continue
        names = MASTER_FACTS if facts.get("kind") == "hls-master" else MEDIA_FACTS
        for fact in names:
            if fact not in facts:
                continue
            marks = []
            if (name, fact) in UNSUPPORTED:
                marks.append(pytest.mark.xfail(strict=True, reason=UNSUPPORTED[(name, fact)]))
            cases.append(pytest.param(name, fact, id=f"{name}::{fact}", marks=marks))
    return cases


INVALID = [name for name, facts in HLS.items() if facts.get("valid") is False]
VALID = [name for name, facts in HLS.items() if facts.get("valid") is not False]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_playlist_raises_manifest_error(name: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_hls((CORPUS / name).read_bytes(), BASE + name)
    assert "line" in str(info.value) or "empty" in str(info.value)


@pytest.mark.parametrize("name", VALID)
def test_kind(name: str) -> None:
    p = _parse(name)
    assert p.format == "hls"
    assert p.kind == HLS[name]["kind"]


@pytest.mark.parametrize(("name", "fact"), _cases())
def test_fact(name: str, fact: str) -> None:
    p = _parse(name)
    expected = HLS[name][fact]
    got = master_fact(p, fact) if p.kind == "hls-master" else media_fact(p, fact)
    if fact == "extinf_sum":
        assert got == pytest.approx(expected, abs=1e-3)
    else:
        assert got == expected
