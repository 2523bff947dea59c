"""Every fault mode, observed from a real HTTP client."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from server.runner import Backend

pytestmark = pytest.mark.integration

SEG = "/demo/video/v0/seg-00001.m4s"  # 200 kB
MANIFEST = "/demo/master.m3u8"


def _faults(live: Backend, edge: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live.edge_urls[edge]}/admin/faults", json=body, timeout=5)


def test_admin_get_set_clear(live: Backend, client: httpx.Client) -> None:
    url = f"{live.edge_urls['edge-1']}/admin/faults"
    assert client.get(url).json()["faults"] == {}
    assert client.post(url, json={"latency_ms": 10}).status_code == 200
    assert client.post(url, json={"error": {"probability": 0.0}}).status_code == 200
    assert set(client.get(url).json()["faults"]) == {"latency_ms", "error"}
    assert client.delete(url, params={"name": "latency_ms"}).json()["faults"].keys() == {"error"}
    assert client.delete(url).json()["faults"] == {}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "x"}, "latency_ms"),
        ({"rate": {"bytes_per_s": 0}}, "rate.bytes_per_s"),
        ({"rate": {"trace": "/nonexistent/trace.log"}}, "rate"),
        ({"error": {"status": 200}}, "error.status"),
        ({"error": {"probability": 2}}, "error.probability"),
        ({"stall": {}}, "stall.after_bytes"),
        ({"bogus": 1}, "body"),
    ],
)
def test_admin_rejects_bad_faults(
    live: Backend, client: httpx.Client, body: dict, where: str
) -> None:
    r = client.post(f"{live.edge_urls['edge-1']}/admin/faults", json=body)
    assert r.status_code == 422
    assert r.json()["where"] == where


def test_down_refuses_connections_then_recovers(live: Backend, client: httpx.Client) -> None:
    url = live.edge_urls["edge-3"]
    assert _faults(live, "edge-3", {"down": {"for_s": 0.8}}).status_code == 202
    t0 = time.monotonic()
    refused = False
    while time.monotonic() - t0 < 0.7:
        try:
            httpx.get(url + MANIFEST, timeout=1)
        except httpx.ConnectError:
            refused = True
            break
        time.sleep(0.02)
    assert refused, "edge kept accepting connections"
    while time.monotonic() - t0 < 8:
        try:
            assert httpx.get(url + MANIFEST, timeout=1).status_code == 200
            return
        except httpx.ConnectError:
            time.sleep(0.05)
    pytest.fail("edge did not come back up")


def test_latency(live: Backend, client: httpx.Client) -> None:
    url = live.edge_urls["edge-1"] + MANIFEST
    client.get(url)
    _faults(live, "edge-1", {"latency_ms": 400})
    t0 = time.monotonic()
    r = client.get(url)
    assert r.status_code == 200
    assert time.monotonic() - t0 >= 0.4


def test_constant_rate_limit_is_measured(live: Backend, client: httpx.Client) -> None:
    rate = 500_000
    _faults(live, "edge-2", {"rate": {"bytes_per_s": rate}, "match": "*.m4s"})
    t0 = time.monotonic()
    r = client.get(live.edge_urls["edge-2"] + SEG)
    elapsed = time.monotonic() - t0
    measured = len(r.content) / elapsed
    assert len(r.content) == 200_000
    assert 0.7 * rate < measured < 1.15 * rate, measured
    t0 = time.monotonic()
    client.get(live.edge_urls["edge-2"] + MANIFEST)  # not matched: unshaped
    assert time.monotonic() - t0 < 0.3


@pytest.mark.parametrize("fmt", ["sabre", "pensieve"])
def test_trace_rate(live: Backend, client: httpx.Client, tmp_path: Path, fmt: str) -> None:
    # 2 s at 3.2 Mbit/s (400 kB/s) then 2 s at 0.8 Mbit/s, played 4x faster:
    # the first 0.5 s deliver 200 kB.
    if fmt == "sabre":
        trace = tmp_path / "t.json"
        trace.write_text(
            json.dumps(
                [
                    {"duration_ms": 2000, "bandwidth_kbps": 3200, "latency_ms": 0},
                    {"duration_ms": 2000, "bandwidth_kbps": 800, "latency_ms": 0},
                ]
            )
        )
    else:
        trace = tmp_path / "t.log"
        # replay's convention: line i holds over (t[i-1], t[i]] (line 0's value unused)
        trace.write_text("0.0\t0.0\n2.0\t3.2\n4.0\t0.8\n")
    _faults(live, "edge-1", {"rate": {"trace": str(trace), "time_scale": 4.0}})
    t0 = time.monotonic()
    r = client.get(live.edge_urls["edge-1"] + SEG)
    elapsed = time.monotonic() - t0
    assert len(r.content) == 200_000
    assert 0.4 < elapsed < 0.9, elapsed


def test_error_rate_is_seeded(live: Backend, client: httpx.Client) -> None:
    url = live.edge_urls["edge-3"] + MANIFEST

    def run() -> list[int]:
        _faults(live, "edge-3", {"error": {"status": 503, "probability": 0.3, "seed": 42}})
        return [client.get(url).status_code for _ in range(60)]

    first = run()
    assert set(first) == {200, 503}
    assert 0.1 < first.count(503) / len(first) < 0.5
    httpx.delete(f"{live.edge_urls['edge-3']}/admin/faults")
    assert run() == first  # same seed, same sequence


def test_stall_makes_client_time_out(live: Backend) -> None:
    _faults(live, "edge-2", {"stall": {"after_bytes": 50_000}})
    got = 0
    with (
        httpx.Client(timeout=httpx.Timeout(5.0, read=0.5)) as c,
        pytest.raises(httpx.ReadTimeout),
        c.stream("GET", live.edge_urls["edge-2"] + SEG) as r,
    ):
        assert r.headers["content-length"] == "200000"
        for chunk in r.iter_raw():
            got += len(chunk)
    assert got == 50_000


def test_truncated_body(live: Backend) -> None:
    _faults(live, "edge-1", {"truncate": {"after_bytes": 30_000}})
    got = 0
    with (
        httpx.Client(timeout=5) as c,
        pytest.raises(httpx.RemoteProtocolError),
        c.stream("GET", live.edge_urls["edge-1"] + SEG) as r,
    ):
        assert int(r.headers["content-length"]) == 200_000
        for chunk in r.iter_raw():
            got += len(chunk)
    assert got == 30_000
