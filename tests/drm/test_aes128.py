"""HLS full-segment AES-128-CBC with PKCS7."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drm import DecryptError, decrypt_segment, encrypt_segment, iv_for, parse_iv

KEY = bytes(range(16))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2**64))
def test_round_trip_any_length(data, seq):
    iv = iv_for(None, seq)
    enc = encrypt_segment(data, KEY, iv)
    assert len(enc) % 16 == 0 and len(enc) > len(data)
    assert decrypt_segment(enc, KEY, iv) == data


def test_iv_from_tag_or_sequence():
    assert iv_for(None, 1) == b"\x00" * 15 + b"\x01"
    assert iv_for("0x000102030405060708090A0B0C0D0E0F", 9) == bytes(range(16))
    assert parse_iv("000102030405060708090a0b0c0d0e0f") == bytes(range(16))
    for bad in ("0x12", "0xzz", ""):
        with pytest.raises(DecryptError):
            parse_iv(bad)


def test_known_vector():
    # RFC 8216 uses AES-128-CBC + PKCS7; check against cryptography's own CBC
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = os.urandom(16)
    enc = encrypt_segment(b"x" * 16, KEY, iv)
    raw = Cipher(algorithms.AES(KEY), modes.CBC(iv)).decryptor()
    plain = raw.update(enc) + raw.finalize()
    assert plain == b"x" * 16 + bytes([16]) * 16


def test_wrong_key_or_iv_is_a_decrypt_error_naming_the_segment():
    iv = iv_for(None, 3)
    enc = encrypt_segment(os.urandom(1000), KEY, iv)
    failures = 0
    for _ in range(20):
        try:
            decrypt_segment(enc, os.urandom(16), iv, segment="seg-00003.m4s")
        except DecryptError as exc:
            assert exc.segment == "seg-00003.m4s" and KEY.hex() not in str(exc)
            failures += 1
    assert failures >= 18  # a random key leaves valid padding about 1 time in 256
    with pytest.raises(DecryptError, match="whole blocks"):
        decrypt_segment(enc[:-1], KEY, iv, segment="s")
    with pytest.raises(DecryptError):
        decrypt_segment(enc, KEY[:8], iv)
