"""Exact RobustMPC plan search: compiled branch and bound, or numpy screening + exact rescoring.

A plan picks one rung for each of the next ``h`` chunks. Its score (QoE_lin
as Pensieve's ``mpc.py`` computes it) is ``static − penalty · rebuffer``:

- ``static = (Σ bitrate − Σ |Δ bitrate|) / unit`` depends on the ladder only
  (the first switch is measured from the current rung): precomputed per
  ladder for all n^h plans;
- ``rebuffer`` comes from the buffer recursion: download time ``d`` of the
  chosen rung, stall ``d − buffer`` when the buffer is smaller, then the
  buffer (floored at 0) gains one segment.

:func:`brute_force_plan` enumerates every combination in lexicographic order
(chunk 0 most significant, as ``itertools.product``) and is the reference.
:func:`search` returns exactly its answer, ties included:

1. **Closed-form rebuffer.** The recursion is a reflected walk: with
   ``A_j = Σ_{i<=j} d_i − j·segment``, the rebuffer of chunks ``0..j`` is
   ``max(0, max_{i<=j} A_i − buffer)`` (each stalled second adds one second
   to the buffer compared with the unfloored walk). ``A − buffer`` and its
   running maximum (with 0) are two numpy broadcasts per chunk over the tree
   of plans (newest chunk on the outer axis, so the inner axis is long): no
   branch per level, about fifteen numpy calls per decision in all.
2. **Screening.** ``static / penalty − rebuffer`` for all n^h plans (real
   numbers, float rounding aside); the plans within a margin of the best
   (``1e-9 × (1 + magnitude of the score terms)``, far above that rounding)
   are the only ones that can be the best plan or tie with it; the prefixes
   of ``h − 1`` chunks holding them (typically one or two) are kept.
3. **Exact scoring.** Those prefixes' completions are scored in plain Python
   with the float operations of :func:`brute_force_plan`, in its order, so
   bit for bit its scores; ties go to the first (or last) best in
   lexicographic order.
4. **No rebuffer possible** (even the slowest download of every chunk leaves
   the buffer non-empty) **or penalty 0**: the answer depends on the ladder
   only and is cached per ladder.

Score formulas (both reproduce the reference loop bit for bit):
``"pensieve"``: ``(Σbitrate/unit − penalty·Σrebuffer) − Σ|Δbitrate|/unit``
(mpc.py's order); ``"exact"``: ``(Σbitrate − Σ|Δbitrate|)/unit −
penalty·Σrebuffer`` (with integer bitrates, true ties stay ties).

Two implementations, the same answers. :func:`search` runs the compiled
kernel (``_mpc_kernel.c``, a depth-first branch and bound that scores plans
with the reference's float operations; loaded by :mod:`.mpc_kernel`) when
the install could build it, else the numpy search described above;
:func:`use_kernel` switches, :func:`implementation` says which one runs.

Where the time goes (RobustMPC, pensieve_train;
benchmarks/results/policies_speed.md): the numpy search costs ~65 µs per
decision, nearly all of it numpy's fixed per-call cost (~15 calls of 1–3
µs, ~8 µs for the last level's column broadcast over 7,776 plans), not
arithmetic; a float32 screening and a one-plan exact rescoring saved only
~10 % of it. A pure-Python branch and bound (session 3's bound) expanded
~50 nodes per decision and was about twice slower than numpy. In C, with the
Lagrangian bound and best-bound-first order of session 4 (see the C file's
header), the search visits ~55 of 9,330 nodes and takes ~1 µs; the ctypes call
costs about as much again when its arguments sit in one prepared struct
(:func:`prepare_table_search`, what RobustMPC and LongMPC use) and ~6 µs with
sixteen converted arguments (:func:`search`, :func:`search_table`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from . import mpc_kernel

FORMULAS = ("pensieve", "exact")

__all__ = [
    "FORMULAS",
    "Ladder",
    "best_by_first_rung",
    "best_plan",
    "brute_force_plan",
    "implementation",
    "kernel_in_use",
    "ladder",
    "prepare_table_search",
    "search",
    "search_table",
    "table_block",
    "use_kernel",
]

#: the compiled search in use (None: the numpy search below)
_kernel: mpc_kernel.Kernel | None = mpc_kernel.KERNEL
#: the kernel's limits (n^h must also fit a 64-bit index)
_KERNEL_MAX_H, _KERNEL_MAX_N = 16, 64


def use_kernel(enabled: bool = True) -> bool:
    """Use the compiled search when it is available (default) or the numpy one;
    returns whether the compiled one is now in use."""
    global _kernel
    _kernel = mpc_kernel.KERNEL if enabled else None
    return _kernel is not None


def implementation() -> str:
    """Which search :func:`search` runs, and why not the compiled one if not."""
    if _kernel is not None:
        return "compiled kernel (abr/policies/_mpc_kernel.c)"
    why = mpc_kernel.UNAVAILABLE or "disabled by use_kernel(False)"
    return f"numpy ({why})"


class Ladder:
    """Per (ladder, horizon, unit) constants of the plan score."""

    __slots__ = (
        "_static",
        "horizon",
        "n",
        "no_rebuffer",
        "rates",
        "rates_address",
        "rates_array",
        "scaled",
        "static_scale",
        "unit",
    )

    def __init__(self, rates: tuple[float, ...], horizon: int, unit: float) -> None:
        n = len(rates)
        self.n = n
        self.horizon = horizon
        self.rates = rates
        self.rates_array = np.array(rates, dtype=float)  # C-contiguous, for the kernel
        self.rates_address: int = self.rates_array.ctypes.data
        self.unit = unit
        #: magnitude of the static terms (for the screening margin)
        self.static_scale = 3.0 * horizon * max(abs(r) for r in rates) / unit
        #: [last rung] -> static score of every plan (numpy search only; built on first use)
        self._static: list[np.ndarray] | None = None
        #: (last rung, penalty) -> static[last rung] / penalty
        self.scaled: dict[tuple[int, float], np.ndarray] = {}
        #: (formula, last rung, last_wins, penalty) -> answer when no plan can rebuffer
        self.no_rebuffer: dict[tuple[str, int, bool, float], tuple[int, float]] = {}

    @property
    def static(self) -> list[np.ndarray]:
        """[last rung] -> static score of every plan, shape (n, n**(h-1)): [rung of the
        last chunk, prefix index sum(rung_k * n**k) over chunks 0..h-2] (chunk 0 least
        significant: the layout of the screening arrays). Built on first use: the compiled
        search never needs it (n^h plans: 1.7 M floats per rung at 6 rungs, 8 chunks)."""
        if self._static is None:
            n, horizon, unit = self.n, self.horizon, self.unit
            static: list[np.ndarray] = []
            if horizon > 1:
                r = np.asarray(self.rates, dtype=float)
                digits = np.array(list(itertools.product(range(n), repeat=horizon)), dtype=np.intp)
                digits = digits[:, ::-1]  # column k = rung of chunk k, chunk 0 least significant
                chosen = r[digits]
                bsum = chosen.sum(axis=1)
                steps = np.abs(np.diff(chosen, axis=1)).sum(axis=1)
                for last in range(n):
                    row = (bsum - steps - np.abs(chosen[:, 0] - r[last])) / unit
                    # product order with reversed columns: the index is sum(rung_k * n**k)
                    # with the last chunk most significant: reshape (n, n**(h-1))
                    static.append(row.reshape(n, -1))
            self._static = static
        return self._static

    def static_per(self, last: int, penalty: float) -> np.ndarray:
        """``static[last] / penalty`` (cached)."""
        key = (last, penalty)
        hit = self.scaled.get(key)
        if hit is None:
            hit = self.scaled[key] = self.static[last] / penalty
        return hit


_LADDERS: dict[tuple[tuple[float, ...], int, float], Ladder] = {}


def ladder(rates: tuple[float, ...], horizon: int, unit: float) -> Ladder:
    """The cached :class:`Ladder` of ``rates`` (floats), ``horizon`` and ``unit``."""
    key = (rates, horizon, unit)
    t = _LADDERS.get(key)
    if t is None:
        if len(_LADDERS) > 64:
            _LADDERS.clear()
        t = _LADDERS[key] = Ladder(rates, horizon, unit)
    return t


def _cannot_rebuffer(slowest: list[float], buffer_s: float, segment_s: float) -> bool:
    """True when even the largest download (``slowest[k]``) never empties the buffer."""
    b = buffer_s
    for d in slowest:
        if b < d:
            return False
        b = b - d + segment_s
    return True


def search(
    lad: Ladder,
    download_s: np.ndarray,
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    formula: str,
    last_wins: bool,
    penalty: float,
) -> tuple[int, float]:
    """(lexicographic index, score) of the best plan.

    ``download_s``: float array (h, n), ``download_s[k][r]`` the download seconds of
    the k-th planned chunk at rung r; ``h`` must be ``lad.horizon``.
    """
    h = download_s.shape[0]
    if h != lad.horizon or download_s.shape[1] != lad.n:
        raise ValueError(f"download_s must be ({lad.horizon}, {lad.n}), got {download_s.shape}")
    if not penalty >= 0.0:
        raise ValueError(f"the rebuffer penalty must be >= 0 (the bounds need it), got {penalty!r}")
    kernel = _kernel
    if kernel is not None and h <= _KERNEL_MAX_H and lad.n <= _KERNEL_MAX_N:
        if download_s.dtype != np.float64 or not download_s.flags.c_contiguous:
            download_s = np.ascontiguousarray(download_s, dtype=np.float64)
        return kernel.search(
            download_s,
            lad.rates_array,
            buffer_s,
            segment_s,
            last_rung,
            formula == "pensieve",
            last_wins,
            penalty,
            lad.unit,
        )
    dl = download_s.tolist()
    pensieve = formula == "pensieve"
    slowest = [max(row) for row in dl]
    if penalty == 0.0 or _cannot_rebuffer(slowest, buffer_s, segment_s):
        # no plan rebuffers (or rebuffering costs 0.0): the ladder alone decides
        key = (formula, last_rung, last_wins, penalty)
        hit = lad.no_rebuffer.get(key)
        if hit is None:  # zero downloads never stall: rebuffer 0.0 for every plan, as here
            zero = np.zeros_like(download_s)
            scorer = _ExactScorer(lad, zero.tolist(), 0.0, segment_s, last_rung, pensieve, penalty)
            hit = lad.no_rebuffer[key] = _screen_and_score(lad, zero, scorer, last_wins, 0.0)
        return hit
    scorer = _ExactScorer(lad, dl, buffer_s, segment_s, last_rung, pensieve, penalty)
    return _screen_and_score(lad, download_s, scorer, last_wins, sum(slowest))


def best_by_first_rung(
    lad: Ladder,
    download_s: np.ndarray,
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    formula: str,
    penalty: float,
    rungs: Sequence[int],
) -> list[float]:
    """For each first rung in ``rungs``: the best score of the plans that start with it.

    The score of a plan is its first chunk's terms plus the score of the rest from the
    buffer that chunk leaves, with the first rung as the last one (the QoE_lin terms add
    up in both formulas), so each rung costs one :func:`search` over ``h - 1`` chunks.
    Equal to brute force's best per first rung up to rounding (the sum is grouped
    differently), not bit for bit: for heuristics that re-weigh first rungs (LongMPC's
    drop-aware first chunk), not for the exact plan choice."""
    h, n = download_s.shape
    if h != lad.horizon or n != lad.n:
        raise ValueError(f"download_s must be ({lad.horizon}, {lad.n}), got {download_s.shape}")
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")
    if not 0 <= last_rung < n:
        raise ValueError(f"last_rung must be in [0, {n}), got {last_rung}")
    rates, unit = lad.rates, lad.unit
    rest = ladder(rates, h - 1, unit) if h > 1 else None
    tail = np.ascontiguousarray(download_s[1:], dtype=np.float64)
    out = []
    for r in rungs:
        if not 0 <= r < n:
            raise ValueError(f"rung {r} is not in [0, {n})")
        d = float(download_s[0, r])
        stall = d - buffer_s if d > buffer_s else 0.0
        after = (buffer_s - d if d < buffer_s else 0.0) + segment_s
        first = (rates[r] - abs(rates[r] - rates[last_rung])) / unit - penalty * stall
        if rest is None:
            out.append(first)
            continue
        _, score = search(rest, tail, after, segment_s, r, formula, False, penalty)
        out.append(first + score)
    return out


def kernel_in_use() -> mpc_kernel.Kernel | None:
    """The compiled search :func:`search` uses now (None: numpy)."""
    return _kernel


class _NumpyTableSearch:
    """:func:`prepare_table_search` without the kernel: :func:`search_table` per call."""

    __slots__ = ("formula", "lad", "last_wins", "table")

    def __init__(self, lad: Ladder, table: np.ndarray, formula: str, last_wins: bool) -> None:
        self.lad, self.table, self.formula, self.last_wins = lad, table, formula, last_wins

    def __call__(
        self, first: int, bytes_per_s: float, buffer_s: float, segment_s: float,
        last_rung: int, penalty: float,
    ) -> tuple[int, float]:  # fmt: skip
        lad = self.lad
        block = table_block(self.table, first, lad.horizon, lad.n)
        return search(
            lad, block / bytes_per_s, buffer_s, segment_s, last_rung, self.formula,
            self.last_wins, penalty,
        )  # fmt: skip


def table_block(table: np.ndarray, first: int, h: int, n: int) -> np.ndarray:
    """Rows first..first + h - 1 (clamped to the table: Pensieve's quirk reads one past
    the end) and the first n columns of the size table."""
    rows = table.shape[0]
    if first >= 0 and first + h <= rows:
        return table[first : first + h, :n]
    return table.take(np.clip(np.arange(first, first + h), 0, rows - 1), axis=0)[:, :n]


def prepare_table_search(
    lad: Ladder,
    table: np.ndarray,
    formula: str,
    last_wins: bool,
    reuse: mpc_kernel.PreparedSearch | _NumpyTableSearch | None = None,
) -> mpc_kernel.PreparedSearch | _NumpyTableSearch:
    """:func:`search_table` for one ladder and one size table, bound once: the result is
    called per decision as ``f(first, bytes_per_s, buffer_s, segment_s, last_rung,
    penalty)`` and answers exactly as :func:`search_table` does. With the kernel the
    arguments live in one C struct (:class:`~abr.policies.mpc_kernel.PreparedSearch`:
    ~1 µs of call overhead instead of ~6); without it, or for shapes the kernel does not
    take, the numpy search runs. A prepared search keeps the implementation in use when
    it was made (see :func:`kernel_in_use`) and is not thread-safe: one per policy.
    ``reuse``: the caller's previous prepared search; when it is a kernel one over the
    same table and rule it is rebound to ``lad`` and returned (no new struct)."""
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")
    kernel = _kernel
    if (
        type(reuse) is mpc_kernel.PreparedSearch
        and kernel is not None
        and reuse.table is table
        and reuse.pensieve == (formula == "pensieve")
        and reuse.last_wins == last_wins
        and _kernel_takes(lad.horizon, lad.n, table)
    ):
        reuse.rebind(lad.horizon, lad.n, lad.rates_array, lad.unit)
        return reuse
    return _prepare(kernel, lad, table, formula, last_wins)


def _kernel_takes(h: int, n: int, table: np.ndarray) -> bool:
    """The kernel searches an (h, n) plan over this size table (else numpy does)."""
    return (
        h <= _KERNEL_MAX_H
        and n <= _KERNEL_MAX_N
        and table.ndim == 2
        and table.shape[1] >= n
        and table.dtype == np.float64
        and table.flags.c_contiguous
    )


def _prepare(
    kernel: mpc_kernel.Kernel | None, lad: Ladder, table: np.ndarray, formula: str, last_wins: bool
) -> mpc_kernel.PreparedSearch | _NumpyTableSearch:
    h, n = lad.horizon, lad.n
    if kernel is not None and _kernel_takes(h, n, table):
        return kernel.prepare(
            h, n, table, lad.rates_array, formula == "pensieve", last_wins, lad.unit
        )
    if table.ndim != 2 or table.shape[1] < n:
        raise ValueError(f"the size table must be (segments, >= {n} rungs), got {table.shape}")
    return _NumpyTableSearch(lad, np.asarray(table, dtype=float), formula, last_wins)


def search_table(
    lad: Ladder,
    table: np.ndarray,
    table_address: int,
    first: int,
    bytes_per_s: float,
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    formula: str,
    last_wins: bool,
    penalty: float,
) -> tuple[int, float]:
    """:func:`search` over the download times ``table[clamp(first + k), :n] / bytes_per_s``
    (k < ``lad.horizon``; rows clamped to the table, as Pensieve's quirk needs).

    ``table``: the (segments, rungs) sizes as a C-contiguous float64 array, and its data
    address (``table.ctypes.data``, cached by the caller: computing it costs as much as a
    small search). The kernel divides in C (the same IEEE division as numpy); without it
    the table is sliced and :func:`search` runs."""
    h, n = lad.horizon, lad.n
    kernel = _kernel
    if kernel is not None and _kernel_takes(h, n, table):
        if not penalty >= 0.0:
            raise ValueError(
                f"the rebuffer penalty must be >= 0 (the bounds need it), got {penalty!r}"
            )
        return kernel.search_sizes(
            h,
            n,
            table,
            table_address,
            first,
            bytes_per_s,
            lad.rates_address,
            buffer_s,
            segment_s,
            last_rung,
            formula == "pensieve",
            last_wins,
            penalty,
            lad.unit,
        )
    block = table_block(table, first, h, n)
    return search(
        lad, block / bytes_per_s, buffer_s, segment_s, last_rung, formula, last_wins, penalty
    )


def _screen_and_score(
    lad: Ladder, download_s: np.ndarray, exact: _ExactScorer, last_wins: bool, worst: float
) -> tuple[int, float]:
    """Steps 1-3 of the module docstring; ``worst``: the largest possible rebuffer."""
    h = download_s.shape[0]
    if h == 1:
        best, best_lex = exact.completions(0, -math.inf, -1, last_wins)
        return best_lex, best
    penalty = exact.penalty
    if penalty == 0.0:  # only the zero-download screening of the cache gets here
        penalty = 1.0
    # over the prefixes of h - 1 chunks (index sum(rung_k * n**k)): a = A_j - buffer and
    # m = max(0, A_0 - buffer, .., A_j - buffer), the rebuffer so far (real numbers)
    c = (download_s - exact.segment_s)[:, :, None]  # c[k]: column (n, 1)
    b0 = exact.buffer_s
    first = [x - b0 for x in exact.dl[0]]
    a = np.array(first)
    m = np.array([x if x > 0.0 else 0.0 for x in first])
    for k in range(1, h - 1):
        grown = c[k] + a
        m = np.maximum(grown, m).reshape(-1)
        a = grown.reshape(-1)
    # every plan (index last rung * n**(h-1) + prefix): rebuffer, then score / penalty
    t = c[h - 1] + a
    np.maximum(t, m, out=t)
    np.subtract(lad.static_per(exact.last_rung, penalty), t, out=t)
    prefix_best = t.max(axis=0)  # best completion of each prefix
    margin = 1e-9 * (1.0 + lad.static_scale + penalty * (worst + abs(b0))) / penalty
    near = (prefix_best >= prefix_best.max() - margin).nonzero()[0]
    best, best_lex = -math.inf, -1
    for p in near.tolist():
        best, best_lex = exact.completions(p, best, best_lex, last_wins)
    return best_lex, best


class _ExactScorer:
    """Scores plans with :func:`brute_force_plan`'s float operations, in its order."""

    __slots__ = ("buffer_s", "dl", "last_rung", "lad", "penalty", "pensieve", "segment_s")

    def __init__(
        self,
        lad: Ladder,
        dl: list[list[float]],
        buffer_s: float,
        segment_s: float,
        last_rung: int,
        pensieve: bool,
        penalty: float,
    ) -> None:
        self.lad = lad
        self.dl = dl
        self.buffer_s = buffer_s
        self.segment_s = segment_s
        self.last_rung = last_rung
        self.pensieve = pensieve
        self.penalty = penalty

    def completions(
        self, prefix: int, best: float, best_lex: int, last_wins: bool
    ) -> tuple[float, int]:
        """Best (score, lexicographic index) of ``best``/``best_lex`` and the plans that
        complete ``prefix`` (index ``sum(rung_k * n**k)`` over chunks 0..h-2) with every
        rung of the last chunk."""
        rates = self.lad.rates
        n = self.lad.n
        dl = self.dl
        seg = self.segment_s
        buf = self.buffer_s
        reb = bsum = ssum = 0.0
        last = self.last_rung
        lex = 0
        for k in range(len(dl) - 1):
            prefix, c = divmod(prefix, n)
            d = dl[k][c]
            if buf < d:
                reb += d - buf
                buf = 0.0
            else:
                buf -= d
            buf += seg
            rate = rates[c]
            bsum += rate
            ssum += abs(rate - rates[last])
            last = c
            lex = lex * n + c
        row = dl[-1]
        rl = rates[last]
        unit = self.lad.unit
        penalty = self.penalty
        pensieve = self.pensieve
        lex *= n
        for r in range(n):
            d = row[r]
            rr = reb + (d - buf) if buf < d else reb
            rate = rates[r]
            b = bsum + rate
            s = ssum + abs(rate - rl)
            sc = (b / unit - penalty * rr) - s / unit if pensieve else (b - s) / unit - penalty * rr
            if sc >= best:
                li = lex + r
                if sc > best or ((li > best_lex) if last_wins else (li < best_lex)):
                    best, best_lex = sc, li
        return best, best_lex


def best_plan(
    bitrates: Sequence[float],
    download_s: Sequence[Sequence[float]],
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    *,
    formula: str = "pensieve",
    last_wins: bool = False,
    rebuffer_penalty: float = 4.3,
    unit: float = 1e6,
) -> tuple[int, float]:
    """Lexicographic index and score of the best plan; ties -> first (or last) best.

    ``download_s[k][rung]`` is the download time of the k-th planned chunk.
    Exactly the answer of :func:`brute_force_plan` with the same arguments.
    """
    dl = np.asarray(download_s, dtype=float)
    if dl.ndim != 2 or dl.shape[0] == 0 or dl.shape[1] != len(bitrates):
        raise ValueError(f"download_s must be (chunks >= 1, {len(bitrates)} rungs), got {dl.shape}")
    lad = ladder(tuple(float(b) for b in bitrates), dl.shape[0], unit)
    return search(lad, dl, buffer_s, segment_s, last_rung, formula, last_wins, rebuffer_penalty)


def brute_force_plan(
    bitrates: Sequence[float],
    download_s: Sequence[Sequence[float]],
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    *,
    formula: str = "pensieve",
    last_wins: bool = False,
    rebuffer_penalty: float = 4.3,
    unit: float = 1e6,
) -> tuple[int, float]:
    """Reference: enumerate every combination in order, like Pensieve's ``mpc.py`` loop."""
    h = len(download_s)
    n = len(bitrates)
    best_idx, best = -1, -float("inf")
    for idx, combo in enumerate(itertools.product(range(n), repeat=h)):
        reb = 0.0
        buf = buffer_s
        bsum = 0.0
        ssum = 0.0
        last = last_rung
        for k, c in enumerate(combo):
            d = download_s[k][c]
            if buf < d:
                reb += d - buf
                buf = 0.0
            else:
                buf -= d
            buf += segment_s
            bsum += bitrates[c]
            ssum += abs(bitrates[c] - bitrates[last])
            last = c
        if formula == "pensieve":
            score = (bsum / unit - rebuffer_penalty * reb) - ssum / unit
        else:
            score = (bsum - ssum) / unit - rebuffer_penalty * reb
        if score > best or (last_wins and score == best):
            best_idx, best = idx, score
    return best_idx, best
