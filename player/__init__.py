"""abrkit player: the sans-IO playback engine and its drivers.

    Session(video, policy, EngineConfig(...))   events in, actions out (player.states)
    replay(trace, video, policy_factory, PENSIEVE | REALISTIC) -> SessionResult
    load_trace / load_trace_dir, load_pensieve_video / load_sabre_movie / video_from_presentation
    Link, NetworkConfig                         the replay network model

Real playback (imported on first use, so ``import player`` stays light for replay)::

    Player.open(url, PlayerConfig(...)) -> Player; play_sync(url, config) -> SessionSummary
    PlayerConfig, DecodeConfig, TelemetryConfig, ResumeConfig, GrantRequest
    RealtimeDriver, ScaledClock, AutojumpClock  the wall-clock (or virtual) driver

Errors: :mod:`player.errors` (root :class:`PlayerError`).
"""

from .errors import (
    IllegalEventError,
    PlayerError,
    ReplayError,
    SessionError,
    TraceError,
    VideoError,
)
from .network import PENSIEVE_NETWORK, REALISTIC_NETWORK, Link, NetworkConfig
from .presets import PENSIEVE, PRESETS, REALISTIC, Preset, get_preset
from .replay import replay, replay_many
from .session import EngineConfig, SegmentRecord, Session, SessionResult
from .states import (
    Abandon,
    DownloadComplete,
    DownloadFailed,
    DownloadProgress,
    End,
    Fail,
    FetchSegment,
    Pause,
    Play,
    Resume,
    Seek,
    StallEnded,
    StallStarted,
    Start,
    State,
    Stop,
    Tick,
    Wait,
)
from .traces import Trace, load_trace, load_trace_dir
from .video import Video, load_pensieve_video, load_sabre_movie, video_from_presentation

__all__ = [
    "Abandon",
    "DownloadComplete",
    "DownloadFailed",
    "DownloadProgress",
    "End",
    "EngineConfig",
    "Fail",
    "FetchSegment",
    "IllegalEventError",
    "Link",
    "NetworkConfig",
    "PENSIEVE",
    "PENSIEVE_NETWORK",
    "PRESETS",
    "Pause",
    "Play",
    "PlayerError",
    "Preset",
    "REALISTIC",
    "REALISTIC_NETWORK",
    "ReplayError",
    "Resume",
    "Seek",
    "SegmentRecord",
    "Session",
    "SessionError",
    "SessionResult",
    "StallEnded",
    "StallStarted",
    "Start",
    "State",
    "Stop",
    "Tick",
    "Trace",
    "TraceError",
    "Video",
    "VideoError",
    "Wait",
    "get_preset",
    "load_pensieve_video",
    "load_sabre_movie",
    "load_trace",
    "load_trace_dir",
    "replay",
    "replay_many",
    "video_from_presentation",
]

_LAZY = {
    "AutojumpClock": "player.realtime",
    "DecodeConfig": "player.config",
    "GrantRequest": "player.config",
    "PlaybackError": "player.player",
    "Player": "player.player",
    "PlayerConfig": "player.config",
    "RealtimeDriver": "player.realtime",
    "ResumeConfig": "player.config",
    "ScaledClock": "player.realtime",
    "SessionSummary": "player.player",
    "TelemetryConfig": "player.config",
    "play_sync": "player.player",
}
__all__ += sorted(_LAZY)


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'player' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
