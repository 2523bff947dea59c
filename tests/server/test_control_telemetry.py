"""Telemetry: durable, idempotent, all-or-nothing batches; QoE from them."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from server.control.telemetry_store import BatchError, validate_batch
from server.runner import Backend

pytestmark = pytest.mark.integration


def _db(live: Backend) -> Path:
    return live.control_plane.config.db_path


def _count(live: Backend, where: str = "1=1", args: tuple = ()) -> int:
    with sqlite3.connect(_db(live)) as c:
        return int(c.execute(f"SELECT COUNT(*) FROM events WHERE {where}", args).fetchone()[0])


def _ev(session: str, typ: str, **kw: object) -> dict:
    return {"id": uuid.uuid4().hex, "session_id": session, "type": typ, "ts": 1.7e9, **kw}


def test_validate_batch_reports_where() -> None:
    with pytest.raises(BatchError) as exc:
        validate_batch(
            {"events": [_ev("s", "startup", startup_s=1), _ev("s", "stall")]}, max_events=10
        )
    assert exc.value.errors[0][0] == "events[1].seconds"


def test_store_is_durable_and_idempotent(live: Backend, client: httpx.Client) -> None:
    g = client.post(live.grant_url("demo"), json={"country": "US", "device_class": "tv"}).json()
    sid = g["session_id"]
    batch = {
        "events": [
            _ev(sid, "startup", startup_s=1.25),
            _ev(sid, "heartbeat", bitrate_bps=2e6, played_s=10.0, rebuffer_s=0.5),
            _ev(sid, "custom_thing", detail="kept as is"),
        ]
    }
    r = client.post(f"{live.control_url}/telemetry", json=batch)
    assert r.status_code == 200 and r.json() == {"stored": 3, "duplicates": 0}
    r = client.post(f"{live.control_url}/telemetry", json=batch)  # a client retry
    assert r.json() == {"stored": 0, "duplicates": 3}
    dup_in_batch = {"events": [batch["events"][0], batch["events"][0]]}
    assert client.post(f"{live.control_url}/telemetry", json=dup_in_batch).json()["stored"] == 0
    assert _count(live, "session_id = ?", (sid,)) == 3
    # the title came from the grant's session
    assert _count(live, "session_id = ? AND title = 'demo'", (sid,)) == 3
    with sqlite3.connect(_db(live)) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{nope", "body"),
        (b'{"events": 3}', "events"),
        (b'{"events": []}', "events"),
        (b'{"events": [{"id": "x"}]}', "events[0].session_id"),
    ],
)
def test_malformed_batches_422(
    live: Backend, client: httpx.Client, body: bytes, where: str
) -> None:
    before = _count(live)
    r = client.post(f"{live.control_url}/telemetry", content=body)
    assert r.status_code == 422
    assert r.json()["where"] == where
    assert _count(live) == before


def test_one_bad_event_stores_nothing(live: Backend, client: httpx.Client) -> None:
    sid = uuid.uuid4().hex
    good = [_ev(sid, "startup", startup_s=1.0) for _ in range(5)]
    bad = _ev(sid, "stall", seconds=-2)
    r = client.post(f"{live.control_url}/telemetry", json={"events": [*good, bad]})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "where": "events[5].seconds",
        "what": "required number >= 0 for type 'stall'",
    }
    assert _count(live, "session_id = ?", (sid,)) == 0


def test_oversized_batches_413(live: Backend, client: httpx.Client) -> None:
    sid = uuid.uuid4().hex
    before = _count(live)
    too_many = {"events": [_ev(sid, "startup", startup_s=1.0) for _ in range(101)]}
    r = client.post(f"{live.control_url}/telemetry", json=too_many)
    assert r.status_code == 413
    big = {"events": [_ev(sid, "note", text="x" * 70_000)]}
    r = client.post(f"{live.control_url}/telemetry", json=big)
    assert r.status_code == 413 and r.json()["limit_bytes"] == 64 * 1024

    def chunks():  # no Content-Length: the limit applies while streaming
        yield b'{"events": ['
        for _ in range(200):
            yield (
                b'{"id": "a", "session_id": "b", "type": "x", "ts": 1, "pad": "'
                + b"y" * 1000
                + b'"},'
            )
        yield b"]}"

    r = client.post(f"{live.control_url}/telemetry", content=chunks())
    assert r.status_code == 413
    assert _count(live) == before
    text = client.get(f"{live.control_url}/metrics").text
    assert "control_telemetry_batches_rejected_total" in text


def test_qoe_aggregates_per_title(live: Backend, client: httpx.Client) -> None:
    sessions = []
    for startup, played, rebuf, bitrate in ((1.0, 60, 3, 3e6), (3.0, 30, 0, 1e6)):
        sid = client.post(
            live.grant_url("demo"), json={"country": "GB", "device_class": "tv"}
        ).json()["session_id"]
        sessions.append(sid)
        events = [
            _ev(sid, "startup", startup_s=startup),
            _ev(sid, "stall", seconds=rebuf),
            _ev(sid, "summary", bitrate_bps=bitrate, played_s=played, rebuffer_s=rebuf),
            _ev(sid, "failover", from_pathway="edge-1", to_pathway="edge-2"),
        ]
        assert (
            client.post(f"{live.control_url}/telemetry", json={"events": events}).status_code == 200
        )
    q = client.get(f"{live.control_url}/qoe", params={"title": "demo"}).json()["titles"]["demo"]
    assert q["sessions"] >= 2
    assert q["failovers"] >= 2
    assert q["startup_p50_s"] is not None and q["startup_p95_s"] >= q["startup_p50_s"]
    assert 0 < q["rebuffer_ratio"] < 1
    assert q["avg_bitrate_bps"] > 0


def test_telemetry_package_events_are_accepted(live: Backend, client: httpx.Client) -> None:
    events = pytest.importorskip("telemetry.events")
    g = client.post(live.grant_url("demo"), json={"country": "US", "device_class": "tv"}).json()
    sid = g["session_id"]
    batch = [
        events.StartupEvent(session_id=sid, ts=1.0, startup_s=0.8).to_dict(),
        events.StallEndEvent(session_id=sid, ts=9.0, stall_s=0.5).to_dict(),
        events.HeartbeatEvent(
            session_id=sid,
            ts=10.0,
            buffer_s=8.0,
            bitrate_bps=2_000_000,
            played_s=9.0,
            rebuffer_s=0.5,
        ).to_dict(),
        events.SessionEndEvent(session_id=sid, ts=12.0).to_dict(),
    ]
    r = client.post(g["telemetry_url"], json={"events": batch})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 4
