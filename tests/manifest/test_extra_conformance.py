"""Conformance over tests/manifest/extra_corpus: manifests from the same public suites as the
shared corpus but not in it, with facts from an independent extractor (extra_facts.py).

One test per (file, fact), read back from the model the same way as the shared-corpus
tests; files marked ``valid: false`` must raise ManifestError with a where-message.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from extra_facts import facts as independent_facts
from test_dash_conformance import _AS_FACTS, _TOP_FACTS, actual_as, actual_top
from test_hls_conformance import MASTER_FACTS, MEDIA_FACTS, master_fact, media_fact

from manifest import ManifestError, Presentation
from manifest.dash import parse_mpd
from manifest.hls import parse_hls

CORPUS = Path(__file__).parent / "extra_corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
BASE = "https://cdn.example.com/extra/"
VALID = [n for n, e in EXPECTED.items() if e.get("valid") is not False]
INVALID = [n for n, e in EXPECTED.items() if e.get("valid") is False]


def _parse_any(name: str) -> Presentation:
    raw = (CORPUS / name).read_bytes()
    return parse_hls(raw, BASE + name) if name.endswith(".m3u8") else parse_mpd(raw, BASE + name)


@cache
def parsed(name: str) -> Presentation:
    return _parse_any(name)


def _cases() -> list[Any]:
    out = []
    for name in VALID:
        exp = EXPECTED[name]
        if name.endswith(".m3u8"):
            names = MASTER_FACTS if exp["kind"] == "hls-master" else MEDIA_FACTS
            out += [(name, f, None, None) for f in names if f in exp]
            continue
        out += [(name, f, None, None) for f in _TOP_FACTS if f in exp]
        for pi, period in enumerate(exp["periods"]):
            out.append((name, "adaptation_set_count", pi, None))
            for ai, aset in enumerate(period["adaptation_sets"]):
                out += [(name, f, pi, ai) for f in _AS_FACTS if f in aset]
    return [
        pytest.param(*c, id=f"{c[0]}::{c[1] if c[2] is None else f'p{c[2]}.as{c[3]}.{c[1]}'}")
        for c in out
    ]


def test_corpus_covers_the_feature_list() -> None:
    assert len(EXPECTED) >= 30
    features = {f for e in EXPECTED.values() for f in e["features"]}
    wanted = {"ll-hls-parts", "preload-hint", "delta-skip", "byterange", "map-byterange"}
    wanted |= {"discontinuity", "sample-aes", "iframes-only", "gap", "interstitials"}
    wanted |= {
        "segment-timeline",
        "template-time",
        "template-width",
        "segment-list",
        "segment-base",
    }
    wanted |= {"multi-period", "dash-dynamic", "presentation-time-offset", "trick-mode", "invalid"}
    assert wanted <= features


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_matches_the_independent_extractor(name: str) -> None:
    """expected.json is what extra_facts.py derives (plus hand-written omissions)."""
    derived = independent_facts(CORPUS / name)
    exp = EXPECTED[name]
    if exp.get("valid") is False:
        assert derived.get("valid") is False
        return
    for key, value in exp.items():
        if key in derived:
            assert derived[key] == value, key


@pytest.mark.parametrize("name", INVALID)
def test_invalid_raises_manifest_error_with_where(name: str) -> None:
    with pytest.raises(ManifestError) as info:
        _parse_any(name)
    assert info.value.where, str(info.value)


@pytest.mark.parametrize("name", VALID)
def test_kind(name: str) -> None:
    assert parsed(name).kind == EXPECTED[name]["kind"]


@pytest.mark.parametrize(("name", "fact", "pi", "ai"), _cases())
def test_fact(name: str, fact: str, pi: int | None, ai: int | None) -> None:
    p = parsed(name)
    exp = EXPECTED[name]
    if name.endswith(".m3u8"):
        got = master_fact(p, fact) if p.kind == "hls-master" else media_fact(p, fact)
        if fact == "extinf_sum":
            assert got == pytest.approx(exp[fact], abs=1e-3)
        else:
            assert got == exp[fact]
        return
    if pi is None:
        got = actual_top(p, fact)
        if fact == "media_presentation_duration" and exp[fact] is not None:
            assert got == pytest.approx(exp[fact], abs=1e-3)
        else:
            assert got == exp[fact]
        return
    want = exp["periods"][pi]
    if fact == "adaptation_set_count":
        assert len(p.periods[pi].tracks) == len(want["adaptation_sets"])
        return
    want_value = want["adaptation_sets"][ai][fact]
    if fact == "bandwidths":  # the model stores a missing @bandwidth as 0; compare raw values
        got = [r.bandwidth for r in p.periods[pi].tracks[ai].renditions]  # type: ignore[index]
        assert got == [0 if b is None else b for b in want_value]
        return
    assert actual_as(p, pi, ai, fact) == want_value  # type: ignore[arg-type]
