"""Errors of the DRM client and key store (``drm``).

One root; messages name the KID (hex, a public identifier) and the segment
or URL at fault, and never carry key material::

    DrmError                    anything drm raises on purpose (.code, .kid, .segment)
     ├── LicenceError           licence/key acquisition failed (.status, .reason)
     │    └── LicenceDenied     the server refused: 401 / 403 / 429 (not retried)
     ├── KeyNotFoundError       no key for a KID (licence did not carry it)
     ├── DecryptError           a segment does not decrypt/decode with the key it names
     └── KeyStoreError          the server-side key store file is unusable
"""

from __future__ import annotations

__all__ = [
    "DecryptError",
    "DrmError",
    "KeyNotFoundError",
    "KeyStoreError",
    "LicenceDenied",
    "LicenceError",
]


class DrmError(Exception):
    """Root of the drm package. ``code`` is stable (``"licence"``, ``"denied"``,
    ``"no_key"``, ``"decrypt"``, ``"key_store"``); ``kid`` (hex) and ``segment``
    (URL or name) say where, when known."""

    code = "drm"

    def __init__(self, message: str, *, kid: str | None = None, segment: str | None = None) -> None:
        self.message = message
        self.kid = kid
        self.segment = segment
        where = []
        if kid:
            where.append(f"kid {kid}")
        if segment:
            where.append(f"segment {segment}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class LicenceError(DrmError):
    """The licence (or AES-128 key) could not be acquired. ``status`` is the HTTP
    status when there was one; ``reason`` the server's reason or the transport error."""

    code = "licence"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        kid: str | None = None,
        segment: str | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message, kid=kid, segment=segment)


class LicenceDenied(LicenceError):
    """401 (token missing/forged/expired), 403 (other title, unknown KID) or 429
    (concurrent-stream limit). ``error`` is the server's error name."""

    code = "denied"

    def __init__(self, message: str, *, status: int, error: str, reason: str | None) -> None:
        self.error = error
        super().__init__(message, status=status, reason=reason)


class KeyNotFoundError(DrmError):
    code = "no_key"


class DecryptError(DrmError):
    code = "decrypt"


class KeyStoreError(DrmError):
    code = "key_store"
