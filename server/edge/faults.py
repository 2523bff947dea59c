"""Fault injection for an edge: the admin JSON, parsed into one frozen value.

``POST /admin/faults`` merges the given keys into the edge's active faults,
``DELETE /admin/faults`` clears them all (or ``?name=latency_ms`` one),
``GET /admin/faults`` shows them. Body keys (all optional)::

    {
      "match": "*.m4s",                 fnmatch on the request path; default "*"
      "latency_ms": 250,                wait before sending headers
      "rate": {"bytes_per_s": 500000}   per-connection pacing, or
              {"trace": "/path/trace.log", "format": "auto|pensieve|sabre",
               "time_scale": 1.0},
      "error": {"status": 503, "probability": 0.2, "seed": 7},
      "stall": {"after_bytes": 65536},  send that many body bytes, then hang
      "truncate": {"after_bytes": 65536},  send that many, then close
      "down": {"for_s": 3.0},           stop listening (connection refused);
                                        without for_s, until the runner restores it
      "health": "unhealthy"             what /healthz reports (forces steering out)
    }

Faults apply to content requests only (never /healthz, /metrics, /admin).
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field, replace
from typing import Any

from server.edge.shaping import ConstantRate, ShapingError, TraceRate, load_trace_rate
from server.errors import ServerError

__all__ = ["FaultError", "FaultSet", "FaultState", "parse_faults"]

FAULT_KEYS = ("match", "latency_ms", "rate", "error", "stall", "truncate", "down", "health")


class FaultError(ServerError):
    """An admin fault request is malformed; ``where`` names the key."""

    def __init__(self, message: str, *, where: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ErrorFault:
    status: int
    probability: float
    seed: int | None


@dataclass(frozen=True)
class FaultSet:
    match: str = "*"
    latency_ms: float = 0.0
    rate: ConstantRate | TraceRate | None = None
    error: ErrorFault | None = None
    stall_after_bytes: int | None = None
    truncate_after_bytes: int | None = None
    down_for_s: float | None = None
    health: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def applies_to(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.match) or fnmatch.fnmatchcase(
            path.lstrip("/"), self.match
        )

    @property
    def active(self) -> bool:
        return bool(self.raw)


def _number(v: Any, where: str, *, lo: float = 0.0, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise FaultError(f"expected a number, got {v!r}", where=where)
    if v < lo or (hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise FaultError(f"must be in {rng}, got {v!r}", where=where)
    return float(v)


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise FaultError(f"expected a JSON object, got {type(v).__name__}", where=where)
    return v


def parse_faults(body: Any, *, current: FaultSet, now: float) -> FaultSet:
    """Merge an admin request body into ``current``. ``now`` anchors traces."""
    body = _obj(body, "body")
    unknown = sorted(set(body) - set(FAULT_KEYS))
    if unknown:
        raise FaultError(f"unknown key(s) {unknown}; known: {list(FAULT_KEYS)}", where="body")
    fs = current
    raw = dict(current.raw)
    if "match" in body:
        if not isinstance(body["match"], str) or not body["match"]:
            raise FaultError("expected a non-empty glob string", where="match")
        fs = replace(fs, match=body["match"])
    if "latency_ms" in body:
        fs = replace(fs, latency_ms=_number(body["latency_ms"], "latency_ms", hi=600_000))
    if "rate" in body:
        fs = replace(fs, rate=_parse_rate(body["rate"], now))
    if "error" in body:
        e = _obj(body["error"], "error")
        status = e.get("status", 503)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultError(
                f"expected an HTTP error status 400-599, got {status!r}", where="error.status"
            )
        p = _number(e.get("probability", 1.0), "error.probability", hi=1.0)
        seed = e.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultError(f"expected an integer, got {seed!r}", where="error.seed")
        fs = replace(fs, error=ErrorFault(status, p, seed))
    if "stall" in body:
        n = _number(_obj(body["stall"], "stall").get("after_bytes"), "stall.after_bytes")
        fs = replace(fs, stall_after_bytes=int(n))
    if "truncate" in body:
        n = _number(_obj(body["truncate"], "truncate").get("after_bytes"), "truncate.after_bytes")
        fs = replace(fs, truncate_after_bytes=int(n))
    if "down" in body:
        d = _obj(body["down"], "down")
        for_s = d.get("for_s")
        fs = replace(
            fs, down_for_s=None if for_s is None else _number(for_s, "down.for_s", lo=0.01)
        )
    if "health" in body:
        if body["health"] not in ("ok", "degraded", "unhealthy", None):
            raise FaultError("expected ok, degraded, unhealthy or null", where="health")
        fs = replace(fs, health=body["health"])
    raw.update({k: v for k, v in body.items() if k != "down"})
    return replace(fs, raw=raw)


def _parse_rate(v: Any, now: float) -> ConstantRate | TraceRate:
    r = _obj(v, "rate")
    try:
        if "bytes_per_s" in r:
            return ConstantRate(_number(r["bytes_per_s"], "rate.bytes_per_s", lo=1.0))
        if "trace" in r:
            if not isinstance(r["trace"], str):
                raise FaultError("expected a file path", where="rate.trace")
            scale = _number(r.get("time_scale", 1.0), "rate.time_scale", lo=1e-6)
            return load_trace_rate(r["trace"], fmt=str(r.get("format", "auto")), origin=now,
                                   time_scale=scale)
    except ShapingError as exc:
        raise FaultError(str(exc), where="rate") from exc
    raise FaultError("expected {bytes_per_s} or {trace, format?, time_scale?}", where="rate")


class FaultState:
    """The edge's live faults plus the seeded RNG for error injection."""

    def __init__(self) -> None:
        self.faults = FaultSet()
        self._rng = random.Random()

    def set(self, faults: FaultSet) -> None:
        # a request that names "error" builds a new ErrorFault: reseed then (and only
        # then), so the same seed replays the same sequence
        if faults.error is not None and faults.error is not self.faults.error:
            self._rng = random.Random(faults.error.seed)
        self.faults = faults

    def clear(self, name: str | None = None) -> None:
        if name is None:
            self.faults = FaultSet()
            return
        if name not in FAULT_KEYS:
            raise FaultError(f"unknown fault {name!r}; known: {list(FAULT_KEYS)}", where="name")
        defaults = FaultSet()
        attr = {
            "stall": "stall_after_bytes",
            "truncate": "truncate_after_bytes",
            "down": "down_for_s",
        }.get(name, name)
        raw = {k: v for k, v in self.faults.raw.items() if k != name}
        self.faults = replace(self.faults, **{attr: getattr(defaults, attr)}, raw=raw)

    def roll_error(self) -> int | None:
        """The status to fail this request with, or None."""
        e = self.faults.error
        if e is None or e.probability <= 0:
            return None
        return e.status if self._rng.random() < e.probability else None
