"""The reference packager: a source video in, a CMAF ladder with HLS and DASH out.

    package(source, out, segment_seconds=4.0, ladder=DEFAULT_LADDER, title=None,
            progress=None) -> Catalog
    ensure_demo_title(cache_dir) -> Path          # cache_dir/demo, packaged once
    load_catalog(title_dir) -> Catalog

See docs/packaging.md for the output layout and the encoding settings.
"""

from .catalog import Catalog, RenditionEntry, load_catalog
from .ladder import DEFAULT_LADDER, Rung, ScaledRung, fit_ladder, parse_ladder
from .package import DEMO_TITLE, Progress, ensure_demo_title, package

__all__ = [
    "DEFAULT_LADDER",
    "DEMO_TITLE",
    "Catalog",
    "Progress",
    "RenditionEntry",
    "Rung",
    "ScaledRung",
    "ensure_demo_title",
    "fit_ladder",
    "load_catalog",
    "package",
    "parse_ladder",
]
