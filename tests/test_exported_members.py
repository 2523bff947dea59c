"""Every package has an explicit public surface (``__all__``) and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["manifest", "abr", "player", "telemetry", "drm", "server"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


def test_manifest_parse_is_the_function() -> None:
    import manifest

    assert callable(manifest.parse)
    p = manifest.parse("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n", "http://h/x.m3u8")
    assert p.kind == "hls-media"
