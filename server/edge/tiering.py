"""Pull-through cache: an edge that holds part of the catalog fetches the rest.

A miss is fetched once from the origin edge (httpx, async), written to the
edge's cache directory atomically (temporary file in the same directory,
then ``os.replace``), and served from disk afterwards. Concurrent misses for
one path share one origin fetch (request coalescing): the first request
starts the fetch, the others await the same future.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from server.errors import ServerError

__all__ = ["OriginError", "PullThroughCache", "holds_path"]


class OriginError(ServerError):
    """The origin could not supply a file (unreachable, error status)."""

    def __init__(self, message: str, *, status: int = 502) -> None:
        self.status = status
        super().__init__(message)


def holds_path(holds: Sequence[str] | None, rel: str) -> bool:
    """Whether an edge with ``holds`` stores ``rel`` (e.g. "demo/video/r0/seg-1.m4s")."""
    if holds is None:
        return True
    for pattern in holds:
        if rel == pattern or rel.startswith(pattern.rstrip("/") + "/"):
            return True
        if fnmatch.fnmatchcase(rel, pattern):
            return True
    return False


class PullThroughCache:
    def __init__(self, origin_url: str, cache_dir: Path, *, timeout_s: float = 10.0) -> None:
        self.origin_url = origin_url.rstrip("/")
        self.cache_dir = cache_dir
        self.timeout_s = timeout_s
        self.origin_fetches = 0
        self.origin_bytes = 0
        self.hits = 0
        self.coalesced = 0
        self._inflight: dict[str, asyncio.Future[Path]] = {}
        self._client: httpx.AsyncClient | None = None
        cache_dir.mkdir(parents=True, exist_ok=True)

    async def open(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._inflight.clear()

    def cached(self, rel: str) -> Path | None:
        p = self.cache_dir / rel
        return p if p.is_file() else None

    async def get(self, rel: str) -> Path:
        """Local path of ``rel``, fetching it from the origin on a miss."""
        p = self.cached(rel)
        if p is not None:
            self.hits += 1
            return p
        fut = self._inflight.get(rel)
        if fut is not None:
            self.coalesced += 1
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[rel] = fut
        try:
            path = await self._fetch(rel)
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else OriginError("cancelled"))
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            fut.set_result(path)
            return path
        finally:
            self._inflight.pop(rel, None)

    async def _fetch(self, rel: str) -> Path:
        if self._client is None:
            raise OriginError("edge is not started (no origin client)")
        self.origin_fetches += 1
        url = f"{self.origin_url}/{rel}"
        dest = self.cache_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                async with self._client.stream("GET", url) as resp:
                    if resp.status_code == 404:
                        raise OriginError(f"origin has no {rel}", status=404)
                    if resp.status_code != 200:
                        raise OriginError(f"origin {url} answered {resp.status_code}")
                    async for chunk in resp.aiter_raw():
                        out.write(chunk)
                        self.origin_bytes += len(chunk)
                    expected = resp.headers.get("content-length")
                if expected is not None and out.tell() != int(expected):
                    raise OriginError(f"origin {url} sent {out.tell()} of {expected} bytes")
            os.replace(tmp, dest)
        except httpx.HTTPError as exc:
            raise OriginError(f"origin {url} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest
