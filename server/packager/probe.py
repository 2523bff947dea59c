"""Probe a source file with PyAV: size, frame rate, duration, audio; fingerprint it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import PackagerError

__all__ = ["SourceInfo", "fingerprint", "probe"]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: Path
    width: int
    height: int
    sar: float
    frame_rate: Fraction  # the constant output frame rate chosen for this source
    duration: float  # seconds
    has_audio: bool
    sample_rate: int | None
    channels: int | None


def _frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    # guessed_rate (FFmpeg's av_guess_frame_rate) is the nominal rate of a
    # variable-frame-rate file; average_rate would give e.g. 20.13 for 25 fps
    # with dropped frames
    for rate in (stream.guessed_rate, stream.average_rate, stream.base_rate):
        if rate and 1 <= float(rate) <= 120:
            rate = Fraction(rate)
            # snap near-integers (29.999 -> 30); keep NTSC 30000/1001 etc. as they are
            if abs(rate - round(rate)) < Fraction(1, 1000):
                return Fraction(round(rate))
            return rate.limit_denominator(1001)
    return Fraction(30)


def probe(path: Path) -> SourceInfo:
    """Facts about ``path``; raises :class:`PackagerError` if it is missing, has no
    video stream or its first video frame cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise PackagerError("source file not found", where=str(path))
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise PackagerError("source has no video stream", where=str(path))
            vs = c.streams.video[0]
            rate = _frame_rate(vs)
            first = None
            for frame in c.decode(vs):
                first = frame
                break
            if first is None:
                raise PackagerError("no decodable video frame", where=str(path))
            width, height = first.width, first.height
            sar = vs.sample_aspect_ratio
            duration = 0.0
            if c.duration:
                duration = c.duration / 1_000_000
            elif vs.duration and vs.time_base:
                duration = float(vs.duration * vs.time_base)
            audio = c.streams.audio[0] if c.streams.audio else None
    except PackagerError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PackagerError(f"cannot decode source: {exc}", where=str(path)) from exc
    return SourceInfo(
        path=path,
        width=width,
        height=height,
        sar=float(sar) if sar else 1.0,
        frame_rate=rate,
        duration=duration,
        has_audio=audio is not None,
        sample_rate=audio.rate if audio is not None else None,
        channels=audio.channels if audio is not None else None,
    )


def fingerprint(path: Path) -> str:
    """``sha256:<hex>`` of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
