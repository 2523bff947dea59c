"""CENC decryption through FFmpeg's demuxer option; what happens without the key."""

from __future__ import annotations

import os

import pytest

from drm import DecryptError, decode_segment, demuxer_options, read_tenc


def test_tenc_names_scheme_and_kid(cenc_media):
    (t,) = read_tenc(cenc_media.init)
    assert t.scheme == "cenc" and t.original_format == "avc1"
    assert t.kid == cenc_media.kid.hex() and t.iv_size in (8, 16) and t.track_id == 1


def test_clear_init_has_no_tenc(clear_media):
    assert read_tenc(clear_media.init) == ()
    assert read_tenc(b"") == () and read_tenc(b"\x00\x00\x00\x08moov") == ()


def test_every_frame_decodes_with_the_key(cenc_media):
    for seg in cenc_media.segments:
        frames = decode_segment(cenc_media.init, seg, cenc_media.key, kid=cenc_media.kid.hex())
        assert len(frames) == cenc_media.frames_per_segment


def test_without_key_ffmpeg_refuses_and_we_name_kid_and_segment(cenc_media):
    kid = cenc_media.kid.hex()
    with pytest.raises(DecryptError) as info:
        decode_segment(cenc_media.init, cenc_media.segments[0], None, kid=kid, name="seg-1.m4s")
    assert info.value.kid == kid and info.value.segment == "seg-1.m4s"
    assert kid in str(info.value) and "seg-1.m4s" in str(info.value)
    assert "no key given" in str(info.value)


def test_wrong_key_is_a_decrypt_error_without_key_material(cenc_media):
    wrong = os.urandom(16)
    with pytest.raises(DecryptError) as info:
        decode_segment(cenc_media.init, cenc_media.segments[1], wrong, name="s2")
    text = str(info.value)
    assert wrong.hex() not in text and cenc_media.key.hex() not in text


def test_demuxer_options_hex():
    assert demuxer_options(bytes(range(16))) == {"decryption_key": bytes(range(16)).hex()}


def test_clear_media_decodes_without_key(clear_media):
    assert len(decode_segment(clear_media.init, clear_media.segments[0], None)) == 10
