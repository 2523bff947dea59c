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

Speed: the search is exact but not brute force per decision. Everything
that depends only on the ladder (bitrate sums, switching sums per start rung
for every combination) is precomputed once per ladder and horizon; per
decision only the buffer/rebuffer recursion runs, vectorised with numpy over
the tree of partial plans (level k holds the n^k prefixes; each level is one
broadcast of the next chunk's download times against the previous level), so
prefixes share their work. When no combination can rebuffer (the buffer
covers even the largest downloads), the answer depends on the ladder only and
comes from a cache. By default (``score_order="pensieve"``) scores are
combined in exactly the order Pensieve's code uses
``(Σbitrate/1e6 − 4.3·rebuffer) − Σswitch/1e6``, so near-ties fall as there;
:func:`brute_force_plan` is the reference the tests compare against, bit for
bit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..base import AbrContext, Decision
from ..errors import PolicyConfigError
from ..estimators.ewma import MIN_SECONDS
from ._common import SampleCursor, check_config

MODES = ("corrected", "pensieve")
FORMULAS = ("pensieve", "exact")


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
# Plan search
# ---------------------------------------------------------------------------
#
# Plans are numbered two ways. The public *lexicographic* index reads the
# rungs of chunks 0..h-1 as base-n digits, chunk 0 most significant (the
# order itertools.product enumerates them). Internally the tree is stored
# with the *newest* chunk as the outer axis, so every level is one
# broadcast ``buf[None, :] - dl[k][:, None]`` whose inner (contiguous) axis
# is long; that numbering has chunk 0 as the least significant digit, and
# ``lex_of`` maps it back for tie-breaking.
#
# Score formulas (both reproduce the reference loop bit for bit):
#   "pensieve": (Σbitrate/unit − penalty·Σrebuffer) − Σ|Δbitrate|/unit  (mpc.py's order)
#   "exact":    (Σbitrate − Σ|Δbitrate|)/unit − penalty·Σrebuffer
# With integer bitrates "exact" sees true ties as ties; "pensieve" lets the
# rounding of the two divisions break some of them.


class _LadderTables:
    """Per (ladder, horizon, unit) constants of the plan score for all n^h plans."""

    __slots__ = (
        "bitrate_term",
        "column_shapes",
        "internal_of",
        "bitrate_list",
        "last_offsets",
        "last_offsets_flat",
        "lex_list",
        "net_lists",
        "switch_lists",
        "lex_of",
        "n",
        "net_term",
        "no_rebuffer_best",
        "prefix_best",
        "prefix_count",
        "switch_term",
        "zeros",
    )

    def __init__(self, bitrates: tuple[float, ...], horizon: int, unit: float) -> None:
        n = len(bitrates)
        self.n = n
        rates = np.asarray(bitrates, dtype=float)
        # lexicographic enumeration, then re-ordered to the internal numbering
        combos = np.array(list(itertools.product(range(n), repeat=horizon)), dtype=np.intp)
        weights = n ** np.arange(horizon)  # chunk k -> digit k (chunk 0 least significant)
        internal = combos @ weights
        order = np.argsort(internal)  # lexicographic index of each internal index
        self.lex_of = order.astype(np.intp)
        self.internal_of = np.argsort(self.lex_of)
        c = combos[order]  # combos in internal order
        r = rates[c]
        bsum = np.zeros(len(c))
        for k in range(horizon):
            bsum = bsum + r[:, k]
        self.bitrate_term = bsum / unit
        self.switch_term: list[np.ndarray] = []
        self.net_term: list[np.ndarray] = []
        for last in range(n):
            s = np.abs(r[:, 0] - rates[last])
            for k in range(1, horizon):
                s = s + np.abs(r[:, k] - r[:, k - 1])
            self.switch_term.append(s / unit)
            self.net_term.append((bsum - s) / unit)
        # last-level pruning (see _search): plan = prefix p (chunks 0..h-2) + last rung r,
        # internal index r * prefix_count + p
        self.prefix_count = n ** (horizon - 1)
        self.last_offsets = (np.arange(n, dtype=np.intp) * self.prefix_count)[:, None]
        self.last_offsets_flat = [r * self.prefix_count for r in range(n)]
        self.bitrate_list = self.bitrate_term.tolist()
        self.switch_lists = [a.tolist() for a in self.switch_term]
        self.net_lists = [a.tolist() for a in self.net_term]
        self.lex_list = self.lex_of.tolist()
        self.prefix_best = []  # [last] -> max over r of the static score of p + r
        for last in range(n):
            net = self.net_term[last].reshape(n, self.prefix_count)
            self.prefix_best.append(net.max(axis=0))
        self.zeros = [np.zeros((n,) * (k + 1)) for k in range(horizon)]
        self.column_shapes = [(n,) + (1,) * k for k in range(horizon)]
        # best plans when no plan can rebuffer: [formula][last] -> (first-best, last-best)
        self.no_rebuffer_best: dict[str, list[tuple[int, int]]] = {}
        for formula in FORMULAS:
            best = []
            for last in range(n):
                score = self.score(formula, last, None, 0.0)
                best.append((self._pick(score, False)[0], self._pick(score, True)[0]))
            self.no_rebuffer_best[formula] = best

    def score(self, formula: str, last: int, reb: np.ndarray | None, penalty: float) -> np.ndarray:
        if reb is None:  # no rebuffer anywhere: penalty * 0.0 == 0.0
            if formula == "pensieve":
                return (self.bitrate_term - 0.0) - self.switch_term[last]
            return self.net_term[last] - 0.0
        if formula == "pensieve":
            return (self.bitrate_term - penalty * reb) - self.switch_term[last]
        return self.net_term[last] - penalty * reb

    def _pick(self, score: np.ndarray, last_wins: bool) -> tuple[int, int]:
        """(lexicographic index, internal index) of the first (or last) best plan."""
        best = score[score.argmax()]
        ties = np.flatnonzero(score == best)
        if ties.size == 1:
            i = int(ties[0])
            return int(self.lex_of[i]), i
        lex = self.lex_of[ties]
        j = int(np.argmax(lex)) if last_wins else int(np.argmin(lex))
        return int(lex[j]), int(ties[j])


_TABLES: dict[tuple[tuple[float, ...], int, float], _LadderTables] = {}


def _tables(bitrates: tuple[float, ...], horizon: int, unit: float) -> _LadderTables:
    key = (bitrates, horizon, unit)
    t = _TABLES.get(key)
    if t is None:
        if len(_TABLES) > 64:
            _TABLES.clear()
        t = _LadderTables(bitrates, horizon, unit)
        _TABLES[key] = t
    return t


def _rebuffer_tree(
    t: _LadderTables, dl: np.ndarray, buffer_s: float, segment_s: float
) -> np.ndarray:
    """Total rebuffer of every plan (internal numbering), sharing work between prefixes.

    Level k is an array of shape (n,)*k with axes (rung of chunk k-1, ..., rung of
    chunk 0); broadcasting the next chunk's column against it builds level k+1.
    ``fmin``/``fmax`` equal ``minimum``/``maximum`` here (no NaN) and skip NaN checks.
    """
    h = dl.shape[0]
    zeros = t.zeros
    z = zeros[0]
    x = buffer_s - dl[0]  # buffer left after the first download (negative: stall)
    reb = z - np.fmin(x, z)  # 0.0 - (buf - d) == d - buf exactly
    if h == 1:
        return reb
    np.fmax(x, z, out=x)
    x += segment_s
    for k in range(1, h):
        z = zeros[k]
        x = x - dl[k].reshape(t.column_shapes[k])
        reb = reb - np.fmin(x, z)
        if k < h - 1:
            np.fmax(x, z, out=x)
            x += segment_s
    return reb.reshape(-1)


def _cannot_rebuffer(dl: np.ndarray, buffer_s: float, segment_s: float) -> bool:
    """True when even the largest download at every step never empties the buffer."""
    b = buffer_s
    for d in dl.max(axis=1).tolist():
        if b < d:
            return False
        b = b - d + segment_s
    return True


def best_plan(
    bitrates: Sequence[float],
    download_s: np.ndarray,
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
    download_s = np.asarray(download_s, dtype=float)
    t = _tables(tuple(float(b) for b in bitrates), download_s.shape[0], unit)
    return _search(
        t, download_s, buffer_s, segment_s, last_rung, formula, last_wins, rebuffer_penalty
    )


def _prefix_tree(
    t: _LadderTables, dl: np.ndarray, buffer_s: float, segment_s: float, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Buffer (after the + segment) and rebuffer of every prefix of ``levels`` chunks.

    Flattened in the internal numbering; the arithmetic is that of
    :func:`_rebuffer_tree`, step for step, so the totals are bit-identical.
    """
    zeros = t.zeros
    z = zeros[0]
    x = buffer_s - dl[0]
    reb = z - np.fmin(x, z)
    np.fmax(x, z, out=x)
    x += segment_s
    for k in range(1, levels):
        z = zeros[k]
        x = x - dl[k].reshape(t.column_shapes[k])
        reb = reb - np.fmin(x, z)
        np.fmax(x, z, out=x)
        x += segment_s
    return x.reshape(-1), reb.reshape(-1)


def _search_pruned(
    t: _LadderTables,
    dl: np.ndarray,
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    formula: str,
    last_wins: bool,
    penalty: float,
) -> tuple[int, float]:
    """Exact best plan; the last level is evaluated only under promising prefixes.

    For a prefix p (chunks 0..h-2) every completion scores at most
    ``upper(p) = max_r static(p + r) − penalty · rebuffer(p)`` (the last chunk
    can only add rebuffering; ``static`` is the ladder-only part of the score).
    A lower bound on the best score is the exact score of the best completion
    of the prefix with the highest upper bound. Prefixes whose upper bound is
    below that (minus a rounding margin) can hold neither a best plan nor a
    plan tied with it; the others (typically a handful of the n^(h-1)) are
    scored with the same float operations as the full tree, so the answer,
    ties included, is the full search's.
    """
    h = dl.shape[0]
    x, reb = _prefix_tree(t, dl, buffer_s, segment_s, h - 1)
    upper = t.prefix_best[last_rung] - penalty * reb
    # lower bound: exact score of the best completion of the most promising prefix
    top = int(upper.argmax())
    d_list = dl[h - 1].tolist()
    offsets = t.last_offsets_flat
    sw = t.switch_lists[last_rung] if formula == "pensieve" else t.net_lists[last_rung]
    bt = t.bitrate_list
    pensieve = formula == "pensieve"

    def completions(p: int, xp: float, rp: float) -> tuple[float, int]:
        """Best (score, lexicographic index) over the last chunk's rungs after prefix p."""
        best, best_lex = -math.inf, -1
        for r, d in enumerate(d_list):
            i = offsets[r] + p
            total = rp - min(xp - d, 0.0)
            sc = (bt[i] - penalty * total) - sw[i] if pensieve else sw[i] - penalty * total
            if sc > best:
                best, best_lex = sc, t.lex_list[i]
            elif sc == best:
                lx = t.lex_list[i]
                if (lx > best_lex) if last_wins else (lx < best_lex):
                    best_lex = lx
        return best, best_lex

    lower, _ = completions(top, float(x[top]), float(reb[top]))
    keep = np.flatnonzero(upper >= lower - 1e-9 * (1.0 + abs(lower)))
    if keep.size <= _PYTHON_KEEP:
        best, best_lex = -math.inf, -1
        for p, xp, rp in zip(
            keep.tolist(), x.take(keep).tolist(), reb.take(keep).tolist(), strict=True
        ):
            sc, lx = completions(p, xp, rp)
            if sc > best or (sc == best and ((lx > best_lex) if last_wins else (lx < best_lex))):
                best, best_lex = sc, lx
        return best_lex, float(best)
    d_last = dl[h - 1][:, None]
    idx = t.last_offsets + keep  # (n, kept) internal plan indices
    score = _completion_scores(t, keep, x, reb, d_last, last_rung, formula, penalty, idx)
    flat = score.reshape(-1)
    j = int(flat.argmax())
    best = flat[j]
    ties = np.flatnonzero(flat == best)
    if ties.size == 1:
        return int(t.lex_of[idx.reshape(-1)[j]]), float(best)
    lex = t.lex_of.take(idx.reshape(-1).take(ties))
    return int(lex.max() if last_wins else lex.min()), float(best)


_PYTHON_KEEP = 6  # at most this many kept prefixes: score them in plain Python


def _completion_scores(
    t: _LadderTables,
    keep: np.ndarray | np.intp,
    x: np.ndarray,
    reb: np.ndarray,
    d_last: np.ndarray,
    last_rung: int,
    formula: str,
    penalty: float,
    idx: np.ndarray | None = None,
) -> np.ndarray:
    """Scores (rung of the last chunk x kept prefixes) with the full tree's float operations."""
    if idx is None:
        idx = t.last_offsets + keep
    total = reb[keep] - np.fmin(x[keep] - d_last, 0.0)
    if formula == "pensieve":
        return (t.bitrate_term.take(idx) - penalty * total) - t.switch_term[last_rung].take(idx)
    return t.net_term[last_rung].take(idx) - penalty * total


def _search(
    t: _LadderTables,
    download_s: np.ndarray,
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    formula: str,
    last_wins: bool,
    rebuffer_penalty: float,
) -> tuple[int, float]:
    if _cannot_rebuffer(download_s, buffer_s, segment_s):
        first, last = t.no_rebuffer_best[formula][last_rung]
        lex = last if last_wins else first
        score = t.score(formula, last_rung, None, rebuffer_penalty)
        return lex, float(score[t.internal_of[lex]])
    if download_s.shape[0] > 1:
        return _search_pruned(
            t, download_s, buffer_s, segment_s, last_rung, formula, last_wins, rebuffer_penalty
        )
    reb = _rebuffer_tree(t, download_s, buffer_s, segment_s)
    score = t.score(formula, last_rung, reb, rebuffer_penalty)
    lex, i = t._pick(score, last_wins)
    return lex, float(score[i])


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
        nsizes = len(sizes)
        if nsizes:
            table = _size_table(sizes)
            if first + h <= nsizes and first >= 0:
                block = table[first : first + h, :n]
            else:  # pensieve mode looks one past the end: clamp to the last known chunk
                rows = np.clip(np.arange(first, first + h), 0, nsizes - 1)
                block = table.take(rows, axis=0)[:, :n]
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
        n = top + 1
        while h > 1 and n**h > cfg.max_plans:
            h -= 1
        ladder = ctx.bitrates_bps
        key = self._ladder_key
        if key is None or key[0] is not ladder or key[1] != n or key[2] != h:
            rates = tuple(float(b) for b in ladder[:n])
            self._ladder_key = key = (ladder, n, h, _tables(rates, h, cfg.bitrate_unit_bps))
        dl = self._download_times(ctx, h, n, prediction / 8.0)
        buffer_s = self._plan_buffer_s(ctx)
        idx, score = _search(
            key[3],
            dl,
            buffer_s,
            ctx.segment_duration_s,
            last,
            cfg.score_order,
            cfg.mode == "pensieve",
            cfg.rebuffer_penalty,
        )
        plan = []
        for _ in range(h):
            idx, digit = divmod(idx, n)
            plan.append(digit)
        plan.reverse()
        return Decision(
            plan[0],
            self.name,
            f"prediction {prediction / 1e6:.3f} Mbps (harmonic mean / (1 + max error"
            f" {self._max_error:.3f})); best {h}-chunk plan {plan} scores {score:.3f}"
            f" at buffer {ctx.buffer_s:.2f}s{self._buffer_note(ctx, buffer_s)}",
        )


_SIZE_TABLES: dict[int, tuple[object, np.ndarray]] = {}


def _size_table(sizes: Sequence[Sequence[int]]) -> np.ndarray:
    """``ctx.sizes`` as a float array, converted once per table object (it is shared)."""
    hit = _SIZE_TABLES.get(id(sizes))
    if hit is not None and hit[0] is sizes:
        return hit[1]
    if len(_SIZE_TABLES) > 256:
        _SIZE_TABLES.clear()
    table = np.asarray(sizes, dtype=float)
    if table.ndim != 2:
        raise PolicyConfigError("ctx.sizes must be a rectangular [segment][rung] table")
    _SIZE_TABLES[id(sizes)] = (sizes, table)
    return table
