"""Content steering client (HLS EXT-X-CONTENT-STEERING / DASH-IF ContentSteering).

The steering server answers JSON like::

    {"VERSION": 1, "TTL": 300, "RELOAD-URI": "steer?session=abc",
     "PATHWAY-PRIORITY": ["cdn-a", "cdn-b"]}

(DASH servers may say ``SERVICE-LOCATION-PRIORITY``; both are read.) The
client fetches it, remembers the priority list, and asks again after ``TTL``
seconds at ``RELOAD-URI`` (resolved against the URI it just used) when given.
Each request carries the pathway in use and the measured throughput in bits
per second as ``_HLS_pathway``/``_HLS_throughput`` (or the ``_DASH_`` pair).

A bad answer (HTTP error, not JSON, wrong VERSION, empty priority) keeps the
last good priority list, is reported through ``last_error`` and ``on_error``,
and is retried after the last good TTL. A 410 Gone turns steering off for the
session, as the HLS spec asks.

    PlayerError
     └── SteeringError   a steering response was unusable; .url
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from player.errors import PlayerError
from player.transport import HttpStatusError, Transport, TransportError

__all__ = [
    "SteeringError",
    "SteeringManifest",
    "SteeringClient",
    "parse_steering",
    "steering_request_url",
    "DEFAULT_TTL_S",
]

Protocol_ = Literal["hls", "dash"]
DEFAULT_TTL_S = 300.0


class SteeringError(PlayerError):
    """A steering manifest could not be fetched or is not valid."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"steering manifest {url}: {message}")
        self.url = url


@dataclass(frozen=True)
class SteeringManifest:
    """A parsed steering response. ``reload_uri`` is absolute (or None)."""

    version: int
    ttl_s: float
    reload_uri: str | None
    pathway_priority: tuple[str, ...]


def parse_steering(body: bytes | str, *, url: str) -> SteeringManifest:
    """Parse and validate a steering manifest fetched from ``url``."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SteeringError(f"not JSON: {exc}", url=url) from exc
    if not isinstance(data, dict):
        raise SteeringError("not a JSON object", url=url)
    version = data.get("VERSION")
    if version != 1 or isinstance(version, bool):
        raise SteeringError(f"VERSION must be 1, got {version!r}", url=url)
    ttl = data.get("TTL", DEFAULT_TTL_S)
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, (int, float))
        or not math.isfinite(ttl)
        or ttl <= 0
    ):
        raise SteeringError(f"TTL must be a positive number of seconds, got {ttl!r}", url=url)
    reload_uri = data.get("RELOAD-URI")
    if reload_uri is not None:
        if not isinstance(reload_uri, str) or not reload_uri:
            raise SteeringError(f"RELOAD-URI must be a non-empty string, got {reload_uri!r}",
                                url=url)
        reload_uri = urljoin(url, reload_uri)
    key = "PATHWAY-PRIORITY" if "PATHWAY-PRIORITY" in data else "SERVICE-LOCATION-PRIORITY"
    priority = data.get(key)
    if (
        not isinstance(priority, list)
        or not priority
        or not all(isinstance(p, str) and p for p in priority)
    ):
        raise SteeringError(f"PATHWAY-PRIORITY must be a non-empty list of pathway ids, "
                            f"got {priority!r}", url=url)
    unique = tuple(dict.fromkeys(priority))
    return SteeringManifest(version=1, ttl_s=float(ttl), reload_uri=reload_uri,
                            pathway_priority=unique)


def steering_request_url(
    uri: str,
    *,
    protocol: Protocol_ = "hls",
    pathway: str | None = None,
    throughput_bps: float | None = None,
) -> str:
    """``uri`` with ``_HLS_pathway``/``_HLS_throughput`` (or ``_DASH_``) set.

    Existing parameters of the same names are replaced; others are kept.
    """
    prefix = "_HLS_" if protocol == "hls" else "_DASH_"
    names = {prefix + "pathway", prefix + "throughput"}
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    if pathway is not None:
        query.append((prefix + "pathway", pathway))
    if throughput_bps is not None and math.isfinite(throughput_bps) and throughput_bps > 0:
        query.append((prefix + "throughput", str(int(round(throughput_bps)))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class SteeringClient:
    """Keeps a pathway priority list fresh from a steering server.

    Args:
        uri: the steering server URI (from the grant or the manifest).
        transport: any :class:`~player.transport.Transport`.
        protocol: ``"hls"`` or ``"dash"`` (selects the query parameter names).
        initial_priority: the ranking to report before the first good answer.
        on_update(manifest): called after each good answer.
        on_error(error): called after each bad one (the priority list is kept).
        clock: seconds (monotonic); timeout_s: per request.
    """

    def __init__(
        self,
        uri: str,
        transport: Transport,
        *,
        protocol: Protocol_ = "hls",
        initial_priority: Sequence[str] = (),
        on_update: Callable[[SteeringManifest], None] | None = None,
        on_error: Callable[[SteeringError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = 5.0,
    ) -> None:
        self.uri = uri
        self.transport = transport
        self.protocol: Protocol_ = protocol
        self.priority: tuple[str, ...] = tuple(initial_priority)
        self.manifest: SteeringManifest | None = None
        self.last_error: SteeringError | None = None
        self.disabled = False
        self.next_refresh_at = clock()
        self._on_update = on_update
        self._on_error = on_error
        self._clock = clock
        self._timeout_s = timeout_s

    @property
    def ttl_s(self) -> float:
        return self.manifest.ttl_s if self.manifest else DEFAULT_TTL_S

    def due(self) -> bool:
        """Is a refresh due now?"""
        return not self.disabled and self._clock() >= self.next_refresh_at

    async def refresh(
        self, *, pathway: str | None = None, throughput_bps: float | None = None
    ) -> SteeringManifest | None:
        """Fetch the steering manifest once; returns it, or None on failure/disabled."""
        if self.disabled:
            return None
        url = steering_request_url(
            self.uri, protocol=self.protocol, pathway=pathway, throughput_bps=throughput_bps
        )
        try:
            result = await self.transport.fetch(
                url, timeout_s=self._timeout_s, stall_timeout_s=self._timeout_s
            )
            manifest = parse_steering(result.data, url=url)
        except HttpStatusError as exc:
            if exc.status == 410:
                self.disabled = True
            self._failed(SteeringError(f"HTTP {exc.status}", url=url), exc)
            return None
        except TransportError as exc:
            self._failed(SteeringError(f"fetch failed: {exc}", url=url), exc)
            return None
        except SteeringError as exc:
            self._failed(exc, None)
            return None
        self.manifest = manifest
        self.priority = manifest.pathway_priority
        self.last_error = None
        if manifest.reload_uri:
            self.uri = manifest.reload_uri
        self.next_refresh_at = self._clock() + manifest.ttl_s
        if self._on_update is not None:
            self._on_update(manifest)
        return manifest

    def _failed(self, error: SteeringError, cause: BaseException | None) -> None:
        if cause is not None:
            error.__cause__ = cause
        self.last_error = error
        self.next_refresh_at = self._clock() + self.ttl_s
        if self._on_error is not None:
            self._on_error(error)

    async def run(
        self,
        *,
        pathway: Callable[[], str | None] = lambda: None,
        throughput_bps: Callable[[], float | None] = lambda: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Refresh at each TTL until cancelled (or a 410 turns steering off)."""
        while not self.disabled:
            if self.due():
                await self.refresh(pathway=pathway(), throughput_bps=throughput_bps())
            await sleep(max(0.0, self.next_refresh_at - self._clock()))
