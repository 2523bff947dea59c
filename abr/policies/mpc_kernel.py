"""The optional compiled RobustMPC search (``_mpc_kernel.c``), loaded with ctypes.

``pip install`` compiles ``_mpc_kernel.c`` with the system C compiler when
there is one (the build hook ``hatch_build.py``); without a compiler, or when
the library is stale (its interface version differs) or cannot be loaded,
:data:`KERNEL` is None, :data:`UNAVAILABLE` says why, and
:mod:`abr.policies.mpc_search` uses its numpy search. Both return exactly
:func:`~abr.policies.mpc_search.brute_force_plan`'s answer (tests/abr).

The kernel is a depth-first branch and bound over the plans (see the C
file's header for why it is exact); ~1 µs per RobustMPC decision on
pensieve_train for the search itself, ~1 µs more for a call through a
:class:`PreparedSearch` (the arguments in one struct), against ~65 µs for the
numpy search (benchmarks/results/policies_speed.md).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

__all__ = ["ABI", "KERNEL", "LIBRARY", "UNAVAILABLE", "Kernel", "PreparedSearch"]

#: the interface version this module speaks (``abrkit_mpc_kernel_abi()`` in the C file)
ABI = 3
#: where the build hook puts the compiled library
LIBRARY = Path(__file__).with_name("_mpc_kernel.so")


class Kernel:
    """Calls ``abrkit_mpc_search`` (thread-safe: no shared buffers; ctypes releases the GIL)."""

    __slots__ = ("_fn", "_fn_args", "_fn_sizes")

    def __init__(self, lib: ctypes.CDLL) -> None:
        fn = lib.abrkit_mpc_search
        fn.restype = ctypes.c_double
        d, i = ctypes.c_double, ctypes.c_int
        fn.argtypes = [
            i, i, ctypes.c_void_p, ctypes.c_void_p, d, d, i, i, i, d, d,
            ctypes.POINTER(ctypes.c_longlong),
        ]  # fmt: skip
        self._fn = fn
        fs = lib.abrkit_mpc_search_sizes
        fs.restype = ctypes.c_double
        fs.argtypes = [
            i, i, ctypes.c_void_p, i, i, i, d, ctypes.c_void_p, d, d, i, i, i, d, d,
            ctypes.POINTER(ctypes.c_longlong),
        ]  # fmt: skip
        self._fn_sizes = fs
        fa = lib.abrkit_mpc_search_args
        fa.restype = ctypes.c_int
        fa.argtypes = None  # a byref(_SearchArgs): no per-call argument conversion
        self._fn_args = fa

    def prepare(
        self,
        h: int,
        n: int,
        table: np.ndarray,
        rates: np.ndarray,
        pensieve: bool,
        last_wins: bool,
        unit: float,
    ) -> PreparedSearch:
        """A :meth:`search_sizes` with the ladder and the size table bound once (see
        :class:`PreparedSearch`). ``table`` (rows, cols >= n) and ``rates`` (n,):
        C-contiguous float64 arrays, kept alive by the returned object."""
        return PreparedSearch(self._fn_args, h, n, table, rates, pensieve, last_wins, unit)

    def search(
        self,
        download_s: np.ndarray,
        rates: np.ndarray,
        buffer_s: float,
        segment_s: float,
        last_rung: int,
        pensieve: bool,
        last_wins: bool,
        penalty: float,
        unit: float,
    ) -> tuple[int, float]:
        """(lexicographic index, score) of the best plan; ``download_s`` (h, n) and
        ``rates`` (n,) C-contiguous float64 arrays."""
        h, n = download_s.shape
        lex = ctypes.c_longlong()
        score = self._fn(
            h,
            n,
            download_s.ctypes.data,
            rates.ctypes.data,
            buffer_s,
            segment_s,
            last_rung,
            pensieve,
            last_wins,
            penalty,
            unit,
            ctypes.byref(lex),
        )
        return _answer(
            lex,
            score,
            lambda: f"a ({h}, {n}) download table (buffer {buffer_s!r}, last rung {last_rung})",
        )

    def search_sizes(
        self,
        h: int,
        n: int,
        table: np.ndarray,
        table_address: int,
        first: int,
        bytes_per_s: float,
        rates_address: int,
        buffer_s: float,
        segment_s: float,
        last_rung: int,
        pensieve: bool,
        last_wins: bool,
        penalty: float,
        unit: float,
    ) -> tuple[int, float]:
        """:meth:`search` with ``download_s[k][r] = table[clamp(first + k)][r] / bytes_per_s``
        computed in C. ``table``: C-contiguous float64 (rows, cols >= n), at
        ``table_address``; ``rates_address``: the n float64 bitrates' address. The
        caller keeps both arrays alive during the call."""
        rows, cols = table.shape
        lex = ctypes.c_longlong()
        score = self._fn_sizes(
            h,
            n,
            table_address,
            rows,
            cols,
            first,
            bytes_per_s,
            rates_address,
            buffer_s,
            segment_s,
            last_rung,
            pensieve,
            last_wins,
            penalty,
            unit,
            ctypes.byref(lex),
        )
        return _answer(
            lex,
            score,
            lambda: (
                f"a ({h}, {n}) plan over a {rows}x{cols} size table from row {first} at"
                f" {bytes_per_s!r} B/s (buffer {buffer_s!r}, last rung {last_rung})"
            ),
        )


class _SearchArgs(ctypes.Structure):
    """``abrkit_mpc_args`` in ``_mpc_kernel.c`` (keep the two in step; the ABI number
    changes with it)."""

    _fields_ = [
        ("sizes", ctypes.c_void_p),
        ("rates", ctypes.c_void_p),
        ("bytes_per_s", ctypes.c_double),
        ("buffer_s", ctypes.c_double),
        ("segment_s", ctypes.c_double),
        ("penalty", ctypes.c_double),
        ("unit", ctypes.c_double),
        ("score", ctypes.c_double),
        ("best_lex", ctypes.c_longlong),
        ("h", ctypes.c_int),
        ("n", ctypes.c_int),
        ("rows", ctypes.c_int),
        ("cols", ctypes.c_int),
        ("first", ctypes.c_int),
        ("last_rung", ctypes.c_int),
        ("pensieve", ctypes.c_int),
        ("last_wins", ctypes.c_int),
    ]


class PreparedSearch:
    """The size-table search for one ladder (h, n, rates, score order, tie rule, unit) and
    one size table, its arguments in one C struct: a call sets the five that change per
    decision and passes one pointer (~1 µs through ctypes instead of ~6 µs for sixteen
    converted arguments). Not thread-safe (a call writes the struct, and ctypes releases
    the GIL during it): one per policy instance, which serves one session at a time."""

    __slots__ = ("_fn", "_keep", "args", "h", "last_wins", "n", "pensieve", "ref", "table")

    def __init__(
        self,
        fn: Callable[..., int],
        h: int,
        n: int,
        table: np.ndarray,
        rates: np.ndarray,
        pensieve: bool,
        last_wins: bool,
        unit: float,
    ) -> None:
        if not (table.ndim == 2 and table.dtype == np.float64 and table.flags.c_contiguous):
            raise ValueError(
                "a prepared MPC search needs a C-contiguous float64 (rows, rungs) size table,"
                f" got {table.shape} {table.dtype}"
            )
        a = _SearchArgs()
        a.sizes = table.ctypes.data
        a.rows, a.cols = table.shape
        a.pensieve = int(pensieve)
        a.last_wins = int(last_wins)
        #: the argument struct and a ``byref`` of it, for C callers that set the per-call
        #: fields themselves (longmpc's compiled predictor, ``abrkit_longmpc_decide_in``)
        self.args = a
        self.ref = ctypes.byref(a)
        self._fn = fn
        self.table, self.pensieve, self.last_wins = table, pensieve, last_wins
        self.rebind(h, n, rates, unit)

    def rebind(self, h: int, n: int, rates: np.ndarray, unit: float) -> None:
        """Another ladder (horizon, rungs, bitrates, unit) over the same size table: a
        session's horizon shrinks at its end; rebinding costs a few field writes, a new
        struct ~10 µs."""
        if not (
            self.table.shape[1] >= n
            and rates.dtype == np.float64
            and rates.flags.c_contiguous
            and rates.shape == (n,)
        ):
            raise ValueError(
                f"a prepared MPC search needs {n} C-contiguous float64 rates and a table of"
                f" >= {n} rungs, got {rates.shape} {rates.dtype} and {self.table.shape}"
            )
        a = self.args
        a.rates = rates.ctypes.data
        a.unit = unit
        a.h = h
        a.n = n
        self._keep = rates
        self.h, self.n = h, n

    def __call__(
        self, first: int, bytes_per_s: float, buffer_s: float, segment_s: float,
        last_rung: int, penalty: float,
    ) -> tuple[int, float]:  # fmt: skip
        """(lexicographic index, score) of the best plan from row ``first`` at
        ``bytes_per_s``; a ValueError when the kernel rejects the arguments."""
        if not penalty >= 0.0:
            raise ValueError(
                f"the rebuffer penalty must be >= 0 (the bounds need it), got {penalty!r}"
            )
        a = self.args
        a.first = first
        a.bytes_per_s = bytes_per_s
        a.buffer_s = buffer_s
        a.segment_s = segment_s
        a.last_rung = last_rung
        a.penalty = penalty
        if self._fn(self.ref):
            self.raise_rejected(first, bytes_per_s, buffer_s, last_rung)
        return a.best_lex, a.score

    def raise_rejected(
        self, first: int, bytes_per_s: float, buffer_s: float, last_rung: int
    ) -> NoReturn:
        """The ValueError for arguments the kernel rejected."""
        rows, cols = self.table.shape
        raise ValueError(
            f"the compiled MPC search rejected a ({self.h}, {self.n}) plan over a"
            f" {rows}x{cols} size table from row {first} at {bytes_per_s!r} B/s (buffer"
            f" {buffer_s!r}, last rung {last_rung}): no plan has a numeric score"
        )


def _answer(lex: ctypes.c_longlong, score: float, what: Callable[[], str]) -> tuple[int, float]:
    """The kernel's (index, score), or a ValueError naming ``what()`` it rejected."""
    if lex.value < 0 or math.isnan(score):
        raise ValueError(f"the compiled MPC search rejected {what()}: no plan has a numeric score")
    return lex.value, score


def _load() -> tuple[Kernel | None, str]:
    if not LIBRARY.is_file():
        return None, f"{LIBRARY.name} was not built (no C compiler at install time?)"
    try:
        lib = ctypes.CDLL(str(LIBRARY))
        abi = lib.abrkit_mpc_kernel_abi
        abi.restype = ctypes.c_int
        found = abi()
    except (OSError, AttributeError) as exc:
        return None, f"{LIBRARY} could not be loaded: {exc}"
    if found != ABI:
        return None, f"{LIBRARY} is stale (interface {found}, expected {ABI}): reinstall"
    return Kernel(lib), ""


KERNEL, UNAVAILABLE = _load()
