"""Packager units: ladder parsing/fitting, fMP4 box walking, the demo picture, errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import PackagerError, ServerError
from server.packager import DEFAULT_LADDER, Rung, fit_ladder, fmp4, parse_ladder
from server.packager.demo_source import draw_frame


# ----- ladder ---------------------------------------------------------------
def test_default_ladder_is_documented_rungs():
    assert [(r.id, r.bitrate) for r in DEFAULT_LADDER] == [
        ("240p", 400_000),
        ("360p", 800_000),
        ("480p", 1_400_000),
        ("720p", 2_800_000),
        ("1080p", 5_000_000),
    ]


def test_parse_ladder_units_and_defaults():
    rungs = parse_ladder("720p:2.8M, 240p:400k,360p")
    assert rungs == (Rung(240, 400_000), Rung(360, 800_000), Rung(720, 2_800_000))


@pytest.mark.parametrize(
    "spec", ["", "foo", "240", "240p:", "240p:abc", "241p", "240p,240p", "240p:5", "0p", "-240p"]
)
def test_parse_ladder_rejects_bad_specs(spec):
    with pytest.raises(PackagerError) as info:
        parse_ladder(spec)
    assert "--ladder" in str(info.value)


def test_fit_ladder_drops_rungs_above_source_and_keeps_aspect():
    fitted = fit_ladder(DEFAULT_LADDER, 1280, 720)
    assert [(r.id, r.width, r.height) for r in fitted] == [
        ("240p", 426, 240),
        ("360p", 640, 360),
        ("480p", 854, 480),
        ("720p", 1280, 720),
    ]


def test_fit_ladder_small_source_gets_one_rung_at_its_own_height():
    (only,) = fit_ladder(DEFAULT_LADDER, 320, 181)
    assert (only.id, only.width, only.height) == ("180p", 318, 180)
    assert only.bitrate == DEFAULT_LADDER[0].bitrate


def test_fit_ladder_anamorphic_source_uses_display_aspect():
    (r,) = fit_ladder((Rung(240, 400_000),), 720, 576, sar=16 / 11)  # PAL 16:9
    assert (
        r.height == 240
        and r.width % 2 == 0
        and abs(r.width / r.height - 720 * 16 / 11 / 576) < 0.02
    )


@given(
    st.integers(min_value=16, max_value=4000),
    st.integers(min_value=16, max_value=2200),
    st.lists(
        st.integers(min_value=8, max_value=1100).map(lambda h: h * 2),
        min_size=1,
        max_size=6,
        unique=True,
    ),
)
def test_fit_ladder_never_above_source_and_even(w, h, heights):
    fitted = fit_ladder(tuple(Rung(x, 100_000) for x in heights), w, h)
    assert fitted
    for r in fitted:
        assert r.height <= h and r.width <= w
        assert r.width % 2 == 0 and r.height % 2 == 0
        assert r.width >= 2 and r.height >= 2
    assert [r.height for r in fitted] == sorted(r.height for r in fitted)


# ----- fmp4 -----------------------------------------------------------------
def _box(typ: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), typ) + payload


def test_iter_boxes_and_split():
    moov = _box(b"moov", _box(b"mvhd", b"\0" * 20))
    data = (
        _box(b"ftyp", b"iso6")
        + moov
        + _box(b"moof", b"a")
        + _box(b"mdat", b"xy")
        + _box(b"moof", b"b")
        + _box(b"mdat", b"z")
        + _box(b"mfra", b"q")
    )
    assert [b.type for b in fmp4.iter_boxes(data)] == [
        b"ftyp",
        b"moov",
        b"moof",
        b"mdat",
        b"moof",
        b"mdat",
        b"mfra",
    ]
    init, frags = fmp4.split_fragmented(data)
    assert init == _box(b"ftyp", b"iso6") + moov
    assert frags == [
        _box(b"moof", b"a") + _box(b"mdat", b"xy"),
        _box(b"moof", b"b") + _box(b"mdat", b"z"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"\0\0\0\x07ftyp",  # size smaller than a header
        struct.pack(">I4s", 100, b"ftyp") + b"short",  # runs past the end
        b"\0\0\0",  # truncated header
        _box(b"ftyp") + _box(b"mdat", b"x"),  # mdat before any moof
        _box(b"moof") + _box(b"mdat"),  # no init
    ],
)
def test_bad_boxes_raise_packager_error(data):
    with pytest.raises(PackagerError):
        fmp4.split_fragmented(data)


def test_large_size_box():
    payload = b"abc"
    box = struct.pack(">I4sQ", 1, b"free", 16 + len(payload)) + payload
    (b,) = list(fmp4.iter_boxes(box))
    assert (b.type, b.size, b.header) == (b"free", 19, 16)


# ----- demo picture ----------------------------------------------------------
def test_demo_frames_are_yuv420p_and_change():
    a = draw_frame(0, 320, 180, 30)
    b = draw_frame(1, 320, 180, 30)
    assert a.shape == (270, 320) and a.dtype == np.uint8
    assert not np.array_equal(a, b)
    # the counter panel differs between frame 1 and frame 2 (digits move)
    assert not np.array_equal(
        draw_frame(1, 320, 180, 30)[:40, :200], draw_frame(2, 320, 180, 30)[:40, :200]
    )


def test_error_hierarchy():
    assert issubclass(PackagerError, ServerError)
    e = PackagerError("bad", where="x.mp4")
    assert str(e) == "x.mp4: bad" and e.where == "x.mp4"


def test_split_file_matches_split_in_memory(tmp_path):
    moov = _box(b"moov", _box(b"mvhd", b"\0" * 20))
    data = (
        _box(b"ftyp", b"iso6")
        + moov
        + _box(b"moof", b"a")
        + _box(b"mdat", b"xy")
        + _box(b"moof", b"b")
        + _box(b"mdat", b"z")
        + _box(b"mfra")
    )
    path = tmp_path / "f.mp4"
    path.write_bytes(data)
    init, frags = fmp4.split_fragmented_file(path)
    assert (init, list(frags)) == fmp4.split_fragmented(data)
    path.write_bytes(data[:-3])  # truncated last box
    init, frags = fmp4.split_fragmented_file(path)
    with pytest.raises(PackagerError):
        list(frags)
    path.write_bytes(_box(b"moof") + _box(b"mdat"))
    with pytest.raises(PackagerError):
        fmp4.split_fragmented_file(path)


def test_public_surface():
    import server.packager as p

    assert sorted(p.__all__) == sorted(
        [
            "DEFAULT_LADDER",
            "DEMO_TITLE",
            "Catalog",
            "Progress",
            "RenditionEntry",
            "Rung",
            "ScaledRung",
            "ensure_demo_title",
            "fit_ladder",
            "load_catalog",
            "package",
            "parse_ladder",
        ]
    )
    for name in p.__all__:
        assert getattr(p, name) is not None
