"""Level-shift-aware harmonic mean: predict from the samples since the last change point.

Links such as the FCC broadband traces switch between long flat stretches
at very different levels (e.g. ~1.5 Mbps for a minute, then ~22 Mbps). A
fixed window either lags each shift (long windows) or carries the
sample-to-sample noise of a flat stretch (short ones), and an error memory
that spans a shift keeps the link discounted long after the shift is over.
:class:`LevelShiftHarmonic` segments the sample stream instead:

- the *stretch* is the samples since the last detected shift; the
  prediction is their harmonic mean (the last ``max_window`` of them), so
  it grows long inside a flat stretch and restarts from the new level after
  a shift;
- a sample is an *outlier* when ``|log(sample / stretch harmonic mean)| >
  threshold``; ``confirm`` consecutive outliers on the same side make a
  shift (``confirm`` 1: the first outlier already is one). An unconfirmed
  outlier joins the stretch (a lone low sample pulls the harmonic mean down,
  as in RobustMPC); on confirmation the stretch restarts with the confirming
  outliers only (``confirm_up``, default ``confirm``: the count for upward shifts);
- the *discount errors* (``errors()``) are those of the stretch only: on a
  shift they are cleared, so the shift itself does not discount the new
  level for the next ``error_window`` samples. ``discount`` picks them:
  ``"pred"``: the prediction's relative error on each sample of the
  stretch, ``|prediction − sample| / sample`` (RobustMPC's); ``"noise"``:
  the sample-to-sample relative change inside the stretch, ``|previous −
  sample| / sample`` (the error of a last-sample predictor, i.e. the
  stretch's own noise). While a stretch has fewer than ``fresh_samples``
  errors, ``fresh_error`` is added to them (a new level is not yet known to
  be stable); after a downward shift ``fresh_error_down`` (default
  ``fresh_error``) is added instead;
- ``frequent``: more than ``max_shifts`` shifts among the last
  ``rate_window`` samples. Frequent shifts mean the link is not made of flat
  stretches (3G); the caller should then fall back to another predictor
  (longmpc: its window selector). ``ready`` also waits for ``warmup``
  samples: at a session's start the first stretch is one or two samples long,
  and on short sessions (pensieve_train, 47 chunks) predicting from them
  cost QoE; the fallback predicts until then.

Parameters: threshold (log ratio, > 0), confirm (>= 1), max_window (>= 1),
error_window (>= 1), discount ("pred" | "noise"), fresh_error (>= 0),
fresh_error_down (>= 0 or None), fresh_samples (>= 0), rate_window (>= 1),
max_shifts (>= 0; ``max_shifts >= rate_window`` turns the guard off), warmup
(>= 0). Tuned for longmpc (benchmarks/results/policy_eval.md, "Level-shift
predictor (session 3)"): threshold 0.8, confirm 1, fresh_error 0.75,
fresh_samples 20, warmup 10, guard off. The first
sample records an error of 0 (no prediction existed). Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections import deque

from ..errors import PolicyConfigError

__all__ = ["DISCOUNTS", "LevelShiftHarmonic"]

DISCOUNTS = ("pred", "noise")


def _check_int(name: str, v: object, low: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise PolicyConfigError(f"LevelShiftHarmonic: {name} must be an int >= {low}, got {v!r}")


class LevelShiftHarmonic:
    """Harmonic mean over the samples since the last detected level shift."""

    __slots__ = (
        "_errors",
        "_last_up",
        "_mean_value",
        "_n",
        "_pending",
        "_pending_up",
        "_prev",
        "_shifts",
        "_stretch",
        "_stretch_errors",
        "confirm",
        "confirm_up",
        "discount",
        "error_window",
        "fresh_error",
        "fresh_error_down",
        "fresh_samples",
        "max_shifts",
        "max_window",
        "rate_window",
        "threshold",
        "warmup",
    )

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        confirm: int = 1,
        confirm_up: int | None = None,
        max_window: int = 20,
        error_window: int = 20,
        discount: str = "pred",
        fresh_error: float = 0.0,
        fresh_samples: int = 0,
        fresh_error_down: float | None = None,
        rate_window: int = 30,
        max_shifts: int = 3,
        warmup: int = 0,
    ) -> None:
        if not (isinstance(threshold, int | float) and 0.0 < threshold < math.inf):
            raise PolicyConfigError(f"LevelShiftHarmonic: threshold must be > 0, got {threshold!r}")
        if not (isinstance(fresh_error, int | float) and 0.0 <= fresh_error < math.inf):
            raise PolicyConfigError(
                f"LevelShiftHarmonic: fresh_error must be >= 0, got {fresh_error!r}"
            )
        for name, v, low in (
            ("confirm", confirm, 1),
            ("confirm_up", confirm if confirm_up is None else confirm_up, 1),
            ("max_window", max_window, 1),
            ("error_window", error_window, 1),
            ("fresh_samples", fresh_samples, 0),
            ("rate_window", rate_window, 1),
            ("max_shifts", max_shifts, 0),
            ("warmup", warmup, 0),
        ):
            _check_int(name, v, low)
        fd = fresh_error if fresh_error_down is None else fresh_error_down
        if not (isinstance(fd, int | float) and 0.0 <= fd < math.inf):
            raise PolicyConfigError(
                f"LevelShiftHarmonic: fresh_error_down must be >= 0, got {fresh_error_down!r}"
            )
        if discount not in DISCOUNTS:
            raise PolicyConfigError(
                f"LevelShiftHarmonic: discount must be one of {DISCOUNTS}, got {discount!r}"
            )
        self.threshold = float(threshold)
        self.confirm = confirm
        self.confirm_up = confirm if confirm_up is None else confirm_up
        self.max_window = max_window
        self.error_window = error_window
        self.discount = discount
        self.fresh_error = float(fresh_error)
        self.fresh_samples = fresh_samples
        self.fresh_error_down = float(fd)
        self._last_up = True  # direction of the last shift (the start counts as upward)
        self.rate_window = rate_window
        self.max_shifts = max_shifts
        self.warmup = warmup
        self._stretch: deque[float] = deque(maxlen=max_window)
        self._errors: deque[float] = deque(maxlen=error_window)
        self._stretch_errors = 0  # errors recorded since the stretch began (uncapped)
        self._pending: list[float] = []
        self._pending_up = False
        self._shifts: deque[int] = deque()  # sample numbers of the shifts
        self._n = 0
        self._prev: float | None = None
        self._mean_value: float | None = None  # the stretch's harmonic mean (None: empty)

    def _mean(self) -> float:
        inv = 0.0
        for v in self._stretch:
            inv += 1.0 / v
        return len(self._stretch) / inv

    def _update_mean(self) -> None:
        self._mean_value = self._mean() if self._stretch else None

    def add(self, bps: float) -> None:
        """Feed one throughput sample (bits per second, > 0)."""
        if not (bps > 0.0 and bps != math.inf):  # also rejects NaN
            raise PolicyConfigError(f"LevelShiftHarmonic: sample must be > 0, got {bps!r}")
        self._n += 1
        stretch = self._stretch
        prev = self._prev
        self._prev = bps
        if not stretch:
            stretch.append(bps)
            self._errors.append(0.0)
            self._stretch_errors = 1
            self._update_mean()
            return
        mean = self._mean_value
        assert mean is not None
        err = abs(mean - bps) / bps if self.discount == "pred" else abs(prev - bps) / bps
        d = math.log(bps / mean)
        if d > self.threshold or d < -self.threshold:
            up = d > 0.0
            if not self._pending or up != self._pending_up:
                self._pending = []
                self._pending_up = up
            self._pending.append(bps)
            if len(self._pending) >= (self.confirm_up if up else self.confirm):
                self._shift()
                self._update_mean()
                return
        else:
            self._pending = []
        stretch.append(bps)
        self._errors.append(err)
        self._stretch_errors += 1
        self._update_mean()

    def _shift(self) -> None:
        self._last_up = self._pending_up
        self._stretch.clear()
        self._stretch.extend(self._pending)
        self._pending = []
        self._errors.clear()
        self._stretch_errors = 0
        if self.discount == "noise":  # the noise between the confirming samples
            p = self._stretch
            for a, b in zip(list(p)[:-1], list(p)[1:], strict=True):
                self._errors.append(abs(a - b) / b)
                self._stretch_errors += 1
        shifts = self._shifts
        shifts.append(self._n)
        while shifts and shifts[0] <= self._n - self.rate_window:
            shifts.popleft()

    @property
    def guard_off(self) -> bool:
        """``max_shifts >= rate_window``: shifts can never be ``frequent``, so once
        ``ready`` this estimator stays ready."""
        return self.max_shifts >= self.rate_window

    @property
    def frequent(self) -> bool:
        """More than ``max_shifts`` shifts among the last ``rate_window`` samples."""
        if self.max_shifts >= self.rate_window:
            return False
        shifts = self._shifts
        while shifts and shifts[0] <= self._n - self.rate_window:
            shifts.popleft()
        return len(shifts) > self.max_shifts

    @property
    def ready(self) -> bool:
        """At least ``warmup`` samples seen and shifts not ``frequent``: the caller
        should predict with this estimator (otherwise with its fallback)."""
        return self._n >= self.warmup and not self.frequent

    @property
    def just_dropped(self) -> bool:
        """The last sample started a stretch by a downward shift (no error recorded since):
        the new level is one, often mixed, sample old."""
        return not self._last_up and self._stretch_errors == 0

    @property
    def stretch_length(self) -> int:
        """Samples in the current stretch (capped at ``max_window``)."""
        return len(self._stretch)

    def prediction(self) -> float | None:
        """Harmonic mean of the current stretch (bits per second), None before any sample."""
        return self._mean_value

    def errors(self, fresh: tuple[float, float] | None = None) -> list[float]:
        """Discount errors of the current stretch, oldest first (<= error_window), plus
        ``fresh_error`` (``fresh_error_down`` after a downward shift) while the stretch has
        fewer than ``fresh_samples`` of them; [0.0] for a stretch with none yet. ``fresh``
        = (up, down) replaces the two fresh errors for this call."""
        errs = list(self._errors)
        if self._stretch_errors < self.fresh_samples:
            up, down = fresh or (self.fresh_error, self.fresh_error_down)
            errs.append(up if self._last_up else down)
        return errs or [0.0]
