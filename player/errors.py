"""Errors raised by the player package.

    PlayerError                  root: anything the player raises on purpose
     ├── SessionError            the playback engine was misused
     │    └── IllegalEventError  an event that is not allowed in the engine's current state
     ├── ReplayError             trace replay: bad input for the virtual-time driver
     │    ├── TraceError         a bandwidth trace is malformed (names file and line/index)
     │    └── VideoError         a video description is inconsistent (names what and where)
     ├── TransportError …        player.transport (ConnectError, HttpStatusError)
     ├── SteeringError           player.steering_client
     └── PathwayError            player.oca

Every message says what was wrong and where.
"""

from __future__ import annotations


class PlayerError(Exception):
    """Root of every error the player package raises."""


class SessionError(PlayerError):
    """The sans-IO engine was driven incorrectly (bad event value, time going backwards)."""


class IllegalEventError(SessionError):
    """An event arrived in a state whose transition table does not allow it."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event} is not allowed in state {state!r}")
        self.state = state
        self.event = event


class ReplayError(PlayerError):
    """Root of trace-replay input errors."""


class TraceError(ReplayError, ValueError):
    """A bandwidth trace is malformed. ``source`` is the file (or trace name), ``line`` 1-based."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        where = source or "<trace>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.detail = message
        self.source = source
        self.line = line


class VideoError(ReplayError, ValueError):
    """A video description is inconsistent. ``source`` names the file or directory."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
