"""mpegdash as an independent oracle for the DASH parser.

abrkit's DASH parser reads the MPD with the standard library's ElementTree
(see the manifest/dash.py docstring for why it does not build on mpegdash:
mpegdash opens non-MPD text as a path/URL, reads every boolean as true and
drops ContentSteering, Laurl and dvb attributes). mpegdash is still a useful
second opinion on structure: for every valid corpus MPD, both must agree on
periods, adaptation sets, representations and their bandwidths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mpegdash.parser import MPEGDASHParser

from manifest.dash import parse_mpd

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
VALID_MPDS = sorted(
    n for n, f in EXPECTED.items() if n.endswith(".mpd") and f.get("valid") is not False
)

# mpegdash 0.4.1 raises on these (non-integer AdaptationSet@id); our parser must not.
MPEGDASH_CANNOT_PARSE = {"streamlink__test_baseurl_urljoin.mpd"}


def _mpegdash_structure(text: str) -> list[list[list[int]]]:
    mpd = MPEGDASHParser.parse(text)
    return [
        [[r.bandwidth or 0 for r in (a.representations or [])] for a in (p.adaptation_sets or [])]
        for p in mpd.periods
    ]


@pytest.mark.parametrize("name", VALID_MPDS)
def test_structure_agrees_with_mpegdash(name: str) -> None:
    text = (CORPUS / name).read_text(encoding="utf-8")
    ours = parse_mpd(text, f"https://example.test/{name}")
    structure = [[[r.bandwidth for r in t.renditions] for t in p.tracks] for p in ours.periods]
    if name in MPEGDASH_CANNOT_PARSE:
        with pytest.raises(ValueError):
            _mpegdash_structure(text)
        assert structure, "our parser must still read what mpegdash cannot"
        return
    assert structure == _mpegdash_structure(text)
