"""LongMPC's throughput predictor compiled (``_longmpc_predict.c``), loaded with ctypes.

The C file is built into the library of the MPC search
(``abr/policies/_mpc_kernel.so``, by ``hatch_build.py`` where a C compiler
exists). It runs the state machine of longmpc's "select" and "levelshift"
predictors (:class:`~abr.estimators.selector.SelectedHarmonic` in mode "best",
:class:`~abr.estimators.levelshift.LevelShiftHarmonic` with longmpc's settings)
and longmpc's error discount, with Python's float operations in Python's
order: the same numbers bit for bit (tests/abr/test_longmpc_predict_kernel.py),
at one ctypes call per throughput sample.

Without the library, when it is stale (its interface version differs) or lacks
the predictor, :data:`KERNEL` is None and :data:`UNAVAILABLE` says why;
:func:`compiled_predictor` then returns None with the reason and longmpc runs
its Python predictor. :func:`use_kernel` switches the compiled one off (tests).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from .ewma import MIN_SECONDS

__all__ = [
    "ABI",
    "KERNEL",
    "LIBRARY",
    "UNAVAILABLE",
    "CompiledPredictor",
    "PredictKernel",
    "PredictorTemplate",
    "active",
    "compiled_predictor",
    "implementation",
    "use_kernel",
]

#: the interface version this module speaks (``abrkit_longmpc_predict_abi()``)
ABI = 4
#: the library the build hook compiles the C file into (with the MPC search)
LIBRARY = Path(__file__).parents[1] / "policies" / "_mpc_kernel.so"
MAX_WINDOWS = 8  # candidate windows of the selector
_NPARAMS = 41  # the C file's LM_NPARAMS


class CompiledPredictor:
    """One predictor's state (a buffer owned by this object) and its C entry point.

    ``step(address, bytes, seconds)``: feed one download (a sample of ``8 * bytes /
    seconds`` b/s when ``bytes > 0 and seconds >= MIN_SECONDS``, longmpc's rule; else
    none, only the discount is recomputed) and get the discounted prediction, or -1.0
    before any. ``out``:
    doubles [prediction (-1: none), weighted max error, risky (1.0 / 0.0), number of
    errors] after the last step, then the discount weight (``out[4] = w`` sets it), then
    [deep (1.0 / 0.0), the session's lowest mature stretch level (inf: none yet), just
    dropped (1.0: the last sample started a stretch by a downward shift)], then
    [plan buffer, plan status] of the last ``decide_in``, then its four inputs [bytes,
    seconds, buffer_s, segment_s] (``out[10:14]``).

    ``decide_in(state, search)``: with the inputs written to ``out[10:14]`` and
    ``state`` the pre-made ``byref`` :attr:`state`, ``step``, then the plan search
    through ``search`` (a ``byref`` of the struct of an
    :class:`~abr.policies.mpc_kernel.PreparedSearch` whose first row, segment duration
    and last rung are set) at the discounted prediction, from ``buffer_s`` minus the
    reserve of the current risk, with its rebuffer penalty; plan status 0: the answer is
    in the struct, -1: the search rejected its arguments, 1: no prediction, no plan. Two
    pointer arguments: ctypes converts nothing per call (~0.3 µs against ~2 µs).
    """

    __slots__ = (
        "_errors_fn", "address", "buffer", "decide_in", "out", "state",
        "step",
    )  # fmt: skip

    def __init__(self, kernel: PredictKernel, state: bytes, array_type: type | None = None) -> None:
        # a ctypes array of doubles (8-byte aligned) holding a copy of the initial state
        kind = array_type or ctypes.c_double * (len(state) // 8)
        self.buffer = kind.from_buffer_copy(state)
        self.address = ctypes.addressof(self.buffer)
        self.out = memoryview(self.buffer).cast("B").cast("d")
        self.step: Callable[[int, float, float], float] = kernel.add
        self.decide_in: Callable[..., float] = kernel.decide_in
        self.state = ctypes.byref(self.buffer)
        self._errors_fn = kernel.errors

    def prediction(self) -> float | None:
        """The undiscounted prediction (bits per second) of the last step, None before any."""
        p = self.out[0]
        return None if p < 0.0 else p

    def errors(self) -> list[float]:
        """The errors the last discount used, oldest first."""
        n = int(self.out[3])
        dst = (ctypes.c_double * max(n, 1))()
        got = self._errors_fn(self.address, dst, n)
        return list(dst[:got])


class PredictorTemplate:
    """A fresh predictor's initialised state for one set of settings: :meth:`new` copies
    it (cheaper than initialising each policy's own)."""

    __slots__ = ("_kernel", "_state", "_type")

    def __init__(self, kernel: PredictKernel, state: bytes) -> None:
        if len(state) % 8:
            raise ValueError("the compiled longmpc predictor's state is not whole doubles")
        self._kernel = kernel
        self._state = state
        self._type = ctypes.c_double * (len(state) // 8)

    def new(self) -> CompiledPredictor:
        """A fresh predictor (its own state buffer)."""
        return CompiledPredictor(self._kernel, self._state, self._type)


class PredictKernel:
    """The C entry points (``abrkit_longmpc_*``) of the loaded library."""

    __slots__ = ("add", "decide_in", "errors", "init", "size")

    def __init__(self, lib: ctypes.CDLL) -> None:
        # a PyDLL's calls keep the GIL: cheaper for this short a function (each policy
        # owns its state, so threads need no lock either way)
        vp, d, i, ll = ctypes.c_void_p, ctypes.c_double, ctypes.c_int, ctypes.c_longlong
        self.size = lib.abrkit_longmpc_state_size
        self.size.restype, self.size.argtypes = ll, [vp, i]
        self.init = lib.abrkit_longmpc_init
        self.init.restype, self.init.argtypes = i, [vp, ll, vp, i]
        self.add = lib.abrkit_longmpc_add
        self.add.restype, self.add.argtypes = d, [vp, d, d]
        self.decide_in = lib.abrkit_longmpc_decide_in
        self.decide_in.restype = d
        self.decide_in.argtypes = None  # (c_void_p, byref(struct)): nothing to convert
        self.errors = lib.abrkit_longmpc_errors
        self.errors.restype, self.errors.argtypes = i, [vp, vp, i]

    def template(self, params: Sequence[float]) -> PredictorTemplate | None:
        """The initial state for the parameter vector, None beyond the C file's limits."""
        arr = (ctypes.c_double * _NPARAMS)(*params)
        size = self.size(arr, _NPARAMS)
        if size < 0:
            return None
        buf = (ctypes.c_double * ((size + 7) // 8))()  # 8-byte aligned
        if self.init(ctypes.addressof(buf), size, arr, _NPARAMS) != 0:
            raise ValueError("the compiled longmpc predictor rejected its state buffer")
        return PredictorTemplate(self, bytes(buf)[: (size + 7) // 8 * 8])


def _load() -> tuple[PredictKernel | None, str]:
    if not LIBRARY.is_file():
        return None, f"{LIBRARY.name} was not built (no C compiler at install time?)"
    try:
        lib = ctypes.PyDLL(str(LIBRARY))
        abi = lib.abrkit_longmpc_predict_abi
    except (OSError, AttributeError) as exc:
        return None, f"{LIBRARY} could not be loaded or lacks the longmpc predictor: {exc}"
    abi.restype = ctypes.c_int
    found = abi()
    if found != ABI:
        return None, f"{LIBRARY} is stale (predictor interface {found}, expected {ABI}): reinstall"
    try:
        return PredictKernel(lib), ""
    except AttributeError as exc:
        return None, f"{LIBRARY} lacks an entry point of the longmpc predictor: {exc}"


KERNEL, UNAVAILABLE = _load()
#: the compiled predictor in use (None: longmpc's Python predictor)
_kernel: PredictKernel | None = KERNEL


def use_kernel(enabled: bool = True) -> bool:
    """Use the compiled predictor when it is available (default) or the Python one, for
    policies created from now on; returns whether the compiled one is now in use."""
    global _kernel
    _kernel = KERNEL if enabled else None
    return _kernel is not None


def active() -> PredictKernel | None:
    """The compiled predictor new policies use (None: the Python one)."""
    return _kernel


def implementation() -> str:
    """Which predictor new longmpc policies run, and why not the compiled one if not."""
    if _kernel is not None:
        return "compiled (abr/estimators/_longmpc_predict.c)"
    return f"python ({UNAVAILABLE or 'disabled by use_kernel(False)'})"


def _fresh(v: float | None, default: float) -> float:
    return default if v is None else float(v)


def compiled_predictor(
    *,
    windows: Sequence[int],
    selection_window: int,
    error_window: int,
    margin: float,
    score: str,
    discount_error: str,
    mode: str,
    level_shift: bool,
    threshold: float,
    max_window: int,
    fresh_error: float,
    fresh_error_down: float | None,
    fresh_samples: int,
    warmup: int,
    risk: bool,
    risk_min_samples: int,
    risk_ratio: float,
    risk_fresh: tuple[float, float] | None,
    deep_span: float,
    deep_fresh: tuple[float, float] | None,
    drop_min_samples: int,
    reserves: tuple[float, float],
    penalties: tuple[float, float, float],
    error_quantile: float,
    short_error_window: int,
    discount_weight: float | None,
) -> tuple[PredictorTemplate | None, str]:
    """Compiled predictors with these (validated) settings, or None and why not.

    The selector's settings are :class:`~abr.estimators.selector.SelectedHarmonic`'s;
    ``level_shift``: a :class:`~abr.estimators.levelshift.LevelShiftHarmonic` (confirm
    1, discount "pred", guard off) predicts once ``warmup`` samples were seen; ``risk``:
    the adaptive planning risk (needs ``level_shift`` and two windows), ``risk_fresh``
    its (up, down) fresh errors or None; ``deep_span`` (0: off) and ``deep_fresh``: the
    deep-link risk and its fresh errors (or None), ``drop_min_samples``: the stretch age
    from which a level counts as the lowest; ``reserves`` (plain, risky) in segments and
    ``penalties`` (plain, risky, deep): the plan settings ``decide_in`` uses; the discount
    is longmpc's,
    ``discount_weight`` None: set per call in ``out[4]``.
    """
    kernel = _kernel
    if kernel is None:
        return None, implementation()
    if mode != "best":
        return None, f"python (selection_mode {mode!r} is not compiled)"
    if score not in ("log", "rel") or discount_error not in ("abs", "over"):
        return None, f"python (score {score!r} / discount_error {discount_error!r})"
    if not 1 <= len(windows) <= MAX_WINDOWS:
        return None, f"python (more than {MAX_WINDOWS} predictor_windows)"
    ws = [float(w) for w in windows] + [0.0] * (MAX_WINDOWS - len(windows))
    fu = float(fresh_error)
    ru, rd = risk_fresh if risk_fresh is not None else (0.0, 0.0)
    params = [
        float(len(windows)),
        *ws,
        float(selection_window),
        float(error_window),
        float(margin),
        float(score == "log"),
        float(discount_error == "over"),
        float(level_shift),
        float(threshold),
        float(max_window),
        fu,
        _fresh(fresh_error_down, fu),
        float(min(fresh_samples, 2**31 - 1)),
        float(min(warmup, 2**31 - 1)),
        float(risk),
        float(min(risk_min_samples, 2**31 - 1)),
        float(risk_ratio),
        float(risk_fresh is not None),
        float(ru),
        float(rd),
        float(error_quantile),
        float(min(short_error_window, 2**31 - 1)),
        1.0 if discount_weight is None else float(discount_weight),
        MIN_SECONDS,
        float(deep_span),
        float(deep_fresh is not None),
        float(deep_fresh[0]) if deep_fresh is not None else 0.0,
        float(deep_fresh[1]) if deep_fresh is not None else 0.0,
        float(min(drop_min_samples, 2**31 - 1)),
        float(reserves[0]),
        float(reserves[1]),
        *(float(p) for p in penalties),
    ]
    if len(params) != _NPARAMS or not all(math.isfinite(p) for p in params):
        return None, "python (settings outside the compiled predictor's range)"
    template = kernel.template(params)
    if template is None:
        return None, "python (windows beyond the compiled predictor's limits)"
    return template, "compiled (abr/estimators/_longmpc_predict.c)"
