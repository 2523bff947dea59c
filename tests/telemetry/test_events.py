"""Telemetry events: envelope, round trip through dicts/JSON, validation messages."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry.events import (
    EVENT_TYPES,
    ErrorEvent,
    Event,
    EventValidationError,
    FailoverEvent,
    HeartbeatEvent,
    LicenceEvent,
    PauseEvent,
    PlayEvent,
    RenditionSwitchEvent,
    ResumeEvent,
    SeekEvent,
    SessionEndEvent,
    StallEndEvent,
    StallStartEvent,
    StartupEvent,
    SteeringUpdateEvent,
    TelemetryError,
    event_from_dict,
    new_event_id,
    sequence_event_id,
)

ENV = {"session_id": "sess-1", "ts": 12.5, "position_s": 3.0}

SAMPLES: list[Event] = [
    PlayEvent(**ENV),
    StartupEvent(**ENV, startup_s=0.8),
    RenditionSwitchEvent(
        **ENV, from_rung=1, to_rung=3, from_bitrate_bps=800_000, to_bitrate_bps=3_000_000,
        rule="buffer", reason="buffer 18.0 s above upper reservoir",
    ),
    RenditionSwitchEvent(
        **ENV, from_rung=None, to_rung=0, from_bitrate_bps=None, to_bitrate_bps=400_000
    ),
    StallStartEvent(**ENV),
    StallEndEvent(**ENV, stall_s=1.25),
    SeekEvent(**ENV, from_s=3.0, to_s=60.0),
    PauseEvent(**ENV),
    ResumeEvent(**ENV, paused_s=4.0),
    ErrorEvent(**ENV, code="segment-exhausted", message="all edges failed", fatal=True),
    FailoverEvent(**ENV, from_pathway="oca-1", to_pathway="oca-2", reason="stalled"),
    SteeringUpdateEvent(**ENV, pathways=("oca-2", "oca-1"), ttl_s=10.0),
    HeartbeatEvent(**ENV, buffer_s=12.0, bitrate_bps=3_000_000, played_s=60.0, rebuffer_s=1.5,
                   throughput_bps=9.5e6, edge="oca-1"),
    HeartbeatEvent(**ENV, buffer_s=0.0, bitrate_bps=400_000),
    LicenceEvent(**ENV, latency_s=0.12),
    SessionEndEvent(**ENV, qoe={"startup_s": 0.8, "rebuffer_count": 1, "per_rung": {"0": 2.0}}),
]


def test_every_event_type_has_a_sample() -> None:
    assert {e.type for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_round_trip_through_json(event: Event) -> None:
    wire = json.loads(json.dumps(event.to_dict()))
    back = event_from_dict(wire)
    assert back == event
    assert type(back) is type(event)
    assert Event.from_dict(wire) == event
    assert type(event).from_dict(wire) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_envelope_keys(event: Event) -> None:
    d = event.to_dict()
    for key in ("id", "session_id", "type", "ts", "position_s"):
        assert key in d
    assert d["type"] == event.type


def test_ids_are_uuid4_hex_and_unique() -> None:
    a, b = PlayEvent(session_id="s", ts=0), PlayEvent(session_id="s", ts=0)
    assert a.id != b.id
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    assert len(new_event_id()) == 32


def test_sequence_ids_are_deterministic() -> None:
    assert sequence_event_id("s", 3) == sequence_event_id("s", 3)
    assert sequence_event_id("s", 3) != sequence_event_id("s", 4)
    assert sequence_event_id("s", 3) != sequence_event_id("t", 3)
    e = PlayEvent(session_id="s", ts=1.0, id=sequence_event_id("s", 0))
    assert event_from_dict(e.to_dict()).id == e.id


@pytest.mark.parametrize("bad", [("", 0), ("s", -1), ("s", True), ("s", 1.5)])
def test_sequence_id_validation(bad: tuple[object, object]) -> None:
    with pytest.raises(EventValidationError):
        sequence_event_id(*bad)  # type: ignore[arg-type]


def test_events_are_frozen() -> None:
    e = PlayEvent(session_id="s", ts=0)
    with pytest.raises(AttributeError):
        e.ts = 5  # type: ignore[misc]


def test_lists_become_tuples() -> None:
    e = SteeringUpdateEvent(session_id="s", ts=0, pathways=["a", "b"], ttl_s=5)  # type: ignore[arg-type]
    assert e.pathways == ("a", "b")
    assert e.to_dict()["pathways"] == ["a", "b"]


def test_base_event_is_abstract() -> None:
    with pytest.raises(EventValidationError, match="abstract"):
        Event(session_id="s", ts=0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "nope", "id": "x", "session_id": "s", "ts": 0}, "unknown event type 'nope'"),
        ({"id": "x", "session_id": "s", "ts": 0}, "unknown event type None"),
        ({"type": "startup", "id": "x", "session_id": "s", "ts": 0}, "missing key.*startup_s"),
        ({"type": "play", "session_id": "s", "ts": 0}, "missing key.*id"),
        ({"type": "play", "id": "x", "session_id": "s", "ts": 0, "extra": 1}, "unknown key.*extra"),
        ({"type": "startup", "id": "x", "session_id": "s", "ts": 0, "startup_s": "1"},
         "StartupEvent.startup_s must be a number"),
        ({"type": "startup", "id": "x", "session_id": "s", "ts": 0, "startup_s": -1},
         "must be >= 0"),
        ({"type": "startup", "id": "x", "session_id": "s", "ts": math.nan, "startup_s": 1},
         "ts must be finite"),
        ({"type": "play", "id": "x", "session_id": "s", "ts": True}, "ts must be a number"),
        ({"type": "play", "id": "", "session_id": "s", "ts": 0}, "id must be non-empty"),
        ({"type": "play", "id": "x", "session_id": "", "ts": 0}, "session_id must be non-empty"),
        ({"type": "play", "id": "x", "session_id": 5, "ts": 0}, "session_id must be a string"),
        ({"type": "error", "id": "x", "session_id": "s", "ts": 0, "code": "c",
          "message": "m", "fatal": "yes"}, "fatal must be true/false"),
        ({"type": "rendition_switch", "id": "x", "session_id": "s", "ts": 0, "from_rung": None,
          "to_rung": 1.5, "from_bitrate_bps": None, "to_bitrate_bps": 1},
         "to_rung must be an integer"),
        ({"type": "steering_update", "id": "x", "session_id": "s", "ts": 0, "pathways": "ab",
          "ttl_s": 1}, "pathways must be a list of strings"),
        ({"type": "session_end", "id": "x", "session_id": "s", "ts": 0, "qoe": [1]},
         "qoe must be an object"),
    ],
)
def test_validation_messages(data: dict[str, object], message: str) -> None:
    with pytest.raises(EventValidationError, match=message):
        event_from_dict(data)


def test_not_a_mapping() -> None:
    with pytest.raises(TelemetryError, match="JSON object"):
        event_from_dict([1, 2])  # type: ignore[arg-type]


def test_from_dict_on_a_subclass_checks_the_type() -> None:
    with pytest.raises(EventValidationError, match="expected a 'startup' event"):
        StartupEvent.from_dict(PlayEvent(session_id="s", ts=0).to_dict())


def test_errors_are_value_errors_under_the_root() -> None:
    assert issubclass(EventValidationError, TelemetryError)
    assert issubclass(EventValidationError, ValueError)


@given(
    buffer_s=st.floats(min_value=0, max_value=1e6),
    bitrate=st.integers(min_value=0, max_value=10**9),
    ts=st.floats(allow_nan=False, allow_infinity=False),
    edge=st.none() | st.text(max_size=20),
)
def test_heartbeat_round_trip_property(
    buffer_s: float, bitrate: int, ts: float, edge: str | None
) -> None:
    e = HeartbeatEvent(session_id="s", ts=ts, buffer_s=buffer_s, bitrate_bps=bitrate, edge=edge)
    assert event_from_dict(json.loads(json.dumps(e.to_dict()))) == e
