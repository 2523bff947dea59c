"""PyAV decoding of packaged CMAF segments and the headless renderer."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from player.decode import DecodeError, Decoder, decode_segment
from player.renderer import HeadlessRenderer

FPS = 30


@pytest.fixture(scope="module")
def title() -> Path:
    """A 4 s, two-rung title (2 s segments), packaged once and kept in the temp dir."""
    from server.packager import package, parse_ladder
    from server.packager.demo_source import write_demo_source

    root = Path(tempfile.gettempdir()) / "abrkit-decode-test-v1"
    if not (root / "sw" / "catalog.json").is_file():
        src = root / ".src" / "sw.mp4"
        if not src.is_file():
            write_demo_source(src, duration=4.0, width=320, height=180, fps=FPS)
        package(src, root, segment_seconds=2.0, ladder=parse_ladder("90p:100k,180p:400k"),
                title="sw")
    return root / "sw"


def _read(title: Path, rung: str, k: int) -> tuple[bytes, bytes]:
    d = title / "video" / rung
    return (d / "init.mp4").read_bytes(), (d / f"seg-{k:05d}.m4s").read_bytes()


def test_switch_between_renditions_is_seamless(title: Path) -> None:
    a = decode_segment(*_read(title, "90p", 1))
    b = decode_segment(*_read(title, "180p", 2))
    assert a.frames == b.frames == 2 * FPS
    assert (a.width, a.height) == (160, 90) and (b.width, b.height) == (320, 180)
    # the timeline continues across the switch: no gap, no overlap
    assert b.frame_times_s[0] - a.frame_times_s[-1] == pytest.approx(1 / FPS, abs=1e-3)
    r = HeadlessRenderer(lambda: 0.0, lambda: 0.0, asyncio.sleep)
    r.add(0.0, a.frame_times_s)
    r.add(2.0, b.frame_times_s)
    for i in range(4 * FPS):
        r.present_due(i / FPS)  # the playhead moves frame by frame
    st = r.stats()
    assert st.presented == 4 * FPS and st.dropped == 0 and st.late == 0
    assert st.out_of_order == 0
    steps = {round(y - x, 4) for x, y in zip(st.presented_pts, st.presented_pts[1:], strict=False)}
    assert steps == {round(1 / FPS, 4)}
    assert st.presented_pts[0] == 0.0


def test_decoder_runs_in_a_worker_thread(title: Path) -> None:
    async def main() -> tuple[int, int]:
        dec = Decoder()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        seg = await dec.decode(*_read(title, "180p", 1))
        t.cancel()
        dec.close()
        return seg.frames, ticks

    frames, ticks = asyncio.run(main())
    assert frames == 2 * FPS
    assert ticks > 1  # the loop kept running while the segment decoded


def test_audio_segment_decodes(title: Path) -> None:
    d = title / "audio" / "aac"
    seg = decode_segment((d / "init.mp4").read_bytes(), (d / "seg-00001.m4s").read_bytes(),
                         kind="audio")
    assert seg.frames > 0 and seg.width is None


def test_garbage_is_a_decode_error(title: Path) -> None:
    init, _ = _read(title, "90p", 1)
    with pytest.raises(DecodeError, match="segment 7"):
        decode_segment(b"not mp4", b"at all", label="segment 7")
    with pytest.raises(DecodeError):
        decode_segment(init, b"\x00" * 100, kind="audio")


def test_renderer_counts_late_and_dropped_frames() -> None:
    pos = [0.0]
    r = HeadlessRenderer(lambda: pos[0], lambda: pos[0], asyncio.sleep,
                         late_after_s=0.05, drop_after_s=0.5)
    r.add(0.0, tuple(i / FPS for i in range(30)))
    pos[0] = 0.0
    r.present_due()
    assert r.presented == 1 and r.first_frame_s == 0.0
    pos[0] = 0.1
    r.present_due()  # 1/30 is 0.067 s late; 2/30 and 3/30 are within 0.05 s
    assert r.presented == 4 and r.late == 1
    pos[0] = 0.9
    r.present_due()  # 0.133..0.367 are > 0.5 s behind: dropped; 0.4..0.9 presented (late)
    assert r.dropped == 8 and r.presented == 4 + 16
    r.flush()
    assert r.pending == 0
