"""Pure and in-process parts of the control plane: stores, steering, metrics."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from server.config import EdgeRef
from server.control.metrics import Registry
from server.control.playback import RequestError, parse_grant_request, pathway_urls
from server.control.progress import ProgressStore
from server.control.steering import EdgeMonitor, steering_manifest
from server.control.telemetry_store import BatchTooLarge, TelemetryStore, validate_batch


# ------------------------------------------------------------- telemetry
def _ev(i: int, **kw: object) -> dict:
    return {"id": f"e{i}", "session_id": "s", "type": "startup", "ts": 1.0, "startup_s": 1.0, **kw}


def test_store_rolls_back_the_whole_batch(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3")
    with pytest.raises(ValueError):
        store.store([_ev(1), _ev(2), _ev(3, ts="not a number")], now=0.0)
    assert store.count() == 0
    assert store.store([_ev(1), _ev(2)], now=0.0).stored == 2
    r = store.store([_ev(2), _ev(3), _ev(3)], now=0.0)
    assert (r.stored, r.duplicates) == (1, 2)
    store.close()
    with sqlite3.connect(tmp_path / "t.sqlite3") as c:  # durable: another connection sees it
        assert c.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3


def test_store_takes_title_from_session(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3")
    store.record_session("s", "demo", "alice", "US", "tv", now=0.0)
    store.store([_ev(1), _ev(2, session_id="other"), _ev(3, title="explicit")], now=0.0)
    titles = sorted(t for t, *_ in store.events())
    assert titles == ["demo", "explicit", "unknown"]
    store.close()


def test_validate_limits_and_errors() -> None:
    with pytest.raises(BatchTooLarge):
        validate_batch({"events": [_ev(i) for i in range(11)]}, max_events=10)
    bad = [{"id": "", "session_id": 5, "type": "Bad Type", "ts": "x"}] * 30
    with pytest.raises(Exception) as exc:
        validate_batch({"events": bad}, max_events=100)
    errors = exc.value.errors  # type: ignore[attr-defined]
    assert len(errors) <= 20
    assert [w for w, _ in errors[:4]] == [
        "events[0].id",
        "events[0].session_id",
        "events[0].type",
        "events[0].ts",
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, -1.0, None, "1"])
def test_validate_rejects_bad_numbers(value: object) -> None:
    with pytest.raises(Exception, match="startup_s"):
        validate_batch({"events": [_ev(1, startup_s=value)]}, max_events=10)


def test_progress_store(tmp_path: Path) -> None:
    p = ProgressStore(tmp_path / "p.sqlite3")
    assert p.get("a", "demo") is None
    p.put("a", "demo", 10.0, now=1.0)
    p.put("a", "demo", 12.5, now=2.0)
    assert p.get("a", "demo") == (12.5, 2.0)
    assert p.get("b", "demo") is None
    p.close()


# -------------------------------------------------------------- playback
def test_parse_grant_request() -> None:
    r = parse_grant_request({"country": "gb", "device_class": "tv"})
    assert (r.country, r.device_class, r.account) == ("GB", "tv", "anonymous")
    with pytest.raises(RequestError) as exc:
        parse_grant_request({"country": "GB", "device_class": "a b"})
    assert exc.value.where == "device_class"


def test_pathway_urls() -> None:
    p = pathway_urls("edge-1", "http://h:1/", "demo", hls="x.m3u8")
    assert p == {
        "id": "edge-1",
        "base_url": "http://h:1",
        "hls": "http://h:1/demo/x.m3u8",
        "dash": "http://h:1/demo/manifest.mpd",
    }


# -------------------------------------------------------------- steering
class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _monitor(health: dict[str, object], clock: FakeClock) -> tuple[EdgeMonitor, httpx.AsyncClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.host
        h = health[name]
        if h == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=h)

    edges = [EdgeRef(n, f"http://{n}") for n in health]
    mon = EdgeMonitor(edges, ttl_s=5.0, poll_interval_s=1.0, timeout_s=1.0, clock=clock)
    return mon, httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_ranking_by_health_and_load() -> None:
    clock = FakeClock()
    health: dict[str, object] = {
        "a": {"status": "ok", "active_connections": 9, "bytes_per_s": 0},
        "b": {"status": "ok", "active_connections": 0, "bytes_per_s": 0},
        "c": {"status": "degraded", "active_connections": 0, "bytes_per_s": 0},
        "d": {"status": "unhealthy"},
        "e": "refused",
    }
    mon, client = _monitor(health, clock)
    assert sorted(s.name for s in mon.ranking("x")) == ["a", "b", "c", "d", "e"]  # optimistic
    asyncio.run(mon.poll_once(client))
    assert [s.name for s in mon.ranking("x")] == ["b", "a", "c"]
    # no good poll within one TTL: out
    clock.t += 6.0
    assert [s.name for s in mon.ranking("x")] == ["a", "b", "c", "d", "e"]  # none: all, in order


def test_ties_spread_sessions_but_stay_stable() -> None:
    clock = FakeClock()
    health: dict[str, object] = {n: {"status": "ok"} for n in ("a", "b", "c")}
    mon, client = _monitor(health, clock)
    asyncio.run(mon.poll_once(client))
    firsts = {mon.ranking(f"session-{i}")[0].name for i in range(50)}
    assert firsts == {"a", "b", "c"}
    assert mon.ranking("s1") == mon.ranking("s1")


def test_steering_manifest() -> None:
    m = steering_manifest(["a"], ttl_s=0.4, reload_uri="http://x/steer")
    assert m == {"VERSION": 1, "TTL": 1, "RELOAD-URI": "http://x/steer", "PATHWAY-PRIORITY": ["a"]}


# --------------------------------------------------------------- metrics
def test_registry_renders_prometheus_text() -> None:
    r = Registry()
    r.describe("x_total", "counter", "Things.")
    r.inc("x_total", {"route": '/a"b', "status": "200"})
    r.inc("x_total", {"route": '/a"b', "status": "200"}, 2)
    r.set("g", None, 1.5)
    r.add_collector(lambda reg: reg.set("c", {"k": "v"}, 3))
    text = r.render()
    assert "# HELP x_total Things.\n# TYPE x_total counter\n" in text
    assert 'x_total{route="/a\\"b",status="200"} 3\n' in text
    assert "g 1.5\n" in text and 'c{k="v"} 3\n' in text
    assert r.get("x_total", {"status": "200", "route": '/a"b'}) == 3
