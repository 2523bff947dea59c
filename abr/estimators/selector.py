"""Online selection among harmonic-mean throughput predictors (per-trace adaptive).

Which window suits a link depends on the link: on near-independent
bandwidth draws (FCC broadband, 5 s samples) the expected download time of
a chunk is ``size × E[1/bw]``, so a harmonic mean over a *long* window is
the best estimate; on autocorrelated links (3G) the recent samples carry the
information and a short window wins. :class:`SelectedHarmonic` keeps the
harmonic means of several windows, scores each on every new sample by its
error on that sample (the prediction it made *before* the sample), and
predicts with the candidate whose mean score over the last
``selection_window`` samples is lowest (ties: the earlier candidate).

Scores (``score``):

- ``"log"``: ``|log(prediction / sample)|``, symmetric in ratio;
- ``"rel"``: ``|prediction − sample| / sample``, RobustMPC's relative error
  (the relative error of the predicted download time ``size / prediction``
  against the true one).

Each candidate also keeps its own history of *discount errors* (``errors()``
of the selected one feed the caller's discount), computed on the same
sample as the score:

- ``"abs"``: ``|prediction − sample| / sample`` (RobustMPC's error);
- ``"over"``: ``max(0, prediction / sample − 1)``, the download-time
  overrun only: the factor by which the prediction had to be divided so
  that the chunk would not have taken longer than planned.

The first sample records an error and a score of 0 for every candidate (no
prediction existed), as RobustMPC records its first error. Pure: no I/O,
no clock.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice

from ..errors import PolicyConfigError

__all__ = ["DISCOUNT_ERRORS", "MODES", "SCORES", "SelectedHarmonic"]

SCORES = ("log", "rel")
DISCOUNT_ERRORS = ("abs", "over")
MODES = ("best", "blend")
BLEND_FLOOR = 0.01  # added to a candidate's mean score before weighting by its inverse square


class SelectedHarmonic:
    """Harmonic means over several windows; predicts with the recently most accurate one."""

    __slots__ = (
        "_blend",
        "_blending",
        "_errors",
        "_log",
        "_over",
        "_own_errors",
        "_predictions",
        "_scores",
        "_selected",
        "_totals",
        "_values",
        "discount_error",
        "error_window",
        "margin",
        "mode",
        "score",
        "selection_window",
        "windows",
    )

    def __init__(
        self,
        windows: tuple[int, ...] = (3, 5, 10, 20),
        *,
        selection_window: int = 10,
        error_window: int = 20,
        score: str = "log",
        discount_error: str = "abs",
        mode: str = "best",
        margin: float = 1.0,
    ) -> None:
        if not windows or any(
            not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in windows
        ):
            raise PolicyConfigError(f"SelectedHarmonic: windows must be ints >= 1, got {windows!r}")
        for name, v in (("selection_window", selection_window), ("error_window", error_window)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise PolicyConfigError(f"SelectedHarmonic: {name} must be an int >= 1, got {v!r}")
        if score not in SCORES:
            raise PolicyConfigError(
                f"SelectedHarmonic: score must be one of {SCORES}, got {score!r}"
            )
        if discount_error not in DISCOUNT_ERRORS:
            raise PolicyConfigError(
                f"SelectedHarmonic: discount_error must be one of {DISCOUNT_ERRORS},"
                f" got {discount_error!r}"
            )
        if mode not in MODES:
            raise PolicyConfigError(f"SelectedHarmonic: mode must be one of {MODES}, got {mode!r}")
        if not (isinstance(margin, int | float) and 0.0 < margin <= 1.0):
            raise PolicyConfigError(f"SelectedHarmonic: margin must be in (0, 1], got {margin!r}")
        self.margin = float(margin)
        self.mode = mode
        self.windows = tuple(windows)
        self.selection_window = selection_window
        self.error_window = error_window
        self.score = score
        self.discount_error = discount_error
        self._log = score == "log"
        self._over = discount_error == "over"
        self._blending = mode == "blend"
        self._values: deque[float] = deque(maxlen=max(self.windows))
        k = len(self.windows)
        self._scores = [deque(maxlen=selection_window) for _ in range(k)]
        self._errors = [deque(maxlen=error_window) for _ in range(k)]
        self._totals = [0.0] * k
        self._own_errors: deque[float] = deque(maxlen=error_window)
        self._predictions: list[float] | None = None
        self._blend: float | None = None
        self._selected = 0

    def add(self, bps: float) -> None:
        """Feed one throughput sample (bits per second, > 0)."""
        if not (bps > 0.0 and bps != math.inf):  # also rejects NaN
            raise PolicyConfigError(f"SelectedHarmonic: sample must be > 0, got {bps!r}")
        preds = self._predictions
        totals = self._totals
        over = self._over
        if preds is None:
            for sc, er in zip(self._scores, self._errors, strict=True):
                sc.append(0.0)
                er.append(0.0)
        else:
            log = self._log
            full = len(self._scores[0]) == self.selection_window
            for i, p in enumerate(preds):
                rel = (p - bps) / bps
                if log:
                    s = math.log(p / bps) if p > bps else math.log(bps / p)
                else:
                    s = rel if rel > 0.0 else -rel
                sc = self._scores[i]
                if full:
                    totals[i] -= sc[0]
                sc.append(s)
                totals[i] += s
                self._errors[i].append((rel if rel > 0.0 else 0.0) if over else abs(rel))
        blend = self._blending
        if blend:
            p = self._blend
            rel = 0.0 if p is None else (p - bps) / bps
            self._own_errors.append((rel if rel > 0.0 else 0.0) if over else abs(rel))
        values = self._values
        values.append(bps)
        # harmonic means of the last w samples, summed oldest first (RobustMPC's order)
        n = len(values)
        preds = []
        for w in self.windows:
            inv = 0.0
            for v in islice(values, n - w if n > w else 0, n):
                inv += 1.0 / v
            preds.append((w if n > w else n) / inv)
        self._predictions = preds
        # running totals of the last selection_window scores; the others must beat the
        # first candidate's by the margin
        best = 0
        if len(totals) > 1:
            best_score = totals[0] * self.margin
            for i in range(1, len(totals)):
                if totals[i] < best_score:
                    best, best_score = i, totals[i]
        self._selected = best
        if blend:
            # weights 1 / (mean score + floor)^2, combined in 1/bandwidth (download time)
            wsum = inv = 0.0
            for i, p in enumerate(preds):
                w = 1.0 / (totals[i] / len(self._scores[i]) + BLEND_FLOOR) ** 2
                wsum += w
                inv += w / p
            self._blend = wsum / inv

    @property
    def selected(self) -> int:
        """Index (into ``windows``) of the candidate predicting now."""
        return self._selected

    @property
    def scored(self) -> int:
        """Samples in the current scores (<= selection_window)."""
        return len(self._scores[0])

    def score_ratio(self, i: int = 1) -> float:
        """Candidate ``i``'s summed score over the last ``selection_window`` samples divided
        by the first candidate's (the anchor's); inf while the anchor's is 0."""
        t0 = self._totals[0]
        return self._totals[i] / t0 if t0 > 0.0 else math.inf

    def prediction(self) -> float | None:
        """The selected candidate's harmonic mean (bits per second), None before any sample."""
        if self._predictions is None:
            return None
        if self.mode == "blend":
            return self._blend
        return self._predictions[self._selected]

    def predictions(self) -> list[float] | None:
        """Every candidate's current prediction, in ``windows`` order."""
        return None if self._predictions is None else list(self._predictions)

    def errors(self) -> list[float]:
        """Discount errors, oldest first (<= error_window): the selected candidate's
        ("best"), or those of the blended prediction itself ("blend")."""
        if self.mode == "blend":
            return list(self._own_errors)
        return list(self._errors[self._selected])
