"""abrkit's DRM: ClearKey end to end.

- :class:`LicenceClient` — W3C EME ClearKey licence exchange bound to a session
  token: retries, a per-session key cache, renewal before expiry, heartbeats,
  release; reports :class:`LicenceReport` (latency, never keys).
- :class:`DrmSession` — which KIDs a rendition needs (manifest descriptors or
  the init segment's ``tenc``), decryption of CENC (FFmpeg's demuxer option)
  and HLS AES-128 (``cryptography``), decoding with errors naming KID and segment.
- :class:`KeyStore` — the server's key file (0600, never in the content dir).
- :mod:`drm.redact` — key forms, a logging filter, a checker for tests.

Errors: :class:`DrmError` and its tree in :mod:`drm.errors`. ``drm`` is a leaf:
it imports nothing else of abrkit's (manifest objects are read by attribute).
"""

from .aes128 import decrypt_segment, encrypt_segment, iv_for, parse_iv
from .cenc import TrackEncryption, decode_segment, demuxer_options, read_tenc
from .errors import (
    DecryptError,
    DrmError,
    KeyNotFoundError,
    KeyStoreError,
    LicenceDenied,
    LicenceError,
)
from .keystore import ContentKey, KeyStore, default_key_store_path
from .licence import (
    LicenceClient,
    LicenceConfig,
    LicenceReport,
    b64url_decode,
    b64url_encode,
    licence_request_body,
    parse_licence_response,
)
from .redact import REDACTED, RedactingFilter, contains_key_material, key_forms, redact
from .session import CLEARKEY_SYSTEM_ID, DrmSession, kids_from, licence_url_from

__all__ = [
    "CLEARKEY_SYSTEM_ID",
    "REDACTED",
    "ContentKey",
    "DecryptError",
    "DrmError",
    "DrmSession",
    "KeyNotFoundError",
    "KeyStore",
    "KeyStoreError",
    "LicenceClient",
    "LicenceConfig",
    "LicenceDenied",
    "LicenceError",
    "LicenceReport",
    "RedactingFilter",
    "TrackEncryption",
    "b64url_decode",
    "b64url_encode",
    "contains_key_material",
    "decode_segment",
    "decrypt_segment",
    "default_key_store_path",
    "demuxer_options",
    "encrypt_segment",
    "iv_for",
    "key_forms",
    "kids_from",
    "licence_request_body",
    "licence_url_from",
    "parse_iv",
    "parse_licence_response",
    "read_tenc",
    "redact",
]
