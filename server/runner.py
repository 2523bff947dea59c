"""Start the reference backend in-process: a control plane and N edges.

Each server is a uvicorn instance on its own loopback port, running in a
background thread with its own event loop. Used by tests (as a fixture),
by ``abrkit serve`` and by ``abrkit demo``::

    from server.runner import start_backend

    with start_backend("content/", edges=3, steering_ttl_s=1.0) as backend:
        backend.control_url          # "http://127.0.0.1:40123"
        backend.edge_urls            # {"edge-1": "http://127.0.0.1:40124", ...}
        backend.grant_url("demo")    # POST {country, device_class, account?} here
        backend.edge("edge-2").down(for_s=2.0)   # connection refused, then back
        backend.edge("edge-2").set_faults({"latency_ms": 200})

Ports: ``port_base=0`` picks free ephemeral ports; otherwise the control
plane listens on ``port_base`` and edge *i* on ``port_base + i``. The
sockets are bound before any app is built, so every URL is known up front.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.config import ControlConfig, EdgeConfig, EdgeRef
from server.control.app import ControlPlane
from server.control.licence import LicenceConfig
from server.edge.app import Edge
from server.errors import ServerError

__all__ = [
    "Backend",
    "EdgeHandle",
    "EdgeSpec",
    "RunnerError",
    "ServerThread",
    "default_cache_dir",
    "ensure_demo_content",
    "running_backend",
    "start_backend",
]

log = logging.getLogger("server.runner")


class RunnerError(ServerError):
    """A server could not start (port in use, startup failure)."""


@dataclass(frozen=True)
class EdgeSpec:
    """Per-edge options for :func:`start_backend`: tiering and origin.

    ``origin`` names another edge (e.g. ``"edge-1"``) or is a URL.
    """

    name: str
    holds: tuple[str, ...] | None = None
    origin: str | None = None


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is TCP, and without it Nagle + delayed ACK add ~40 ms per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RunnerError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """One uvicorn server in a background thread; can stop and start again."""

    def __init__(self, name: str, app: Any, host: str, sock: socket.socket) -> None:
        self.name = name
        self.app = app
        self.host = host
        self.port: int = sock.getsockname()[1]
        self._sock: socket.socket | None = sock
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            if self.running:
                return
            sock = self._sock or _bind(self.host, self.port)
            self._sock = None
            config = uvicorn.Config(
                self.app,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="on",
                http="h11",
                ws="none",
                timeout_graceful_shutdown=1,
                timeout_keep_alive=5,
                interface="asgi3",
                proxy_headers=False,
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(
                target=server.run,
                kwargs={"sockets": [sock]},
                name=f"abrkit-{self.name}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
            deadline = time.monotonic() + timeout_s
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    server.should_exit = True
                    raise RunnerError(f"{self.name} did not start on {self.url}")
                time.sleep(0.01)

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            server.should_exit = True
            thread.join(timeout_s)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout_s)
            self._server = self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class EdgeHandle(ServerThread):
    """An edge server plus its :class:`Edge` state and fault helpers."""

    def __init__(self, edge: Edge, host: str, sock: socket.socket) -> None:
        super().__init__(edge.name, edge.app, host, sock)
        self.edge = edge
        self._generation = 0
        edge.on_down = self._on_down_request

    def down(self, for_s: float | None = None) -> None:
        """Stop listening (clients see connection refused); back after ``for_s``."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        self.stop()
        if for_s is not None:
            timer = threading.Timer(for_s, self._restore, args=(gen,))
            timer.daemon = True
            timer.start()

    def up(self) -> None:
        with self._lock:
            self._generation += 1
        self.start()

    def _restore(self, gen: int) -> None:
        with self._lock:
            if gen != self._generation:
                return
        try:
            self.start()
        except RunnerError:
            log.exception("edge %s could not come back up", self.name)

    def _on_down_request(self, for_s: float | None) -> None:
        # called on the edge's own loop: stop from another thread, after the reply
        def later() -> None:
            time.sleep(0.05)
            self.down(for_s)

        threading.Thread(target=later, daemon=True).start()

    def set_faults(self, faults: Mapping[str, Any]) -> dict[str, Any]:
        r = httpx.post(f"{self.url}/admin/faults", json=dict(faults), timeout=5)
        r.raise_for_status()
        return dict(r.json())

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/admin/faults", timeout=5).raise_for_status()


@dataclass
class Backend:
    control: ServerThread
    control_plane: ControlPlane
    edges: list[EdgeHandle]
    content_dir: Path
    work_dir: Path
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def control_url(self) -> str:
        return self.control.url

    @property
    def edge_urls(self) -> dict[str, str]:
        return {e.name: e.url for e in self.edges}

    def edge(self, name: str) -> EdgeHandle:
        for e in self.edges:
            if e.name == name:
                return e
        raise KeyError(f"no edge {name!r}; have {[e.name for e in self.edges]}")

    def grant_url(self, title: str) -> str:
        return f"{self.control_url}/playback/{title}"

    def close(self) -> None:
        self.control.stop()
        for e in self.edges:
            with e._lock:
                e._generation += 1  # cancel pending restores
            e.stop()
        self.control_plane.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_backend(
    content_dir: str | Path,
    *,
    edges: int = 3,
    host: str = "127.0.0.1",
    port_base: int = 0,
    edge_specs: Sequence[EdgeSpec] = (),
    rules: Mapping[str, Any] | None = None,
    secret: bytes | None = None,
    steering_ttl_s: float = 10.0,
    edge_poll_interval_s: float | None = None,
    work_dir: str | Path | None = None,
    db_path: str | Path | None = None,
    max_batch_bytes: int = 256 * 1024,
    max_batch_events: int = 1000,
    licence: LicenceConfig | None = None,
) -> Backend:
    """Start edges, then the control plane; return a :class:`Backend`.

    ``work_dir`` holds edge caches and (unless ``db_path``) the SQLite file;
    a temporary directory, removed on close, when not given.
    """
    content = Path(content_dir).resolve()
    if not content.is_dir():
        raise RunnerError(f"content directory {content} does not exist")
    if edges < 1:
        raise RunnerError(f"edges must be >= 1, got {edges}")
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="abrkit-backend-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    names = [f"edge-{i}" for i in range(1, edges + 1)]
    specs = {s.name: s for s in edge_specs}
    unknown = set(specs) - set(names)
    if unknown:
        raise RunnerError(f"edge_specs name unknown edges {sorted(unknown)}; edges are {names}")
    socks: list[socket.socket] = []
    try:
        control_sock = _bind(host, port_base)
        socks.append(control_sock)
        edge_socks = [_bind(host, port_base + i if port_base else 0) for i in range(1, edges + 1)]
        socks.extend(edge_socks)
    except RunnerError:
        for s in socks:
            s.close()
        if tmp is not None:
            tmp.cleanup()
        raise
    urls = {
        n: f"http://{host}:{s.getsockname()[1]}" for n, s in zip(names, edge_socks, strict=True)
    }
    handles: list[EdgeHandle] = []
    started: list[ServerThread] = []
    try:
        for name, sock in zip(names, edge_socks, strict=True):
            spec = specs.get(name, EdgeSpec(name))
            origin = urls.get(spec.origin, spec.origin) if spec.origin else None
            cfg = EdgeConfig(
                name=name,
                content_dir=content,
                holds=spec.holds,
                origin_url=origin,
                cache_dir=work / "edge-cache" / name,
            )
            handle = EdgeHandle(Edge(cfg), host, sock)
            handles.append(handle)
            handle.start()
            started.append(handle)
        control_cfg = ControlConfig(
            content_dir=content,
            db_path=Path(db_path) if db_path else work / "control.sqlite3",
            edges=tuple(EdgeRef(n, urls[n]) for n in names),
            public_url=f"http://{host}:{control_sock.getsockname()[1]}",
            secret=secret or secrets.token_bytes(32),
            rules=rules,
            steering_ttl_s=steering_ttl_s,
            edge_poll_interval_s=edge_poll_interval_s,
            max_batch_bytes=max_batch_bytes,
            max_batch_events=max_batch_events,
        )
        plane = ControlPlane(control_cfg, licence=licence)
        control = ServerThread("control", plane.app, host, control_sock)
        control.start()
    except BaseException:
        for h in started:
            h.stop()
        for s in socks:
            s.close()
        if tmp is not None:
            tmp.cleanup()
        raise
    return Backend(control, plane, handles, content, work, tmp)


def default_cache_dir() -> Path:
    """``$ABRKIT_CACHE`` or ``~/.cache/abrkit``."""
    env = os.environ.get("ABRKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "abrkit"


def ensure_demo_content(cache_dir: Path | None = None, **packager_kwargs: Any) -> Path:
    """The content root (``<cache>/content``) holding the packaged demo title.

    Packages it on first use with ``server.packager.ensure_demo_title`` (minutes
    on a small machine), reuses it afterwards. ``abrkit serve`` and ``abrkit
    demo`` start from here::

        with start_backend(ensure_demo_content()) as backend: ...
    """
    from server.packager import ensure_demo_title

    root = (cache_dir or default_cache_dir()) / "content"
    ensure_demo_title(root, **packager_kwargs)
    return root


@contextmanager
def running_backend(content_dir: str | Path, **kwargs: Any) -> Iterator[Backend]:
    """Context-manager spelling of :func:`start_backend`."""
    backend = start_backend(content_dir, **kwargs)
    try:
        yield backend
    finally:
        backend.close()
