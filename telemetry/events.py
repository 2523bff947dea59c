"""Telemetry events: frozen dataclasses with a common envelope.

Every event carries the envelope

    id           unique event id (uuid4 hex, or deterministic from session id + sequence)
    session_id   the playback session the event belongs to
    type         a stable wire name (``"play"``, ``"stall_start"``, ...), a class attribute
    ts           a time in seconds *passed in by the caller* (no clock is read here)
    position_s   the media position when the event happened

and a few typed fields of its own. ``to_dict()`` gives a JSON-ready dict;
``event_from_dict()`` (or ``Event.from_dict``) validates and rebuilds the right
class from the ``"type"`` key.

Errors::

    TelemetryError                root: anything wrong in the telemetry package
     └── EventValidationError     an event (or its dict form) has a bad/missing value

The collector deduplicates by ``id``, so an id must be stable across retries:
build events once, spool their dicts, and re-send the same dicts.
"""

from __future__ import annotations

import math
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "TelemetryError",
    "EventValidationError",
    "Event",
    "PlayEvent",
    "StartupEvent",
    "RenditionSwitchEvent",
    "StallStartEvent",
    "StallEndEvent",
    "SeekEvent",
    "PauseEvent",
    "ResumeEvent",
    "ErrorEvent",
    "FailoverEvent",
    "SteeringUpdateEvent",
    "HeartbeatEvent",
    "LicenceEvent",
    "SessionEndEvent",
    "EVENT_TYPES",
    "event_from_dict",
    "new_event_id",
    "sequence_event_id",
]

_ID_NAMESPACE = uuid.UUID("6f0c6c1e-4c1b-4f43-9d55-0f2d7b1a9a11")


class TelemetryError(Exception):
    """Root of every error the telemetry package raises."""


class EventValidationError(TelemetryError, ValueError):
    """An event, or the dict it is built from, has a missing or bad value."""


def new_event_id() -> str:
    """A random event id (uuid4, 32 hex chars)."""
    return uuid.uuid4().hex


def sequence_event_id(session_id: str, sequence: int) -> str:
    """A deterministic event id for the ``sequence``-th event of ``session_id``.

    Replays of the same session produce the same ids, so re-sent events dedup.
    """
    if not isinstance(session_id, str) or not session_id:
        raise EventValidationError("sequence_event_id: session_id must be a non-empty string")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise EventValidationError(
            f"sequence_event_id: sequence must be a non-negative int, got {sequence!r}"
        )
    return uuid.uuid5(_ID_NAMESPACE, f"{session_id}#{sequence}").hex


def _check_value(cls_name: str, name: str, hint: Any, value: Any) -> Any:
    """Validate ``value`` against a resolved type hint; return it (lists -> tuples)."""
    where = f"{cls_name}.{name}"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(cls_name, name, inner[0], value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EventValidationError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise EventValidationError(f"{where} must be finite, got {value!r}")
        if name != "ts" and value < 0:
            raise EventValidationError(f"{where} must be >= 0, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventValidationError(f"{where} must be an integer, got {value!r}")
        if value < 0:
            raise EventValidationError(f"{where} must be >= 0, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise EventValidationError(f"{where} must be true/false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise EventValidationError(f"{where} must be a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise EventValidationError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise EventValidationError(f"{where} must be an object with string keys")
        return dict(value)
    raise EventValidationError(f"{where}: unsupported field type {hint!r}")  # pragma: no cover


@dataclass(frozen=True, kw_only=True)
class Event:
    """Common envelope. Subclasses add fields; ``type`` is their wire name."""

    type: ClassVar[str] = ""
    session_id: str
    ts: float
    position_s: float = 0.0
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        if type(self) is Event:
            raise EventValidationError("Event is abstract; use one of its subclasses")
        hints = _hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            checked = _check_value(type(self).__name__, f.name, hints[f.name], value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        if not self.id:
            raise EventValidationError(f"{type(self).__name__}.id must be non-empty")
        if not self.session_id:
            raise EventValidationError(f"{type(self).__name__}.session_id must be non-empty")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: envelope keys plus this event's fields."""
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from ``to_dict()`` output; validates every value.

        Called on ``Event`` it dispatches on ``data["type"]``; called on a
        subclass it also checks the type matches.
        """
        event = event_from_dict(data)
        if cls is not Event and not isinstance(event, cls):
            raise EventValidationError(
                f"expected a {cls.type!r} event, got type {data.get('type')!r}"
            )
        return event


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


@dataclass(frozen=True, kw_only=True)
class PlayEvent(Event):
    """The user pressed play (session start)."""

    type: ClassVar[str] = "play"


@dataclass(frozen=True, kw_only=True)
class StartupEvent(Event):
    """First frame rendered ``startup_s`` seconds after play."""

    type: ClassVar[str] = "startup"
    startup_s: float


@dataclass(frozen=True, kw_only=True)
class RenditionSwitchEvent(Event):
    """The ABR policy switched rungs; ``rule``/``reason`` come from its Decision."""

    type: ClassVar[str] = "rendition_switch"
    from_rung: int | None
    to_rung: int
    from_bitrate_bps: int | None
    to_bitrate_bps: int
    rule: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class StallStartEvent(Event):
    """Playback stalled (buffer ran dry)."""

    type: ClassVar[str] = "stall_start"


@dataclass(frozen=True, kw_only=True)
class StallEndEvent(Event):
    """Playback resumed after a stall of ``stall_s`` seconds."""

    type: ClassVar[str] = "stall_end"
    stall_s: float


@dataclass(frozen=True, kw_only=True)
class SeekEvent(Event):
    """A seek from ``from_s`` to ``to_s`` (``position_s`` is the target too)."""

    type: ClassVar[str] = "seek"
    from_s: float
    to_s: float


@dataclass(frozen=True, kw_only=True)
class PauseEvent(Event):
    """The user paused."""

    type: ClassVar[str] = "pause"


@dataclass(frozen=True, kw_only=True)
class ResumeEvent(Event):
    """The user resumed after ``paused_s`` seconds."""

    type: ClassVar[str] = "resume"
    paused_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    """An error; ``code`` is a stable machine-readable code, ``fatal`` ends the session."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class FailoverEvent(Event):
    """Segment delivery moved from one edge (pathway) to another.

    The field names match the collector's optional ``from_pathway``/``to_pathway``.
    """

    type: ClassVar[str] = "failover"
    from_pathway: str
    to_pathway: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class SteeringUpdateEvent(Event):
    """A content-steering response re-ranked the pathways."""

    type: ClassVar[str] = "steering_update"
    pathways: tuple[str, ...]
    ttl_s: float


@dataclass(frozen=True, kw_only=True)
class HeartbeatEvent(Event):
    """Periodic state sample.

    ``played_s`` and ``rebuffer_s`` are cumulative for the session so far; the
    collector requires them (with ``bitrate_bps``) to compute server-side QoE.
    """

    type: ClassVar[str] = "heartbeat"
    buffer_s: float
    bitrate_bps: int
    played_s: float = 0.0
    rebuffer_s: float = 0.0
    throughput_bps: float | None = None
    edge: str | None = None


@dataclass(frozen=True, kw_only=True)
class LicenceEvent(Event):
    """A DRM licence was acquired in ``latency_s`` seconds (never carries keys)."""

    type: ClassVar[str] = "licence"
    latency_s: float


@dataclass(frozen=True, kw_only=True)
class SessionEndEvent(Event):
    """The session ended; ``qoe`` is the QoE accumulator's summary dict."""

    type: ClassVar[str] = "session_end"
    qoe: Mapping[str, Any] = field(default_factory=dict)


EVENT_TYPES: Mapping[str, type[Event]] = types.MappingProxyType(
    {
        cls.type: cls
        for cls in (
            PlayEvent,
            StartupEvent,
            RenditionSwitchEvent,
            StallStartEvent,
            StallEndEvent,
            SeekEvent,
            PauseEvent,
            ResumeEvent,
            ErrorEvent,
            FailoverEvent,
            SteeringUpdateEvent,
            HeartbeatEvent,
            LicenceEvent,
            SessionEndEvent,
        )
    }
)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Validate ``data`` (from ``to_dict()``/JSON) and build the matching event.

    Raises EventValidationError naming the event type and the offending key
    for an unknown type, a missing required key, an unknown key or a bad value.
    """
    if not isinstance(data, Mapping):
        raise EventValidationError(f"an event must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(EVENT_TYPES))
        raise EventValidationError(f"unknown event type {kind!r} (known: {known})")
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(k for k in data if k != "type" and k not in names)
    if unknown:
        raise EventValidationError(f"{kind} event: unknown key(s) {', '.join(unknown)}")
    missing = sorted(
        n
        for n, f in names.items()
        if n not in data
        and (n == "id" or (f.default is MISSING and f.default_factory is MISSING))
    )
    if missing:
        raise EventValidationError(f"{kind} event: missing key(s) {', '.join(missing)}")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        return cls(**kwargs)
    except EventValidationError:
        raise
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise EventValidationError(f"{kind} event: {exc}") from exc
