"""Key material never reaches log output."""

from __future__ import annotations

import base64
import logging
import os

from drm import REDACTED, RedactingFilter, contains_key_material, key_forms, redact


def test_key_forms_cover_hex_and_base64():
    key = os.urandom(16)
    forms = key_forms(key)
    assert key.hex() in forms and key.hex().upper() in forms
    assert base64.b64encode(key).decode() in forms
    assert base64.urlsafe_b64encode(key).decode().rstrip("=") in forms


def test_redact_and_detect():
    key = os.urandom(16)
    text = f"a {key.hex()} b {base64.b64encode(key).decode()} c " + '{"k": "abc"}'
    assert contains_key_material(text, [key])
    clean = redact(text, [key])
    assert not contains_key_material(clean, [key]) and clean.count(REDACTED) == 3
    assert contains_key_material(key.hex().upper(), [key])
    assert not contains_key_material("nothing here", [key])


def test_filter_scrubs_records(caplog):
    key = os.urandom(16)
    f = RedactingFilter()
    f.add_key(key)
    logger = logging.getLogger("test.drm.redact")
    caplog.handler.addFilter(f)
    try:
        with caplog.at_level(logging.DEBUG, logger="test.drm.redact"):
            logger.debug("key is %s", key.hex())
            logger.info("jwk %s", '{"kty":"oct","k":"c2VjcmV0"}')
    finally:
        caplog.handler.removeFilter(f)
    assert all(not contains_key_material(r.getMessage(), [key]) for r in caplog.records)
    assert "c2VjcmV0" not in caplog.text
