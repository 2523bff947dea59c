"""Small helpers shared by the HLS parser modules."""

from __future__ import annotations

from urllib.parse import urljoin

from .model import ContentProtection


class Resolver:
    """urljoin against one base, with a fast path for plain relative names."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.dir = urljoin(base, ".") if base and "://" in base else None

    def __call__(self, uri: str) -> str:
        if not self.base:
            return uri
        if (
            self.dir is not None
            and uri
            and uri[0] not in "/.?#"
            and ":" not in uri
            and "/." not in uri
        ):
            return self.dir + uri
        return urljoin(self.base, uri)


_KEYFORMAT_SYSTEMS = {
    "identity": None,
    "com.apple.streamingkeydelivery": "fairplay",
    "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed": "widevine",
    "com.microsoft.playready": "playready",
    "urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95": "playready",
    "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e": "clearkey",
    "urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b": "clearkey",
    "org.w3.clearkey": "clearkey",
}


def protection(method: str, keyformat: str | None, uri: str | None) -> ContentProtection:
    """A ContentProtection for an EXT-X-KEY / EXT-X-SESSION-KEY."""
    fmt = keyformat or "identity"
    system = _KEYFORMAT_SYSTEMS.get(fmt.lower(), "unknown") or method.lower()
    pssh = None
    licence = None
    if uri and uri.startswith("data:") and ";base64," in uri:
        pssh = uri.split(";base64,", 1)[1]
    elif uri:
        licence = uri
    return ContentProtection(
        scheme_id_uri=fmt, system=system, value=method, licence_url=licence, pssh=pssh
    )
