"""Edge health and load, and the content-steering ranking built from them.

The control plane *polls* each edge's ``/healthz`` every
``poll_interval_s`` (default TTL/4). Polling rather than edge heartbeats
because a down edge cannot push anything: a refused or timed-out poll
marks the edge out at once, and an edge whose last good poll is older than
one steering TTL is out as well. An edge reporting ``unhealthy`` is out;
``degraded`` ranks after every ``ok`` edge. Among eligible edges the lower
load ranks first, load = active_connections + bytes_per_s / 5 MB/s,
rounded so that near-equal edges tie; ties are broken per session by
rendezvous hashing, which spreads sessions while keeping each session's
order stable. If no edge is eligible, the list is every edge in
configuration order (the client still needs somewhere to try).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from server.config import EdgeRef

__all__ = ["EdgeMonitor", "EdgeStatus", "steering_manifest"]

LOAD_BYTES_PER_UNIT = 5e6


@dataclass
class EdgeStatus:
    name: str
    url: str
    reachable: bool | None = None  # None: not polled yet
    status: str = "unknown"
    active_connections: int = 0
    bytes_per_s: float = 0.0
    last_ok: float | None = None
    last_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "reachable": self.reachable,
            "status": self.status,
            "active_connections": self.active_connections,
            "bytes_per_s": self.bytes_per_s,
            "last_ok": self.last_ok,
            "last_error": self.last_error,
        }


class EdgeMonitor:
    def __init__(
        self,
        edges: Sequence[EdgeRef],
        *,
        ttl_s: float,
        poll_interval_s: float,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.edges = {e.name: EdgeStatus(e.name, e.url) for e in edges}
        self.order = [e.name for e in edges]
        self.ttl_s = ttl_s
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.polls = 0

    async def poll_once(self, client: httpx.AsyncClient) -> None:
        await asyncio.gather(*(self._poll(client, st) for st in self.edges.values()))
        self.polls += 1

    async def _poll(self, client: httpx.AsyncClient, st: EdgeStatus) -> None:
        try:
            r = await client.get(f"{st.url}/healthz", timeout=self.timeout_s)
            r.raise_for_status()
            data = r.json()
            st.status = str(data.get("status", "ok"))
            st.active_connections = int(data.get("active_connections", 0))
            st.bytes_per_s = float(data.get("bytes_per_s", 0.0))
            st.reachable = True
            st.last_ok = self.clock()
            st.last_error = None
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            st.reachable = False
            st.status = "down"
            st.last_error = f"{type(exc).__name__}: {exc}"[:200]

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            await self.poll_once(client)

    def eligible(self, st: EdgeStatus) -> bool:
        if st.reachable is None:
            return True  # optimistic before the first poll
        if not st.reachable or st.status in ("unhealthy", "down"):
            return False
        return st.last_ok is not None and self.clock() - st.last_ok <= self.ttl_s

    def ranking(self, session_id: str = "") -> list[EdgeStatus]:
        ok = [st for st in self.edges.values() if self.eligible(st)]
        if not ok:
            return [self.edges[n] for n in self.order]

        def key(st: EdgeStatus) -> tuple[int, int, str]:
            load = st.active_connections + st.bytes_per_s / LOAD_BYTES_PER_UNIT
            h = hashlib.sha256(f"{session_id}|{st.name}".encode()).hexdigest()
            return (0 if st.status in ("ok", "unknown") else 1, round(load), h)

        return sorted(ok, key=key)


def steering_manifest(priority: list[str], *, ttl_s: float, reload_uri: str) -> dict[str, Any]:
    """HLS/DASH content-steering JSON (HLS spec section 7.2; DASH-IF CS)."""
    return {
        "VERSION": 1,
        "TTL": max(1, round(ttl_s)),
        "RELOAD-URI": reload_uri,
        "PATHWAY-PRIORITY": priority,
    }
