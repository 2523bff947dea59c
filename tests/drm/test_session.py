"""DrmSession: KIDs from descriptors, AES-128 by segment URL, CENC through the init's tenc."""

from __future__ import annotations

import os

import httpx
import pytest

from drm import (
    DecryptError,
    DrmSession,
    KeyNotFoundError,
    LicenceClient,
    b64url_decode,
    b64url_encode,
    encrypt_segment,
    iv_for,
    kids_from,
    licence_url_from,
)
from manifest import (
    ContentProtection,
    InitSegment,
    KeyInfo,
    Period,
    Presentation,
    Rendition,
    Segment,
    SegmentIndex,
    Track,
)

AES_KEY = os.urandom(16)


def _session(keys: dict[bytes, bytes]) -> DrmSession:
    import json

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, content=AES_KEY)
        kids = [b64url_decode(k) for k in json.loads(request.content)["kids"]]
        return httpx.Response(200, json={"keys": [
            {"kty": "oct", "kid": b64url_encode(k), "k": b64url_encode(keys[k])}
            for k in kids if k in keys]})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return DrmSession(LicenceClient("http://lic/licence/t", "tok", http=http))


def test_descriptors():
    prot = (ContentProtection("urn:mpeg:dash:mp4protection:2011", "mp4protection", "cenc",
                              default_kid="ab" * 16),
            ContentProtection("urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e", "clearkey",
                              licence_url="http://lic/x"))
    assert kids_from(prot) == ("ab" * 16,)
    assert licence_url_from(prot) == "http://lic/x" and licence_url_from(()) is None


def test_cenc_decode_through_tenc(cenc_media):
    drm = _session({cenc_media.kid: cenc_media.key})
    frames = drm.decode(cenc_media.init, cenc_media.segments[0], name="s1")
    assert len(frames) == cenc_media.frames_per_segment
    assert drm.demuxer_options(cenc_media.init) == {"decryption_key": cenc_media.key.hex()}


def test_missing_key_names_kid_and_segment(cenc_media):
    drm = _session({})
    with pytest.raises(KeyNotFoundError) as info:
        drm.decode(cenc_media.init, cenc_media.segments[1], name="video/seg-00002.m4s")
    assert info.value.kid == cenc_media.kid.hex()
    assert info.value.segment == "video/seg-00002.m4s"


def test_wrong_key_is_a_decrypt_error(cenc_media):
    drm = _session({cenc_media.kid: os.urandom(16)})
    with pytest.raises(DecryptError) as info:
        drm.decode(cenc_media.init, cenc_media.segments[0], name="s1")
    assert info.value.kid == cenc_media.kid.hex() and info.value.segment == "s1"


def test_aes128_by_segment_url(clear_media):
    uri = "http://lic/licence/t/key/" + "cd" * 16
    segs = []
    blobs = {}
    for i, data in enumerate(clear_media.segments, start=1):
        url = f"http://edge/t/v/seg-{i:05d}.m4s"
        key = KeyInfo("AES-128", uri=uri, iv=None if i == 1 else "0x" + os.urandom(16).hex())
        iv = iv_for(key.iv, i)
        blobs[url] = encrypt_segment(data, AES_KEY, iv)
        segs.append(Segment(url=url, start=float(i - 1), duration=1.0, number=i, key=key))
    idx = SegmentIndex("hls", tuple(segs), init=InitSegment("http://edge/t/v/init.mp4"))
    p = Presentation("hls", "hls-media", "http://edge/t/v/p.m3u8", False, 2.0, (Period(
        None, 0.0, 2.0, (Track("v", "video", (Rendition("v", 1, segments=idx),)),)),))
    drm = _session({})
    assert drm.index(p) == 2
    for url, blob in blobs.items():
        frames = drm.decode(clear_media.init, blob, name=url)
        assert len(frames) == clear_media.frames_per_segment
    assert drm.decrypt(b"clear", name="http://elsewhere") == b"clear"
