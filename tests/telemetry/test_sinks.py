"""Sinks and the on-disk spool: memory, JSONL, HTTP batches with retry, split, dead letters."""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telemetry.events import ErrorEvent, HeartbeatEvent, PlayEvent, sequence_event_id
from telemetry.sinks import (
    Backoff,
    HttpSink,
    HttpSinkConfig,
    JsonlSink,
    MemorySink,
    SinkClosedError,
    TeeSink,
)
from telemetry.spool import MemoryQueue, Position, Spool
from tests.support import ServerThread, free_port


def hb(i: int, session: str = "s") -> HeartbeatEvent:
    return HeartbeatEvent(
        session_id=session, ts=float(i), id=sequence_event_id(session, i),
        buffer_s=10.0, bitrate_bps=1_000_000,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class Collector:
    """A mock collector: stores each event id once, can fail in scripted ways."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.received = 0
        self.batches: list[int] = []
        self.max_batch: int | None = None
        self.bad_types: set[str] = set()
        self.fail_next = 0  # answer 503 to this many requests (after storing: a lost answer)
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        events = json.loads(request.content)["events"]
        self.batches.append(len(events))
        if self.max_batch is not None and len(events) > self.max_batch:
            return httpx.Response(413, text="batch too large")
        bad = [e for e in events if e["type"] in self.bad_types]
        if bad:
            return httpx.Response(422, json={"detail": f"bad event type {bad[0]['type']}"})
        for e in events:
            self.received += 1
            self.stored.setdefault(e["id"], e)
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(503)
        return httpx.Response(200, json={"accepted": len(events)})


def make_sink(
    collector: Collector, clock: FakeClock, spool_dir: Path | None = None, **cfg: Any
) -> HttpSink:
    config = HttpSinkConfig(**{"batch_size": 10, "flush_timeout_s": 5.0, **cfg})
    return HttpSink(
        "http://collector.test/telemetry",
        spool_dir=spool_dir,
        config=config,
        client=httpx.Client(transport=httpx.MockTransport(collector.handle)),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(7),
    )


# --- memory, JSONL, tee -----------------------------------------------------------------


def test_memory_sink_keeps_events() -> None:
    sink = MemorySink()
    sink.emit(PlayEvent(session_id="s", ts=0))
    sink.emit(hb(1))
    assert [e.type for e in sink.events] == ["play", "heartbeat"]
    assert len(sink.of_type("heartbeat")) == 1
    sink.close()
    with pytest.raises(SinkClosedError):
        sink.emit(hb(2))


def test_jsonl_sink_appends_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(hb(1))
    sink.flush()
    assert len(path.read_text().splitlines()) == 1
    sink.close()
    sink.close()  # idempotent
    again = JsonlSink(path)
    again.emit(hb(2).to_dict())
    again.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["id"] for x in lines] == [hb(1).id, hb(2).id]
    with pytest.raises(SinkClosedError):
        again.emit(hb(3))


def test_tee_sink_fans_out(tmp_path: Path) -> None:
    a, b = MemorySink(), MemorySink()
    tee = TeeSink(a, b)
    tee.emit(hb(1))
    tee.flush()
    tee.close()
    assert a.events == b.events == [hb(1)]
    assert a.closed and b.closed


# --- spool --------------------------------------------------------------------------------


def test_spool_append_read_ack_and_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([hb(i).to_dict() for i in range(5)])
    assert len(spool) == 5
    records = spool.read(3)
    assert [r.event["ts"] for r in records if r.event] == [0.0, 1.0, 2.0]
    spool.ack(records[-1].end)
    assert len(spool) == 2
    spool.ack(Position(0, 0))  # never moves back
    assert len(spool) == 2
    spool.close()
    again = Spool(tmp_path)
    assert len(again) == 2
    assert [r.event["ts"] for r in again.read(10) if r.event] == [3.0, 4.0]
    assert json.loads((tmp_path / "ack.json").read_text()) == {
        "segment": records[-1].end.segment, "offset": records[-1].end.offset,
    }


def test_spool_rotates_segments_and_deletes_acked_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_max_bytes=300)
    for i in range(12):
        spool.append([hb(i).to_dict()])
    segments = sorted(p.name for p in tmp_path.glob("seg-*.jsonl"))
    assert len(segments) > 2
    records = spool.read(100)
    assert len(records) == 12
    spool.ack(records[-1].end)
    assert len(spool) == 0
    assert len(list(tmp_path.glob("seg-*.jsonl"))) == 1  # only the one being written
    spool.append([hb(99).to_dict()])
    assert [r.event["id"] for r in spool.read(10) if r.event] == [hb(99).id]


def test_spool_drops_torn_tail_and_reports_corrupt_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([hb(0).to_dict()])
    spool.close()
    seg = next(tmp_path.glob("seg-*.jsonl"))
    with open(seg, "ab") as fh:
        fh.write(b"not json\n")
        fh.write(b'{"type": "heartbeat", "cut short')
    again = Spool(tmp_path)
    records = again.read(10)
    assert len(records) == 2
    assert records[0].event is not None
    assert records[1].event is None and "corrupt" in records[1].error
    assert not seg.read_bytes().endswith(b"short")


def test_spool_error_on_bad_marker(tmp_path: Path) -> None:
    (tmp_path / "ack.json").write_text("{broken")
    from telemetry.spool import SpoolError

    with pytest.raises(SpoolError, match="ack marker"):
        Spool(tmp_path)


def test_memory_queue_interface() -> None:
    q = MemoryQueue()
    q.append([{"a": 1}, {"a": 2}, {"a": 3}])
    recs = q.read(2)
    q.ack(recs[-1].end)
    assert len(q) == 1 and q.read(5)[0].event == {"a": 3}
    q.dead_letter({"a": 9}, "why")
    assert q.dead_letters() == [{"reason": "why", "event": {"a": 9}}]


# --- HTTP sink (mock transport) -------------------------------------------------------


def test_http_sink_delivers_in_batches(tmp_path: Path) -> None:
    collector, clock = Collector(), FakeClock()
    sink = make_sink(collector, clock, tmp_path)
    for i in range(25):
        sink.emit(hb(i))
    assert sink.pending == 25
    assert sink.flush() == 0
    assert collector.batches == [10, 10, 5]
    assert set(collector.stored) == {hb(i).id for i in range(25)}
    assert sink.delivered == 25 and sink.last_error is None
    assert sink.close() == 0


def test_http_sink_splits_on_413() -> None:
    collector, clock = Collector(), FakeClock()
    collector.max_batch = 3
    sink = make_sink(collector, clock)
    for i in range(10):
        sink.emit(hb(i))
    assert sink.flush() == 0
    assert len(collector.stored) == 10
    assert max(b for b in collector.batches if b <= 3) <= 3


def test_http_sink_dead_letters_single_too_large_event() -> None:
    collector, clock = Collector(), FakeClock()
    collector.max_batch = 0
    sink = make_sink(collector, clock)
    sink.emit(hb(1))
    assert sink.flush() == 0
    assert sink.dead_lettered == 1
    assert "413" in sink.queue.dead_letters()[0]["reason"]


def test_http_sink_parks_422_events_and_continues(tmp_path: Path) -> None:
    collector, clock = Collector(), FakeClock()
    collector.bad_types = {"error"}
    sink = make_sink(collector, clock, tmp_path)
    for i in range(9):
        sink.emit(hb(i))
    bad = ErrorEvent(session_id="s", ts=1, code="x", message="boom")
    sink.emit(bad)
    sink.emit(hb(50))
    assert sink.flush() == 0
    assert len(collector.stored) == 10
    assert bad.id not in collector.stored
    letters = sink.queue.dead_letters()
    assert len(letters) == 1
    assert letters[0]["event"]["id"] == bad.id
    assert "422" in letters[0]["reason"] and "bad event type error" in letters[0]["reason"]
    assert (tmp_path / "dead-letter.jsonl").exists()


def test_http_sink_retries_with_capped_jittered_backoff() -> None:
    collector, clock = Collector(), FakeClock()
    collector.down = True
    sink = make_sink(collector, clock, backoff=Backoff(base_s=0.1, cap_s=0.4), flush_timeout_s=3)
    sink.emit(hb(1))
    assert sink.flush() == 1  # gave up at the deadline, event kept
    assert sink.last_error is not None and "no response" in sink.last_error
    assert clock.sleeps and all(0 <= s <= 0.4 for s in clock.sleeps)
    assert clock.now <= 3.0
    assert any(s > 0.1 for s in clock.sleeps)  # the window grows past base
    collector.down = False
    assert sink.flush() == 0
    assert list(collector.stored) == [hb(1).id]


def test_http_sink_lost_answer_is_resent_and_stored_once() -> None:
    collector, clock = Collector(), FakeClock()
    collector.fail_next = 2  # stored, but the sink sees 503 twice
    sink = make_sink(collector, clock)
    for i in range(5):
        sink.emit(hb(i))
    assert sink.flush() == 0
    assert collector.received == 15
    assert len(collector.stored) == 5


def test_http_sink_restart_resends_unacknowledged(tmp_path: Path) -> None:
    collector, clock = Collector(), FakeClock()
    sink = make_sink(collector, clock, tmp_path)
    for i in range(5):
        sink.emit(hb(i))
    sink.flush()
    collector.down = True
    for i in range(5, 12):
        sink.emit(hb(i))
    assert sink.close(timeout_s=0.5) == 7
    # "restart": a new sink on the same spool directory
    collector.down = False
    sink2 = make_sink(collector, clock, tmp_path)
    assert sink2.pending == 7
    sink2.emit(hb(12))
    assert sink2.flush() == 0
    assert set(collector.stored) == {hb(i).id for i in range(13)}
    assert collector.received == 13  # nothing acknowledged was sent twice
    sink2.close()


def test_http_sink_dead_letters_corrupt_spool_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([hb(0).to_dict()])
    spool.close()
    with open(next(tmp_path.glob("seg-*.jsonl")), "ab") as fh:
        fh.write(b"garbage\n")
    collector, clock = Collector(), FakeClock()
    sink = make_sink(collector, clock, tmp_path)
    assert sink.flush() == 0
    assert sink.dead_lettered == 1 and len(collector.stored) == 1
    assert "corrupt" in sink.queue.dead_letters()[0]["reason"]


def test_http_sink_validates_plain_dicts_and_refuses_after_close() -> None:
    collector, clock = Collector(), FakeClock()
    sink = make_sink(collector, clock)
    sink.emit(hb(1).to_dict())
    with pytest.raises(ValueError, match="unknown event type"):
        sink.emit({"type": "bogus"})
    sink.close()
    with pytest.raises(SinkClosedError):
        sink.emit(hb(2))


def test_http_sink_async_task_flushes_on_batch_and_on_close() -> None:
    collector = Collector()

    async def scenario() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(collector.handle))
        sink = HttpSink(
            "http://collector.test/telemetry",
            config=HttpSinkConfig(batch_size=5, flush_interval_s=30.0),
            async_client=client,
        )
        async with sink:
            for i in range(5):
                sink.emit(hb(i))
            for _ in range(100):  # the full batch wakes the flusher long before 30 s
                if len(collector.stored) == 5:
                    break
                await asyncio.sleep(0.01)
            assert len(collector.stored) == 5
            sink.emit(hb(5))
        assert len(collector.stored) == 6  # aclose flushed the rest
        await client.aclose()

    asyncio.run(scenario())


def test_http_sink_async_retry_uses_injected_sleep() -> None:
    collector = Collector()
    collector.fail_next = 1
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    async def scenario() -> int:
        client = httpx.AsyncClient(transport=httpx.MockTransport(collector.handle))
        sink = HttpSink(
            "http://collector.test/telemetry", async_client=client, async_sleep=fake_sleep,
            rng=random.Random(1),
        )
        sink.emit(hb(1))
        left = await sink.aclose()
        await client.aclose()
        return left

    assert asyncio.run(scenario()) == 0
    assert len(slept) == 1 and collector.received == 2 and len(collector.stored) == 1


# --- integration: a real collector stopped and restarted ------------------------------------


def collector_app(store: dict[str, dict[str, Any]], counter: list[int]) -> Starlette:
    async def telemetry(request: Request) -> Response:
        body = await request.json()
        events = body.get("events")
        if not isinstance(events, list):
            return JSONResponse({"detail": "events must be a list"}, status_code=422)
        for e in events:
            counter[0] += 1
            store.setdefault(e["id"], e)
        return JSONResponse({"accepted": len(events)})

    return Starlette(routes=[Route("/telemetry", telemetry, methods=["POST"])])


@pytest.fixture
def collector_port() -> Iterator[int]:
    yield free_port()


@pytest.mark.integration
def test_collector_outage_and_player_restart_deliver_every_event_once(
    tmp_path: Path, collector_port: int
) -> None:
    store: dict[str, dict[str, Any]] = {}
    counter = [0]
    app = collector_app(store, counter)
    url = f"http://127.0.0.1:{collector_port}/telemetry"
    config = HttpSinkConfig(batch_size=4, flush_timeout_s=0.3, request_timeout_s=1.0,
                            backoff=Backoff(base_s=0.02, cap_s=0.05))
    expected = {hb(i).id for i in range(30)}

    with ServerThread(app, collector_port):
        sink = HttpSink(url, spool_dir=tmp_path, config=config)
        for i in range(10):
            sink.emit(hb(i))
        assert sink.flush() == 0
    # collector down mid-stream: events pile up in the spool
    for i in range(10, 20):
        sink.emit(hb(i))
    assert sink.flush() == 10
    assert sink.last_error is not None
    sink.close()  # the player quits while the collector is down
    assert len(store) == 10

    with ServerThread(app, collector_port):
        sink2 = HttpSink(url, spool_dir=tmp_path, config=config)  # the player restarts
        assert sink2.pending == 10
        for i in range(20, 30):
            sink2.emit(hb(i))
        assert sink2.close() == 0
    assert set(store) == expected
    assert counter[0] == 30  # each event POSTed exactly once
    assert sorted(e["ts"] for e in store.values()) == [float(i) for i in range(30)]


@pytest.mark.integration
def test_async_sink_against_real_collector(tmp_path: Path, collector_port: int) -> None:
    store: dict[str, dict[str, Any]] = {}
    counter = [0]
    url = f"http://127.0.0.1:{collector_port}/telemetry"

    async def scenario() -> None:
        sink = HttpSink(url, spool_dir=tmp_path,
                        config=HttpSinkConfig(batch_size=3, flush_interval_s=0.05))
        await sink.start()
        for i in range(7):
            sink.emit(hb(i, session="a"))
        left = await sink.aclose()
        assert left == 0

    with ServerThread(collector_app(store, counter), collector_port):
        asyncio.run(scenario())
    assert set(store) == {hb(i, session="a").id for i in range(7)}
    assert os.path.exists(tmp_path / "ack.json")


# --- properties: nothing lost, nothing stored twice ----------------------------------------

PROPERTY = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SPOOL_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(min_value=1, max_value=4)),
        st.tuples(st.just("ack"), st.integers(min_value=0, max_value=6)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=25,
)


@PROPERTY
@given(ops=SPOOL_OPS)
def test_spool_never_loses_or_reorders(tmp_path_factory: pytest.TempPathFactory,
                                       ops: list[tuple[str, int]]) -> None:
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory, segment_max_bytes=250)
    model: list[str] = []
    n = 0
    for op, k in ops:
        if op == "append":
            events = [hb(n + i).to_dict() for i in range(k)]
            n += k
            spool.append(events)
            model.extend(e["id"] for e in events)
        elif op == "ack":
            records = spool.read(k)
            if records:
                spool.ack(records[-1].end)
            del model[: len(records)]
        else:
            spool.close()
            spool = Spool(directory, segment_max_bytes=250)
        assert len(spool) == len(model)
        assert [r.event["id"] for r in spool.read(1000) if r.event] == model
    spool.close()


FAULTS = st.sampled_from(["ok", "ok", "ok", "down", "lost-answer", "503", "small"])


@PROPERTY
@given(
    plan=st.lists(st.tuples(st.integers(min_value=0, max_value=7), st.lists(FAULTS, max_size=6)),
                  min_size=1, max_size=6),
    restart_after=st.integers(min_value=0, max_value=6),
)
def test_http_sink_delivers_every_event_exactly_once(
    tmp_path_factory: pytest.TempPathFactory,
    plan: list[tuple[int, list[str]]],
    restart_after: int,
) -> None:
    """Whatever the collector does per request, once it is healthy every event is stored
    once, and no event acknowledged by the collector is POSTed again by a later sink."""
    directory = tmp_path_factory.mktemp("spool")
    stored: dict[str, int] = {}
    faults: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        fault = faults.pop(0) if faults else "ok"
        events = json.loads(request.content)["events"]
        if fault == "down":
            raise httpx.ConnectError("refused", request=request)
        if fault == "503":
            return httpx.Response(503)
        if fault == "small" and len(events) > 1:
            return httpx.Response(413)
        for e in events:
            stored[e["id"]] = stored.get(e["id"], 0) + 1
        return httpx.Response(503 if fault == "lost-answer" else 200)

    clock = FakeClock()

    def new_sink() -> HttpSink:
        return HttpSink(
            "http://collector.test/telemetry", spool_dir=directory,
            config=HttpSinkConfig(batch_size=3, flush_timeout_s=1.0,
                                  backoff=Backoff(base_s=0.1, cap_s=0.3)),
            client=httpx.Client(transport=httpx.MockTransport(handle)),
            clock=clock, sleep=clock.sleep, rng=random.Random(0),
        )

    sink = new_sink()
    emitted: list[str] = []
    n = 0
    for step, (count, step_faults) in enumerate(plan):
        for _ in range(count):
            event = hb(n)
            n += 1
            emitted.append(event.id)
            sink.emit(event)
        faults[:] = step_faults
        sink.flush()
        if step == restart_after:
            sink.close(timeout_s=0)
            sink = new_sink()
    faults.clear()
    assert sink.close() == 0
    assert set(stored) == set(emitted)
    duplicates = sum(c - 1 for c in stored.values())
    # re-sends only happen when the collector stored a batch but the sink saw an error
    assert duplicates == 0 or "lost-answer" in {f for _, fs in plan for f in fs}


# --- contract: our events pass the reference collector's validation ----------------------


def test_every_event_type_passes_the_reference_collector_validation() -> None:
    store = pytest.importorskip("server.control.telemetry_store")
    from telemetry.events import (
        FailoverEvent,
        LicenceEvent,
        RenditionSwitchEvent,
        SessionEndEvent,
        StallEndEvent,
        StartupEvent,
        SteeringUpdateEvent,
    )

    env = {"session_id": "s", "ts": 1_767_225_600.0, "position_s": 1.0}
    events = [
        PlayEvent(**env),
        StartupEvent(**env, startup_s=0.5),
        RenditionSwitchEvent(**env, from_rung=0, to_rung=1, from_bitrate_bps=1,
                             to_bitrate_bps=2, rule="r", reason="why"),
        StallEndEvent(**env, stall_s=1.0),
        ErrorEvent(**env, code="c", message="m"),
        FailoverEvent(**env, from_pathway="a", to_pathway="b", reason="stalled"),
        SteeringUpdateEvent(**env, pathways=("a",), ttl_s=10),
        HeartbeatEvent(**env, buffer_s=3, bitrate_bps=10, played_s=5, rebuffer_s=0),
        LicenceEvent(**env, latency_s=0.1),
        SessionEndEvent(**env, qoe={"startup_s": 0.5}),
    ]
    batch = {"events": [e.to_dict() for e in events]}
    assert len(store.validate_batch(batch, max_events=1000)) == len(events)
