"""CENC (ISO/IEC 23001-7) on the client: which KIDs an init segment needs, and
decryption through FFmpeg's mov demuxer.

FFmpeg decrypts ``cenc`` (AES-CTR) samples itself when the demuxer is given
the ``decryption_key`` option (hex); :func:`demuxer_options` builds that option
and :func:`decode_segment` opens ``init + segment`` with it and decodes every
frame, turning FFmpeg's failures into a :class:`DecryptError` that names the
KID and the segment. Without a key the demuxer hands the decoder encrypted
slices and decoding fails (``InvalidDataError``); with a wrong key likewise,
or the output is garbage — tests assert what actually happens.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import DecryptError

__all__ = ["TrackEncryption", "decode_segment", "demuxer_options", "read_tenc"]

_PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
# bytes between a sample entry's header and its child boxes
_ENTRY_FIELDS = {b"encv": 78, b"enca": 28}


@dataclass(frozen=True, slots=True)
class TrackEncryption:
    """What a protected track's init segment says (``sinf``): original format,
    scheme (``cenc``, ``cbcs``...), default KID (hex), per-sample IV size."""

    track_id: int
    original_format: str
    scheme: str
    kid: str
    iv_size: int


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) at one level; stops at a bad size."""
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield typ, pos, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, typ: bytes) -> tuple[int, int] | None:
    for t, _, p, e in _boxes(data, start, end):
        if t == typ:
            return p, e
    return None


def read_tenc(init: bytes) -> tuple[TrackEncryption, ...]:
    """The protected tracks of an init segment (empty when nothing is encrypted)."""
    out = []
    moov = _child(init, 0, len(init), b"moov")
    if moov is None:
        return ()
    for t, _, p, e in _boxes(init, *moov):
        if t != b"trak":
            continue
        tkhd = _child(init, p, e, b"tkhd")
        track_id = 0
        if tkhd is not None:
            version = init[tkhd[0]]
            off = tkhd[0] + (20 if version == 1 else 12)
            if off + 4 <= tkhd[1]:
                (track_id,) = struct.unpack_from(">I", init, off)
        span: tuple[int, int] | None = (p, e)
        for name in _PATH[2:]:
            span = _child(init, *span, name) if span else None
        if span is None:
            continue
        for et, _, ep, ee in _boxes(init, span[0] + 8, span[1]):
            if et not in _ENTRY_FIELDS:
                continue
            sinf = _child(init, ep + _ENTRY_FIELDS[et], ee, b"sinf")
            if sinf is None:
                continue
            frma = _child(init, *sinf, b"frma")
            schm = _child(init, *sinf, b"schm")
            schi = _child(init, *sinf, b"schi")
            tenc = _child(init, *schi, b"tenc") if schi else None
            if tenc is None or tenc[1] - tenc[0] < 24:
                continue
            iv_size = init[tenc[0] + 7]
            kid = init[tenc[0] + 8 : tenc[0] + 24].hex()
            out.append(TrackEncryption(
                track_id=track_id,
                original_format=init[frma[0] : frma[0] + 4].decode("latin-1") if frma else "",
                scheme=init[schm[0] + 4 : schm[0] + 8].decode("latin-1") if schm else "",
                kid=kid,
                iv_size=iv_size,
            ))
    return tuple(out)


def demuxer_options(key: bytes) -> dict[str, str]:
    """Options for ``av.open`` that make FFmpeg's mov demuxer decrypt ``cenc``
    samples with ``key``. The dict holds key material: never log it."""
    return {"decryption_key": key.hex()}


def decode_segment(
    init: bytes, segment: bytes, key: bytes | None, *, kid: str | None = None,
    name: str | None = None, kind: str = "video",
) -> list[Any]:
    """Decrypt and decode every ``kind`` frame of ``init + segment``.

    Raises :class:`DecryptError` (naming ``kid`` and ``name``) when FFmpeg cannot
    demux or decode the data with that key, or nothing decodes.
    """
    import av

    opts = demuxer_options(key) if key is not None else {}
    frames: list[Any] = []
    try:
        with av.open(io.BytesIO(init + segment), "r", format="mp4", options=opts) as c:
            streams = c.streams.video if kind == "video" else c.streams.audio
            if not streams:
                raise DecryptError(f"no {kind} stream", kid=kid, segment=name)
            frames = list(c.decode(streams[0]))
    except DecryptError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        what = "no key given" if key is None else "wrong key or damaged data"
        raise DecryptError(
            f"{kind} does not decrypt and decode ({what}: {type(exc).__name__})",
            kid=kid, segment=name,
        ) from None
    if not frames:
        raise DecryptError(f"no {kind} frame decoded", kid=kid, segment=name)
    return frames
