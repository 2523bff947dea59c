"""The optional compiled RobustMPC search (``_mpc_kernel.c``), loaded with ctypes.

``pip install`` compiles ``_mpc_kernel.c`` with the system C compiler when
there is one (the build hook ``hatch_build.py``); without a compiler, or when
the library is stale (its interface version differs) or cannot be loaded,
:data:`KERNEL` is None, :data:`UNAVAILABLE` says why, and
:mod:`abr.policies.mpc_search` uses its numpy search. Both return exactly
:func:`~abr.policies.mpc_search.brute_force_plan`'s answer (tests/abr).

The kernel is a depth-first branch and bound over the plans (see the C
file's header for why it is exact); ~10 µs per RobustMPC decision on
pensieve_train against ~65 µs for the numpy search
(benchmarks/results/policies_speed.md).
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import numpy as np

__all__ = ["ABI", "KERNEL", "LIBRARY", "UNAVAILABLE", "Kernel"]

#: the interface version this module speaks (``abrkit_mpc_kernel_abi()`` in the C file)
ABI = 1
#: where the build hook puts the compiled library
LIBRARY = Path(__file__).with_name("_mpc_kernel.so")


class Kernel:
    """Calls ``abrkit_mpc_search`` (thread-safe: no shared buffers; ctypes releases the GIL)."""

    __slots__ = ("_fn",)

    def __init__(self, lib: ctypes.CDLL) -> None:
        fn = lib.abrkit_mpc_search
        fn.restype = ctypes.c_double
        d, i = ctypes.c_double, ctypes.c_int
        fn.argtypes = [
            i, i, ctypes.c_void_p, ctypes.c_void_p, d, d, i, i, i, d, d,
            ctypes.POINTER(ctypes.c_longlong),
        ]  # fmt: skip
        self._fn = fn

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
        if lex.value < 0 or math.isnan(score):
            raise ValueError(
                f"the compiled MPC search rejected a ({h}, {n}) download table (buffer"
                f" {buffer_s!r}, last rung {last_rung}): no plan has a numeric score"
            )
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
