"""MPC plan search by dynamic programming over (chunk, rung, buffer on a grid).

RobustMPC's search enumerates n^h plans, which stops at h ~ 6. The score of
a plan (QoE_lin: ``Σ bitrate − penalty · Σ rebuffer − Σ |Δ bitrate|``) only
needs, after each chunk, the rung just fetched and the buffer level, so a
dynamic program over the states (rung, buffer) finds the best plan in
O(h · n² · B) for B buffer levels:

- the buffer is kept on a grid of ``grid_s`` seconds from 0 to ``buffer_max_s``
  (the player's buffer cap; a plan cannot fill beyond it) and is **rounded
  down** after each chunk: the new level ``b − d + segment`` becomes
  ``b + floor((segment − d) / grid) · grid`` (one-to-one on the grid, never
  above the real level), a rebuffer resets it to one segment (floored to
  the grid). The DP is therefore exact up to the grid and pessimistic: a
  plan's DP score is at most its real score, and lower by at most
  ``penalty · grid`` per chunk and chunk since the last rebuffer
  (``penalty · grid · h(h+1)/2`` in all);
- the first chunk is planned from the exact buffer level;
- ``terminal_value``: score per second of buffer left after the last chunk
  (0: none, as RobustMPC), so a long plan does not end by spending its buffer.

Pure function of its arguments (numpy only). Ties of the final score go to
the lowest (rung, buffer) state; the result is the first rung of the best plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["dp_plan"]


def dp_plan(
    bitrates: Sequence[float],
    download_s: np.ndarray | Sequence[Sequence[float]],
    buffer_s: float,
    segment_s: float,
    last_rung: int,
    *,
    buffer_max_s: float,
    grid_s: float = 0.25,
    rebuffer_penalty: float = 4.3,
    unit: float = 1e6,
    terminal_value: float = 0.0,
) -> tuple[int, float]:
    """(first rung, DP score) of the best plan over ``len(download_s)`` chunks.

    ``download_s[k][r]``: download seconds of the k-th planned chunk at rung r.
    """
    dl = np.asarray(download_s, dtype=float)
    n = len(bitrates)
    if dl.ndim != 2 or dl.shape[0] == 0 or dl.shape[1] != n or n == 0:
        raise ValueError(f"download_s must be (chunks >= 1, {n} rungs), got {dl.shape}")
    if not (grid_s > 0 and segment_s > 0 and buffer_max_s >= segment_s):
        raise ValueError(
            "need grid_s > 0, segment_s > 0 and buffer_max_s >= segment_s,"
            f" got {grid_s!r}, {segment_s!r}, {buffer_max_s!r}"
        )
    if not rebuffer_penalty >= 0.0 or not 0 <= last_rung < n or not buffer_s >= 0.0:
        raise ValueError("need rebuffer_penalty >= 0, 0 <= last_rung < rungs and buffer_s >= 0")
    if not np.all(dl >= 0.0):
        raise ValueError("download times must be >= 0")
    rates = np.asarray(bitrates, dtype=float) / unit
    switch = np.abs(rates[:, None] - rates[None, :])  # [from rung, to rung]
    nb = int(math.floor(buffer_max_s / grid_s + 1e-9)) + 1
    grid = np.arange(nb) * grid_s
    seg_bin = min(int(math.floor(segment_s / grid_s + 1e-9)), nb - 1)
    # chunk 0 from the exact buffer level
    d0 = dl[0]
    stall = np.maximum(d0 - buffer_s, 0.0)
    b1 = np.minimum(np.maximum(buffer_s - d0, 0.0) + segment_s, buffer_max_s)
    value = np.full((n, nb), -np.inf)
    first = np.zeros((n, nb), dtype=np.intp)
    rows = np.arange(n)
    j1 = np.minimum(np.floor(b1 / grid_s + 1e-9).astype(np.intp), nb - 1)
    value[rows, j1] = rates - rebuffer_penalty * stall - switch[last_rung]
    first[rows, j1] = rows
    top = nb - 1
    idx = np.arange(n * nb)
    for k in range(1, dl.shape[0]):
        # best predecessor rung for each (next rung, buffer bin)
        cand = value[:, None, :] - switch[:, :, None]  # [from, to, bin]
        pick = cand.argmax(axis=0)  # [to, bin]
        best = np.take_along_axis(cand, pick[None], axis=0)[0]
        firsts = first[pick, np.arange(nb)[None, :]]
        d = dl[k][:, None]
        stall = np.maximum(d - grid[None, :], 0.0)
        gain = rates[:, None] - rebuffer_penalty * stall
        shift = np.floor((segment_s - dl[k]) / grid_s + 1e-9).astype(np.intp)[:, None]
        jn = np.where(grid[None, :] > d, np.arange(nb)[None, :] + shift, seg_bin)
        np.clip(jn, 0, top, out=jn)
        np.maximum.accumulate(jn, axis=1, out=jn)  # sorted keys even at float edges
        score = (best + gain).reshape(-1)
        key = (jn + (rows * nb)[:, None]).reshape(-1)  # non-decreasing: bins grow with j
        starts = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate(([0], starts))
        gmax = np.maximum.reduceat(score, starts)
        sizes = np.diff(np.append(starts, key.size))
        win = np.where(score == np.repeat(gmax, sizes), idx, key.size)
        at = np.minimum.reduceat(win, starts)
        value = np.full(n * nb, -np.inf)
        nfirst = np.zeros(n * nb, dtype=np.intp)
        dest = key[starts]
        value[dest] = gmax
        ok = at < key.size
        nfirst[dest[ok]] = firsts.reshape(-1)[at[ok]]
        value = value.reshape(n, nb)
        first = nfirst.reshape(n, nb)
    final = value + terminal_value * grid[None, :] if terminal_value else value
    flat = int(np.argmax(final))
    return int(first.reshape(-1)[flat]), float(final.reshape(-1)[flat])
