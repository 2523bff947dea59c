"""The buffer-based abandonment rule."""

import pytest

from abr import DownloadProgress
from abr.errors import PolicyConfigError
from abr.policies import BufferAbandonConfig, BufferAbandonRule

PENSIEVE = (300e3, 750e3, 1200e3, 1850e3, 2850e3, 4300e3)


def progress(done=200_000, total=2_000_000, elapsed=2.0, buffer_s=6.0, rung=3, sizes=()):
    return DownloadProgress(
        segment_index=4,
        rung=rung,
        bytes_done=done,
        bytes_total=total,
        elapsed_s=elapsed,
        buffer_s=buffer_s,
        bitrates_bps=PENSIEVE,
        segment_duration_s=4.0,
        sizes=sizes,
    )


def test_abandons_to_highest_rung_that_fits():
    # 100 kB/s; 1.8 MB left = 18 s > 6 - 1 s. Rung 2 (600 kB) needs 6 s: too slow;
    # rung 1 (375 kB) needs 3.75 s -> abandon to 1
    d = BufferAbandonRule().check(progress())
    assert d is not None and d.rung == 1 and d.rule == "abandon"


def test_uses_known_sizes():
    sizes = tuple((100_000, 150_000, 400_000, 2_000_000, 3_000_000, 4_000_000) for _ in range(5))
    d = BufferAbandonRule().check(progress(sizes=sizes))
    assert d is not None and d.rung == 2  # 400 kB in 4 s <= 5 s


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rung": 0},  # nothing lower
        {"done": 1_700_000},  # near completion (>= 80 %)
        {"elapsed": 0.2},  # grace period
        {"buffer_s": 30.0},  # will finish in time
        {"buffer_s": 1.5},  # nothing lower finishes in 0.5 s either
        {"done": 0},
    ],
)
def test_no_abandon(kwargs):
    assert BufferAbandonRule().check(progress(**kwargs)) is None


def test_config_validation():
    with pytest.raises(PolicyConfigError):
        BufferAbandonConfig(near_done_fraction=0.0)
    with pytest.raises(PolicyConfigError):
        BufferAbandonConfig(safety_margin_s=-1)
