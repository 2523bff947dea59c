"""The built-in demo source: a synthetic clip made with numpy and PyAV.

Scrolling colour bars over a moving gradient, a box that sweeps across the
picture, and a burned-in frame counter and clock drawn with a tiny 7-segment
font, plus a 440 Hz tone with an 880 Hz blip at the start of every second
(so A/V sync can be checked by eye and ear). Default: 60 s of 1280x720 at
30 fps; H.264 (ultrafast, CRF 18) + AAC in an MP4.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "DEMO_DURATION", "DEMO_FPS", "DEMO_HEIGHT", "DEMO_WIDTH", "draw_frame", "write_demo_source",
]

DEMO_DURATION = 60.0  # seconds
DEMO_WIDTH, DEMO_HEIGHT = 1280, 720
DEMO_FPS = 30
_SAMPLE_RATE = 48_000

# 7-segment layout: a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left), g (middle)
_SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
    "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
    "-": "g", ":": "", ".": "", " ": "",
}

_BARS = np.array(
    [[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0],
     [192, 0, 192], [192, 0, 0], [0, 0, 192], [16, 16, 16]], dtype=np.uint8)


def _glyph(ch: str, h: int) -> np.ndarray:
    """A boolean bitmap (h, w) of one character, w = h // 2."""
    w = h // 2
    t = max(2, h // 10)  # stroke thickness
    g = np.zeros((h, w), dtype=bool)
    mid = h // 2
    if ch == ":":
        g[h // 3 - t : h // 3 + t, w // 2 - t : w // 2 + t] = True
        g[2 * h // 3 - t : 2 * h // 3 + t, w // 2 - t : w // 2 + t] = True
        return g
    if ch == ".":
        g[h - 2 * t :, w // 2 - t : w // 2 + t] = True
        return g
    segs = _SEGMENTS.get(ch, "")
    if "a" in segs:
        g[:t, :] = True
    if "d" in segs:
        g[h - t :, :] = True
    if "g" in segs:
        g[mid - t // 2 : mid - t // 2 + t, :] = True
    if "f" in segs:
        g[: mid + t // 2, :t] = True
    if "b" in segs:
        g[: mid + t // 2, w - t :] = True
    if "e" in segs:
        g[mid - t // 2 :, :t] = True
    if "c" in segs:
        g[mid - t // 2 :, w - t :] = True
    return g


def _text_mask(text: str, h: int) -> np.ndarray:
    gap = max(2, h // 8)
    glyphs = [_glyph(ch, h) for ch in text]
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1)
    mask = np.zeros((h, width), dtype=bool)
    x = 0
    for g in glyphs:
        mask[:, x : x + g.shape[1]] = g
        x += g.shape[1] + gap
    return mask


def _yuv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y'CbCr of (..., 3) RGB values, as float."""
    m = np.array([[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]])
    return rgb.astype(np.float64) @ m.T + np.array([16.0, 128.0, 128.0])


def draw_frame(n: int, width: int, height: int, fps: int) -> np.ndarray:
    """Frame ``n`` as a yuv420p array (height * 3 // 2, width), ready for
    ``av.VideoFrame.from_ndarray(..., format="yuv420p")``. Width and height even.

    The picture is built per column (bars on top, a gradient below) and then the
    box and the counter are painted, so no per-pixel colour conversion is needed.
    """
    bar_w = max(1, width // 7)
    cols = (np.arange(width) + n * 4) // bar_w % len(_BARS)
    top = (height * 2 // 3) // 2 * 2
    ramp = (np.arange(width) * 255 // max(1, width - 1) + n * 3) % 256
    grad = np.stack([ramp, ramp[::-1], np.full(width, (n * 2) % 256)], axis=1)
    yuv_top = _yuv(_BARS[cols])  # (w, 3)
    yuv_bot = _yuv(grad)
    y = np.empty((height, width), dtype=np.uint8)
    y[:top] = yuv_top[:, 0].astype(np.uint8)
    y[top:] = yuv_bot[:, 0].astype(np.uint8)
    ch, cw = height // 2, width // 2
    u = np.empty((ch, cw), dtype=np.uint8)
    v = np.empty((ch, cw), dtype=np.uint8)
    t2 = top // 2
    u[:t2] = yuv_top[::2, 1].astype(np.uint8)[:cw]
    v[:t2] = yuv_top[::2, 2].astype(np.uint8)[:cw]
    u[t2:] = yuv_bot[::2, 1].astype(np.uint8)[:cw]
    v[t2:] = yuv_bot[::2, 2].astype(np.uint8)[:cw]

    def paint(y0: int, y1: int, x0: int, x1: int, luma: int) -> None:
        y[y0:y1, x0:x1] = luma
        u[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2] = 128
        v[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2] = 128

    # a white box sweeping left to right
    box = max(8, height // 8) // 2 * 2
    bx = (n * 8) % max(1, width - box) // 2 * 2
    by = (top + (height - top - box) // 2) // 2 * 2
    paint(by, by + box, bx, bx + box, 235)
    # burned-in frame counter and clock, white on a black panel
    secs = n / fps
    text = f"{n:05d} {int(secs // 60):02d}:{secs % 60:05.2f}"
    h = max(10, (height // 10) // 2 * 2)
    mask = _text_mask(text, h)
    pad = max(2, h // 4 // 2 * 2)
    mh, mw = mask.shape
    mw = min(mw, width - 4 * pad)
    paint(pad, min(height, 3 * pad + mh), pad, 3 * pad + mw, 16)
    region = y[2 * pad : 2 * pad + mh, 2 * pad : 2 * pad + mw]
    region[mask[: region.shape[0], : region.shape[1]]] = 235
    return np.concatenate([y, u.reshape(-1, width), v.reshape(-1, width)], axis=0)


def _tone(start: int, count: int) -> np.ndarray:
    t = (np.arange(start, start + count) / _SAMPLE_RATE).astype(np.float64)
    freq = np.where((t % 1.0) < 0.1, 880.0, 440.0)
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_demo_source(
    path: Path,
    *,
    duration: float = DEMO_DURATION,
    width: int = DEMO_WIDTH,
    height: int = DEMO_HEIGHT,
    fps: int = DEMO_FPS,
    progress: Callable[[float, float], None] | None = None,
) -> Path:
    """Write the demo clip to ``path`` (atomically: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frames = int(round(duration * fps))
    try:
        with av.open(str(tmp), "w", format="mp4") as c:
            vs = c.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.codec_context.time_base = Fraction(1, fps)
            vs.options = {"preset": "ultrafast", "crf": "18"}
            aud = c.add_stream("aac", rate=_SAMPLE_RATE, layout="stereo")
            aud.bit_rate = 192_000
            apos = 0
            for n in range(frames):
                f = av.VideoFrame.from_ndarray(draw_frame(n, width, height, fps), format="yuv420p")
                f.pts = n
                f.time_base = Fraction(1, fps)
                c.mux(vs.encode(f))
                aend = round((n + 1) * _SAMPLE_RATE / fps)
                while apos + 1024 <= aend:
                    tone = _tone(apos, 1024)
                    af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp",
                                                    layout="stereo")
                    af.sample_rate, af.pts = _SAMPLE_RATE, apos
                    af.time_base = Fraction(1, _SAMPLE_RATE)
                    c.mux(aud.encode(af))
                    apos += 1024
                if progress is not None and n % 30 == 0:
                    progress(n / fps, frames / fps)
            c.mux(vs.encode(None))
            c.mux(aud.encode(None))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if progress is not None:
        progress(frames / fps, frames / fps)
    return path
