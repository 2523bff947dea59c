"""PyAV decoding of CMAF segments in a worker thread.

Each media segment is decoded on its own, prefixed with its rendition's init
segment (``ftyp+moov``): CMAF segments start with an IDR frame, so a switch of
rendition between segments needs nothing more, and the timestamps (``tfdt``)
continue across the switch because every rendition shares the timeline::

    decoder = Decoder()                                  # one worker thread
    seg = await decoder.decode(init_bytes, segment_bytes)   # -> DecodedSegment
    seg.frame_times_s                                    # presentation times, ascending
    decoder.close()

The event loop never blocks: :meth:`Decoder.decode` runs
:func:`decode_segment` in a ``ThreadPoolExecutor`` (PyAV releases the GIL
while decoding). Pixels are not kept (the renderer is headless); a
``on_frame(frame)`` hook sees every decoded ``av.VideoFrame`` when given.

Frames stream out as they decode: ``decode(..., on_frame_time=f)`` calls
``f(time_s)`` on the event loop for each frame as soon as the worker thread
has it (in decode output order, i.e. presentation order), so the renderer can
show a segment's first frame before the rest of the segment is decoded. Every
call comes before ``decode`` returns.

FFmpeg decodes on the worker thread itself (``thread_count`` 1, no frame or
slice threads of its own): the thread CPU time measured around a segment
(``DecodedSegment.cpu_s``, summed in ``Decoder.cpu_s``) is then all of the
decode's CPU, and the first frame is not held back by frame threading (which
delays output by one frame per extra thread). Parallelism, where wanted,
comes from ``DecodeConfig.threads`` worker threads.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .errors import PlayerError

__all__ = ["DecodeError", "DecodedSegment", "Decoder", "decode_segment"]


class DecodeError(PlayerError):
    """A segment could not be decoded (names the segment)."""


@dataclass(frozen=True)
class DecodedSegment:
    """What decoding one segment produced.

    ``frame_times_s``: presentation time of each decoded frame (ascending, the
    track's timeline: the container's composition offset included).
    ``cpu_s``: thread CPU time the decode took.
    """

    kind: str
    frame_times_s: tuple[float, ...]
    width: int | None
    height: int | None
    cpu_s: float
    wall_s: float

    @property
    def frames(self) -> int:
        return len(self.frame_times_s)


def decode_segment(
    init: bytes,
    data: bytes,
    *,
    kind: str = "video",
    label: str = "segment",
    on_frame: Callable[[Any], None] | None = None,
    on_frame_time: Callable[[float], Any] | None = None,
    options: dict[str, str] | None = None,
) -> DecodedSegment:
    """Decode ``init + data`` (one CMAF segment) with PyAV; blocking. ``options`` go
    to the demuxer (``drm.DrmSession.demuxer_options``: CENC decryption key);
    ``on_frame_time(t)`` is called (on this thread) with each frame's time as it
    is decoded."""
    import av

    c0, w0 = time.thread_time(), time.perf_counter()
    times: list[float] = []
    width = height = None
    try:
        with av.open(io.BytesIO(init + data), mode="r", options=options or {}) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise DecodeError(f"{label}: no {kind} stream")
            stream = streams[0]
            stream.codec_context.thread_count = 1  # all decode CPU on this thread
            for frame in container.decode(stream):
                ftime = getattr(frame, "time", None)
                if ftime is not None:
                    times.append(float(ftime))
                    if on_frame_time is not None:
                        on_frame_time(float(ftime))
                if on_frame is not None:
                    on_frame(frame)
            if kind == "video":
                ctx: Any = stream.codec_context
                width, height = ctx.width, ctx.height
    except DecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise DecodeError(f"{label}: cannot decode: {exc}") from exc
    times.sort()
    return DecodedSegment(
        kind, tuple(times), width, height, time.thread_time() - c0, time.perf_counter() - w0
    )


def _relay(
    loop: asyncio.AbstractEventLoop, callback: Callable[[float], Any]
) -> Callable[[float], None]:
    """``callback`` made callable from a worker thread: it runs on ``loop``."""

    def relay(t: float) -> None:
        loop.call_soon_threadsafe(callback, t)

    return relay


def _warm_up() -> None:
    import av  # noqa: F401


class Decoder:
    """Decodes segments in order in ``threads`` worker thread(s)."""

    def __init__(
        self, threads: int = 1, on_frame: Callable[[Any], None] | None = None, drm: Any = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="abrkit-decode")
        self._pool.submit(_warm_up)  # import PyAV and start the thread before the first segment
        self._on_frame = on_frame
        self.drm = drm  # drm.DrmSession: decrypts in the worker thread (may fetch a licence)
        self.segments = 0
        self.frames = 0
        self.cpu_s = 0.0

    async def decode(
        self, init: bytes, data: bytes, *, kind: str = "video", label: str = "segment",
        url: str | None = None, on_frame_time: Callable[[float], Any] | None = None,
    ) -> DecodedSegment:
        """Decode one segment in the worker thread; ``on_frame_time(t)`` runs on this
        event loop for each frame as it is decoded, before this returns."""
        loop = asyncio.get_running_loop()
        relay = None if on_frame_time is None else _relay(loop, on_frame_time)
        out = await loop.run_in_executor(
            self._pool, lambda: self._decode(init, data, kind, label, url, relay)
        )
        self.segments += 1
        self.frames += out.frames
        self.cpu_s += out.cpu_s
        return out

    def _decode(
        self, init: bytes, data: bytes, kind: str, label: str, url: str | None,
        on_frame_time: Callable[[float], Any] | None = None,
    ) -> DecodedSegment:
        options = None
        if self.drm is not None:
            from drm import DrmError

            try:
                data = self.drm.decrypt(data, name=url)
                options = self.drm.demuxer_options(init, name=url or label) or None
            except DrmError as exc:
                raise DecodeError(f"{label}: {exc}") from None
        return decode_segment(init, data, kind=kind, label=label, on_frame=self._on_frame,
                              on_frame_time=on_frame_time, options=options)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
