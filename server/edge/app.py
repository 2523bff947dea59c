"""One OCA edge: serves packaged bytes, with faults, shaping and tiering.

The content handler is a plain ASGI callable (not a Starlette response)
because fault injection needs control of every byte: pacing chunks,
stopping after N bytes and hanging, closing early. Routes:

    GET|HEAD /<title>/<path>        content (single byte range supported)
    GET      /healthz               load and health, polled by the control plane
    GET      /metrics               Prometheus text
    GET|POST|DELETE /admin/faults   fault injection (see server.edge.faults)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from server.config import EdgeConfig
from server.control.metrics import Registry
from server.edge.faults import FaultError, FaultSet, FaultState, parse_faults
from server.edge.shaping import ConstantRate, TraceRate
from server.edge.tiering import OriginError, PullThroughCache, holds_path

__all__ = ["Edge", "parse_range", "safe_relative_path"]

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".ts": "video/mp2t",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".json": "application/json",
}
MANIFEST_SUFFIXES = {".m3u8", ".mpd", ".json"}


class BadPath(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


def safe_relative_path(raw_path: bytes | None, path: str) -> str:
    """The request path as a safe relative path ("demo/video/r0/seg-00001.m4s").

    Raises :class:`BadPath` (400) for dot segments, empty segments (``//``,
    absolute paths smuggled in), backslashes and NUL, whether written
    literally or percent-encoded (once or twice).
    """
    text = raw_path.decode("latin-1") if raw_path else path
    text = text.split("?", 1)[0]
    decoded = text
    for _ in range(3):  # %252e%252e -> %2e%2e -> ..
        nxt = urllib.parse.unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt
    if not decoded.startswith("/"):
        raise BadPath(400, "path must start with /")
    if "\x00" in decoded or "\\" in decoded:
        raise BadPath(400, "path contains NUL or backslash")
    segments = decoded[1:].split("/")
    for seg in segments:
        if seg in ("", ".", ".."):
            raise BadPath(400, "path has an empty or dot segment")
    return urllib.parse.unquote(text)[1:]


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as (first, last) inclusive, or None to send it all.

    Malformed headers and multi-range requests are ignored (RFC 9110 lets a
    server do that); a range starting past the end raises
    :class:`Unsatisfiable`.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first_s == "":
            n = int(last_s)
            if n <= 0:
                raise Unsatisfiable
            return (max(0, size - n), size - 1) if size else _unsat()
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError:
        return None
    if first < 0 or (last_s and last < first):
        return None
    if first >= size:
        raise Unsatisfiable
    return first, min(last, size - 1)


def _unsat() -> tuple[int, int]:
    raise Unsatisfiable


class EdgeStats:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.in_flight = 0
        self.bytes_total = 0
        self.requests_total = 0
        self._buckets: collections.deque[list[float]] = collections.deque(maxlen=8)
        self.recent_status: collections.deque[int] = collections.deque(maxlen=50)

    def add_bytes(self, n: int) -> None:
        self.bytes_total += n
        sec = int(self.clock())
        if self._buckets and self._buckets[-1][0] == sec:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([sec, n])

    def bytes_per_s(self, window_s: int = 3) -> float:
        now = int(self.clock())
        total = sum(b for s, b in self._buckets if now - window_s < s <= now)
        return total / window_s

    def error_ratio(self) -> float:
        if not self.recent_status:
            return 0.0
        return sum(1 for s in self.recent_status if s >= 500) / len(self.recent_status)


class Edge:
    """An edge's state and its ASGI app (``edge.app``)."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_down: Callable[[float | None], None] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.root = config.content_dir.resolve()
        self.clock = clock
        self.on_down = on_down
        self.faults = FaultState()
        self.stats = EdgeStats(clock)
        self.cache: PullThroughCache | None = None
        if config.origin_url:
            cache_dir = config.cache_dir or (self.root.parent / f".cache-{config.name}")
            self.cache = PullThroughCache(
                config.origin_url, cache_dir.resolve(), timeout_s=config.origin_timeout_s
            )
        self.metrics = Registry()
        self._describe_metrics()
        self.router = Starlette(
            routes=[
                Route("/healthz", self._healthz),
                Route("/metrics", self._metrics),
                Route("/admin/faults", self._admin, methods=["GET", "POST", "DELETE"]),
            ],
            lifespan=self._lifespan,
        )

    # ----------------------------------------------------------------- ASGI
    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/healthz", "/metrics") or path.startswith("/admin/"):
            await self.router(scope, receive, send)
            return
        await self._content(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Any) -> AsyncIterator[None]:
        if self.cache is not None:
            await self.cache.open()
        try:
            yield
        finally:
            if self.cache is not None:
                await self.cache.close()

    # ------------------------------------------------------------ content
    async def _content(self, scope: Any, receive: Any, send: Any) -> None:
        self.stats.requests_total += 1
        self.stats.in_flight += 1
        status = 500
        try:
            status = await self._serve(scope, receive, send)
        finally:
            self.stats.in_flight -= 1
            self.stats.recent_status.append(status)
            self.metrics.inc("edge_requests_total", {"status": str(status)})

    async def _serve(self, scope: Any, receive: Any, send: Any) -> int:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return await _simple(send, 405, "method not allowed", [(b"allow", b"GET, HEAD")])
        try:
            rel = safe_relative_path(scope.get("raw_path"), scope["path"])
        except BadPath as exc:
            return await _simple(send, exc.status, exc.reason)
        if any(seg.startswith(".") for seg in rel.split("/")):
            return await _simple(send, 404, "not found")  # markers, partial downloads
        fs = self.faults.faults
        fault = fs if fs.active and fs.applies_to("/" + rel) else None
        if fault is not None and fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000.0)
        if fault is not None:
            err = self.faults.roll_error()
            if err is not None:
                return await _simple(send, err, "injected error", [(b"retry-after", b"1")])
        try:
            file = await self._locate(rel)
        except OriginError as exc:
            return await _simple(send, exc.status, str(exc))
        if file is None:
            return await _simple(send, 404, "not found")
        try:
            f = open(file, "rb")  # noqa: SIM115 - closed in finally below
        except OSError:
            return await _simple(send, 404, "not found")
        with f:
            st = _fstat(f)
            size = st[0]
            headers = self._headers(rel, st)
            hdrs = dict(scope.get("headers") or [])
            try:
                rng = parse_range(hdrs.get(b"range", b"").decode("latin-1"), size)
            except Unsatisfiable:
                return await _simple(
                    send,
                    416,
                    "range not satisfiable",
                    [(b"content-range", f"bytes */{size}".encode())],
                )
            if rng is None:
                status, start, length = 200, 0, size
            else:
                status, start, length = 206, rng[0], rng[1] - rng[0] + 1
                headers.append((b"content-range", f"bytes {rng[0]}-{rng[1]}/{size}".encode()))
            headers.append((b"content-length", str(length).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if method == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return status
            f.seek(start)
            await self._body(f, length, fault, receive, send)
        return status

    async def _locate(self, rel: str) -> Path | None:
        if holds_path(self.config.holds, rel):
            return _inside(self.root, rel)
        if self.cache is None:
            return None
        hit = self.cache.cached(rel)
        if hit is not None:
            self.cache.hits += 1
            return _inside(self.cache.cache_dir, rel)
        await self.cache.get(rel)
        return _inside(self.cache.cache_dir, rel)

    def _headers(self, rel: str, st: tuple[int, int]) -> list[tuple[bytes, bytes]]:
        suffix = Path(rel).suffix.lower()
        ctype = CONTENT_TYPES.get(suffix, "application/octet-stream")
        if suffix == ".mp4" and "/audio/" in f"/{rel}":
            ctype = "audio/mp4"
        if suffix in MANIFEST_SUFFIXES:
            cc = f"public, max-age={self.config.manifest_max_age_s}"
        else:
            cc = f"public, max-age={self.config.segment_max_age_s}, immutable"
        return [
            (b"content-type", ctype.encode()),
            (b"cache-control", cc.encode()),
            (b"accept-ranges", b"bytes"),
            (b"etag", f'"{st[0]:x}-{st[1]:x}"'.encode()),
            (b"x-edge", self.name.encode()),
            (b"access-control-allow-origin", b"*"),
        ]

    async def _body(
        self, f: Any, length: int, fault: FaultSet | None, receive: Any, send: Any
    ) -> None:
        rate = fault.rate if fault is not None else None
        cut_kind, cut_at = None, length
        if fault is not None and fault.stall_after_bytes is not None:
            cut_kind, cut_at = "stall", min(fault.stall_after_bytes, length)
        elif (
            fault is not None
            and fault.truncate_after_bytes is not None
            and fault.truncate_after_bytes < length
        ):
            cut_kind, cut_at = "truncate", fault.truncate_after_bytes
        chunk = self.config.chunk_bytes
        if isinstance(rate, ConstantRate):
            chunk = int(min(64 * 1024, max(1024, rate.bytes_per_s * 0.02)))
        elif isinstance(rate, TraceRate):
            chunk = 16 * 1024
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            t0 = self.clock()
            sent = 0
            while sent < cut_at and not gone.is_set():
                n = min(chunk, cut_at - sent)
                data = f.read(n)
                if not data:
                    break
                if rate is not None:
                    delay = rate.send_time(t0, sent + len(data)) - self.clock()
                    if delay > 0:
                        await _sleep_or(gone, delay)
                        if gone.is_set():
                            break
                sent += len(data)
                more = sent < length or cut_kind == "stall"
                await send({"type": "http.response.body", "body": data, "more_body": more})
                self.stats.add_bytes(len(data))
                if more and rate is None:
                    # send() does not suspend unless the socket buffer is full: yield so the
                    # disconnect watcher runs and a vanished client stops the loop
                    await asyncio.sleep(0)
            if cut_kind == "stall" and not gone.is_set():
                await gone.wait()  # hang until the client gives up
            # truncate: return with more_body pending -> the server closes the connection
            if cut_kind is None and sent == 0 and length == 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()

    # -------------------------------------------------------------- admin
    async def _healthz(self, _request: Request) -> Response:
        return JSONResponse(self.health())

    def health(self) -> dict[str, Any]:
        forced = self.faults.faults.health
        ratio = self.stats.error_ratio()
        status = forced or (
            "degraded" if ratio >= 0.5 and len(self.stats.recent_status) >= 10 else "ok"
        )
        return {
            "name": self.name,
            "status": status,
            "active_connections": self.stats.in_flight,
            "bytes_per_s": round(self.stats.bytes_per_s(), 1),
            "requests_total": self.stats.requests_total,
            "error_ratio": round(ratio, 3),
            "faults": self.faults.faults.raw,
        }

    async def _metrics(self, _request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def _admin(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"edge": self.name, "faults": self.faults.faults.raw})
        if request.method == "DELETE":
            try:
                self.faults.clear(request.query_params.get("name"))
            except FaultError as exc:
                return JSONResponse(
                    {"error": "bad_fault", "reason": str(exc), "where": exc.where}, 422
                )
            return JSONResponse({"edge": self.name, "faults": self.faults.faults.raw})
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"error": "bad_json", "reason": str(exc), "where": "body"}, 422)
        try:
            new = parse_faults(body, current=self.faults.faults, now=self.clock())
        except FaultError as exc:
            return JSONResponse({"error": "bad_fault", "reason": str(exc), "where": exc.where}, 422)
        if isinstance(body, dict) and "down" in body:
            if self.on_down is None:
                return JSONResponse(
                    {
                        "error": "unsupported",
                        "reason": "down needs an edge started by server.runner",
                        "where": "down",
                    },
                    501,
                )
            self.faults.set(new)
            self.on_down(new.down_for_s)
            return JSONResponse(
                {"edge": self.name, "faults": new.raw, "down_for_s": new.down_for_s}, 202
            )
        self.faults.set(new)
        return JSONResponse({"edge": self.name, "faults": new.raw})

    def _describe_metrics(self) -> None:
        m = self.metrics
        m.describe("edge_requests_total", "counter", "Content requests by status.")
        m.describe("edge_bytes_sent_total", "counter", "Body bytes sent.")
        m.describe("edge_active_connections", "gauge", "Content responses in flight.")
        m.describe("edge_origin_fetches_total", "counter", "Files fetched from the origin.")
        m.describe("edge_cache_hits_total", "counter", "Tiered requests served from the cache.")
        m.describe("edge_coalesced_total", "counter", "Misses that joined an in-flight fetch.")

        def collect(reg: Registry) -> None:
            lab = {"edge": self.name}
            reg.set("edge_bytes_sent_total", lab, self.stats.bytes_total)
            reg.set("edge_active_connections", lab, self.stats.in_flight)
            if self.cache is not None:
                reg.set("edge_origin_fetches_total", lab, self.cache.origin_fetches)
                reg.set("edge_cache_hits_total", lab, self.cache.hits)
                reg.set("edge_coalesced_total", lab, self.cache.coalesced)

        m.add_collector(collect)


def _inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a regular file whose real path stays under root."""
    try:
        real = (root / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    return real


def _fstat(f: Any) -> tuple[int, int]:
    import os

    st = os.fstat(f.fileno())
    return st.st_size, st.st_mtime_ns


async def _simple(
    send: Any, status: int, reason: str, extra: list[tuple[bytes, bytes]] | None = None
) -> int:
    body = json.dumps({"error": reason, "status": status}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def _sleep_or(event: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), delay)
