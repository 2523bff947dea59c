"""OCA pool (ranking, failover, breakers, bounded retries) and the steering client."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from player.breaker import BreakerConfig, BreakerState
from player.oca import FailoverRecord, OcaConfig, OcaExhausted, OcaPool, Pathway
from player.retry import RetryPolicy
from player.steering_client import (
    SteeringClient,
    SteeringError,
    SteeringManifest,
    parse_steering,
    steering_request_url,
)
from player.transport import (
    ConnectError,
    HttpxTransport,
    MockRequest,
    MockResponse,
    MockTransport,
    TransportError,
    TransportStalled,
    TransportTruncated,
)
from tests.support import FakeTime, ServerThread, free_port

EDGES = [Pathway("a", "http://a.test/"), Pathway("b", "http://b.test/cdn"),
         Pathway("c", "http://c.test")]


def edge_of(req: MockRequest) -> str:
    return urlsplit(req.url).hostname.split(".")[0]  # type: ignore[union-attr]


def make_pool(
    handler: Callable[[MockRequest], Any],
    *,
    retry: RetryPolicy | None = None,
    breaker: BreakerConfig | None = None,
    fake: FakeTime | None = None,
    edges: list[Pathway] | None = None,
) -> tuple[OcaPool, MockTransport, list[FailoverRecord], FakeTime]:
    fake = fake or FakeTime()
    transport = MockTransport(handler)
    records: list[FailoverRecord] = []
    config = OcaConfig(
        timeout_s=2.0, stall_timeout_s=0.5,
        retry=retry or RetryPolicy(max_attempts=3, base_s=0.1, cap_s=0.4, deadline_s=10),
        breaker=breaker or BreakerConfig(failure_threshold=3, cooldown_s=5),
    )
    pool = OcaPool(edges or EDGES, transport, config=config, clock=fake, sleep=fake.sleep,
                   rng=random.Random(9), on_failover=records.append)
    return pool, transport, records, fake


def fetch(pool: OcaPool, path: str = "v/1.m4s", **kw: Any) -> Any:
    return asyncio.run(pool.fetch(path, **kw))


# --- ranking and URLs ------------------------------------------------------------------------


def test_best_edge_serves_without_failover() -> None:
    pool, t, records, _ = make_pool(lambda req: b"seg")
    res = fetch(pool)
    assert res.edge == "a" and res.data == b"seg" and res.failovers == 0 and res.attempts == 1
    assert [r.url for r in t.requests] == ["http://a.test/v/1.m4s"]
    assert records == []
    assert pool.current_edge == "a"


def test_url_joining_and_rebasing() -> None:
    pool, _, _, _ = make_pool(lambda req: b"")
    assert pool.url_for("b", "/v/1.m4s") == "http://b.test/cdn/v/1.m4s"
    assert pool.url_for("c", "v/1.m4s?x=1") == "http://c.test/v/1.m4s?x=1"
    assert pool.url_for("c", "http://b.test/cdn/v/2.m4s") == "http://c.test/v/2.m4s"
    assert pool.url_for("c", "http://elsewhere/x") == "http://elsewhere/x"


def test_set_priority_reranks() -> None:
    pool, t, _, _ = make_pool(lambda req: b"x")
    pool.set_priority(["c", "zzz", "a", "c"])
    assert pool.ranking == ("c", "a", "b")  # unknown ignored, unlisted kept last
    assert fetch(pool).edge == "c"


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        OcaPool([], MockTransport(lambda r: b""))
    with pytest.raises(ValueError, match="duplicate"):
        OcaPool([Pathway("a", "http://x"), Pathway("a", "http://y")], MockTransport(lambda r: b""))


# --- failover --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (lambda req: ConnectError("refused", url=req.url), "connect"),
        (lambda req: MockResponse(status=503), "http-503"),
        (lambda req: MockResponse(status=500), "http-500"),
        (lambda req: TransportStalled("stalled", url=req.url, received=10), "stalled"),
        (lambda req: TransportTruncated(url=req.url, expected=10, received=4), "truncated"),
    ],
)
def test_fails_over_within_the_request(failure: Callable[[MockRequest], Any], reason: str) -> None:
    def handler(req: MockRequest) -> Any:
        return failure(req) if edge_of(req) == "a" else b"whole segment"

    pool, t, records, _ = make_pool(handler)
    res = fetch(pool)
    assert res.edge == "b" and res.data == b"whole segment"
    assert res.failovers == 1 and res.attempts == 2
    assert [(r.from_edge, r.to_edge, r.reason) for r in records] == [("a", "b", reason)]
    assert len(t.requests) == 2  # returned exactly once, no extra request


def test_two_failovers_in_one_request() -> None:
    def handler(req: MockRequest) -> Any:
        e = edge_of(req)
        if e == "a":
            return ConnectError("refused", url=req.url)
        if e == "b":
            return MockResponse(status=503)
        return b"ok"

    pool, _, records, _ = make_pool(handler)
    assert fetch(pool).edge == "c"
    assert [(r.from_edge, r.to_edge) for r in records] == [("a", "b"), ("b", "c")]


def test_progress_passes_through() -> None:
    pool, _, _, _ = make_pool(lambda req: b"12345")
    seen: list[tuple[int, int | None, float]] = []
    fetch(pool, on_progress=lambda *a: seen.append(a))
    assert seen and seen[-1][0] == 5


def test_retry_passes_then_success() -> None:
    calls = {"n": 0}

    def handler(req: MockRequest) -> Any:
        calls["n"] += 1
        return b"late" if calls["n"] > 3 else MockResponse(status=503)

    pool, t, records, fake = make_pool(handler)
    res = fetch(pool)
    assert res.data == b"late" and res.edge == "a" and res.attempts == 4
    assert len(fake.sleeps) == 1 and 0 <= fake.sleeps[0] <= 0.1
    assert records[-1].to_edge == "a"  # back to the best edge on the second pass


def test_exhausted_lists_each_edge_error() -> None:
    def handler(req: MockRequest) -> Any:
        e = edge_of(req)
        return {"a": ConnectError("refused", url=req.url), "b": MockResponse(status=503),
                "c": TransportStalled("no bytes", url=req.url)}[e]

    pool, t, _, fake = make_pool(handler, breaker=BreakerConfig(failure_threshold=99))
    with pytest.raises(OcaExhausted) as info:
        fetch(pool)
    err = info.value
    assert set(err.errors) == {"a", "b", "c"}
    assert err.errors["a"].startswith("connect") and err.errors["b"].startswith("http-503")
    assert err.errors["c"].startswith("stalled")
    assert err.attempts == 9 and len(t.requests) == 9  # 3 passes x 3 edges
    assert len(fake.sleeps) == 2 and all(s <= 0.4 for s in fake.sleeps)
    assert isinstance(err, TransportError) and "all edges failed" in str(err)


def test_client_errors_are_tried_elsewhere_but_not_retried() -> None:
    pool, t, _, fake = make_pool(lambda req: MockResponse(status=404))
    with pytest.raises(OcaExhausted) as info:
        fetch(pool)
    assert len(t.requests) == 3 and fake.sleeps == []
    assert all(v.startswith("http-404") for v in info.value.errors.values())
    assert all(b.state is BreakerState.CLOSED for b in pool.breakers.values())


def test_a_missing_object_on_one_edge_is_found_on_the_next() -> None:
    pool, _, _, _ = make_pool(lambda req: MockResponse(status=404) if edge_of(req) == "a"
                              else b"found")
    assert fetch(pool).edge == "b"


def test_total_deadline_bounds_the_request() -> None:
    fake = FakeTime()

    def handler(req: MockRequest) -> Any:
        fake.now += 1.0  # every attempt costs a second
        return ConnectError("refused", url=req.url)

    pool, t, _, _ = make_pool(
        handler, fake=fake,
        retry=RetryPolicy(max_attempts=50, base_s=0.1, cap_s=0.2, deadline_s=4.0),
        breaker=BreakerConfig(failure_threshold=99),
    )
    start = fake.now
    with pytest.raises(OcaExhausted):
        fetch(pool)
    assert fake.now - start <= 5.0
    assert all(r.timeout_s <= 4.0 for r in t.requests)


# --- breakers --------------------------------------------------------------------------------


def test_breaker_opens_and_the_edge_is_skipped_then_probed() -> None:
    state = {"a_up": False}

    def handler(req: MockRequest) -> Any:
        if edge_of(req) == "a" and not state["a_up"]:
            return ConnectError("refused", url=req.url)
        return b"x"

    pool, t, _, fake = make_pool(handler, breaker=BreakerConfig(failure_threshold=2, cooldown_s=5))
    fetch(pool)
    fetch(pool)
    assert pool.breakers["a"].state is BreakerState.OPEN
    t.requests.clear()
    assert fetch(pool).edge == "b"
    assert [edge_of(r) for r in t.requests] == ["b"]  # a skipped, no failover cost
    fake.now += 5
    state["a_up"] = True
    t.requests.clear()
    assert fetch(pool).edge == "a"  # the half-open probe succeeds
    assert pool.breakers["a"].state is BreakerState.CLOSED
    assert pool.stats()["a"].breaker is BreakerState.CLOSED


def test_all_breakers_open_waits_for_a_probe_within_the_deadline() -> None:
    state = {"up": False}

    def handler(req: MockRequest) -> Any:
        return b"back" if state["up"] else ConnectError("refused", url=req.url)

    pool, t, _, fake = make_pool(
        handler, breaker=BreakerConfig(failure_threshold=1, cooldown_s=2),
        retry=RetryPolicy(max_attempts=5, base_s=0.01, cap_s=0.01, deadline_s=10),
    )
    with pytest.raises(OcaExhausted):
        asyncio.run(pool.fetch("x", ))  # opens all three breakers
    state["up"] = True
    res = fetch(pool, "x")
    assert res.data == b"back"
    assert fake.sleeps and max(fake.sleeps) >= 1.9  # waited for the cool-down


def test_all_breakers_open_past_the_deadline_fails_fast() -> None:
    pool, t, _, fake = make_pool(
        lambda req: ConnectError("refused", url=req.url),
        breaker=BreakerConfig(failure_threshold=1, cooldown_s=60),
        retry=RetryPolicy(max_attempts=5, base_s=0.01, cap_s=0.01, deadline_s=3),
    )
    with pytest.raises(OcaExhausted):
        fetch(pool)
    t.requests.clear()
    with pytest.raises(OcaExhausted) as info:
        fetch(pool)
    assert t.requests == []
    assert set(info.value.errors.values()) == {"circuit open"}


def test_cancellation_releases_a_half_open_probe() -> None:
    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3600)

    pool, t, _, fake = make_pool(lambda req: ConnectError("refused", url=req.url),
                                 breaker=BreakerConfig(failure_threshold=1, cooldown_s=1),
                                 edges=[Pathway("a", "http://a.test")],
                                 retry=RetryPolicy(max_attempts=1))
    with pytest.raises(OcaExhausted):
        fetch(pool)
    fake.now += 1

    async def scenario() -> None:
        t.fetch = never  # type: ignore[method-assign]
        task = asyncio.create_task(pool.fetch("x"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert pool.breakers["a"].allow()  # the probe slot came back


# --- stats -----------------------------------------------------------------------------------


def test_per_edge_throughput_ewma() -> None:
    pool, _, _, _ = make_pool(lambda req: MockResponse(body=b"x" * 1000, elapsed_s=0.008))
    fetch(pool)
    assert pool.throughput_bps("a") == pytest.approx(1_000_000)
    pool2, _, _, _ = make_pool(lambda req: MockResponse(body=b"x" * 1000, elapsed_s=0.004))
    fetch(pool2)
    assert pool2.throughput_bps() == pytest.approx(2_000_000)
    fetch(pool2)
    stats = pool2.stats()["a"]
    assert stats.requests == 2 and stats.successes == 2 and stats.bytes == 2000
    assert pool.throughput_bps("b") is None


def test_fetch_manifest_uses_manifest_urls() -> None:
    edges = [Pathway("a", "http://a.test", manifest_url="http://a.test/m.m3u8"),
             Pathway("b", "http://b.test", manifest_url="http://b.test/m.m3u8")]
    pool, t, records, _ = make_pool(
        lambda req: ConnectError("down", url=req.url) if edge_of(req) == "a" else b"#EXTM3U",
        edges=edges,
    )
    res = asyncio.run(pool.fetch_manifest())
    assert res.data == b"#EXTM3U" and res.edge == "b" and len(records) == 1
    pool2, _, _, _ = make_pool(lambda req: b"", edges=[Pathway("z", "http://z")])
    with pytest.raises(ValueError):
        asyncio.run(pool2.fetch_manifest())


# --- steering --------------------------------------------------------------------------------


def test_parse_steering() -> None:
    m = parse_steering(
        b'{"VERSION":1,"TTL":10,"RELOAD-URI":"next?s=1","PATHWAY-PRIORITY":["b","a","b"]}',
        url="http://ctl/steer/abc",
    )
    assert m == SteeringManifest(1, 10.0, "http://ctl/steer/next?s=1", ("b", "a"))
    dash = parse_steering('{"VERSION":1,"SERVICE-LOCATION-PRIORITY":["x"]}', url="http://c/s")
    assert dash.pathway_priority == ("x",) and dash.ttl_s == 300 and dash.reload_uri is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"VERSION":2,"TTL":1,"PATHWAY-PRIORITY":["a"]}', "VERSION must be 1"),
        ('{"VERSION":1,"TTL":-1,"PATHWAY-PRIORITY":["a"]}', "TTL"),
        ('{"VERSION":1,"TTL":"5","PATHWAY-PRIORITY":["a"]}', "TTL"),
        ('{"VERSION":1,"TTL":5,"PATHWAY-PRIORITY":[]}', "PATHWAY-PRIORITY"),
        ('{"VERSION":1,"TTL":5,"PATHWAY-PRIORITY":"a"}', "PATHWAY-PRIORITY"),
        ('{"VERSION":1,"TTL":5}', "PATHWAY-PRIORITY"),
        ('{"VERSION":1,"TTL":5,"RELOAD-URI":7,"PATHWAY-PRIORITY":["a"]}', "RELOAD-URI"),
    ],
)
def test_parse_steering_rejects(body: str, message: str) -> None:
    with pytest.raises(SteeringError, match=message) as info:
        parse_steering(body, url="http://ctl/steer")
    assert "http://ctl/steer" in str(info.value)


def test_steering_request_url_parameters() -> None:
    url = steering_request_url("http://c/steer?s=1&_HLS_pathway=old", pathway="b",
                               throughput_bps=5_123_456.7)
    assert parse_qs(urlsplit(url).query) == {
        "s": ["1"], "_HLS_pathway": ["b"], "_HLS_throughput": ["5123457"],
    }
    dash = steering_request_url("http://c/steer", protocol="dash", pathway="x")
    assert parse_qs(urlsplit(dash).query) == {"_DASH_pathway": ["x"]}
    assert steering_request_url("http://c/steer", throughput_bps=0) == "http://c/steer"


def steering_transport(answers: list[Any]) -> MockTransport:
    def handler(req: MockRequest) -> Any:
        answer = answers.pop(0)
        return json.dumps(answer).encode() if isinstance(answer, dict) else answer

    return MockTransport(handler)


def test_steering_client_refreshes_and_follows_reload_uri() -> None:
    fake = FakeTime()
    t = steering_transport([
        {"VERSION": 1, "TTL": 10, "RELOAD-URI": "/steer/2", "PATHWAY-PRIORITY": ["b", "a"]},
        {"VERSION": 1, "TTL": 20, "PATHWAY-PRIORITY": ["a", "b"]},
    ])
    updates: list[SteeringManifest] = []
    client = SteeringClient("http://ctl/steer/1", t, clock=fake, initial_priority=["a", "b"],
                            on_update=updates.append)
    assert client.priority == ("a", "b") and client.due()
    m = asyncio.run(client.refresh(pathway="a", throughput_bps=4e6))
    assert m is not None and client.priority == ("b", "a")
    assert parse_qs(urlsplit(t.requests[0].url).query) == {
        "_HLS_pathway": ["a"], "_HLS_throughput": ["4000000"],
    }
    assert not client.due()
    fake.now += 10
    assert client.due()
    asyncio.run(client.refresh(pathway="b"))
    assert t.requests[1].url.startswith("http://ctl/steer/2?")
    assert client.priority == ("a", "b") and client.ttl_s == 20
    assert len(updates) == 2


def test_steering_bad_answers_keep_the_last_good_list() -> None:
    fake = FakeTime()
    t = steering_transport([
        {"VERSION": 1, "TTL": 10, "PATHWAY-PRIORITY": ["b", "a"]},
        b"<html>oops</html>",
        MockResponse(status=500),
        ConnectError("refused", url="http://ctl/steer"),
    ])
    errors: list[SteeringError] = []
    client = SteeringClient("http://ctl/steer", t, clock=fake, on_error=errors.append)
    asyncio.run(client.refresh())
    for _ in range(3):
        assert asyncio.run(client.refresh()) is None
        assert client.priority == ("b", "a")
    assert len(errors) == 3 and client.last_error is errors[-1]
    assert "not JSON" in str(errors[0]) and "HTTP 500" in str(errors[1])
    assert "refused" in str(errors[2])
    assert client.next_refresh_at == fake.now + 10  # retried after the last good TTL


def test_steering_410_turns_steering_off() -> None:
    t = steering_transport([MockResponse(status=410)])
    client = SteeringClient("http://ctl/steer", t, protocol="dash", initial_priority=["x"])
    assert asyncio.run(client.refresh()) is None
    assert client.disabled and not client.due() and client.priority == ("x",)
    assert asyncio.run(client.refresh()) is None and len(t.requests) == 1


def test_steering_run_loop_refreshes_at_each_ttl_and_reranks_the_pool() -> None:
    fake = FakeTime()
    t = steering_transport([
        {"VERSION": 1, "TTL": 5, "PATHWAY-PRIORITY": ["c", "a"]},
        {"VERSION": 1, "TTL": 7, "PATHWAY-PRIORITY": ["b"]},
        MockResponse(status=410),
    ])
    pool, _, _, _ = make_pool(lambda req: b"x", fake=fake)
    seen: list[tuple[str, ...]] = []

    def on_update(m: SteeringManifest) -> None:
        pool.set_priority(m.pathway_priority)
        seen.append(pool.ranking)

    client = SteeringClient("http://ctl/steer", t, clock=fake, on_update=on_update)
    asyncio.run(client.run(pathway=lambda: pool.current_edge, throughput_bps=pool.throughput_bps,
                           sleep=fake.sleep))
    assert seen == [("c", "a", "b"), ("b", "c", "a")]
    assert fake.sleeps[:2] == [5, 7]
    assert client.disabled


# --- integration: a real pool against misbehaving edges ------------------------------------

STOP = threading.Event()
SEGMENT = bytes(range(256)) * 200


async def _hold(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not STOP.is_set():
        await asyncio.sleep(0.02)


async def good(request: Request) -> Response:
    return Response(SEGMENT, media_type="video/mp4")


async def fail503(request: Request) -> Response:
    return Response("overloaded", status_code=503)


async def stall(request: Request) -> Response:
    async def gen() -> Any:
        yield SEGMENT[:1000]
        await _hold(10)
        yield SEGMENT[1000:]

    return StreamingResponse(gen(), headers={"Content-Length": str(len(SEGMENT))})


class Truncate:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(SEGMENT)).encode())]})
        await send({"type": "http.response.body", "body": SEGMENT[:3000], "more_body": True})


async def steer(request: Request) -> Response:
    return JSONResponse({"VERSION": 1, "TTL": 1, "PATHWAY-PRIORITY": ["good", "e503"],
                         "seen": dict(request.query_params)})


@pytest.fixture(scope="module")
def edges() -> Iterator[dict[str, str]]:
    STOP.clear()
    app = Starlette(routes=[
        Route("/good/{p:path}", good),
        Route("/e503/{p:path}", fail503),
        Route("/stall/{p:path}", stall),
        Route("/trunc/{p:path}", Truncate()),
        Route("/steer", steer),
    ])
    with ServerThread(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        yield {
            "refused": f"http://127.0.0.1:{free_port()}/",
            "e503": f"{base}/e503/",
            "stall": f"{base}/stall/",
            "trunc": f"{base}/trunc/",
            "good": f"{base}/good/",
            "steer": f"{base}/steer",
        }
        STOP.set()


SSL_CONTEXT = ssl.create_default_context()


def real_pool(
    edges: dict[str, str], order: list[str], records: list[FailoverRecord], client: Any,
    retry: RetryPolicy | None = None,
) -> OcaPool:
    return OcaPool(
        [Pathway(name, edges[name]) for name in order],
        HttpxTransport(client),
        config=OcaConfig(timeout_s=2.0, stall_timeout_s=0.2,
                         retry=retry or RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.02,
                                                    deadline_s=5.0)),
        on_failover=records.append,
        rng=random.Random(1),
    )


@pytest.mark.integration
def test_pool_fails_over_across_every_fault_to_a_whole_segment(edges: dict[str, str]) -> None:
    records: list[FailoverRecord] = []

    async def scenario() -> Any:
        async with httpx.AsyncClient(verify=SSL_CONTEXT) as client:
            pool = real_pool(edges, ["refused", "e503", "stall", "trunc", "good"], records, client)
            res = await pool.fetch("video/1080p/seg-00001.m4s")
            return res, pool.stats()

    t0 = time.monotonic()
    res, stats = asyncio.run(scenario())
    assert time.monotonic() - t0 < 3
    assert res.edge == "good" and res.data == SEGMENT  # whole, exactly once
    assert [(r.from_edge, r.to_edge, r.reason) for r in records] == [
        ("refused", "e503", "connect"),
        ("e503", "stall", "http-503"),
        ("stall", "trunc", "stalled"),
        ("trunc", "good", "truncated"),
    ]
    assert stats["good"].throughput_bps and stats["good"].bytes == len(SEGMENT)
    assert stats["stall"].failures == 1


@pytest.mark.integration
def test_pool_exhausted_against_only_bad_edges_is_bounded(edges: dict[str, str]) -> None:
    records: list[FailoverRecord] = []

    async def scenario() -> None:
        async with httpx.AsyncClient(verify=SSL_CONTEXT) as client:
            pool = real_pool(edges, ["refused", "e503", "trunc"], records, client)
            await pool.fetch("seg.m4s")

    t0 = time.monotonic()
    with pytest.raises(OcaExhausted) as info:
        asyncio.run(scenario())
    assert time.monotonic() - t0 < 3
    assert set(info.value.errors) == {"refused", "e503", "trunc"}
    assert info.value.attempts == 6


@pytest.mark.integration
def test_steering_reranks_a_live_pool(edges: dict[str, str]) -> None:
    records: list[FailoverRecord] = []

    async def scenario() -> tuple[Any, Any]:
        async with httpx.AsyncClient(verify=SSL_CONTEXT) as client:
            pool = real_pool(edges, ["e503", "good"], records, client)
            steering = SteeringClient(edges["steer"], HttpxTransport(client),
                                      on_update=lambda m: pool.set_priority(m.pathway_priority))
            first = await pool.fetch("a.m4s")  # e503 first: one failover
            manifest = await steering.refresh(pathway=pool.current_edge,
                                              throughput_bps=pool.throughput_bps())
            second = await pool.fetch("b.m4s")  # good first now: no failover
            return (first, second), manifest

    (first, second), manifest = asyncio.run(scenario())
    assert manifest is not None and manifest.pathway_priority == ("good", "e503")
    assert first.failovers == 1 and second.failovers == 0 and second.edge == "good"
    assert len(records) == 1


def test_error_classes_cover_the_brief() -> None:
    assert issubclass(OcaExhausted, TransportError)
    assert issubclass(SteeringError, Exception)


# --- grants ----------------------------------------------------------------------------------


def test_pathways_from_grant() -> None:
    from player.oca import PathwayError, pathways_from_grant

    grant = {"pathways": [
        {"id": "edge-2", "base_url": "http://127.0.0.1:8102",
         "hls": "http://127.0.0.1:8102/demo/master.m3u8",
         "dash": "http://127.0.0.1:8102/demo/manifest.mpd"},
        {"id": "edge-1", "base_url": "http://127.0.0.1:8101",
         "hls": "http://127.0.0.1:8101/demo/master.m3u8"},
    ]}
    hls = pathways_from_grant(grant)
    assert [p.id for p in hls] == ["edge-2", "edge-1"]
    assert hls[0].manifest_url == "http://127.0.0.1:8102/demo/master.m3u8"
    dash = pathways_from_grant(grant, protocol="dash")
    assert dash[0].manifest_url.endswith("manifest.mpd") and dash[1].manifest_url is None
    pool = OcaPool(hls, MockTransport(lambda r: b""))
    # a segment URL resolved against the top pathway's manifest is re-based on the others
    assert pool.url_for("edge-1", "http://127.0.0.1:8102/demo/video/r0/seg-1.m4s") == (
        "http://127.0.0.1:8101/demo/video/r0/seg-1.m4s"
    )
    for bad, message in [
        ({}, "non-empty list"),
        ({"pathways": [1]}, r"pathways\[0\] must be an object"),
        ({"pathways": [{"id": "", "base_url": "http://x"}]}, r"\.id"),
        ({"pathways": [{"id": "a", "base_url": "x"}]}, "base_url"),
        ({"pathways": [{"id": "a", "base_url": "http://x", "hls": 5}]}, r"\.hls"),
        ({"pathways": [{"id": "a", "base_url": "http://x"}, {"id": "a", "base_url": "http://y"}]},
         "duplicate"),
    ]:
        with pytest.raises(PathwayError, match=message):
            pathways_from_grant(bad)
