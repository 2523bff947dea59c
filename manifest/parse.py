"""Format detection and the one entry point: ``parse(text, url)``."""

from __future__ import annotations

from .errors import ManifestSyntaxError
from .model import Presentation


def sniff(text: str | bytes, url: str = "") -> str:
    """Return ``"hls"`` or ``"dash"`` for a manifest's text, or raise ManifestSyntaxError."""
    if isinstance(text, bytes):
        head = text[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"#EXTM3U"):
            return "hls"
        if head.startswith(b"<"):
            return "dash"
    else:
        head_s = text[:2048].lstrip("\ufeff \t\r\n")
        if head_s.startswith("#EXTM3U"):
            return "hls"
        if head_s.startswith("<"):
            return "dash"
    lowered = url.lower().split("?", 1)[0]
    if lowered.endswith(".m3u8") or lowered.endswith(".m3u"):
        return "hls"
    if lowered.endswith(".mpd"):
        return "dash"
    raise ManifestSyntaxError(
        "neither an HLS playlist (#EXTM3U) nor a DASH MPD (XML)", where="line 1", url=url or None
    )


def parse(text: str | bytes, url: str = "") -> Presentation:
    """Parse an HLS playlist (master or media) or a DASH MPD into a :class:`Presentation`.

    ``url`` is where the text came from; relative URIs resolve against it.
    Raises :class:`manifest.ManifestError` (and nothing else) on bad input.
    """
    kind = sniff(text, url)
    if kind == "hls":
        from .hls import parse_hls

        return parse_hls(text, url)
    from .dash import parse_mpd

    return parse_mpd(text, url)
