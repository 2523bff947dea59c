"""DASH ContentProtection: system names, default KIDs, licence URLs, pssh, and the
:class:`KeyInfo` segments carry.

Licence URLs come from ``dashif:Laurl`` (https://dashif.org/CPS), ``clearkey:Laurl``
(http://dashif.org/guidelines/clearKey) or PlayReady ``ms:laurl@licenseUrl``
elements, resolved against the MPD's URL.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .dash_xml import local_attr, resolve_url, split_tag
from .model import ContentProtection, KeyInfo

__all__ = ["PROTECTION_SYSTEMS", "key_info", "parse_content_protection", "protection_system"]

#: Protection system names by lower-case system UUID.
PROTECTION_SYSTEMS = {
    "e2719d58-a985-b3c9-781a-b030af78d30e": "clearkey",
    "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b": "clearkey",
    "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed": "widevine",
    "9a04f079-9840-4286-ab92-e65be0885f95": "playready",
    "94ce86fb-07ff-4f43-adb8-93d2fa968ca2": "fairplay",
    "5e629af5-38da-4063-8977-97ffbd9902d4": "marlin",
    "f239e769-efa3-4850-9c16-a903c6932efb": "primetime",
}
MP4PROTECTION = "urn:mpeg:dash:mp4protection:2011"
_HEX = frozenset("0123456789abcdef")


def protection_system(scheme_id_uri: str) -> str:
    """``"widevine"``, ``"clearkey"``, ``"mp4protection"``... for a schemeIdUri."""
    low = scheme_id_uri.strip().lower()
    if low == MP4PROTECTION:
        return "mp4protection"
    if low.startswith("urn:uuid:"):
        return PROTECTION_SYSTEMS.get(low[9:], "unknown")
    return "unknown"


def normalise_kid(kid: str | None) -> str | None:
    """``"9EB4050D-E44B-..."`` -> ``"9eb4050de44b..."``; None when not 16 bytes of hex."""
    if kid is None:
        return None
    k = kid.strip().replace("-", "").lower()
    return k if len(k) == 32 and set(k) <= _HEX else None  # placeholders seen in the wild


def parse_content_protection(
    cp: ET.Element, mpd_url: str, refs: dict[str, ET.Element] | None = None
) -> ContentProtection:
    """One ContentProtection element. ``refs`` are the MPD-level elements by @refId:
    an element with @ref takes what it lacks from the one it references."""
    ref = cp.get("ref")
    if ref is not None and refs and ref in refs and refs[ref] is not cp:
        referenced = refs[ref]
        merged = ET.Element(cp.tag, {**referenced.attrib, **cp.attrib})
        merged.extend(list(referenced) + list(cp))
        cp = merged
    scheme = cp.get("schemeIdUri", "")
    licence = None
    pssh = None
    for child in cp.iter():
        _, local = split_tag(child.tag)
        low = local.lower()
        if low in ("laurl", "la_url") and licence is None:
            target = (child.text or "").strip() or (child.get("licenseUrl") or "").strip()
            if target:
                licence = resolve_url(
                    mpd_url, target, where="ContentProtection", url=mpd_url or None
                )
        elif low == "pssh" and pssh is None and child.text:
            pssh = "".join(child.text.split())
    return ContentProtection(
        scheme_id_uri=scheme,
        system=protection_system(scheme),
        value=cp.get("value"),
        default_kid=normalise_kid(local_attr(cp, "default_KID")),
        licence_url=licence,
        pssh=pssh,
    )


def key_info(protection: tuple[ContentProtection, ...]) -> KeyInfo | None:
    """Segment key info from ContentProtection: the mp4protection scheme (cenc, cbcs...)
    and the default KID; None when the Representation is not protected."""
    if not protection:
        return None
    scheme = next((cp for cp in protection if cp.system == "mp4protection"), None)
    kid = next((cp.default_kid for cp in protection if cp.default_kid), None)
    method = (scheme.value or "cenc").strip() if scheme is not None else "cenc"
    return KeyInfo(method=method, kid=kid)
