"""Control plane against real servers on 127.0.0.1."""

from __future__ import annotations

import time

import httpx
import pytest

from server.control.tokens import verify_token
from server.runner import Backend

pytestmark = pytest.mark.integration

BODY = {"country": "US", "device_class": "tv", "account": "alice"}


def test_grant_shape_and_token(live: Backend, client: httpx.Client) -> None:
    r = client.post(live.grant_url("demo"), json=BODY)
    assert r.status_code == 200, r.text
    g = r.json()
    assert set(g) >= {
        "manifest_url",
        "manifests",
        "pathways",
        "licence_url",
        "token",
        "resume_at",
        "steering_uri",
        "session_id",
        "expires_at",
    }
    assert [p["id"] for p in g["pathways"]] and {p["id"] for p in g["pathways"]} <= set(
        live.edge_urls
    )
    assert g["manifest_url"] == g["pathways"][0]["hls"]
    for p in g["pathways"]:
        assert p["hls"] == f"{live.edge_urls[p['id']]}/demo/master.m3u8"
        assert p["dash"] == f"{live.edge_urls[p['id']]}/demo/manifest.mpd"
    claims = verify_token(b"test-secret", g["token"], now=time.time(), title="demo")
    assert claims.account == "alice" and claims.session_id == g["session_id"]
    assert claims.expires_at == g["expires_at"]
    # the manifest URL really is served by the edge
    assert client.get(g["manifest_url"]).text.startswith("#EXTM3U")
    steer = client.get(g["steering_uri"]).json()
    assert steer["VERSION"] == 1 and steer["PATHWAY-PRIORITY"]


def test_geo_denial_has_reason(live: Backend, client: httpx.Client) -> None:
    r = client.post(live.grant_url("demo"), json={**BODY, "country": "JP"})
    assert r.status_code == 403
    assert r.json()["error"] == "not_licensed"
    assert "not licensed in JP" in r.json()["reason"]
    r = client.post(live.grant_url("later"), json=BODY)
    assert r.status_code == 403 and "opens 2099-01-01" in r.json()["reason"]


def test_unknown_title_404(live: Backend, client: httpx.Client) -> None:
    r = client.post(live.grant_url("nope"), json=BODY)
    assert r.status_code == 404 and r.json()["error"] == "unknown_title"
    assert client.post(live.grant_url("..%2f"), json=BODY).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"device_class": "tv"}', "country"),
        (b'{"country": "USA", "device_class": "tv"}', "country"),
        (b'{"country": "US"}', "device_class"),
        (b'{"country": "US", "device_class": "tv", "account": 5}', "account"),
    ],
)
def test_bad_grant_body_422(live: Backend, client: httpx.Client, body: bytes, where: str) -> None:
    r = client.post(live.grant_url("demo"), content=body)
    assert r.status_code == 422
    assert r.json()["where"] == where


def test_resume_position_round_trip(live: Backend, client: httpx.Client) -> None:
    url = f"{live.control_url}/viewing/demo/progress"
    assert client.put(url, json={"account": "bob", "position_s": 7.5}).status_code == 200
    assert client.get(url, params={"account": "bob"}).json()["position_s"] == 7.5
    assert client.get(url, params={"account": "carol"}).json()["position_s"] == 0.0
    g = client.post(live.grant_url("demo"), json={**BODY, "account": "bob"}).json()
    assert g["resume_at"] == 7.5
    assert client.put(url, json={"account": "bob", "position_s": 999}).status_code == 422
    assert client.put(url, json={"account": "bob", "position_s": -1}).status_code == 422
    assert (
        client.put(
            f"{live.control_url}/viewing/nope/progress", json={"account": "bob", "position_s": 1}
        ).status_code
        == 404
    )


def _ttl(client: httpx.Client, live: Backend) -> float:
    return float(client.get(f"{live.control_url}/steering/demo").json()["TTL"])


def _priority(client: httpx.Client, live: Backend) -> list[str]:
    return list(client.get(f"{live.control_url}/steering/demo").json()["PATHWAY-PRIORITY"])


def test_steering_drops_down_edge_within_one_ttl(live: Backend, client: httpx.Client) -> None:
    ttl = _ttl(client, live)
    t0 = time.monotonic()  # an earlier test may have just restored an edge
    while sorted(_priority(client, live)) != ["edge-1", "edge-2", "edge-3"]:
        assert time.monotonic() - t0 < 2 * ttl
        time.sleep(0.05)
    live.edge("edge-2").down()
    t0 = time.monotonic()
    while "edge-2" in _priority(client, live):
        assert time.monotonic() - t0 < ttl, "edge-2 still steered after one TTL"
        time.sleep(0.05)
    with pytest.raises(httpx.ConnectError):
        client.get(f"{live.edge_urls['edge-2']}/healthz")
    g = client.post(live.grant_url("demo"), json=BODY).json()
    assert "edge-2" not in [p["id"] for p in g["pathways"]]
    live.edge("edge-2").up()
    t0 = time.monotonic()
    while "edge-2" not in _priority(client, live):
        assert time.monotonic() - t0 < ttl * 2
        time.sleep(0.05)


def test_steering_drops_unhealthy_edge(live: Backend, client: httpx.Client) -> None:
    ttl = _ttl(client, live)
    client.post(f"{live.edge_urls['edge-3']}/admin/faults", json={"health": "unhealthy"})
    t0 = time.monotonic()
    while "edge-3" in _priority(client, live):
        assert time.monotonic() - t0 < ttl
        time.sleep(0.05)


def test_metrics_and_healthz(live: Backend, client: httpx.Client) -> None:
    client.post(live.grant_url("demo"), json=BODY)
    assert client.get(f"{live.control_url}/healthz").json()["status"] == "ok"
    text = client.get(f"{live.control_url}/metrics").text
    assert 'control_grants_total{title="demo"}' in text
    assert 'http_requests_total{method="POST",route="/playback/{title}",status="200"}' in text
    assert 'control_edge_up{edge="edge-1"}' in text
    edges = client.get(f"{live.control_url}/edges").json()["edges"]
    assert {e["name"] for e in edges} == {"edge-1", "edge-2", "edge-3"}


def test_grant_parses_with_the_player(live: Backend, client: httpx.Client) -> None:
    oca = pytest.importorskip("player.oca")
    g = client.post(live.grant_url("demo"), json=BODY).json()
    for protocol in ("hls", "dash"):
        pathways = oca.pathways_from_grant(g, protocol=protocol)
        assert [p.id for p in pathways] == [p["id"] for p in g["pathways"]]
        assert pathways[0].manifest_url == g["manifests"][protocol]


def test_steering_parses_with_the_player(live: Backend, client: httpx.Client) -> None:
    sc = pytest.importorskip("player.steering_client")
    g = client.post(live.grant_url("demo"), json=BODY).json()
    url = f"{g['steering_uri']}&_HLS_pathway=edge-1&_HLS_throughput=5000000"
    r = client.get(url)
    assert r.status_code == 200
    m = sc.parse_steering(r.content, url=url)
    assert m.pathway_priority and set(m.pathway_priority) <= set(live.edge_urls)
    assert m.reload_uri is not None and m.reload_uri.startswith(live.control_url)
