"""LevelShiftHarmonic: stretches, confirmation, stretch-only errors, the frequency guard."""

from __future__ import annotations

import math

import pytest

from abr.errors import PolicyConfigError
from abr.estimators.levelshift import LevelShiftHarmonic

M = 1e6


def hm(xs: list[float]) -> float:
    return len(xs) / sum(1.0 / x for x in xs)


def fed(samples: list[float], **kw: object) -> LevelShiftHarmonic:
    ls = LevelShiftHarmonic(**kw)  # type: ignore[arg-type]
    for s in samples:
        ls.add(s)
    return ls


def test_no_sample_no_prediction() -> None:
    ls = LevelShiftHarmonic()
    assert ls.prediction() is None
    assert ls.errors() == [0.0]
    assert not ls.frequent


def test_flat_stretch_grows_up_to_max_window() -> None:
    xs = [M * (1.0 + 0.1 * (i % 3)) for i in range(30)]
    ls = fed(xs, max_window=20)
    assert ls.stretch_length == 20
    assert ls.prediction() == pytest.approx(hm(xs[-20:]))
    short = fed(xs[:7], max_window=20)
    assert short.prediction() == pytest.approx(hm(xs[:7]))


def test_shift_restarts_from_the_new_level_and_clears_errors() -> None:
    low = [1.5 * M, 1.4 * M, 1.6 * M, 1.5 * M]
    ls = fed(low, threshold=0.5, confirm=1)
    assert max(ls.errors()) > 0.0
    ls.add(22 * M)  # log(22 / 1.5) >> 0.5
    assert ls.prediction() == pytest.approx(22 * M)
    assert ls.stretch_length == 1
    assert ls.errors() == [0.0]  # the shift's own error does not discount the new level
    ls.add(20 * M)
    assert ls.prediction() == pytest.approx(hm([22 * M, 20 * M]))
    assert ls.errors() == [pytest.approx(abs(22 - 20) / 20)]


def test_unconfirmed_outlier_joins_the_stretch() -> None:
    ls = fed([10 * M] * 5, threshold=0.5, confirm=2)
    ls.add(2 * M)  # one outlier: not a shift yet, pulls the harmonic mean down
    assert ls.prediction() == pytest.approx(hm([10 * M] * 5 + [2 * M]))
    assert ls.errors()[-1] == pytest.approx((10 - 2) / 2)
    ls.add(10 * M)  # back to the level: the outlier stays a blip
    assert ls.stretch_length == 7
    ls.add(2 * M)
    ls.add(2.2 * M)  # two in a row: a shift, the stretch is the two outliers
    assert ls.prediction() == pytest.approx(hm([2 * M, 2.2 * M]))
    assert ls.stretch_length == 2


def test_opposite_outliers_do_not_confirm_each_other() -> None:
    ls = fed([10 * M] * 5, threshold=0.5, confirm=2)
    ls.add(50 * M)
    ls.add(2 * M)
    assert ls.stretch_length == 7  # no shift


def test_confirm_up_is_separate_from_down() -> None:
    ls = fed([10 * M] * 5, threshold=0.5, confirm=1, confirm_up=2)
    ls.add(40 * M)
    assert ls.stretch_length == 6  # an upward outlier waits for a second one
    ls.add(42 * M)
    assert ls.prediction() == pytest.approx(hm([40 * M, 42 * M]))
    ls.add(5 * M)  # downward: at once
    assert ls.prediction() == pytest.approx(5 * M)


def test_noise_discount_is_sample_to_sample_change() -> None:
    ls = fed([10 * M, 12 * M, 9 * M], discount="noise", threshold=1.0)
    assert ls.errors() == pytest.approx([0.0, 2 / 12, 3 / 9])
    ls2 = fed([10 * M] * 3 + [1 * M, 1.2 * M], discount="noise", threshold=0.5, confirm=2)
    # after the shift: the noise between the two confirming samples only
    assert ls2.errors() == pytest.approx([0.2 / 1.2])


def test_fresh_error_while_the_stretch_is_young() -> None:
    ls = fed([1 * M, 20 * M], threshold=0.5, fresh_error=0.8, fresh_samples=3)
    assert ls.errors() == [0.8]
    ls.add(21 * M)
    ls.add(19 * M)
    assert max(ls.errors()) == pytest.approx(0.8)
    ls.add(20 * M)
    ls.add(20 * M)  # three errors recorded in the stretch: no fresh error any more
    assert max(ls.errors()) < 0.2


def test_fresh_error_down_after_downward_shifts() -> None:
    kw = {"threshold": 0.5, "fresh_error": 0.8, "fresh_error_down": 0.3, "fresh_samples": 3}
    ls = fed([20 * M], **kw)
    assert ls.errors() == [0.0, 0.8]  # the start counts as an upward shift
    ls.add(2 * M)  # downward shift
    assert ls.errors() == [0.3]
    ls.add(20 * M)  # upward shift
    assert ls.errors() == [0.8]
    same = fed([20 * M, 2 * M], threshold=0.5, fresh_error=0.8, fresh_samples=3)
    assert same.errors() == [0.8]  # default: fresh_error after any shift


def test_frequent_shifts_and_ageing() -> None:
    flips = [1 * M, 10 * M] * 4
    ls = fed(flips, threshold=0.5, rate_window=10, max_shifts=3)
    assert ls.frequent  # 7 shifts in 8 samples
    for _ in range(10):
        ls.add(10 * M)
    assert not ls.frequent  # the shifts aged out of the last 10 samples
    calm = fed([5 * M, 5.5 * M, 4.8 * M] * 10, threshold=0.5, rate_window=10, max_shifts=0)
    assert not calm.frequent


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"confirm": 0}, "confirm"),
        ({"confirm_up": 0}, "confirm_up"),
        ({"max_window": 1.5}, "max_window"),
        ({"error_window": True}, "error_window"),
        ({"discount": "abs"}, "discount"),
        ({"fresh_error": -0.1}, "fresh_error"),
        ({"fresh_samples": -1}, "fresh_samples"),
        ({"fresh_error_down": -0.5}, "fresh_error_down"),
        ({"rate_window": 0}, "rate_window"),
        ({"max_shifts": -1}, "max_shifts"),
        ({"warmup": -1}, "warmup"),
    ],
)
def test_bad_config(kw: dict[str, object], match: str) -> None:
    with pytest.raises(PolicyConfigError, match=match):
        LevelShiftHarmonic(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_bad_sample(bad: float) -> None:
    with pytest.raises(PolicyConfigError, match="sample must be > 0"):
        LevelShiftHarmonic().add(bad)


def test_ready_waits_for_warmup_and_calm() -> None:
    ls = LevelShiftHarmonic(warmup=3, threshold=0.5, rate_window=10, max_shifts=1)
    for _ in range(2):
        ls.add(5 * M)
    assert not ls.ready
    ls.add(5 * M)
    assert ls.ready
    ls.add(50 * M)
    assert ls.ready  # one shift is allowed
    ls.add(5 * M)
    assert not ls.ready  # two in the last 10 samples: frequent
