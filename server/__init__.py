"""abrkit's reference backend: packager, control plane and OCA edges.

    server.packager     source video -> CMAF ladder + HLS/DASH (``abrkit package``)
    server.control      playback grants, steering, telemetry, QoE, resume positions
    server.edge         OCA edges: ranged bytes, faults, shaping, tiering
    server.runner       start a control plane + N edges on loopback (tests, ``abrkit serve``)

The most used entry point is re-exported here (imported lazily, so that
``import server`` stays cheap)::

    from server import start_backend
    with start_backend(content_dir, edges=3) as backend:
        backend.control_url, backend.edge_urls

See docs/server.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Backend", "ControlPlane", "Edge", "EdgeSpec", "start_backend"]

_LAZY = {
    "Backend": "server.runner",
    "EdgeSpec": "server.runner",
    "start_backend": "server.runner",
    "ControlPlane": "server.control.app",
    "Edge": "server.edge.app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'server' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
