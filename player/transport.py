"""Segment transport: one async ``fetch`` that streams a body and measures it.

:class:`HttpxTransport` is the real one (httpx ``AsyncClient``);
:class:`MockTransport` is a few dozen lines for unit tests (STYLE.md 3). Both
satisfy :class:`Transport`. This module is the one place where httpx and OS
errors become abrkit errors (STYLE.md 10)::

    PlayerError (player.errors)
     └── TransportError           a fetch failed; .url, .reason (a stable short code)
          ├── ConnectError        refused / unreachable / dropped before a response ("connect")
          ├── TransportTimeout    the whole fetch ran out of time ("timeout")
          ├── HttpStatusError     a non-2xx answer; .status ("http-<status>")
          ├── TransportStalled    no byte for stall_timeout_s, before or during the body ("stalled")
          └── TransportTruncated  the body ended early; .expected, .received ("truncated")

A fetch either returns a whole :class:`FetchResult` or raises one of these;
``on_progress(received_bytes, total_bytes_or_None, elapsed_s)`` is called as
bytes arrive so the engine can judge a download in flight.

CMCD (CTA-5004) data goes on the request as a query fragment (default) or
as ``CMCD-*`` headers (``cmcd_mode="headers"``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from player.errors import PlayerError
from telemetry.cmcd import CmcdData, CmcdMode, add_to_url, to_headers

from .http import async_client

__all__ = [
    "TransportError",
    "ConnectError",
    "TransportTimeout",
    "HttpStatusError",
    "TransportStalled",
    "TransportTruncated",
    "FetchResult",
    "ProgressCallback",
    "Transport",
    "HttpxTransport",
    "MockTransport",
    "MockRequest",
    "MockResponse",
    "RETRYABLE_STATUSES",
    "is_retryable",
]

ProgressCallback = Callable[[int, "int | None", float], None]
Clock = Callable[[], float]

#: HTTP statuses worth trying elsewhere / again (server-side or overload).
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class TransportError(PlayerError):
    """A fetch failed. ``reason`` is a short stable code for logs and telemetry."""

    reason = "transport"

    def __init__(self, message: str, *, url: str, received: int = 0) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.received = received


class ConnectError(TransportError):
    """Could not connect (refused, unreachable, DNS) or dropped before any response."""

    reason = "connect"


class TransportTimeout(TransportError):
    """The fetch did not complete within its total ``timeout_s``."""

    reason = "timeout"


class HttpStatusError(TransportError):
    """The server answered with a non-2xx status."""

    def __init__(self, status: int, *, url: str, detail: str = "") -> None:
        msg = f"HTTP {status}" + (f": {detail}" if detail else "")
        super().__init__(msg, url=url)
        self.status = status
        self.reason = f"http-{status}"

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES or self.status >= 500


class TransportStalled(TransportError):
    """No byte arrived for ``stall_timeout_s`` (waiting for headers or mid-body)."""

    reason = "stalled"


class TransportTruncated(TransportError):
    """The body ended before ``expected`` bytes (Content-Length or the byte range)."""

    reason = "truncated"

    def __init__(self, *, url: str, expected: int | None, received: int) -> None:
        want = f"{expected} bytes" if expected is not None else "the end of the message"
        super().__init__(f"body truncated: got {received} bytes, expected {want}", url=url,
                         received=received)
        self.expected = expected


def is_retryable(error: TransportError) -> bool:
    """Worth trying on another edge or again: everything except a client-side 4xx."""
    if isinstance(error, HttpStatusError):
        return error.retryable
    return True


@dataclass(frozen=True)
class FetchResult:
    """A whole response body and how long it took (seconds, from request start)."""

    url: str
    status: int
    data: bytes
    elapsed_s: float
    ttfb_s: float
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def throughput_bps(self) -> float:
        """Bits per second over the whole fetch (latency included)."""
        return self.size * 8.0 / max(self.elapsed_s, 1e-6)


def _range(byte_range: Any) -> tuple[int, int] | None:
    """(offset, length) from a manifest ByteRange or an (offset, length) tuple."""
    if byte_range is None:
        return None
    if isinstance(byte_range, tuple):
        offset, length = byte_range
    else:
        offset, length = byte_range.offset, byte_range.length
    if offset < 0 or length <= 0:
        raise ValueError(f"bad byte range offset={offset} length={length}")
    return int(offset), int(length)


def _request_headers(
    byte_range: tuple[int, int] | None,
    cmcd: CmcdData | None,
    cmcd_mode: CmcdMode,
    extra: Mapping[str, str] | None,
) -> dict[str, str]:
    headers = {"Accept-Encoding": "identity"}
    if byte_range is not None:
        offset, length = byte_range
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"
    if cmcd is not None and cmcd_mode == "headers":
        headers.update(to_headers(cmcd))
    if extra:
        headers.update(extra)
    return headers


class Transport(Protocol):
    """What the OCA pool and steering client need: one async fetch."""

    async def fetch(
        self,
        url: str,
        *,
        byte_range: Any = None,
        timeout_s: float = 10.0,
        stall_timeout_s: float = 3.0,
        on_progress: ProgressCallback | None = None,
        cmcd: CmcdData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult: ...


class HttpxTransport:
    """The real transport over an ``httpx.AsyncClient`` (created if not given)."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        cmcd_mode: CmcdMode = "query",
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client or async_client(follow_redirects=True)
        self._owns_client = client is None
        self.cmcd_mode: CmcdMode = cmcd_mode
        self._clock = clock

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        byte_range: Any = None,
        timeout_s: float = 10.0,
        stall_timeout_s: float = 3.0,
        on_progress: ProgressCallback | None = None,
        cmcd: CmcdData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` (optionally a byte range) and return the whole body.

        ``timeout_s`` bounds the whole fetch; ``stall_timeout_s`` bounds any wait
        for the next byte (headers included). Raises a TransportError subclass.
        """
        rng = _range(byte_range)
        target = add_to_url(url, cmcd) if cmcd is not None and self.cmcd_mode == "query" else url
        req_headers = _request_headers(rng, cmcd, self.cmcd_mode, headers)
        timeout = httpx.Timeout(timeout_s, connect=timeout_s, read=stall_timeout_s)
        start = self._clock()
        try:
            async with asyncio.timeout(timeout_s):
                request = self._client.build_request(
                    "GET", target, headers=req_headers, timeout=timeout
                )
                response = await self._client.send(request, stream=True)
                try:
                    return await self._read(
                        response, url, rng, start, stall_timeout_s, on_progress
                    )
                finally:
                    await response.aclose()
        except TransportError:
            raise
        except TimeoutError as exc:
            raise TransportTimeout(f"no complete response within {timeout_s:g} s", url=url) from exc
        except httpx.ConnectTimeout as exc:
            raise ConnectError(f"connect timed out: {exc}", url=url) from exc
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot connect: {exc}", url=url) from exc
        except httpx.ReadTimeout as exc:
            raise TransportStalled(f"no response byte for {stall_timeout_s:g} s", url=url) from exc
        except httpx.TimeoutException as exc:
            raise TransportTimeout(f"timed out: {exc}", url=url) from exc
        except httpx.RemoteProtocolError as exc:
            raise ConnectError(f"connection dropped before a response: {exc}", url=url) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", url=url) from exc
        except OSError as exc:
            raise ConnectError(f"OS error: {exc}", url=url) from exc

    async def _read(
        self,
        response: httpx.Response,
        url: str,
        rng: tuple[int, int] | None,
        start: float,
        stall_timeout_s: float,
        on_progress: ProgressCallback | None,
    ) -> FetchResult:
        ttfb = self._clock() - start
        status = response.status_code
        if not 200 <= status < 300:
            detail = ""
            try:
                async with asyncio.timeout(stall_timeout_s):
                    body = await response.aread()
                detail = " ".join(body[:200].decode("utf-8", "replace").split())
            except (TimeoutError, httpx.HTTPError):
                pass
            raise HttpStatusError(status, url=url, detail=detail)
        length_header = response.headers.get("content-length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        chunks: list[bytes] = []
        received = 0
        stream = response.aiter_raw()
        while True:
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the
                # cancellation of the enclosing whole-fetch timeout
                async with asyncio.timeout(stall_timeout_s):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                raise TransportStalled(
                    f"no byte for {stall_timeout_s:g} s after {received} bytes",
                    url=url, received=received,
                ) from exc
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise TransportTruncated(url=url, expected=expected, received=received) from exc
            except httpx.ReadTimeout as exc:
                raise TransportStalled(
                    f"no byte for {stall_timeout_s:g} s after {received} bytes",
                    url=url, received=received,
                ) from exc
            if not chunk:
                continue
            chunks.append(chunk)
            received += len(chunk)
            if on_progress is not None:
                on_progress(received, expected, self._clock() - start)
        if expected is not None and received < expected:
            raise TransportTruncated(url=url, expected=expected, received=received)
        data = b"".join(chunks)
        data = _apply_range(data, status, rng, url)
        return FetchResult(
            url=url,
            status=status,
            data=data,
            elapsed_s=self._clock() - start,
            ttfb_s=ttfb,
            headers=dict(response.headers),
        )


def _apply_range(data: bytes, status: int, rng: tuple[int, int] | None, url: str) -> bytes:
    """Cut a 200 answer to the asked range; check a 206 answer's length."""
    if rng is None:
        return data
    offset, length = rng
    if status == 206:
        if len(data) < length:
            raise TransportTruncated(url=url, expected=length, received=len(data))
        return data[:length]
    part = data[offset : offset + length]
    if len(part) < length:
        raise TransportTruncated(url=url, expected=length, received=len(part))
    return part


# --- mock --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MockRequest:
    """What a MockTransport handler sees."""

    url: str
    byte_range: tuple[int, int] | None
    headers: Mapping[str, str]
    cmcd: CmcdData | None
    timeout_s: float
    stall_timeout_s: float


@dataclass(frozen=True)
class MockResponse:
    """A canned answer: a status and body, with the elapsed time to report."""

    status: int = 200
    body: bytes = b""
    elapsed_s: float = 0.01
    headers: Mapping[str, str] = field(default_factory=dict)


MockHandler = Callable[[MockRequest], "MockResponse | bytes | TransportError"]


class MockTransport:
    """A Transport whose answers come from ``handler(request)``; records every request.

    The handler returns a MockResponse, plain bytes (a 200), or a TransportError
    instance (raised as if the network failed). Non-2xx statuses raise
    HttpStatusError like the real transport. A 200 answer to a ranged request
    is cut to the range. No sockets, no sleeping.
    """

    def __init__(self, handler: MockHandler, *, cmcd_mode: CmcdMode = "query") -> None:
        self.handler = handler
        self.cmcd_mode: CmcdMode = cmcd_mode
        self.requests: list[MockRequest] = []

    async def fetch(
        self,
        url: str,
        *,
        byte_range: Any = None,
        timeout_s: float = 10.0,
        stall_timeout_s: float = 3.0,
        on_progress: ProgressCallback | None = None,
        cmcd: CmcdData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        rng = _range(byte_range)
        target = add_to_url(url, cmcd) if cmcd is not None and self.cmcd_mode == "query" else url
        request = MockRequest(
            url=target,
            byte_range=rng,
            headers=_request_headers(rng, cmcd, self.cmcd_mode, headers),
            cmcd=cmcd,
            timeout_s=timeout_s,
            stall_timeout_s=stall_timeout_s,
        )
        self.requests.append(request)
        answer = self.handler(request)
        if isinstance(answer, TransportError):
            raise answer
        if isinstance(answer, bytes):
            answer = MockResponse(body=answer)
        if not 200 <= answer.status < 300:
            raise HttpStatusError(answer.status, url=url)
        data = _apply_range(answer.body, answer.status, rng, url)
        if on_progress is not None:
            on_progress(len(data), len(data), answer.elapsed_s)
        return FetchResult(
            url=url,
            status=answer.status,
            data=data,
            elapsed_s=answer.elapsed_s,
            ttfb_s=answer.elapsed_s / 2,
            headers=dict(answer.headers),
        )
