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


def test_frame_times_stream_to_the_loop_before_decode_returns(title: Path) -> None:
    async def main() -> tuple[list[float], tuple[float, ...], list[bool]]:
        dec = Decoder()
        got: list[float] = []
        returned = [False]
        seen_before_return: list[bool] = []

        def on_time(t: float) -> None:
            got.append(t)
            seen_before_return.append(not returned[0])

        seg = await dec.decode(*_read(title, "180p", 1), on_frame_time=on_time)
        returned[0] = True
        dec.close()
        return got, seg.frame_times_s, seen_before_return

    got, times, before = asyncio.run(main())
    assert got == list(times) and len(got) == 2 * FPS  # every frame, in order
    assert all(before)


def test_the_first_frame_is_presented_while_the_segment_still_decodes(title: Path) -> None:
    """The worker thread holds the segment's second frame until the renderer has
    presented the first: without streaming the first frame would wait for the end."""
    import threading

    presented_first = threading.Event()
    frames = [0]

    def hold(_frame: object) -> None:  # runs in the worker thread, per decoded frame
        frames[0] += 1
        if frames[0] == 2:
            presented_first.wait(10.0)

    async def main() -> tuple[bool, int]:
        r = HeadlessRenderer(lambda: 0.0, lambda: 0.0, asyncio.sleep)
        r.on_first_frame = lambda _t: presented_first.set()
        runner = asyncio.ensure_future(r.run())
        dec = Decoder(on_frame=hold)
        seg = await dec.decode(*_read(title, "180p", 1), on_frame_time=r.stream(0.0))
        dec.close()
        runner.cancel()
        return presented_first.is_set(), seg.frames

    first_in_time, n = asyncio.run(main())
    assert first_in_time and n == 2 * FPS


def test_renderer_wakes_on_a_new_frame_not_on_a_tick() -> None:
    """Nothing queued: the renderer waits for a frame, not for a timer (a sleep that
    never returns would block a ticking renderer forever)."""

    async def never(_s: float) -> None:
        await asyncio.Event().wait()

    async def main() -> int:
        r = HeadlessRenderer(lambda: 0.0, lambda: 0.0, never)
        runner = asyncio.ensure_future(r.run())
        for _ in range(5):
            await asyncio.sleep(0)
        r.stream(0.0)(0.0)
        for _ in range(20):
            await asyncio.sleep(0)
        runner.cancel()
        return r.presented

    assert asyncio.run(main()) == 1


def test_renderer_sleeps_until_the_next_frame_is_due() -> None:
    pos = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        pos[0] += s
        await asyncio.sleep(0)

    async def main() -> tuple[float, ...]:
        r = HeadlessRenderer(lambda: pos[0], lambda: pos[0], sleep)
        r.add(0.0, tuple(i * 0.1 for i in range(4)))  # sparser than the 1/30 s interval
        runner = asyncio.ensure_future(r.run())
        while r.presented < 4:
            await asyncio.sleep(0)
        runner.cancel()
        return r.stats().presented_pts

    pts = asyncio.run(main())
    assert len(pts) == 4
    assert waits[:3] == pytest.approx([0.1] * 3, abs=1e-5)  # one wake per frame, at its time
