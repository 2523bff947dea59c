"""Configuration of the reference backend: one frozen dataclass per server.

Units are in the field names (``_s`` seconds, ``_bytes`` bytes). Nothing here
reads the environment or the clock; :mod:`server.runner` and
``abrkit serve`` build these objects and hand them to the app factories.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ControlConfig", "EdgeConfig", "EdgeRef"]


@dataclass(frozen=True)
class EdgeRef:
    """How the control plane knows an edge: its pathway id and base URL."""

    name: str
    url: str  # base URL without trailing slash, e.g. "http://127.0.0.1:8101"


@dataclass(frozen=True)
class ControlConfig:
    """The control plane (playback grants, steering, telemetry, progress).

    ``rules`` is a catalog-rules mapping (see :mod:`server.control.catalog_rules`);
    ``None`` licenses every title everywhere.
    """

    content_dir: Path
    db_path: Path
    edges: tuple[EdgeRef, ...] = ()
    public_url: str = ""  # the control plane's own base URL (filled in by the runner)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    rules: Mapping[str, Any] | None = None
    token_ttl_s: float = 6 * 3600.0
    steering_ttl_s: float = 10.0
    edge_poll_interval_s: float | None = None  # default: steering_ttl_s / 4
    edge_poll_timeout_s: float = 1.0
    max_batch_bytes: int = 256 * 1024
    max_batch_events: int = 1000

    @property
    def poll_interval_s(self) -> float:
        if self.edge_poll_interval_s is not None:
            return self.edge_poll_interval_s
        return max(0.1, self.steering_ttl_s / 4)


@dataclass(frozen=True)
class EdgeConfig:
    """One OCA edge.

    ``holds`` lists what the edge stores locally (titles such as ``"demo"``
    or fnmatch patterns on the path such as ``"demo/video/*"``); ``None``
    means the whole content directory. Anything else is pulled from
    ``origin_url`` (another edge) into ``cache_dir`` on first request.
    """

    name: str
    content_dir: Path
    holds: tuple[str, ...] | None = None
    origin_url: str | None = None
    cache_dir: Path | None = None
    chunk_bytes: int = 128 * 1024
    origin_timeout_s: float = 10.0
    manifest_max_age_s: int = 2
    segment_max_age_s: int = 365 * 24 * 3600
