"""LongMPC: RobustMPC with level-shift-aware prediction, a long error memory and a reserve.

RobustMPC (Yin et al., SIGCOMM 2015) divides its harmonic-mean throughput
prediction by ``1 + max(relative error of the last 5 predictions)`` and plans
5 chunks ahead. Three weaknesses show on bursty links (3G, the FCC sets):

1. *Short memory.* Five errors are 15–20 s of session: after one calm
   stretch the discount vanishes, the plan climbs, and the next drop is paid
   in rebuffering at 4.3 Mbps-equivalents per second. LongMPC discounts by
   ``1 + max(max of the last 5 errors, 75th percentile of the last 20)``:
   a link that has been wrong often stays discounted for ~60–80 s, while an
   isolated outlier on a stable link (FCC) ages out of the percentile as
   quickly as in RobustMPC. (A plain max over 20 errors helps the bursty
   sets even more but costs 10 % on stable FCC traces: too pessimistic.)
2. *Plans that end empty.* A 5-chunk plan happily ends with an empty buffer;
   the planning horizon is where the prediction is least reliable. LongMPC
   plans as if one segment of buffer were already spent
   (``buffer − reserve_segments × segment duration``, floored at 0), so the
   chosen plan keeps one segment in hand against the prediction's error.
3. *One window for every link.* The harmonic mean of the last 5 samples lags
   links whose level switches between long flat stretches (FCC traces, e.g.
   ~1.5 Mbps for a minute, then ~22 Mbps), where the last 3 samples predict
   the next one with ~25 % less log error; on 3G the two are within ~8 %.
   LongMPC scores both windows on every new sample by ``|log(prediction /
   sample)|`` summed over the last 60 samples
   (:class:`abr.estimators.selector.SelectedHarmonic`) and switches to the
   3-sample mean only while it is better than the 5-sample one by a margin
   (score < 0.8 × window 5's); the discount then uses the errors of the
   window that predicts. Window 3 predicts for 71–86 % of the samples on the
   FCC sets and 3–6 % on 3G / pensieve_train.
4. *Errors that outlive a level shift.* Even the best fixed window mixes two
   levels right after a shift, and the shift itself enters the error memory
   and discounts the new level for 20 samples. By default (``predictor
   "levelshift"``, :class:`abr.estimators.levelshift.LevelShiftHarmonic`)
   LongMPC predicts with the harmonic mean of the samples since the last
   level shift (a sample more than e^0.8 ≈ 2.2× away from the stretch's
   mean starts a new stretch), discounts by that stretch's errors only, and
   adds an error of 0.75 while the stretch is younger than 20 samples (a new
   level is not yet known to be stable). The window selector of 3. predicts
   for a session's first 10 samples and feeds nothing else.
5. *One risk for every link.* With an accurate predictor on the FCC sets'
   flat stretches the plan trades stalls for bitrate differently than on 3G.
   By default (``risk_ratio`` 0.8) the window selector keeps scoring every
   sample; while window 3's summed log error is below 0.8 × window 5's (an
   FCC-like link: 0.70–0.81 per trace on the FCC sets, 0.83–1.05 on 3G /
   pensieve_train) and at least 5 samples were scored, LongMPC plans with
   rebuffer penalty 4.9, a 1.5-segment reserve and a fresh-stretch error of
   0.5 instead of 4.3, 1 and 0.75 (more trust in a young stretch, more
   buffer kept against it).
6. *Deep drops and the chunk caught by one.* FCC-like links switch between
   levels far apart (e.g. ~1.5 Mbps for a minute, then ~22 Mbps): a chunk
   planned at the high level and caught by the drop stalls for tens of
   seconds, and the first sample after a drop mixes the two levels, so the
   next chunk is still planned too high. LongMPC keeps the session's highest
   stretch level and its lowest mature one (stretches of at least
   ``drop_min_samples`` = 10 samples). Right after a downward shift on an
   FCC-like link (``drop_prob`` 0.5) the first chunk's rung r is charged
   ``penalty × 0.5 × max(0, size_r / lowest level − buffer)``, the stall if
   the link came down to the lowest level seen, and the plan's first rung is
   the best of (best plan score starting with r − that charge)
   (:func:`abr.policies.mpc_search.best_by_first_rung`; rungs downward from
   the plan's to the first that cannot stall, on ~0.2–0.7 % of the FCC
   sets' decisions). While the highest level is at least ``deep_span`` = 8 ×
   the lowest ("deep" links), a young stretch after a downward shift gets an
   error of 0.2 instead of 0.5 (the drop is guarded by the charge above, so
   the new low level can be trusted) and plans use a rebuffer penalty of
   4.8.

Everything else is corrected RobustMPC: same horizon, same QoE_lin
objective, same exact plan search (:mod:`abr.policies.robustmpc`). The
predictors run compiled where a C compiler existed at install
(:mod:`abr.estimators.predict_kernel`; the Python estimators otherwise, same
numbers), and a decision is then one C call for predictor and plan: ~12 µs
per decision, RobustMPC's cost or a few per cent less (pensieve_train, CPU
time; docs/policy-longmpc.md, "Cost"). Tuning and results:
docs/policy-longmpc.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ..estimators import predict_kernel
from ..estimators.ewma import MIN_SECONDS
from ..estimators.levelshift import LevelShiftHarmonic
from ..estimators.selector import SelectedHarmonic
from . import mpc_search
from ._common import check_config
from .longmpc_setup import shared_setup
from .mpc_dp import dp_plan
from .mpc_kernel import PreparedSearch
from .mpc_search import Ladder, best_by_first_rung
from .robustmpc import FORMULAS, RobustMpcConfig, RobustMpcPolicy, _decode

__all__ = ["PLANNERS", "PREDICTORS", "LongMpcConfig", "LongMpcPolicy"]

PLANNERS = ("enum", "dp")
PREDICTORS = ("hm", "select", "levelshift")


@dataclass(frozen=True, slots=True)
class LongMpcConfig:
    """LongMPC parameters (RobustMPC's, plus the error memory and the reserve).

    horizon: chunks planned ahead (5, as RobustMPC).
    throughput_window: samples in the harmonic mean (5, as RobustMPC).
    error_window: past relative errors kept for the long-memory discount (20).
    short_error_window: the most recent errors whose maximum always counts (5, RobustMPC's).
    error_quantile: quantile (linear interpolation) of the kept errors that also counts;
        the discount is 1 + max(short max, this quantile). 1.0 = max over error_window.
    reserve_segments: segments of buffer the plan keeps in hand (1.0): plans see
        ``buffer − reserve_segments × segment_duration_s`` (floored at 0).
    discount_weight: the error discount is ``1 + weight × error``; None = automatic,
        ``min(1, rebuffer_penalty / top bitrate in bitrate units)``.
    rebuffer_penalty: QoE_lin penalty per second of rebuffering, Mbps-equivalents (4.3).
    bitrate_unit_bps: unit of the bitrate terms of the score (1e6: Mbps).
    score_order: "pensieve" or "exact" float order of the score terms (see RobustMpcConfig).
    max_plans: the horizon shrinks for a decision until n^horizon <= max_plans.
    planner: "enum" (RobustMPC's exact search over n^horizon plans; horizon <= 8) or
        "dp" (:func:`abr.policies.mpc_dp.dp_plan`: a DP over (chunk, rung, buffer on a
        ``dp_grid_s`` grid capped at the engine's buffer max), for long horizons (<= 24).
    dp_grid_s: buffer grid of the "dp" planner, seconds (0.25).
    terminal_value: "dp" only: score per second of buffer left at the plan's end (0).
    predictor: "levelshift" (default; :class:`abr.estimators.levelshift.LevelShiftHarmonic`:
        the harmonic mean of the samples since the last level shift, discounted by that
        stretch's errors only; the "select" predictor stands in for the first
        ``shift_warmup`` samples), "select" (:class:`abr.estimators.selector.SelectedHarmonic`:
        the harmonic mean over whichever of ``predictor_windows`` scored best over the last
        ``selection_window`` samples; the discount then uses that candidate's own errors;
        the default of session 3's first commit) or "hm" (the harmonic mean of the last
        ``throughput_window`` samples: the predictor of longmpc before session 3).
    predictor_windows: "select" only: candidate windows, samples ((5, 3)); the first is
        the anchor that the others must beat by ``selection_margin``.
    selection_window: "select" only: samples over which candidates are scored (60).
    selection_score: "select" only: "log" (|log(prediction / sample)|) or "rel"
        (|prediction − sample| / sample).
    discount_error: "select" only: "abs" (RobustMPC's |prediction − sample| / sample) or
        "over" (max(0, prediction / sample − 1): the download-time overrun only).
    selection_mode: "select" only: "best" (the best-scoring candidate predicts, its errors
        discount) or "blend" (every candidate, weighted by 1 / (mean score + 0.01)², combined
        in 1/bandwidth; the blend's own errors discount).
    selection_margin: "select" only: a candidate other than the first predicts only when
        its score is below ``margin`` × the first's (0.8); 1.0 = plain lowest score.
        (The "select" options also configure "levelshift"'s stand-in.)
    shift_threshold: "levelshift" only: |log(sample / stretch mean)| that starts a new
        stretch (0.8).
    shift_fresh_error: "levelshift" only: error added to a stretch's errors while it has
        fewer than ``shift_fresh_samples`` (0.75, 20).
    shift_fresh_error_down: "levelshift" only: the same after a downward shift (None: as
        ``shift_fresh_error``).
    shift_warmup: "levelshift" only: samples before it predicts (10).
    risk_ratio: "levelshift" only: adaptive planning risk (0 = off): while the selector's
        score ratio (``predictor_windows[1]``'s summed log error over the anchor's, last
        ``selection_window`` samples) is below this, the link is taken as FCC-like (long
        flat stretches) and the plan uses the ``risk_*`` settings below (0.8).
    risk_min_samples: samples the selector must have scored before the ratio counts (5).
    risk_rebuffer_penalty: rebuffer penalty of plans on an FCC-like link (4.9; None: as
        ``rebuffer_penalty``).
    risk_reserve_segments: reserve of plans on an FCC-like link (1.5; None: as
        ``reserve_segments``).
    risk_fresh_error: fresh-stretch error after an upward shift on an FCC-like link (0.5;
        None: ``shift_fresh_error``).
    risk_fresh_error_down: the same after a downward shift (None: as ``risk_fresh_error``,
        or ``shift_fresh_error_down`` when both are None).
    drop_prob: drop-aware first chunk ("levelshift" with risk on, "enum" planner; 0 =
        off): right after a downward shift on an FCC-like link, the first chunk's rung r
        is charged ``rebuffer_penalty × drop_prob × max(0, size_r / lowest level −
        buffer)`` and the first rung is the best of (best plan score starting with r −
        charge) (0.5).
    drop_min_samples: samples a stretch needs before its level counts as the session's
        lowest (10).
    deep_span: deep-link risk (0 = off): while the link is FCC-like and the session's
        highest stretch level is at least this × its lowest, ``deep_*`` replace the
        ``risk_*`` settings below (8.0).
    deep_fresh_error_down: fresh-stretch error after a downward shift on a deep link
        (0.2; None: as on an FCC-like link).
    deep_rebuffer_penalty: rebuffer penalty of plans on a deep link (4.8; None: as on an
        FCC-like link).
    """

    horizon: int = 5
    throughput_window: int = 5
    error_window: int = 20
    short_error_window: int = 5
    error_quantile: float = 0.75
    reserve_segments: float = 1.0
    discount_weight: float | None = 1.0
    rebuffer_penalty: float = 4.3
    bitrate_unit_bps: float = 1e6
    score_order: str = "pensieve"
    max_plans: int = 250_000
    planner: str = "enum"
    dp_grid_s: float = 0.25
    terminal_value: float = 0.0
    predictor: str = "levelshift"
    predictor_windows: tuple[int, ...] = (5, 3)
    selection_window: int = 60
    selection_score: str = "log"
    discount_error: str = "abs"
    selection_mode: str = "best"
    selection_margin: float = 0.8
    shift_threshold: float = 0.8
    shift_fresh_error: float = 0.75
    shift_fresh_samples: int = 20
    shift_fresh_error_down: float | None = None
    shift_warmup: int = 10
    risk_ratio: float = 0.8
    risk_min_samples: int = 5
    risk_rebuffer_penalty: float | None = 4.9
    risk_reserve_segments: float | None = 1.5
    risk_fresh_error: float | None = 0.5
    risk_fresh_error_down: float | None = None
    drop_prob: float = 0.5
    drop_min_samples: int = 10
    deep_span: float = 8.0
    deep_fresh_error_down: float | None = 0.2
    deep_rebuffer_penalty: float | None = 4.8

    def __post_init__(self) -> None:
        if isinstance(self.predictor_windows, list):  # from JSON
            object.__setattr__(self, "predictor_windows", tuple(self.predictor_windows))
        check_config(self)
        if self.predictor not in PREDICTORS:
            raise PolicyConfigError(
                f"LongMpcConfig.predictor must be one of {PREDICTORS}, got {self.predictor!r}"
            )
        try:
            self.selector()
            self.level_shift()
        except PolicyConfigError as exc:
            raise PolicyConfigError(
                str(exc)
                .replace("SelectedHarmonic: ", "LongMpcConfig (predictor 'select'): ")
                .replace("LevelShiftHarmonic: ", "LongMpcConfig (predictor 'levelshift'): ")
            ) from None
        if self.score_order not in FORMULAS:
            raise PolicyConfigError(
                f"LongMpcConfig.score_order must be one of {FORMULAS}, got {self.score_order!r}"
            )
        if (
            not isinstance(self.short_error_window, int)
            or isinstance(self.short_error_window, bool)
            or self.short_error_window < 1
        ):
            raise PolicyConfigError("LongMpcConfig.short_error_window must be an int >= 1")
        w = self.discount_weight
        if w is not None and not (isinstance(w, (int, float)) and 0.0 <= w <= 1.0):
            raise PolicyConfigError("LongMpcConfig.discount_weight must be None or in [0, 1]")
        if self.planner not in PLANNERS:
            raise PolicyConfigError(
                f"LongMpcConfig.planner must be one of {PLANNERS}, got {self.planner!r}"
            )
        if not self.dp_grid_s > 0:
            raise PolicyConfigError("LongMpcConfig.dp_grid_s must be > 0")
        if self.planner == "dp" and not (isinstance(self.horizon, int) and self.horizon <= 24):
            raise PolicyConfigError("LongMpcConfig.horizon must be an int <= 24 with planner 'dp'")
        self._check_risk()
        if not 0.0 <= self.error_quantile <= 1.0:
            raise PolicyConfigError("LongMpcConfig.error_quantile must be in [0, 1]")
        try:
            self.mpc_config()
        except PolicyConfigError as exc:
            raise PolicyConfigError(str(exc).replace("RobustMpcConfig", "LongMpcConfig")) from None

    def _check_risk(self) -> None:
        r = self.risk_ratio
        if not (isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 0.0):
            raise PolicyConfigError(f"LongMpcConfig.risk_ratio must be a number >= 0, got {r!r}")
        if self.risk_on and len(self.predictor_windows) < 2:
            raise PolicyConfigError(
                "LongMpcConfig.risk_ratio needs at least two predictor_windows (or 0: off)"
            )
        m = self.risk_min_samples
        if not isinstance(m, int) or isinstance(m, bool) or m < 1:
            raise PolicyConfigError(
                f"LongMpcConfig.risk_min_samples must be an int >= 1, got {m!r}"
            )
        for name in (
            "risk_rebuffer_penalty",
            "risk_reserve_segments",
            "risk_fresh_error",
            "risk_fresh_error_down",
            "deep_fresh_error_down",
            "deep_rebuffer_penalty",
        ):
            v = getattr(self, name)
            if v is not None and not (
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0.0
            ):
                raise PolicyConfigError(f"LongMpcConfig.{name} must be None or >= 0, got {v!r}")
        for name in ("drop_prob", "deep_span"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1e9):
                raise PolicyConfigError(f"LongMpcConfig.{name} must be a number >= 0, got {v!r}")
        m = self.drop_min_samples
        if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m < 2**31:
            raise PolicyConfigError(
                f"LongMpcConfig.drop_min_samples must be an int >= 1, got {m!r}"
            )

    @property
    def risk_on(self) -> bool:
        """Adaptive planning risk is on (``risk_ratio`` > 0 with predictor "levelshift")."""
        return self.risk_ratio > 0.0 and self.predictor == "levelshift"

    def selector(self) -> SelectedHarmonic:
        """A fresh adaptive predictor with this config's "select" settings."""
        return SelectedHarmonic(
            self.predictor_windows,
            selection_window=self.selection_window,
            error_window=self.error_window,
            score=self.selection_score,
            discount_error=self.discount_error,
            mode=self.selection_mode,
            margin=self.selection_margin,
        )

    def level_shift(self) -> LevelShiftHarmonic:
        """A fresh level-shift predictor with this config's "levelshift" settings (the
        shift-frequency guard off: max_shifts = rate_window)."""
        return LevelShiftHarmonic(
            threshold=self.shift_threshold,
            error_window=self.error_window,
            fresh_error=self.shift_fresh_error,
            fresh_samples=self.shift_fresh_samples,
            fresh_error_down=self.shift_fresh_error_down,
            warmup=self.shift_warmup,
            rate_window=1,
            max_shifts=1,
        )

    def mpc_config(self) -> RobustMpcConfig:
        """The corrected-RobustMPC config this policy runs."""
        return RobustMpcConfig(
            horizon=self.horizon if self.planner == "enum" else min(self.horizon, 5),
            throughput_window=self.throughput_window,
            error_window=self.error_window,
            rebuffer_penalty=self.rebuffer_penalty,
            bitrate_unit_bps=self.bitrate_unit_bps,
            mode="corrected",
            score_order=self.score_order,
            max_plans=self.max_plans,
        )


class LongMpcPolicy(RobustMpcPolicy):
    """Corrected RobustMPC with an adaptive predictor, a long quantile error memory and a
    one-segment reserve."""

    name = "longmpc"

    def __init__(self, config: LongMpcConfig | None = None) -> None:
        self.long_config = cfg = config or LongMpcConfig()
        setup = shared_setup(cfg)
        super().__init__(setup.base_mpc)
        self.name = "longmpc"
        self._shift_settled = False  # the level-shift estimator is ready for good
        self._risky = False  # adaptive planning risk: the link looks FCC-like now
        self._base_mpc = setup.base_mpc
        self._risk_mpc = setup.risk_mpc
        self._risk_fresh = setup.risk_fresh
        self._deep_mpc = setup.deep_mpc
        self._deep_fresh = setup.deep_fresh
        self._deep = False  # deep-link risk: risky, and the levels seen span deep_span
        self._held_notes = setup.held_notes  # [risky]: the reason's note on the reserve
        self._drop_on = cfg.drop_prob > 0.0
        # the session's highest stretch level and lowest mature one (Python predictor)
        self._high = 0.0
        self._low = math.inf
        #: which predictor runs: "compiled (...)" or "python (why not the compiled one)"
        self.predictor_implementation = setup.implementation
        self._kpred: predict_kernel.CompiledPredictor | None = None
        #: (step, state address, outputs, automatic weight, risk on) of the compiled predictor
        self._kernel: tuple | None = None
        self._hot: tuple | None = None
        self._hot_plan: tuple | None = None
        if setup.template is None:
            self._selector = cfg.selector() if cfg.predictor != "hm" else None
            self._shift = cfg.level_shift() if cfg.predictor == "levelshift" else None
            return
        # the compiled predictor (abr/estimators/_longmpc_predict.c) keeps the state of
        # both estimators; _errors and _last_prediction are read from it on demand
        self._selector = self._shift = None
        kp = self._kpred = setup.template.new()
        self._kernel = (kp.step, kp.address, kp.out, cfg.discount_weight is None, cfg.risk_on)
        self._kdecide, self._kstate = kp.decide_in, kp.state
        #: the hot path's kernel tuple (decide), None where it does not apply
        self._hot = self._kernel if cfg.planner == "enum" else None
        # the plan settings follow the predictor's risk mode (set when it changes);
        # _risky and _deep are read from the predictor's outputs on demand
        self._mode = 0.0
        self._mode_configs = (self._base_mpc, self._risk_mpc, self._deep_mpc)
        del self._errors, self._last_prediction, self._risky, self._deep

    def __getattr__(self, name: str) -> object:
        # reached only for attributes not set: those the compiled predictor keeps
        kp = self.__dict__.get("_kpred")
        if kp is not None:
            if name == "_errors":
                return kp.errors()
            if name == "_last_prediction":
                return kp.prediction()
            if name == "_risky":
                return kp.out[2] != 0.0
            if name == "_deep":
                return kp.out[5] != 0.0
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def decide(self, ctx: AbrContext) -> Decision:
        # the hot path (compiled predictor, "enum" planner, a size table, the compiled
        # search): RobustMpcPolicy.decide with _update_predictor, _plan_buffer_s,
        # _buffer_note and _plan folded into one C call (abrkit_longmpc_decide_in: predictor
        # step, reserve, risk penalty, plan search); the same decisions and reasons as
        # the general path (tests: compiled vs Python predictor, which takes the general
        # path). RobustMPC's cost per decision, or less (docs/policy-longmpc.md, "Cost").
        k = self._hot
        if k is None or not ctx.sizes:
            return super().decide(ctx)
        step, address, out, auto, risk = k
        top = ctx.top_rung
        last = min(max(ctx.last_rung, 0), top)
        h = min(self.config.horizon, ctx.segment_count - ctx.segment_index)
        if h <= 0:
            return super().decide(ctx)
        sizes = ctx.sizes
        plan = self._hot_plan  # (bitrates, sizes, n, h, search in use, key, run) of the last
        if (
            plan is None
            or plan[0] is not ctx.bitrates_bps
            or plan[1] is not sizes
            or plan[2] != top
            or plan[3] != h
            or plan[4] is not mpc_search._kernel
        ):
            key, run = self._plan_setup(ctx, h, top + 1)
            if type(run) is not PreparedSearch:  # the numpy search (use_kernel(False))
                self._hot_plan = None
                return super().decide(ctx)
            plan = (ctx.bitrates_bps, sizes, top, h, mpc_search._kernel, key, run)
            self._hot_plan = plan
        key, run = plan[5], plan[6]
        if auto:  # discount_weight None: it depends on the ladder
            out[4] = self._discount_weight(ctx)
        fresh = self._cursor.new(ctx.samples)
        if len(fresh) > 1:  # the older new samples first (C applies the MIN_SECONDS rule)
            for s in fresh[:-1]:
                step(address, s.bytes, s.seconds)
        a = run.args
        a.first = ctx.segment_index  # longmpc plans in RobustMPC's "corrected" mode
        seg = a.segment_s = ctx.segment_duration_s
        a.last_rung = last
        have = out[12] = ctx.buffer_s
        out[13] = seg
        if fresh:
            s = fresh[-1]
            out[10] = s.bytes
            out[11] = s.seconds
        else:
            out[10] = out[11] = 0.0
        pred = self._kdecide(self._kstate, run.ref)
        risky = False
        if risk:
            mode = out[2] + out[5]  # 0 plain, 1 FCC-like, 2 deep (deep implies FCC-like)
            if mode != self._mode:
                self._mode = mode
                self.config = self._mode_configs[int(mode)]
            risky = mode != 0.0
        if not pred > 0.0:
            self.prediction_bps = None if pred < 0.0 else pred
            if pred >= 0.0:
                self._max_error = out[1]
            return Decision(last, self.name, f"no throughput sample yet: keep rung {last}")
        self._max_error = me = out[1]
        self.prediction_bps = pred
        if out[9]:
            run.raise_rejected(a.first, pred / 8.0, out[8], last)
        rung, note = _decode(key, a.best_lex, a.score)
        buffer_s = out[8]
        if rung > 0 and risky and self._drop_on:
            drop = self._drop_levels()
            if drop is not None:
                rung, note = self._drop_aware(
                    ctx, rung, note, last, pred, buffer_s, *drop, lad=key[3]
                )
        held = "" if buffer_s == have else self._held_notes[risky]
        return Decision(
            rung,
            self.name,
            f"prediction {pred / 1e6:.3f} Mbps (harmonic mean / (1 + max error"
            f" {me:.3f})); {note} at buffer {have:.2f}s{held}",
        )

    def _discount_weight(self, ctx: AbrContext) -> float:
        """discount_weight None: ``min(1, rebuffer_penalty / top bitrate in bitrate units)``."""
        cfg = self.long_config
        top = ctx.bitrates_bps[ctx.top_rung] / cfg.bitrate_unit_bps
        return min(1.0, cfg.rebuffer_penalty / top)

    def _update_predictor(self, ctx: AbrContext) -> float | None:
        k = self._kernel
        if k is None:
            return self._update_python(ctx)
        # the compiled predictor: one call per new sample (or one without), the outputs
        # of _update_python bit for bit
        step, address, out, auto, risk = k
        if auto:  # discount_weight None: it depends on the ladder
            out[4] = self._discount_weight(ctx)
        pred = None
        for s in self._cursor.new(ctx.samples):  # C applies the MIN_SECONDS rule
            pred = step(address, s.bytes, s.seconds)
        if pred is None:
            pred = step(address, 0.0, 0.0)
        if risk:
            mode = out[2] + out[5]  # 0 plain, 1 FCC-like, 2 deep (deep implies FCC-like)
            if mode != self._mode:
                self._mode = mode
                self.config = self._mode_configs[int(mode)]
        if pred < 0.0:
            return None
        self._max_error = out[1]
        return pred

    def _update_python(self, ctx: AbrContext) -> float | None:
        sel = self._selector
        cfg = self.long_config
        if sel is None:
            pred = super()._update_predictor(ctx)  # keeps the last error_window errors
        else:
            ls = self._shift
            # the selector stands in until the level-shift estimator is ready (with its
            # frequency guard off it then stays ready); after that it is fed only when the
            # adaptive planning risk needs its scores
            feed_sel = ls is None or not self._shift_settled or cfg.risk_on
            for s in self._cursor.new(ctx.samples):
                if s.bytes > 0 and s.seconds >= MIN_SECONDS:
                    bps = 8.0 * s.bytes / s.seconds
                    if feed_sel:
                        sel.add(bps)
                    if ls is not None:
                        ls.add(bps)
                        if ls.ready:  # the highest and lowest mature stretch levels
                            level = ls.prediction()
                            assert level is not None
                            if level > self._high:
                                self._high = level
                            if ls.stretch_length >= cfg.drop_min_samples and level < self._low:
                                self._low = level
            ready = ls is not None and ls.ready
            if ready and ls.guard_off:
                self._shift_settled = True
            src = ls if ready else sel
            pred = self._last_prediction = src.prediction()
            if cfg.risk_on:
                self._risky = (
                    sel.scored >= cfg.risk_min_samples and sel.score_ratio() < cfg.risk_ratio
                )
                self._deep = (
                    self._risky and cfg.deep_span > 0.0 and self._high >= cfg.deep_span * self._low
                )
                if self._deep:
                    self.config = self._deep_mpc
                else:
                    self.config = self._risk_mpc if self._risky else self._base_mpc
            if pred is not None:
                if src is ls and self._deep and self._deep_fresh is not None:
                    self._errors = ls.errors(self._deep_fresh)
                elif src is ls and self._risky and self._risk_fresh is not None:
                    self._errors = ls.errors(self._risk_fresh)
                else:
                    self._errors = src.errors()
        if pred is None or not self._errors:
            return pred
        errs = self._errors
        if cfg.error_quantile < 1.0:  # 1.0: RobustMPC's max over error_window
            srt = sorted(errs)
            pos = cfg.error_quantile * (len(srt) - 1)
            lo = int(pos)
            hi = min(lo + 1, len(srt) - 1)
            quantile = srt[lo] + (srt[hi] - srt[lo]) * (pos - lo)
            self._max_error = max(max(errs[-cfg.short_error_window :]), quantile)
        else:
            self._max_error = max(errs)
        w = cfg.discount_weight
        if w is None:
            w = self._discount_weight(ctx)
        if w != 1.0:
            self._max_error *= w
        assert self._last_prediction is not None
        return self._last_prediction / (1.0 + self._max_error)

    def _plan_buffer_s(self, ctx: AbrContext) -> float:
        cfg = self.long_config
        seg = cfg.reserve_segments
        if self._risky and cfg.risk_reserve_segments is not None:
            seg = cfg.risk_reserve_segments
        reserve = seg * ctx.segment_duration_s
        b = ctx.buffer_s - reserve
        return b if b > 0.0 else 0.0

    def _buffer_note(self, ctx: AbrContext, buffer_s: float) -> str:
        if buffer_s == ctx.buffer_s:
            return ""
        return self._held_notes[self._risky]

    def _plan(
        self, ctx: AbrContext, h: int, n: int, last: int, prediction: float, buffer_s: float
    ) -> tuple[int, str]:
        cfg = self.long_config
        if cfg.planner == "enum":
            rung, note = super()._plan(ctx, h, n, last, prediction, buffer_s)
            if rung > 0 and self._risky and cfg.drop_prob > 0.0:
                drop = self._drop_levels()
                if drop is not None:
                    return self._drop_aware(ctx, rung, note, last, prediction, buffer_s, *drop)
            return rung, note
        # the base class capped h at its (enumeration) horizon: plan the DP's own
        h = min(cfg.horizon, ctx.segment_count - ctx.segment_index)
        dl = self._download_times(ctx, h, n, prediction / 8.0)
        seg = ctx.segment_duration_s
        rung, score = dp_plan(
            ctx.bitrates_bps[:n],
            dl,
            buffer_s,
            seg,
            last,
            buffer_max_s=max(ctx.buffer_max_s, seg, buffer_s),
            grid_s=cfg.dp_grid_s,
            rebuffer_penalty=self.config.rebuffer_penalty,
            unit=cfg.bitrate_unit_bps,
            terminal_value=cfg.terminal_value,
        )
        return rung, f"DP over {h} chunks: first rung {rung} scores {score:.3f}"

    def _drop_levels(self) -> tuple[float, float] | None:
        """(lowest mature stretch level, current level) right after a downward shift to
        a level still above the lowest seen; else None."""
        k = self._kernel
        if k is not None:
            out = k[2]
            if not out[7]:
                return None
            low, level = out[6], out[0]
        else:
            ls = self._shift
            if ls is None or not (ls.ready and ls.just_dropped):
                return None
            low, level = self._low, ls.prediction()
        if level is None or not (math.isfinite(low) and low < level):
            return None
        return low, level

    def _drop_aware(
        self,
        ctx: AbrContext,
        rung: int,
        note: str,
        last: int,
        prediction: float,
        buffer_s: float,
        low: float,
        level: float,
        lad: Ladder | None = None,
    ) -> tuple[int, str]:
        """The drop-aware first chunk (``drop_prob``): each first rung r from the plan's
        down to the first that cannot stall is charged ``penalty × drop_prob × max(0,
        size_r / low − buffer)`` (the stall if the link came down to the lowest level
        seen) and the best of (best plan score starting with r − charge) wins; ties keep
        the higher rung."""
        if lad is None:
            assert self._ladder_key is not None  # set by the plan just made
            lad = self._ladder_key[3]
        mpc = self.config
        weight = mpc.rebuffer_penalty * self.long_config.drop_prob
        index, buf = ctx.segment_index, ctx.buffer_s

        def charge(r: int) -> float:
            stall = 8.0 * ctx.segment_bytes(index, r) / low - buf
            return weight * stall if stall > 0.0 else 0.0

        charges = [charge(rung)]
        if charges[0] <= 0.0:
            return rung, note
        rungs = [rung]
        for r in range(rung - 1, -1, -1):
            rungs.append(r)
            charges.append(charge(r))
            if charges[-1] <= 0.0:
                break
        dl = self._download_times(ctx, lad.horizon, lad.n, prediction / 8.0)
        scores = best_by_first_rung(
            lad, dl, buffer_s, ctx.segment_duration_s, last, mpc.score_order,
            mpc.rebuffer_penalty, rungs,
        )  # fmt: skip
        best_r, best = rung, scores[0] - charges[0]
        for r, sc, c in zip(rungs[1:], scores[1:], charges[1:], strict=True):
            if sc - c > best:
                best_r, best = r, sc - c
        if best_r == rung:
            return rung, note
        return best_r, (
            f"{note}; drop-aware: rung {best_r} (a drop from {level / 1e6:.2f} to the lowest"
            f" level seen, {low / 1e6:.2f} Mbps, would stall rung {rung})"
        )
