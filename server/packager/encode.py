"""One decode pass over a source, many encodes: H.264 video renditions and one
AAC audio rendition, each written as CMAF (init.mp4 + seg-NNNNN.m4s) into its
own directory.

Video: every output frame is placed on a constant frame-rate grid (frames are
duplicated or dropped to fill it), scaled per rung and encoded with libx264
with a closed GOP of exactly ``gop`` frames (scene-cut off), then muxed to a
fragmented MP4 that cuts a fragment at every keyframe; :mod:`.fmp4` splits it
into the init segment and one ``moof+mdat`` file per GOP = per segment.

Audio: resampled to 48 kHz stereo, aligned to the first video frame (silence
padded / samples dropped), cut to the video's length, encoded with FFmpeg's
AAC-LC encoder and muxed with FFmpeg's DASH muxer, whose template-number mode
cuts segments at absolute multiples of the segment duration (the MP4 muxer's
``frag_duration`` would drift). Those segments are ``styp sidx moof mdat``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import PackagerError
from . import fmp4
from .ladder import ScaledRung
from .probe import SourceInfo

__all__ = ["AUDIO_BITRATE", "AUDIO_RATE", "EncodedRendition", "SegmentFile", "encode_source"]

AUDIO_BITRATE = 128_000  # bits per second
AUDIO_RATE = 48_000  # Hz, output sample rate (stereo)
X264_PRESET = "veryfast"
_AAC_PRIMING = 1024  # FFmpeg's AAC encoder delay, used if no packet came out before the end
_VIDEO_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+cmaf+skip_trailer"

ProgressFn = Callable[[float, float], None]  # (seconds encoded, total seconds)


@dataclass(frozen=True, slots=True)
class SegmentFile:
    name: str  # file name in the rendition directory, "seg-00001.m4s"
    number: int  # 1-based
    start: float  # seconds (tfdt / timescale)
    duration: float  # seconds (sum of trun sample durations / timescale)
    size: int  # bytes


@dataclass(frozen=True, slots=True)
class EncodedRendition:
    id: str
    kind: str  # "video" | "audio"
    codecs: str
    width: int | None
    height: int | None
    target_bitrate: int
    timescale: int
    init_size: int
    segments: tuple[SegmentFile, ...]


def segment_name(number: int) -> str:
    return f"seg-{number:05d}.m4s"


class _VideoOut:
    def __init__(self, rung: ScaledRung, directory: Path, fps: Fraction, gop: int) -> None:
        self.rung = rung
        self.directory = directory
        self.path = directory / "stream.mp4"
        self.fps = fps
        self.gop = gop
        self.container = av.open(
            str(self.path), "w", format="mp4", options={"movflags": _VIDEO_MOVFLAGS}
        )
        s = self.container.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = rung.width, rung.height, "yuv420p"
        s.bit_rate = rung.bitrate
        s.codec_context.time_base = Fraction(1) / fps
        s.options = {
            "preset": X264_PRESET,
            "profile": "high",
            "maxrate": str(int(rung.bitrate * 1.5)),
            "bufsize": str(int(rung.bitrate * 2)),
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:force-cfr=1",
        }
        self.stream = s

    def encode(self, frame: av.VideoFrame | None, n: int = 0) -> None:
        if frame is None:
            packets = self.stream.encode(None)
        else:
            out = frame.reformat(width=self.rung.width, height=self.rung.height, format="yuv420p")
            out.pts = n
            out.time_base = self.stream.codec_context.time_base
            out.pict_type = av.video.frame.PictureType.I if n % self.gop == 0 else (
                av.video.frame.PictureType.NONE)
            packets = self.stream.encode(out)
        self.container.mux(packets)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()

    def finish(self) -> EncodedRendition:
        self.encode(None)
        self.container.close()
        init, fragments = fmp4.split_fragmented_file(self.path)
        ts = fmp4.timescale(init)
        (self.directory / "init.mp4").write_bytes(init)
        segs = []
        for i, frag in enumerate(fragments, start=1):
            info = fmp4.parse_fragment(frag, init)
            if not info.starts_with_sync:
                raise PackagerError(f"segment {i} of {self.rung.id} does not start with a keyframe")
            name = segment_name(i)
            (self.directory / name).write_bytes(frag)
            segs.append(SegmentFile(name, i, info.decode_time / ts, info.duration / ts, len(frag)))
        self.path.unlink()
        return EncodedRendition(
            id=self.rung.id, kind="video", codecs=fmp4.avc_codecs(init), width=self.rung.width,
            height=self.rung.height, target_bitrate=self.rung.bitrate, timescale=ts,
            init_size=len(init), segments=tuple(segs),
        )


class _AudioOut:
    def __init__(self, directory: Path, segment_duration: float) -> None:
        self.directory = directory
        self.container = av.open(
            str(directory / "ffmpeg.mpd"), "w", format="dash",
            options={
                "seg_duration": f"{segment_duration:.6f}", "use_template": "1",
                "use_timeline": "0", "single_file": "0", "hls_playlist": "0",
                "init_seg_name": "init.mp4", "media_seg_name": "seg-$Number%05d$.m4s",
            },
        )
        s = self.container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        s.bit_rate = AUDIO_BITRATE
        self.stream = s
        self.samples = 0  # samples encoded so far
        self.priming: int | None = None  # encoder delay, from the first packet's pts
        self.buffer = np.zeros((2, 0), dtype=np.float32)  # aligned, not yet encoded
        self.aligned = False

    def feed(self, samples: np.ndarray, offset: int = 0) -> None:
        """Queue (2, n) float32 samples; the first call aligns them: ``offset`` samples
        of silence are prepended (negative: that many samples dropped)."""
        if not self.aligned:
            self.aligned = True
            if offset > 0:
                samples = np.concatenate([np.zeros((2, offset), np.float32), samples], axis=1)
            elif offset < 0:
                samples = samples[:, -offset:]
        self.buffer = np.concatenate([self.buffer, samples], axis=1)

    def drain(self, limit: int) -> None:
        """Encode whole frames of queued audio up to sample ``limit``."""
        while self.buffer.shape[1] >= 1024 and self.samples + 1024 <= limit:
            self._frame(self.buffer[:, :1024])
            self.buffer = self.buffer[:, 1024:]

    def _frame(self, chunk: np.ndarray) -> None:
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        f.sample_rate = AUDIO_RATE
        f.pts = self.samples
        f.time_base = Fraction(1, AUDIO_RATE)
        self.samples += chunk.shape[1]
        self._mux(self.stream.encode(f))

    def _mux(self, packets: list[av.Packet]) -> None:
        if packets and self.priming is None and packets[0].pts is not None:
            self.priming = max(0, -int(packets[0].pts))
        self.container.mux(packets)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()

    def finish(self, total_samples: int) -> EncodedRendition:
        """Pad with silence or cut to ``total_samples`` (the video's length), flush.

        The encoder's priming samples (1024 for FFmpeg's AAC) count: the track's
        timeline (tfdt, sample durations) then ends with the video's, and the
        audio is cut that many samples (about 21 ms of padding) short.
        """
        priming = self.priming if self.priming is not None else _AAC_PRIMING
        total_samples = max(1, total_samples - priming)
        missing = total_samples - self.samples - self.buffer.shape[1]
        if missing > 0:
            self.buffer = np.concatenate([self.buffer, np.zeros((2, missing), np.float32)], axis=1)
        self.drain(total_samples)
        rest = total_samples - self.samples
        if rest > 0:
            self._frame(self.buffer[:, :rest])
        self.buffer = self.buffer[:, :0]
        self._mux(self.stream.encode(None))
        self.container.close()
        (self.directory / "ffmpeg.mpd").unlink(missing_ok=True)
        init = (self.directory / "init.mp4").read_bytes()
        ts = fmp4.timescale(init)
        names = sorted(n for n in os.listdir(self.directory) if n.endswith(".m4s"))
        segs = []
        for i, name in enumerate(names, start=1):
            if name != segment_name(i):
                raise PackagerError(f"unexpected audio segment {name} (wanted {segment_name(i)})")
            data = (self.directory / name).read_bytes()
            info = fmp4.parse_fragment(data, init)
            segs.append(SegmentFile(name, i, info.decode_time / ts, info.duration / ts, len(data)))
        return EncodedRendition(
            id="aac", kind="audio", codecs="mp4a.40.2", width=None, height=None,
            target_bitrate=AUDIO_BITRATE, timescale=ts, init_size=len(init), segments=tuple(segs),
        )


def encode_source(
    info: SourceInfo,
    video: list[tuple[ScaledRung, Path]],
    audio_dir: Path | None,
    *,
    gop: int,
    progress: ProgressFn | None = None,
) -> list[EncodedRendition]:
    """Decode ``info.path`` once and encode the given renditions into their
    (existing, empty) directories. ``gop`` frames at ``info.frame_rate`` make one
    segment. Returns the video renditions in ``video`` order, then the audio one."""
    fps = info.frame_rate
    outs = [_VideoOut(rung, d, fps, gop) for rung, d in video]
    aout = _AudioOut(audio_dir, gop / float(fps)) if audio_dir is not None else None
    total = max(info.duration, 1e-6)
    grid = _FrameGrid(fps)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    queued: list[np.ndarray] = []  # audio decoded before the first video frame
    audio_t0: float | None = None

    def feed_audio() -> None:
        if aout is None or grid.t0 is None or not queued:
            return
        data = np.concatenate(queued, axis=1)
        queued.clear()
        aout.feed(data, round(((audio_t0 or 0.0) - grid.t0) * AUDIO_RATE))
        aout.drain(round(grid.count / fps * AUDIO_RATE))

    try:
        with av.open(str(info.path)) as c:
            vs = c.streams.video[0]
            vs.thread_type = "AUTO"
            streams: list[av.stream.Stream] = [vs]
            if aout is not None and c.streams.audio:
                streams.append(c.streams.audio[0])
            for packet in c.demux(*streams):
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        for src, n in grid.place(frame):
                            for o in outs:
                                o.encode(src, n)
                        if progress is not None and grid.count % 15 == 0:
                            progress(min(grid.count / float(fps), total), total)
                    elif aout is not None and isinstance(frame, av.AudioFrame):
                        for rf in resampler.resample(frame):
                            if audio_t0 is None:
                                audio_t0 = rf.time if rf.time is not None else 0.0
                            queued.append(rf.to_ndarray().astype(np.float32))
                    feed_audio()
            if aout is not None:
                queued.extend(rf.to_ndarray().astype(np.float32) for rf in resampler.resample(None))
                feed_audio()
        if grid.count == 0:
            raise PackagerError("no decodable video frames", where=str(info.path))
        results = [o.finish() for o in outs]
        if aout is not None:
            results.append(aout.finish(round(grid.count / fps * AUDIO_RATE)))
    except BaseException as exc:
        for o in outs:
            o.abort()
        if aout is not None:
            aout.abort()
        if isinstance(exc, av.FFmpegError | OSError | ValueError):
            raise PackagerError(f"decoding/encoding failed: {exc}", where=str(info.path)) from exc
        raise
    if progress is not None:
        progress(total, total)
    return results


class _FrameGrid:
    """Places decoded frames on a constant frame-rate grid (index n at n / fps
    seconds after the first frame): gaps are filled by repeating the previous
    frame, frames landing on an index already filled are dropped."""

    def __init__(self, fps: Fraction) -> None:
        self.fps = fps
        self.t0: float | None = None
        self.count = 0  # grid frames emitted
        self.prev: av.VideoFrame | None = None
        self.last_t = 0.0

    def place(self, frame: av.VideoFrame) -> list[tuple[av.VideoFrame, int]]:
        t = frame.time if frame.time is not None else self.last_t + 1 / float(self.fps)
        self.last_t = t
        if self.t0 is None:
            self.t0 = t
        idx = round((t - self.t0) * self.fps)
        out: list[tuple[av.VideoFrame, int]] = []
        while self.prev is not None and self.count < idx:
            out.append((self.prev, self.count))
            self.count += 1
        if idx >= self.count:
            out.append((frame, self.count))
            self.count += 1
        self.prev = frame
        return out
