"""Segment transport: the mock (unit) and httpx against a misbehaving Starlette app."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from manifest.model import ByteRange
from player.errors import PlayerError
from player.transport import (
    ConnectError,
    FetchResult,
    HttpStatusError,
    HttpxTransport,
    MockResponse,
    MockTransport,
    TransportError,
    TransportStalled,
    TransportTimeout,
    TransportTruncated,
    is_retryable,
)
from telemetry.cmcd import CmcdData
from tests.support import ServerThread, free_port

CMCD = CmcdData(bitrate_bps=3_000_000, object_type="v", session_id="sess", startup=True)


def body_for(name: str, size: int = 64 * 1024) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


# --- unit: the mock -----------------------------------------------------------------------


def test_mock_returns_bytes_and_records_requests() -> None:
    t = MockTransport(lambda req: b"hello world")
    seen: list[tuple[int, int | None, float]] = []
    res = asyncio.run(t.fetch("http://e/a.m4s", on_progress=lambda *a: seen.append(a)))
    assert isinstance(res, FetchResult)
    assert res.data == b"hello world" and res.status == 200 and res.size == 11
    assert res.throughput_bps == pytest.approx(11 * 8 / 0.01)
    assert t.requests[0].url == "http://e/a.m4s"
    assert seen == [(11, 11, 0.01)]


def test_mock_cuts_a_200_to_the_range_and_sets_the_header() -> None:
    t = MockTransport(lambda req: b"0123456789")
    res = asyncio.run(t.fetch("http://e/a", byte_range=ByteRange(offset=2, length=4)))
    assert res.data == b"2345"
    assert t.requests[0].headers["Range"] == "bytes=2-5"
    assert t.requests[0].byte_range == (2, 4)


def test_mock_status_and_errors() -> None:
    t = MockTransport(lambda req: MockResponse(status=503, body=b"busy"))
    with pytest.raises(HttpStatusError) as info:
        asyncio.run(t.fetch("http://e/a"))
    assert info.value.status == 503 and info.value.reason == "http-503"
    assert is_retryable(info.value)
    t2 = MockTransport(lambda req: TransportStalled("no bytes", url=req.url))
    with pytest.raises(TransportStalled):
        asyncio.run(t2.fetch("http://e/a"))


def test_mock_short_range_is_truncated() -> None:
    t = MockTransport(lambda req: MockResponse(status=206, body=b"01"))
    with pytest.raises(TransportTruncated) as info:
        asyncio.run(t.fetch("http://e/a", byte_range=(0, 10)))
    assert info.value.expected == 10 and info.value.received == 2


def test_cmcd_query_and_header_modes_on_the_mock() -> None:
    q = MockTransport(lambda req: b"x")
    asyncio.run(q.fetch("http://e/a.m4s?tok=1", cmcd=CMCD))
    qs = parse_qs(urlsplit(q.requests[0].url).query)
    assert qs["tok"] == ["1"]
    assert qs["CMCD"] == ['br=3000,ot=v,sid="sess",su']
    h = MockTransport(lambda req: b"x", cmcd_mode="headers")
    asyncio.run(h.fetch("http://e/a.m4s", cmcd=CMCD))
    assert h.requests[0].url == "http://e/a.m4s"
    assert h.requests[0].headers["CMCD-Object"] == "br=3000,ot=v"
    assert h.requests[0].headers["CMCD-Session"] == 'sid="sess"'
    assert h.requests[0].headers["CMCD-Request"] == "su"


def test_error_tree() -> None:
    for cls in (ConnectError, TransportTimeout, HttpStatusError, TransportStalled,
                TransportTruncated):
        assert issubclass(cls, TransportError)
    assert issubclass(TransportError, PlayerError)
    assert not is_retryable(HttpStatusError(404, url="u"))
    assert is_retryable(HttpStatusError(429, url="u"))
    assert is_retryable(TransportTruncated(url="u", expected=3, received=1))


def test_bad_byte_range_is_rejected() -> None:
    t = MockTransport(lambda req: b"x")
    with pytest.raises(ValueError, match="bad byte range"):
        asyncio.run(t.fetch("http://e/a", byte_range=(5, 0)))


# --- integration: httpx against a misbehaving server --------------------------------------

STOP = threading.Event()


async def _hold(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not STOP.is_set():
        await asyncio.sleep(0.02)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header or not header.startswith("bytes="):
        return None
    first, _, last = header[6:].partition("-")
    return int(first), min(int(last) if last else size - 1, size - 1)


async def segment(request: Request) -> Response:
    data = body_for(request.path_params["name"])
    rng = _parse_range(request.headers.get("range"), len(data))
    if rng is None:
        return Response(data, media_type="video/mp4")
    first, last = rng
    return Response(
        data[first : last + 1], status_code=206, media_type="video/mp4",
        headers={"Content-Range": f"bytes {first}-{last}/{len(data)}"},
    )


async def status(request: Request) -> Response:
    return Response(f"status {request.path_params['code']}", status_code=int(
        request.path_params["code"]))


async def stall_mid_body(request: Request) -> Response:
    async def gen() -> Any:
        yield b"x" * 5000
        await _hold(10)
        yield b"y" * 5000

    return StreamingResponse(gen(), headers={"Content-Length": "10000"})


async def stall_headers(request: Request) -> Response:
    await _hold(10)
    return Response(b"late")


async def slow(request: Request) -> Response:
    async def gen() -> Any:
        for _ in range(5):
            yield b"z" * 2000
            await asyncio.sleep(0.01)

    return StreamingResponse(gen(), headers={"Content-Length": "10000"})


async def drip(request: Request) -> Response:
    async def gen() -> Any:  # always a byte within the stall timeout, but never done in time
        for _ in range(200):
            yield b"d"
            await _hold(0.02)

    return StreamingResponse(gen(), headers={"Content-Length": "200"})


async def echo(request: Request) -> Response:
    return JSONResponse({"headers": dict(request.headers), "query": request.url.query})


class Truncate:
    """Promise 10000 bytes, send 4000, hang up."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"10000")]})
        await send({"type": "http.response.body", "body": b"t" * 4000, "more_body": True})


def make_app() -> Starlette:
    return Starlette(routes=[
        Route("/seg/{name}", segment),
        Route("/status/{code:int}", status),
        Route("/stall-mid", stall_mid_body),
        Route("/stall-headers", stall_headers),
        Route("/slow", slow),
        Route("/drip", drip),
        Route("/echo", echo),
        Route("/truncate", Truncate()),
    ])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    STOP.clear()
    with ServerThread(make_app()) as server:
        yield f"http://127.0.0.1:{server.port}"
        STOP.set()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


SSL_CONTEXT = ssl.create_default_context()  # built once: loading CA certificates is slow


async def _fetch(url: str, **kwargs: Any) -> FetchResult:
    async with httpx.AsyncClient(verify=SSL_CONTEXT) as client:
        transport = HttpxTransport(client, cmcd_mode=kwargs.pop("cmcd_mode", "query"))
        return await transport.fetch(url, **kwargs)


@pytest.mark.integration
def test_whole_body_with_measurements(base_url: str) -> None:
    res = run(_fetch(f"{base_url}/seg/a.m4s"))
    assert res.data == body_for("a.m4s")
    assert res.status == 200
    assert 0 < res.ttfb_s <= res.elapsed_s
    assert res.throughput_bps > 0


@pytest.mark.integration
def test_byte_range_206(base_url: str) -> None:
    res = run(_fetch(f"{base_url}/seg/b.m4s", byte_range=ByteRange(offset=100, length=50)))
    assert res.status == 206
    assert res.data == body_for("b.m4s")[100:150]


@pytest.mark.integration
def test_progress_callbacks(base_url: str) -> None:
    seen: list[tuple[int, int | None, float]] = []
    res = run(_fetch(f"{base_url}/slow", on_progress=lambda *a: seen.append(a)))
    assert res.size == 10000
    assert len(seen) >= 2
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[-1][0] == 10000 and seen[-1][1] == 10000
    assert all(s[2] >= 0 for s in seen)


@pytest.mark.integration
def test_refused(base_url: str) -> None:
    dead = free_port()
    with pytest.raises(ConnectError) as info:
        run(_fetch(f"http://127.0.0.1:{dead}/seg/a.m4s", timeout_s=2))
    assert info.value.reason == "connect"
    assert str(dead) in str(info.value)


@pytest.mark.integration
def test_http_503(base_url: str) -> None:
    with pytest.raises(HttpStatusError) as info:
        run(_fetch(f"{base_url}/status/503"))
    assert info.value.status == 503 and "status 503" in str(info.value)


@pytest.mark.integration
def test_http_404_is_not_retryable(base_url: str) -> None:
    with pytest.raises(HttpStatusError) as info:
        run(_fetch(f"{base_url}/nope"))
    assert info.value.status == 404 and not is_retryable(info.value)


@pytest.mark.integration
def test_stall_mid_body(base_url: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(TransportStalled) as info:
        run(_fetch(f"{base_url}/stall-mid", stall_timeout_s=0.2, timeout_s=5))
    assert info.value.received == 5000
    assert time.monotonic() - t0 < 2


@pytest.mark.integration
def test_stall_before_headers(base_url: str) -> None:
    with pytest.raises(TransportStalled):
        run(_fetch(f"{base_url}/stall-headers", stall_timeout_s=0.2, timeout_s=5))


@pytest.mark.integration
def test_total_timeout(base_url: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(TransportTimeout):
        run(_fetch(f"{base_url}/drip", stall_timeout_s=1.0, timeout_s=0.3))
    assert time.monotonic() - t0 < 2


@pytest.mark.integration
def test_truncated_body(base_url: str) -> None:
    with pytest.raises(TransportTruncated) as info:
        run(_fetch(f"{base_url}/truncate", stall_timeout_s=2))
    assert info.value.expected == 10000
    assert info.value.received == 4000


@pytest.mark.integration
def test_cmcd_reaches_the_server_as_query(base_url: str) -> None:
    res = run(_fetch(f"{base_url}/echo", cmcd=CMCD))
    import json

    seen = json.loads(res.data)
    assert unquote(parse_qs(seen["query"])["CMCD"][0]) == 'br=3000,ot=v,sid="sess",su'


@pytest.mark.integration
def test_cmcd_reaches_the_server_as_headers(base_url: str) -> None:
    res = run(_fetch(f"{base_url}/echo", cmcd=CMCD, cmcd_mode="headers",
                     headers={"X-Token": "t"}))
    import json

    seen = json.loads(res.data)
    assert seen["query"] == ""
    assert seen["headers"]["cmcd-object"] == "br=3000,ot=v"
    assert seen["headers"]["cmcd-request"] == "su"
    assert seen["headers"]["x-token"] == "t"


@pytest.mark.integration
def test_shared_client_is_not_closed(base_url: str) -> None:
    async def scenario() -> bytes:
        async with httpx.AsyncClient(verify=SSL_CONTEXT) as client:
            t = HttpxTransport(client)
            a = await t.fetch(f"{base_url}/seg/c.m4s")
            await t.aclose()
            b = await t.fetch(f"{base_url}/seg/c.m4s")  # the caller's client still works
            return a.data + b.data

    data = run(scenario())
    assert data == body_for("c.m4s") * 2
