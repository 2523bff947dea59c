"""An ASGI app (Starlette or raw) served by uvicorn on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """``with ServerThread(app) as server: ... server.url ...``.

    Serves ``app`` on 127.0.0.1:``port`` (a free port when not given) until the
    ``with`` block ends; the same port can be served again by a new instance
    (a server stopped and restarted).
    """

    def __init__(self, app: Any, port: int | None = None, start_timeout_s: float = 5.0) -> None:
        self.port = port or free_port()
        self.start_timeout_s = start_timeout_s
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot bind (port in use)
            self.failure = exc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.server.should_exit = True
                why = " (port in use?)" if self.failure is not None else ""
                raise RuntimeError(f"test server on 127.0.0.1:{self.port} did not start{why}")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
