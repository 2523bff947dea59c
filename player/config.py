"""Configuration of real playback: frozen dataclasses, units in the names.

    PlayerConfig(
        policy="longmpc", policy_config={},          # abr.registry name + its config fields
        engine=EngineConfig(...),                    # buffer goals, stall limit (seconds)
        oca=OcaConfig(timeout_s=..., retry=RetryPolicy(...), breaker=BreakerConfig(...)),
        speed=1.0,                                   # media seconds per wall second
        max_height=None,                             # highest video rendition allowed
        decode=DecodeConfig(enabled=True),           # PyAV decode + headless renderer
        telemetry=TelemetryConfig(sinks=(...), heartbeat_interval_s=10, cmcd="query"),
        resume=ResumeConfig(progress_interval_s=10),
        grant=GrantRequest(country="US", device_class="tv", account="anonymous"),
    )

Nothing here reads a clock or opens a socket; :class:`player.player.Player`
turns a config into a running session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from player.breaker import BreakerConfig
from player.oca import OcaConfig
from player.retry import RetryPolicy
from player.states import EngineConfig

__all__ = [
    "CmcdMode",
    "DEFAULT_ENGINE",
    "DecodeConfig",
    "GrantRequest",
    "PlayerConfig",
    "ResumeConfig",
    "TelemetryConfig",
]

CmcdMode = Literal["query", "headers", "off"]

#: Real playback defaults: start with 4 s buffered, 30 s buffer goal, 30 s stall limit.
#: The startup threshold gates when the playhead starts to move, not the first
#: frame: the renderer presents frame 0 as soon as the first segment's first frame
#: decodes (playhead at 0 during startup), so time to first frame is the same with
#: 2 s or 4 s (benchmarks/results/playback.md section 1). 4 s (two segments) is kept
#: so that playback starts with one segment in hand beyond the one playing: starting
#: at one segment rebuffers whenever the second segment takes longer than the first
#: one's 2 s of play. A client that wants motion sooner sets
#: ``startup_threshold_s=2.0`` (one segment; sensible when the first segment came
#: in much faster than real time). A rule that picks one or two segments from the
#: first download's speed belongs in the engine (player.states/session), not here.
DEFAULT_ENGINE = EngineConfig(
    startup_threshold_s=4.0,
    rebuffer_resume_s=2.0,
    buffer_max_s=30.0,
    drain_step_s=0.5,
    stall_limit_s=30.0,
    max_download_retries=2,
)

#: Real playback pool defaults: one failure opens an edge's breaker (the next edge takes
#: over at once), a request gives up after 3 passes over the edges or 15 s.
DEFAULT_OCA = OcaConfig(
    timeout_s=10.0,
    stall_timeout_s=2.0,
    retry=RetryPolicy(max_attempts=3, base_s=0.1, cap_s=1.0, deadline_s=15.0),
    breaker=BreakerConfig(failure_threshold=1, cooldown_s=10.0),
)


@dataclass(frozen=True)
class DecodeConfig:
    """PyAV decoding and the headless renderer.

    ``enabled``: decode video (off for load tests: segments are fetched and
    counted, never decoded). ``audio``: decode audio segments too.
    ``late_after_s``: a frame presented more than this (media seconds) after its
    time counts as late; ``drop_after_s``: one the playhead already passed by
    more than this is dropped instead of presented. ``threads``: decoder
    worker threads (1 keeps segments in order).
    """

    enabled: bool = True
    audio: bool = False
    late_after_s: float = 0.05
    drop_after_s: float = 0.5
    threads: int = 1

    def __post_init__(self) -> None:
        if not (self.late_after_s >= 0 and self.drop_after_s >= self.late_after_s):
            raise ValueError("DecodeConfig: 0 <= late_after_s <= drop_after_s")
        if self.threads < 1:
            raise ValueError("DecodeConfig.threads must be >= 1")


@dataclass(frozen=True)
class TelemetryConfig:
    """Where events go and how often.

    ``sinks``: objects with ``emit/flush/close`` (telemetry.sinks); an
    :class:`~telemetry.sinks.HttpSink` is started on the player's loop and
    closed (final flush) at the end. ``collector``: when True and the grant
    names a ``telemetry_url``, an HttpSink to it is added (spooled in
    ``spool_dir`` when given). ``heartbeat_interval_s``: media seconds
    between heartbeats. ``cmcd``: CMCD on segment requests ("query",
    "headers" or "off").
    """

    sinks: tuple[Any, ...] = ()
    collector: bool = False
    spool_dir: str | None = None
    heartbeat_interval_s: float = 10.0
    cmcd: CmcdMode = "query"

    def __post_init__(self) -> None:
        if self.cmcd not in ("query", "headers", "off"):
            raise ValueError(f"TelemetryConfig.cmcd must be query, headers or off: {self.cmcd!r}")
        if not self.heartbeat_interval_s > 0:
            raise ValueError("TelemetryConfig.heartbeat_interval_s must be > 0")


@dataclass(frozen=True)
class ResumeConfig:
    """Resume positions: start at the grant's ``resume_at`` (``use_grant``) and PUT
    the position to the grant's ``progress_url`` every ``progress_interval_s``
    media seconds and on stop (``report``)."""

    use_grant: bool = True
    report: bool = True
    progress_interval_s: float = 10.0


@dataclass(frozen=True)
class GrantRequest:
    """The body of ``POST /playback/{title}``."""

    country: str = "US"
    device_class: str = "tv"
    account: str = "anonymous"

    def body(self) -> dict[str, str]:
        return {"country": self.country, "device_class": self.device_class,
                "account": self.account}


@dataclass(frozen=True)
class PlayerConfig:
    """Everything a :class:`~player.player.Player` session needs.

    ``policy``/``policy_config``: an ``abr.registry`` policy name and its
    config fields. ``abandon``: use the buffer abandonment rule. ``protocol``:
    which manifest of a grant ("hls" or "dash"). ``speed``: media seconds per
    wall second (2 plays twice as fast; network time is scaled too).
    ``max_height``: video renditions taller than this are not used.
    ``demote_s``: an edge that failed a request is ranked last for this long
    (wall seconds), whatever steering says. ``steering``: follow the grant's
    steering URI. ``start_position_s``: overrides the resume position.
    """

    policy: str = "longmpc"
    policy_config: Mapping[str, Any] = field(default_factory=dict)
    abandon: bool = True
    engine: EngineConfig = DEFAULT_ENGINE
    oca: OcaConfig = DEFAULT_OCA
    protocol: Literal["hls", "dash"] = "hls"
    speed: float = 1.0
    max_height: int | None = None
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    resume: ResumeConfig = field(default_factory=ResumeConfig)
    grant: GrantRequest = field(default_factory=GrantRequest)
    steering: bool = True
    demote_s: float = 30.0
    start_position_s: float | None = None
    manifest_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"PlayerConfig.speed must be a positive number, got {self.speed!r}")
        if self.max_height is not None and self.max_height <= 0:
            raise ValueError(f"PlayerConfig.max_height must be > 0, got {self.max_height!r}")
        if self.protocol not in ("hls", "dash"):
            raise ValueError(f"PlayerConfig.protocol must be hls or dash, got {self.protocol!r}")
        if self.start_position_s is not None and self.start_position_s < 0:
            raise ValueError("PlayerConfig.start_position_s must be >= 0")
