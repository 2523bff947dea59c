"""``abrkit package --encrypt``: keys only in the key store, manifests carry the
protection, re-runs reuse keys and renditions, bad options exit 2."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from drm import KeyStore, contains_key_material, decode_segment, read_tenc
from manifest.dash import parse_mpd
from manifest.hls import parse_media_playlist
from player.cli import main as cli_main
from server.errors import PackagerError
from server.packager import Rung, package
from server.packager.demo_source import write_demo_source
from server.packager.encrypt import EncryptOptions

LADDER = (Rung(90, 100_000),)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_demo_source(tmp_path_factory.mktemp("src") / "tiny.mp4", duration=2.0,
                             width=320, height=180, fps=15)


def test_cenc_title_keys_manifests_and_reuse(source, tmp_path):
    store = tmp_path / "private" / "ks.json"
    opts = EncryptOptions("cenc", store, "http://lic.example/licence/{title}", per_track=True)
    c = package(source, tmp_path / "out", segment_seconds=1.0, ladder=LADDER, encrypt=opts)
    ks = KeyStore(store)
    keys = {k.track: k for k in ks.for_title(c.title)}
    assert set(keys) == {"video", "audio"} and keys["video"].kid != keys["audio"].kid
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    mpd = parse_mpd((c.directory / "manifest.mpd").read_text(), "http://e/tiny/manifest.mpd")
    for t in mpd.tracks():
        kid = keys[t.type].kid_hex
        assert [(cp.system, cp.default_kid, cp.licence_url) for cp in t.protection] == [
            ("mp4protection", kid, None), ("clearkey", None, "http://lic.example/licence/tiny")]
        assert t.renditions[0].segments.segments[0].key.kid == kid
    url = "http://e/tiny/video/90p/playlist.m3u8"
    idx = parse_media_playlist((c.directory / "video/90p/playlist.m3u8").read_text(), url)
    k = idx.segments[0].key
    assert (k.method, k.keyformat, k.uri) == ("SAMPLE-AES-CTR", "org.w3.clearkey",
                                               "http://lic.example/licence/tiny")
    init = (c.directory / "video/90p/init.mp4").read_bytes()
    assert read_tenc(init)[0].kid == keys["video"].kid_hex
    seg = (c.directory / "video/90p/seg-00001.m4s").read_bytes()
    assert len(decode_segment(init, seg, keys["video"].key)) == 15
    everything = [p.read_bytes().decode("latin-1") for p in c.directory.rglob("*") if p.is_file()]
    assert not any(contains_key_material(t, [k.key for k in keys.values()]) for t in everything)
    # a re-run reuses keys and renditions (no new encode: same segment bytes)
    again = package(source, tmp_path / "out", segment_seconds=1.0, ladder=LADDER, encrypt=opts)
    assert again.settings_hash == c.settings_hash
    assert (c.directory / "video/90p/seg-00001.m4s").read_bytes() == seg
    assert {k.track: k for k in KeyStore(store).for_title("tiny")} == keys
    # clear packaging of the same title re-encodes (different settings)
    clear = package(source, tmp_path / "out", segment_seconds=1.0, ladder=LADDER)
    assert clear.settings_hash != c.settings_hash
    assert read_tenc((c.directory / "video/90p/init.mp4").read_bytes()) == ()


def test_aes128_title_is_hls_only_with_per_segment_ivs(source, tmp_path):
    store = tmp_path / "ks.json"
    c = package(source, tmp_path / "out", segment_seconds=1.0, ladder=LADDER,
                encrypt=EncryptOptions("aes-128", store, "http://lic/licence/{title}"))
    (key,) = KeyStore(store).for_title("tiny")
    assert not (c.directory / "manifest.mpd").exists()
    url = "http://e/tiny/video/90p/playlist.m3u8"
    idx = parse_media_playlist((c.directory / "video/90p/playlist.m3u8").read_text(), url)
    ivs = {s.key.iv for s in idx.segments}
    assert len(ivs) == len(idx.segments) == 2
    assert all(s.key.method == "AES-128" and s.key.uri == f"http://lic/licence/tiny/key/{key.kid_hex}"
               for s in idx.segments)
    from drm import decrypt_segment, parse_iv

    init = (c.directory / "video/90p/init.mp4").read_bytes()
    assert read_tenc(init) == ()  # init stays clear
    for s in idx.segments:
        data = (c.directory / "video/90p" / s.url.rsplit("/", 1)[1]).read_bytes()
        assert len(decode_segment(init, decrypt_segment(data, key.key, parse_iv(s.key.iv)),
                                  None)) > 0


def test_key_store_inside_content_dir_and_bad_options(source, tmp_path):
    with pytest.raises(PackagerError, match="inside the content directory"):
        package(source, tmp_path / "out", ladder=LADDER,
                encrypt=EncryptOptions("cenc", tmp_path / "out" / "keys.json"))
    assert not (tmp_path / "out" / "tiny").exists()
    with pytest.raises(PackagerError, match="licence URL"):
        package(source, tmp_path / "out", ladder=LADDER,
                encrypt=EncryptOptions("cenc", tmp_path / "k.json", "ftp://x"))
    with pytest.raises(PackagerError, match="unknown scheme"):
        package(source, tmp_path / "out", ladder=LADDER,
                encrypt=EncryptOptions("rot13", tmp_path / "k.json"))


def test_cli_encrypt(source, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli_main(["package", str(source), "--out", str(out), "--ladder", "90p",
                     "--segment-seconds", "1", "--encrypt", "cenc", "--quiet",
                     "--key-store", str(tmp_path / "k" / "ks.json"),
                     "--licence-url", "http://127.0.0.1:9/licence/{title}"])
    assert code == 0
    assert "http://127.0.0.1:9/licence/tiny" in (out / "tiny" / "manifest.mpd").read_text()
    code = cli_main(["package", str(source), "--out", str(out), "--encrypt", "cenc", "-q",
                     "--key-store", str(out / "ks.json")])
    assert code == 2
    assert "inside the content directory" in capsys.readouterr().err
