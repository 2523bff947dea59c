"""A tiny Prometheus text-format registry (counters and gauges with labels).

Enough for ``/metrics`` on the control plane and the edges without a
dependency: ``inc``/``set`` under a lock, ``render`` produces text format
0.0.4. Also an ASGI middleware that counts requests by route template and
status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from starlette.routing import Match

__all__ = ["Registry", "RequestCounter"]

Labels = tuple[tuple[str, str], ...]


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meta: dict[str, tuple[str, str]] = {}
        self._values: dict[str, dict[Labels, float]] = {}
        self._collectors: list[Callable[[Registry], None]] = []

    def describe(self, name: str, kind: str, help_text: str) -> None:
        with self._lock:
            self._meta[name] = (kind, help_text)
            self._values.setdefault(name, {})

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1.0) -> None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, labels: Mapping[str, str] | None = None, value: float = 0.0) -> None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            self._values.setdefault(name, {})[key] = value

    def get(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            return self._values.get(name, {}).get(key, 0.0)

    def add_collector(self, fn: Callable[[Registry], None]) -> None:
        """``fn`` runs before each render, to refresh gauges."""
        self._collectors.append(fn)

    def render(self) -> str:
        for fn in self._collectors:
            fn(self)
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._values):
                kind, help_text = self._meta.get(name, ("untyped", ""))
                if help_text:
                    lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} {kind}")
                for labels, value in sorted(self._values[name].items()):
                    lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels)
                    num = repr(float(value)) if value != int(value) else str(int(value))
                    lines.append(f"{name}{{{lab}}} {num}" if lab else f"{name} {num}")
        return "\n".join(lines) + "\n"


class RequestCounter:
    """ASGI middleware: ``http_requests_total{route, method, status}``."""

    def __init__(self, app: Any, registry: Registry, routes: Callable[[], list[Any]]) -> None:
        self.app = app
        self.registry = registry
        self.routes = routes
        registry.describe("http_requests_total", "counter", "HTTP requests by route and status.")

    def _route(self, scope: Any) -> str:
        for route in self.routes():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", "") or "/")
        return "unmatched"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def _send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            self.registry.inc(
                "http_requests_total",
                {
                    "route": self._route(scope),
                    "method": scope["method"],
                    "status": str(status["code"]),
                },
            )
