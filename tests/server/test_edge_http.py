"""Edge HTTP semantics: ranges, lengths, caching headers, path safety."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from server.edge.app import BadPath, Unsatisfiable, parse_range, safe_relative_path
from server.runner import Backend

SEG = "/demo/video/v0/seg-00001.m4s"


# ----------------------------------------------------------------- unit
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-1", None),  # invalid: ignored
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),  # multi-range: served whole
        ("bytes=x-y", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    "raw",
    [
        b"/../etc/passwd",
        b"/demo/../../x",
        b"/demo/%2e%2e/%2e%2e/x",
        b"/%2E%2E/x",
        b"//etc/passwd",
        b"/demo//x",
        b"/demo/./x",
        b"/%252e%252e/x",
        b"/demo/a%00b",
        b"/demo\\..\\x",
        b"/demo/%5c..%5cx",
    ],
)
def test_safe_relative_path_rejects(raw: bytes) -> None:
    with pytest.raises(BadPath):
        safe_relative_path(raw, raw.decode())


def test_safe_relative_path_accepts() -> None:
    assert safe_relative_path(b"/demo/video/v0/seg-00001.m4s", "") == "demo/video/v0/seg-00001.m4s"
    assert safe_relative_path(b"/demo/a%20b.m4s?x=1", "") == "demo/a b.m4s"


# ----------------------------------------------------------- integration
pytestmark_i = pytest.mark.integration


def _raw_get(url: str, target: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytestmark_i
def test_full_get_and_headers(live: Backend, client: httpx.Client, content_dir: Path) -> None:
    url = live.edge_urls["edge-1"]
    body = (content_dir / SEG.lstrip("/")).read_bytes()
    r = client.get(url + SEG)
    assert r.status_code == 200
    assert r.content == body
    assert r.headers["content-length"] == str(len(body))
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["accept-ranges"] == "bytes"
    m = client.get(url + "/demo/master.m3u8")
    assert m.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "immutable" not in m.headers["cache-control"]
    assert "max-age=2" in m.headers["cache-control"]
    assert client.get(url + "/demo/manifest.mpd").headers["content-type"] == "application/dash+xml"


@pytestmark_i
def test_head(live: Backend, client: httpx.Client, content_dir: Path) -> None:
    r = client.head(live.edge_urls["edge-1"] + SEG)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) == (content_dir / SEG.lstrip("/")).stat().st_size


@pytestmark_i
def test_ranges(live: Backend, client: httpx.Client, content_dir: Path) -> None:
    url = live.edge_urls["edge-2"] + SEG
    body = (content_dir / SEG.lstrip("/")).read_bytes()
    size = len(body)
    r = client.get(url, headers={"range": "bytes=100-1099"})
    assert r.status_code == 206
    assert r.content == body[100:1100]
    assert r.headers["content-length"] == "1000"
    assert r.headers["content-range"] == f"bytes 100-1099/{size}"
    r = client.get(url, headers={"range": "bytes=-500"})
    assert r.status_code == 206 and r.content == body[-500:]
    r = client.get(url, headers={"range": f"bytes={size - 10}-"})
    assert r.status_code == 206 and r.content == body[-10:]
    r = client.get(url, headers={"range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    r = client.head(url, headers={"range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["content-length"] == "10"


@pytestmark_i
def test_not_found_and_methods(live: Backend, client: httpx.Client) -> None:
    url = live.edge_urls["edge-1"]
    assert client.get(url + "/demo/nope.m4s").status_code == 404
    assert client.get(url + "/demo/video/v0/.done.json").status_code == 404
    assert client.get(url + "/demo/video").status_code == 404  # a directory
    assert client.post(url + SEG).status_code == 405


@pytestmark_i
@pytest.mark.parametrize(
    ("target", "statuses"),
    [
        ("/../../../etc/passwd", {400}),
        ("/demo/../../etc/passwd", {400}),
        ("/demo/%2e%2e/%2e%2e/etc/passwd", {400}),
        ("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", {400}),
        ("//etc/passwd", {400}),
        ("/etc/passwd", {404}),
        ("/demo/escape.txt", {404}),  # symlink out of the root
    ],
)
def test_path_traversal_refused(live: Backend, target: str, statuses: set[int]) -> None:
    assert _raw_get(live.edge_urls["edge-1"], target) in statuses


@pytestmark_i
def test_edge_health_and_metrics(live: Backend, client: httpx.Client) -> None:
    url = live.edge_urls["edge-3"]
    client.get(url + SEG)
    h = client.get(url + "/healthz").json()
    assert h["name"] == "edge-3" and h["status"] == "ok"
    assert h["bytes_per_s"] > 0
    text = client.get(url + "/metrics").text
    assert 'edge_requests_total{status="200"}' in text
    assert "edge_bytes_sent_total" in text
