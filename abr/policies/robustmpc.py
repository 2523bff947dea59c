"""RobustMPC (Yin et al., "A Control-Theoretic Approach for Dynamic Adaptive
Video Streaming over HTTP", SIGCOMM 2015), as Pensieve's evaluation runs it.

After each chunk: throughput sample = chunk bytes / download seconds (latency
included). Prediction = harmonic mean of the last <= 5 samples divided by
``1 + max(last 5 relative errors)``, where an error is
``|previous undiscounted harmonic mean - new sample| / new sample`` (the
first decision records an error of 0, as Pensieve's ``mpc.py`` does).

The plan enumerates every rung combination over the next ``min(5, chunks
left)`` chunks: download time = size / prediction, rebuffer when it exceeds
the buffer, then + one segment of buffer (no cap inside the plan). Score
(QoE_lin, Pensieve): ``Σ Mbps − 4.3 Σ rebuffer_s − Σ |Δ Mbps|`` starting
from the current rung. The first rung of the best plan is taken.

Modes (:class:`RobustMpcConfig.mode`):

- ``"corrected"`` (default): sizes of the chunks actually fetched next; ties
  go to the first best plan in lexicographic order.
- ``"pensieve"``: reproduces two quirks of Pensieve's ``mpc.py`` (QOE.md):
  the sizes used are those one position later than the chunks fetched next
  (clamped to the last known chunk), and among equal scores the combination
  enumerated last (lexicographic order) wins. The error history is fresh per
  policy instance (quirk 3, history carried across sessions, is not kept).

Speed: the search (:mod:`abr.policies.mpc_search`) is exact: a compiled
branch and bound (``_mpc_kernel.c``, built at install time where a C
compiler exists; ~11 µs a decision) or, without it, the rebuffer of every
plan in closed form (a reflected walk) over the numpy tree of plans, then the
few plans within a rounding margin of the best are scored with the float
operations of :func:`brute_force_plan` (Pensieve's loop). Either way the
answer is the reference's bit for bit, ties included. By default
(``score_order="pensieve"``) scores are combined in exactly the order
Pensieve's code uses ``(Σbitrate/1e6 − 4.3·rebuffer) − Σswitch/1e6``, so
near-ties fall as there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ..estimators.ewma import MIN_SECONDS
from . import mpc_kernel
from ._common import SampleCursor, check_config
from .mpc_search import (
    FORMULAS,
    best_plan,
    brute_force_plan,
    kernel_in_use,
    ladder,
    prepare_table_search,
    search,
    table_block,
)

__all__ = [
    "FORMULAS",
    "MODES",
    "RobustMpcConfig",
    "RobustMpcPolicy",
    "best_plan",
    "brute_force_plan",
]

MODES = ("corrected", "pensieve")


@dataclass(frozen=True, slots=True)
class RobustMpcConfig:
    """RobustMPC parameters (Yin et al. 2015; values of Pensieve's ``mpc.py``).

    horizon: chunks planned ahead (5).
    throughput_window: samples in the harmonic mean (5).
    error_window: past relative errors whose maximum discounts the prediction (5).
    rebuffer_penalty: QoE_lin penalty per second of rebuffering, in Mbps-equivalents (4.3).
    bitrate_unit_bps: unit of the bitrate terms of the score (1e6: Mbps).
    mode: "corrected" (default) or "pensieve" (quirks (1) and (2) of QOE.md).
    max_plans: memory/time guard: with very wide ladders the horizon shrinks for that
        decision until n^horizon <= max_plans (250,000 keeps a 10-rung ladder at 5 chunks).
    score_order: "pensieve" (default): combine the score terms in mpc.py's floating-point
        order, so near-ties fall as in the reference implementations; "exact": integer-exact
        bitrate terms, so true ties are ties (then broken by ``mode``'s rule).
    """

    horizon: int = 5
    throughput_window: int = 5
    error_window: int = 5
    rebuffer_penalty: float = 4.3
    bitrate_unit_bps: float = 1e6
    mode: str = "corrected"
    score_order: str = "pensieve"
    max_plans: int = 250_000

    def __post_init__(self) -> None:
        check_config(self)
        for name in ("horizon", "throughput_window", "error_window", "max_plans"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise PolicyConfigError(f"RobustMpcConfig.{name} must be an int >= 1, got {v!r}")
        if self.horizon > 8:
            raise PolicyConfigError("RobustMpcConfig.horizon must be <= 8 (n^horizon plans)")
        if self.bitrate_unit_bps <= 0:
            raise PolicyConfigError("RobustMpcConfig.bitrate_unit_bps must be > 0")
        if self.score_order not in FORMULAS:
            raise PolicyConfigError(
                f"RobustMpcConfig.score_order must be one of {FORMULAS}, got {self.score_order!r}"
            )
        if self.mode not in MODES:
            raise PolicyConfigError(
                f"RobustMpcConfig.mode must be one of {MODES}, got {self.mode!r}"
            )


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


class RobustMpcPolicy:
    """RobustMPC with a harmonic-mean predictor discounted by its recent max error."""

    name = "robustmpc"

    def __init__(self, config: RobustMpcConfig | None = None) -> None:
        self.config = config or RobustMpcConfig()
        if self.config.mode == "pensieve":
            self.name = "robustmpc-pensieve"
        self._cursor = SampleCursor()
        self._errors: list[float] = []
        self._last_prediction: float | None = None
        self._window: list[float] = []
        self._ladder_key: tuple | None = None
        #: (sizes, ladder key, kernel, score order, pensieve, prepared search) of the last plan
        self._prepared: tuple | None = None
        self._max_error = 0.0
        #: the discounted throughput prediction (bits per second) used by the last decision
        self.prediction_bps: float | None = None

    def _update_predictor(self, ctx: AbrContext) -> float | None:
        cfg = self.config
        fresh = self._cursor.new(ctx.samples)
        if fresh:
            window = self._window
            added = False
            for s in fresh:
                if s.bytes > 0 and s.seconds >= MIN_SECONDS:
                    window.append(8.0 * s.bytes / s.seconds)
                    added = True
            if added:
                if len(window) > cfg.throughput_window:
                    del window[: -cfg.throughput_window]
                newest = window[-1]
                prev = self._last_prediction
                self._errors.append(0.0 if prev is None else abs(prev - newest) / newest)
                if len(self._errors) > cfg.error_window:
                    del self._errors[: -cfg.error_window]
                inv = 0.0
                for v in window:
                    inv += 1.0 / v
                self._last_prediction = len(window) / inv
                self._max_error = max(self._errors)
        if self._last_prediction is None:
            return None
        return self._last_prediction / (1.0 + self._max_error)

    def _download_times(self, ctx: AbrContext, h: int, n: int, bytes_per_s: float) -> np.ndarray:
        """Download times (h, n) of the planned chunks at ``bytes_per_s``."""
        first = ctx.segment_index + (1 if self.config.mode == "pensieve" else 0)
        sizes = ctx.sizes
        if len(sizes):  # pensieve mode looks one past the end: rows clamped to the table
            block = table_block(_size_table(sizes), first, h, n)
        else:
            block = np.array(
                [[ctx.segment_bytes(seg, r) for r in range(n)] for seg in range(first, first + h)],
                dtype=float,
            )
        return block / bytes_per_s

    def _plan_buffer_s(self, ctx: AbrContext) -> float:
        """The buffer level the plan starts from (subclasses may hold some in reserve)."""
        return ctx.buffer_s

    def _buffer_note(self, ctx: AbrContext, buffer_s: float) -> str:
        return ""

    def decide(self, ctx: AbrContext) -> Decision:
        cfg = self.config
        top = ctx.top_rung
        last = min(max(ctx.last_rung, 0), top)
        prediction = self._update_predictor(ctx)
        self.prediction_bps = prediction
        if prediction is None or not prediction > 0:
            return Decision(last, self.name, f"no throughput sample yet: keep rung {last}")
        h = min(cfg.horizon, ctx.segment_count - ctx.segment_index)
        if h <= 0:
            return Decision(last, self.name, "no segment left to plan: keep current rung")
        buffer_s = self._plan_buffer_s(ctx)
        rung, plan_note = self._plan(ctx, h, top + 1, last, prediction, buffer_s)
        return Decision(
            rung,
            self.name,
            f"prediction {prediction / 1e6:.3f} Mbps (harmonic mean / (1 + max error"
            f" {self._max_error:.3f})); {plan_note}"
            f" at buffer {ctx.buffer_s:.2f}s{self._buffer_note(ctx, buffer_s)}",
        )

    def _plan(
        self, ctx: AbrContext, h: int, n: int, last: int, prediction: float, buffer_s: float
    ) -> tuple[int, str]:
        """The first rung of the best plan over ``h`` chunks and ``n`` rungs, and a note
        for the reason (subclasses may plan differently)."""
        cfg = self.config
        key, run = self._plan_setup(ctx, h, n)
        pensieve = cfg.mode == "pensieve"
        if run is not None:  # the download times come from the size table
            idx, score = run(
                ctx.segment_index + (1 if pensieve else 0),
                prediction / 8.0,
                buffer_s,
                ctx.segment_duration_s,
                last,
                cfg.rebuffer_penalty,
            )
        else:
            idx, score = search(
                key[3],
                self._download_times(ctx, key[2], n, prediction / 8.0),
                buffer_s,
                ctx.segment_duration_s,
                last,
                cfg.score_order,
                pensieve,
                cfg.rebuffer_penalty,
            )
        return _decode(key, idx, score)

    def _plan_setup(
        self, ctx: AbrContext, h: int, n: int
    ) -> tuple[tuple, mpc_kernel.PreparedSearch | Callable[..., tuple[int, float]] | None]:
        """(ladder key, prepared size-table search or None without sizes) of a plan over
        ``h`` chunks (fewer when n^h > max_plans) and ``n`` rungs; the key is (bitrates,
        n, h, :class:`~abr.policies.mpc_search.Ladder`, plan decodings), both cached."""
        cfg = self.config
        while h > 1 and n**h > cfg.max_plans:
            h -= 1
        bitrates = ctx.bitrates_bps
        key = self._ladder_key
        if key is None or key[0] is not bitrates or key[1] != n or key[2] != h:
            rates = tuple(float(b) for b in bitrates[:n])
            lad = ladder(rates, h, cfg.bitrate_unit_bps)
            self._ladder_key = key = (bitrates, n, h, lad, _decoded_plans(lad))
        sizes = ctx.sizes
        if not sizes:
            return key, None
        pensieve = cfg.mode == "pensieve"
        prep = self._prepared
        if (
            prep is None
            or prep[0] is not sizes
            or prep[1] is not key
            or prep[2] is not kernel_in_use()
            or prep[3] != cfg.score_order
            or prep[4] != pensieve
        ):
            table = _size_table_entry(sizes)[0]
            reuse = prep[5] if prep is not None else None  # rebound, not remade
            run = prepare_table_search(key[3], table, cfg.score_order, pensieve, reuse)
            prep = (sizes, key, kernel_in_use(), cfg.score_order, pensieve, run)
            self._prepared = prep
        return key, prep[5]


def _decode(key: tuple, idx: int, score: float) -> tuple[int, str]:
    """(first rung, reason note) of plan index ``idx`` of the ladder ``key`` (decodings
    cached per ladder)."""
    plans = key[4]  # plan index -> (first rung, "best h-chunk plan [...]"), per ladder
    hit = plans.get(idx)
    if hit is None:
        h, n = key[2], key[1]
        plan, rest = [], idx
        for _ in range(h):
            rest, digit = divmod(rest, n)
            plan.append(digit)
        plan.reverse()
        if len(plans) >= 4096:
            plans.clear()
        hit = plans[idx] = (plan[0], f"best {h}-chunk plan {plan} scores ")
    return hit[0], f"{hit[1]}{score:.3f}"


_DECODED: dict[int, tuple[object, dict[int, tuple[int, str]]]] = {}


def _decoded_plans(lad: object) -> dict[int, tuple[int, str]]:
    """The plan-index decoding cache of a ladder (shared by the policies that use it)."""
    hit = _DECODED.get(id(lad))
    if hit is not None and hit[0] is lad:
        return hit[1]
    if len(_DECODED) > 256:
        _DECODED.clear()
    plans: dict[int, tuple[int, str]] = {}
    _DECODED[id(lad)] = (lad, plans)
    return plans


_SIZE_TABLES: dict[int, tuple[object, np.ndarray, int]] = {}


def _size_table_entry(sizes: Sequence[Sequence[int]]) -> tuple[np.ndarray, int]:
    """``ctx.sizes`` as a float array and its data address, converted once per table
    object (it is shared by every decision of a title)."""
    hit = _SIZE_TABLES.get(id(sizes))
    if hit is not None and hit[0] is sizes:
        return hit[1], hit[2]
    if len(_SIZE_TABLES) > 256:
        _SIZE_TABLES.clear()
    table = np.ascontiguousarray(sizes, dtype=float)
    if table.ndim != 2:
        raise PolicyConfigError("ctx.sizes must be a rectangular [segment][rung] table")
    _SIZE_TABLES[id(sizes)] = (sizes, table, table.ctypes.data)
    return table, table.ctypes.data


def _size_table(sizes: Sequence[Sequence[int]]) -> np.ndarray:
    """``ctx.sizes`` as a float array (cached, see :func:`_size_table_entry`)."""
    return _size_table_entry(sizes)[0]
