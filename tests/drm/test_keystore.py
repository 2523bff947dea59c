"""The server key store: 0600, reuse, never inside the content directory."""

from __future__ import annotations

import json
import os
import stat

import pytest

from drm import KeyStore, KeyStoreError, default_key_store_path


def test_created_0600_with_random_keys_reused(tmp_path):
    ks = KeyStore(tmp_path / "k" / "store.json")
    a = ks.get_or_create("t1")
    b = ks.get_or_create("t2")
    assert stat.S_IMODE(ks.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ks.path.parent.stat().st_mode) == 0o700
    assert len(a.kid) == len(a.key) == 16 and a.kid != b.kid and a.key != b.key
    again = KeyStore(ks.path)
    assert again.get_or_create("t1") == a and again.find(a.kid_hex) == a
    assert again.find(a.kid) == a and again.find(os.urandom(16)) is None
    assert again.for_title("t2") == (b,)
    assert a.key.hex() not in repr(a)


def test_per_track_and_scheme_keys_differ(tmp_path):
    ks = KeyStore(tmp_path / "s.json")
    v, au = ks.get_or_create("t", track="video"), ks.get_or_create("t", track="audio")
    aes = ks.get_or_create("t", scheme="aes-128")
    assert len({v.kid, au.kid, aes.kid}) == 3


def test_refused_inside_content_dir(tmp_path):
    with pytest.raises(KeyStoreError, match="inside the content directory"):
        KeyStore(tmp_path / "content" / "keys.json", forbid_under=tmp_path / "content")
    KeyStore(tmp_path / "elsewhere.json", forbid_under=tmp_path / "content")


def test_readable_by_others_is_refused(tmp_path):
    ks = KeyStore(tmp_path / "s.json")
    ks.get_or_create("t")
    os.chmod(ks.path, 0o644)
    with pytest.raises(KeyStoreError, match="0600"):
        KeyStore(ks.path).keys()


@pytest.mark.parametrize("body", ["not json", "[]", '{"format": "x"}',
                                  '{"format": "abrkit-keystore/1", "keys": [{"title": 1}]}'])
def test_malformed_store_is_a_clear_error(tmp_path, body):
    p = tmp_path / "s.json"
    p.write_text(body)
    os.chmod(p, 0o600)
    with pytest.raises(KeyStoreError) as info:
        KeyStore(p).keys()
    assert str(p) in str(info.value)


def test_missing_store_is_empty_and_default_path_env(tmp_path, monkeypatch):
    assert KeyStore(tmp_path / "none.json").keys() == ()
    monkeypatch.setenv("ABRKIT_KEY_STORE", str(tmp_path / "x.json"))
    assert default_key_store_path() == tmp_path / "x.json"
    monkeypatch.delenv("ABRKIT_KEY_STORE")
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))
    assert default_key_store_path() == tmp_path / "keys" / "keystore.json"


def test_file_format(tmp_path):
    ks = KeyStore(tmp_path / "s.json")
    k = ks.get_or_create("t")
    data = json.loads(ks.path.read_text())
    assert data["format"] == "abrkit-keystore/1"
    assert data["keys"] == [{"title": "t", "track": None, "scheme": "cenc",
                             "kid": k.kid_hex, "key": k.key.hex()}]
