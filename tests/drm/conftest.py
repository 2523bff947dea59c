"""Tiny CENC media made with FFmpeg's muxer (64x48, 2 GOPs) for the drm tests."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import av
import numpy as np
import pytest

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+cmaf"


@dataclass(frozen=True)
class Media:
    init: bytes
    segments: list[bytes]
    key: bytes
    kid: bytes
    frames_per_segment: int


def make_cenc(key: bytes | None, kid: bytes | None, *, gops: int = 2, gop: int = 10) -> Media:
    from server.packager import fmp4

    opts = {"movflags": MOVFLAGS}
    if key is not None and kid is not None:
        opts |= {"encryption_scheme": "cenc-aes-ctr", "encryption_key": key.hex(),
                 "encryption_kid": kid.hex()}
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options=opts) as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
                     "preset": "ultrafast", "bframes": "0"}
        rng = np.random.default_rng(1)
        for i in range(gops * gop):
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)  # noisy: real slices
            img[:, : i * 3 % 64] = 0
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    init, frags = fmp4.split_fragmented(buf.getvalue())
    return Media(init, frags, key or b"", kid or b"", gop)


@pytest.fixture(scope="session")
def cenc_media() -> Media:
    return make_cenc(os.urandom(16), os.urandom(16))


@pytest.fixture(scope="session")
def clear_media() -> Media:
    return make_cenc(None, None)
