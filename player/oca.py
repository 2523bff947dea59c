"""The OCA pool: ranked edges (pathways), failover within a request, breakers, stats.

``await pool.fetch(path, byte_range=...)`` asks the best-ranked edge whose
circuit breaker is not open. On a connection error, timeout, stall, truncated
body or retryable status (5xx, 408, 429) it moves on to the next edge *within
the same request* (reporting a :class:`FailoverRecord` through
``on_failover``); after a full pass over the edges it backs off (capped
exponential, full jitter) and makes another pass, up to ``RetryPolicy``'s
attempts and deadline. A client error (404, 403, ...) is tried on the other
edges once but not retried.

A segment is returned exactly once and whole (a failed attempt's partial bytes
are dropped: the next edge fetches it from the start), or the call raises
:class:`OcaExhausted` naming each edge's last error. ``on_progress`` counts
restart from zero after a failover.

The ranking starts as the grant's order and is replaced by steering updates
(``set_priority``); pathways a steering answer leaves out stay usable as a
last resort, after the listed ones.

    PlayerError
     ├── TransportError (player.transport)
     │    └── OcaExhausted   every edge failed; .errors maps edge id -> last error text
     └── PathwayError        a grant's pathway list is unusable (also a ValueError)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from player.breaker import BreakerConfig, BreakerState, CircuitBreaker
from player.errors import PlayerError
from player.retry import Retrier, RetryPolicy
from player.transport import (
    FetchResult,
    ProgressCallback,
    Transport,
    TransportError,
    is_retryable,
)
from telemetry.cmcd import CmcdData

__all__ = [
    "Pathway",
    "OcaConfig",
    "OcaPool",
    "OcaResult",
    "OcaExhausted",
    "FailoverRecord",
    "EdgeStats",
    "PathwayError",
    "pathways_from_grant",
]

Clock = Callable[[], float]

#: How often a request waiting for another request's half-open probe looks again (s).
PROBE_POLL_S = 0.05


@dataclass(frozen=True)
class Pathway:
    """One edge/pathway from the grant: an id, the base URL of its segments, and
    optionally its manifest URL."""

    id: str
    base_url: str
    manifest_url: str | None = None


@dataclass(frozen=True)
class OcaConfig:
    """Tuning of one pool (seconds).

    timeout_s: one attempt's whole-fetch limit (also capped by the time left);
    stall_timeout_s: longest wait for the next byte before failing over;
    retry: ``max_attempts`` counts *passes* over all edges, ``deadline_s``
        bounds the whole request (failovers and backoff included);
    breaker: the per-edge circuit breaker;
    throughput_alpha: EWMA weight of a new per-edge throughput sample;
    breaker_wait_s: longest a request that has not tried any edge yet waits for a
        breaker to let a probe through (every breaker open from earlier requests,
        or half-open with another request's probe in flight) before it gives up.
    """

    timeout_s: float = 10.0
    stall_timeout_s: float = 3.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    throughput_alpha: float = 0.3
    breaker_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.breaker_wait_s < 0:
            raise ValueError(f"OcaConfig.breaker_wait_s must be >= 0, got {self.breaker_wait_s}")


@dataclass(frozen=True)
class FailoverRecord:
    """Delivery of one request moved from ``from_edge`` to ``to_edge`` at ``ts``."""

    from_edge: str
    to_edge: str
    reason: str
    url: str
    ts: float


@dataclass(frozen=True)
class OcaResult:
    """A whole segment and where it came from."""

    edge: str
    result: FetchResult
    attempts: int
    failovers: int

    @property
    def data(self) -> bytes:
        return self.result.data

    @property
    def url(self) -> str:
        return self.result.url

    @property
    def elapsed_s(self) -> float:
        return self.result.elapsed_s

    @property
    def throughput_bps(self) -> float:
        return self.result.throughput_bps


@dataclass
class EdgeStats:
    """Per-edge counters; ``throughput_bps`` is an EWMA of successful fetches."""

    edge: str
    requests: int = 0
    successes: int = 0
    failures: int = 0
    bytes: int = 0
    throughput_bps: float | None = None
    last_error: str | None = None
    breaker: BreakerState = BreakerState.CLOSED


class OcaExhausted(TransportError):
    """Every edge failed within the request's attempts/deadline."""

    reason = "exhausted"

    def __init__(self, path: str, errors: Mapping[str, str], attempts: int) -> None:
        detail = "; ".join(f"{edge}: {err}" for edge, err in errors.items()) or "no edge"
        super().__init__(f"all edges failed after {attempts} attempt(s): {detail}", url=path)
        self.path = path
        self.errors = dict(errors)
        self.attempts = attempts


class PathwayError(PlayerError, ValueError):
    """A playback grant's ``pathways`` list is missing or malformed."""


def pathways_from_grant(grant: Mapping[str, Any], *, protocol: str = "hls") -> list[Pathway]:
    """Ranked pathways from a playback grant.

    Reads ``grant["pathways"]``: a list, best first, of objects with ``id``,
    ``base_url`` and per-protocol manifest URLs (``"hls"``/``"dash"``); the
    manifest URL for ``protocol`` becomes ``Pathway.manifest_url``.
    """
    raw = grant.get("pathways") if isinstance(grant, Mapping) else None
    if not isinstance(raw, list) or not raw:
        raise PathwayError("grant.pathways must be a non-empty list")
    out: list[Pathway] = []
    for i, item in enumerate(raw):
        where = f"grant.pathways[{i}]"
        if not isinstance(item, Mapping):
            raise PathwayError(f"{where} must be an object")
        pid, base = item.get("id"), item.get("base_url")
        if not isinstance(pid, str) or not pid:
            raise PathwayError(f"{where}.id must be a non-empty string")
        if not isinstance(base, str) or "://" not in base:
            raise PathwayError(f"{where}.base_url must be an absolute URL, got {base!r}")
        manifest = item.get(protocol)
        if manifest is not None and not isinstance(manifest, str):
            raise PathwayError(f"{where}.{protocol} must be a URL string")
        out.append(Pathway(pid, base, manifest))
    if len({p.id for p in out}) != len(out):
        raise PathwayError("grant.pathways has duplicate ids")
    return out


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


class OcaPool:
    """Ranked edges with per-edge breakers, failover within a request, and stats."""

    def __init__(
        self,
        pathways: Sequence[Pathway],
        transport: Transport,
        *,
        config: OcaConfig | None = None,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_failover: Callable[[FailoverRecord], None] | None = None,
    ) -> None:
        if not pathways:
            raise ValueError("OcaPool needs at least one pathway")
        ids = [p.id for p in pathways]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate pathway ids in {ids}")
        self.pathways: dict[str, Pathway] = {p.id: p for p in pathways}
        self.transport = transport
        self.config = config or OcaConfig()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._on_failover = on_failover
        self._ranking: tuple[str, ...] = tuple(ids)
        self.breakers = {i: CircuitBreaker(self.config.breaker, clock=clock) for i in ids}
        self._stats = {i: EdgeStats(i) for i in ids}
        self.current_edge: str | None = None

    # --- ranking ---------------------------------------------------------------------
    @property
    def ranking(self) -> tuple[str, ...]:
        return self._ranking

    def set_priority(self, priority: Sequence[str]) -> None:
        """Re-rank from a steering answer: listed known ids first, in that order;
        unknown ids ignored; unlisted edges kept after them, in their old order."""
        listed = [p for p in dict.fromkeys(priority) if p in self.pathways]
        rest = [p for p in self._ranking if p not in listed]
        self._ranking = tuple(listed + rest)

    def url_for(self, edge: str, path: str) -> str:
        """The URL of ``path`` on ``edge``. Absolute URLs on a known edge are re-based."""
        rel = self._relative(path)
        if rel is None:
            return path
        return _join(self.pathways[edge].base_url, rel)

    def _relative(self, path: str) -> str | None:
        if "://" not in path:
            return path
        for p in self.pathways.values():
            base = p.base_url.rstrip("/") + "/"
            if path.startswith(base):
                return path[len(base) :]
        return None  # a foreign absolute URL: the same URL on every attempt

    # --- stats -----------------------------------------------------------------------
    def stats(self) -> dict[str, EdgeStats]:
        """A snapshot of every edge's counters, in ranking order."""
        out = {}
        for edge in self._ranking:
            s = self._stats[edge]
            out[edge] = EdgeStats(**{**s.__dict__, "breaker": self.breakers[edge].state})
        return out

    def throughput_bps(self, edge: str | None = None) -> float | None:
        """EWMA throughput of ``edge`` (default: the edge that served last)."""
        edge = edge or self.current_edge
        return None if edge is None else self._stats[edge].throughput_bps

    # --- fetching --------------------------------------------------------------------
    async def fetch(
        self,
        path: str,
        *,
        byte_range: Any = None,
        on_progress: ProgressCallback | None = None,
        cmcd: CmcdData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> OcaResult:
        """Fetch ``path`` (relative to each pathway's base URL) whole from the best edge."""
        urls = {edge: self.url_for(edge, path) for edge in self.pathways}
        return await self.fetch_each(
            urls, label=path, byte_range=byte_range, on_progress=on_progress, cmcd=cmcd,
            headers=headers,
        )

    async def fetch_manifest(self, *, headers: Mapping[str, str] | None = None) -> OcaResult:
        """Fetch the manifest from each pathway's ``manifest_url`` (ranked, with failover)."""
        urls = {e: p.manifest_url for e, p in self.pathways.items() if p.manifest_url}
        if not urls:
            raise ValueError("no pathway has a manifest_url")
        return await self.fetch_each(urls, label="manifest", headers=headers)

    async def fetch_each(
        self,
        urls: Mapping[str, str],
        *,
        label: str = "",
        byte_range: Any = None,
        on_progress: ProgressCallback | None = None,
        cmcd: CmcdData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> OcaResult:
        """Fetch one object whose URL on each edge is ``urls[edge]``."""
        retrier = Retrier(self.config.retry, clock=self._clock, rng=self._rng)
        errors: dict[str, str] = {}
        attempts = failovers = 0
        breaker_waited = 0.0
        previous: str | None = None
        reason = ""
        label = label or next(iter(urls.values()), "")
        while True:
            tried = 0
            fatal_only = True
            for edge in self._ranking:
                if edge not in urls:
                    continue
                remaining = retrier.remaining_s()
                if remaining is not None and remaining <= 0:
                    break
                breaker = self.breakers[edge]
                if not breaker.allow():
                    errors.setdefault(edge, "circuit open")
                    continue
                if previous is not None and previous != edge:
                    failovers += 1
                    if self._on_failover is not None:
                        self._on_failover(
                            FailoverRecord(previous, edge, reason, urls[edge], self._clock())
                        )
                tried += 1
                attempts += 1
                stats = self._stats[edge]
                stats.requests += 1
                timeout = self.config.timeout_s
                if remaining is not None:
                    timeout = min(timeout, remaining)
                try:
                    result = await self.transport.fetch(
                        urls[edge],
                        byte_range=byte_range,
                        timeout_s=timeout,
                        stall_timeout_s=self.config.stall_timeout_s,
                        on_progress=on_progress,
                        cmcd=cmcd,
                        headers=headers,
                    )
                except TransportError as exc:
                    stats.failures += 1
                    stats.last_error = str(exc)
                    errors[edge] = f"{exc.reason}: {exc}"
                    if is_retryable(exc):
                        fatal_only = False
                        breaker.record_failure()
                    else:
                        breaker.release()  # the edge answered; it is not down
                    previous, reason = edge, exc.reason
                    continue
                except BaseException:
                    breaker.release()
                    raise
                breaker.record_success()
                stats.successes += 1
                stats.bytes += result.size
                alpha = self.config.throughput_alpha
                sample = result.throughput_bps
                stats.throughput_bps = (
                    sample
                    if stats.throughput_bps is None
                    else alpha * sample + (1 - alpha) * stats.throughput_bps
                )
                self.current_edge = edge
                return OcaResult(edge=edge, result=result, attempts=attempts, failovers=failovers)
            if tried:
                if fatal_only:
                    raise OcaExhausted(label, errors, attempts)
                delay = retrier.next_delay_s()
                if delay is None:
                    raise OcaExhausted(label, errors, attempts)
                await self._sleep(delay)
                continue
            # no edge let this request through: every breaker is open, or half-open
            # with another request's probe in flight
            wait = self._until_probe(urls)
            if attempts == 0:
                # the breakers hold earlier requests' failures: wait (bounded) for a
                # probe rather than give up untried; the time budget starts at the probe
                if breaker_waited + wait > self.config.breaker_wait_s:
                    raise OcaExhausted(label, errors, attempts)
                breaker_waited += wait
                await self._sleep(wait)
                retrier = Retrier(self.config.retry, clock=self._clock, rng=self._rng)
                continue
            delay = retrier.next_delay_s()
            if delay is None:
                raise OcaExhausted(label, errors, attempts)
            delay = max(delay, wait)
            deadline = retrier.deadline
            if deadline is not None and self._clock() + delay >= deadline:
                raise OcaExhausted(label, errors, attempts)
            await self._sleep(delay)

    def _until_probe(self, urls: Mapping[str, str]) -> float:
        """Seconds until one of these edges' breakers may let a request through: an
        open one at its half-open time, a half-open one (probe in flight) when the
        probe ends, polled every PROBE_POLL_S."""
        now = self._clock()
        waits = []
        for edge in urls:
            breaker = self.breakers[edge]
            at = breaker.retry_at()
            if at is not None:
                waits.append(max(0.0, at - now))
            elif breaker.state is not BreakerState.OPEN:
                waits.append(PROBE_POLL_S)
        return min(waits, default=PROBE_POLL_S)
