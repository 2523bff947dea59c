"""drm's public surface, and the leaf rule: it imports nothing else of abrkit's."""

from __future__ import annotations

import ast
from pathlib import Path

import drm

EXPECTED = {
    "CLEARKEY_SYSTEM_ID", "REDACTED", "ContentKey", "DecryptError", "DrmError", "DrmSession",
    "KeyNotFoundError", "KeyStore", "KeyStoreError", "LicenceClient", "LicenceConfig",
    "LicenceDenied", "LicenceError", "LicenceReport", "RedactingFilter", "TrackEncryption",
    "b64url_decode", "b64url_encode", "contains_key_material", "decode_segment",
    "decrypt_segment", "default_key_store_path", "demuxer_options", "encrypt_segment", "iv_for",
    "key_forms", "kids_from", "licence_request_body", "licence_url_from", "parse_iv",
    "parse_licence_response", "read_tenc", "redact",
}


def test_all_is_the_public_surface():
    assert set(drm.__all__) == EXPECTED
    for name in drm.__all__:
        assert getattr(drm, name) is not None


def test_error_tree():
    assert all(issubclass(getattr(drm, n), drm.DrmError) for n in
               ("LicenceError", "LicenceDenied", "KeyNotFoundError", "DecryptError",
                "KeyStoreError"))
    assert issubclass(drm.LicenceDenied, drm.LicenceError)
    assert not issubclass(drm.DrmError, KeyError)


def test_drm_is_a_leaf():
    ours = {"abr", "manifest", "player", "server", "telemetry", "benchmarks"}
    for path in Path(drm.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & ours, (path.name, names)
