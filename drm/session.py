"""One playback session's DRM: which keys a rendition needs, getting them, and
turning protected segments into decodable data.

``DrmSession`` composes :mod:`.licence`, :mod:`.cenc` and :mod:`.aes128`. It reads
manifest protection descriptors by attribute (``system``, ``default_kid``,
``licence_url`` of ``manifest.ContentProtection``; ``method``, ``uri``, ``iv`` of
``manifest.KeyInfo``) so ``drm`` imports nothing else of abrkit's.

Typical use (what the player's decode step does)::

    drm = DrmSession(LicenceClient(grant["licence_url"], grant["token"], on_licence=cb))
    drm.prepare(rendition.protection)             # licence before the first segment
    frames = drm.decode(init, data, key_info=seg.key, sequence=seg.number, name=seg.url)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import aes128, cenc
from .errors import DecryptError, DrmError
from .licence import LicenceClient

__all__ = ["CLEARKEY_SYSTEM_ID", "DrmSession", "licence_url_from"]

CLEARKEY_SYSTEM_ID = "e2719d58-a985-b3c9-781a-b030af78d30e"


def licence_url_from(protection: Iterable[Any]) -> str | None:
    """The ClearKey licence URL a manifest carries (DASH ``dashif:Laurl``, HLS key URI)."""
    for cp in protection:
        if getattr(cp, "system", None) == "clearkey" and getattr(cp, "licence_url", None):
            return str(cp.licence_url)
    return None


def kids_from(protection: Iterable[Any]) -> tuple[str, ...]:
    """Default KIDs (hex) named by protection descriptors."""
    return tuple(dict.fromkeys(
        str(cp.default_kid).lower() for cp in protection if getattr(cp, "default_kid", None)
    ))


class DrmSession:
    """Keys and decryption for one playback session (wraps one :class:`LicenceClient`)."""

    def __init__(self, licence: LicenceClient) -> None:
        self.licence = licence
        self._tenc: dict[bytes, tuple[cenc.TrackEncryption, ...]] = {}
        self._segment_keys: dict[str, tuple[Any, int]] = {}

    def index(self, presentation: Any) -> int:
        """Remember the key info and sequence number of every segment URL of
        ``presentation`` (a ``manifest.Presentation``), so :meth:`decrypt` and
        :meth:`decode` find them by ``name=<segment URL>`` alone. Returns how
        many segments carry a key."""
        n = 0
        for r in presentation.renditions():
            idx = getattr(r, "segments", None)
            for seg in getattr(idx, "segments", ()) or ():
                if seg.key is not None and seg.key.method not in ("NONE", None):
                    self._segment_keys[seg.url] = (seg.key, seg.number)
                    n += 1
        return n

    def prepare(self, protection: Iterable[Any]) -> tuple[str, ...]:
        """Acquire the licence for every default KID in ``protection`` (a rendition's,
        a track's or the presentation's descriptors); returns those KIDs."""
        kids = kids_from(protection)
        if kids and not all(self.licence.has_key(k) for k in kids):
            self.licence.acquire(kids)
        return kids

    def track_encryption(self, init: bytes) -> tuple[cenc.TrackEncryption, ...]:
        t = self._tenc.get(init)
        if t is None:
            t = cenc.read_tenc(init)
            if len(self._tenc) >= 8:  # a few inits (rungs, audio) at a time are enough
                self._tenc.clear()
            self._tenc[init] = t
        return t

    def demuxer_options(self, init: bytes, *, name: str | None = None) -> dict[str, str]:
        """``av.open`` options for ``init + segment``: empty when the init is clear,
        else the decryption key of its KID (acquired if needed). Holds key material."""
        enc = self.track_encryption(init)
        if not enc:
            return {}
        kid = enc[0].kid
        if enc[0].scheme not in ("cenc", ""):
            raise DecryptError(f"scheme {enc[0].scheme!r} is not supported (cenc only)",
                               kid=kid, segment=name)
        return cenc.demuxer_options(self.licence.key(kid, segment=name))

    def decrypt(self, data: bytes, *, key_info: Any = None, sequence: int = 0,
                name: str | None = None) -> bytes:
        """Undo HLS full-segment AES-128 (``key_info.method == "AES-128"``); other data
        is returned as is (``cenc`` is decrypted by the demuxer, see :meth:`decode`)."""
        if key_info is None and name is not None and name in self._segment_keys:
            key_info, sequence = self._segment_keys[name]
        method = getattr(key_info, "method", None) if key_info is not None else None
        if method != "AES-128":
            return data
        uri = getattr(key_info, "uri", None)
        if not uri:
            raise DecryptError("AES-128 key without a URI", segment=name)
        key = self.licence.uri_key(uri, segment=name)
        iv = aes128.iv_for(getattr(key_info, "iv", None), sequence)
        return aes128.decrypt_segment(data, key, iv, segment=name)

    def decode(self, init: bytes, data: bytes, *, key_info: Any = None, sequence: int = 0,
               name: str | None = None, kind: str = "video") -> list[Any]:
        """Every decoded frame of one protected (or clear) segment; any failure is a
        :class:`DrmError` naming the KID and the segment."""
        clear = self.decrypt(data, key_info=key_info, sequence=sequence, name=name)
        enc = self.track_encryption(init)
        if not enc:
            return cenc.decode_segment(init, clear, None, name=name, kind=kind)
        kid = enc[0].kid
        try:
            key = self.licence.key(kid, segment=name)
        except DrmError:
            raise
        return cenc.decode_segment(init, clear, key, kid=kid, name=name, kind=kind)
