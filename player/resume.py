"""Resume positions: report where the viewer is to ``PUT /viewing/{title}/progress``.

The grant's ``resume_at`` is where playback starts (``Start(t, position_s)``);
a :class:`ProgressReporter` (a driver observer) PUTs the playhead every
``interval_s`` media seconds and once more when the session stops. A failed
PUT is counted and forgotten: resume positions are best effort and never
stop playback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import Any

import httpx

from .http import async_client

__all__ = ["ProgressReporter"]


class ProgressReporter:
    """PUTs ``{"account", "position_s"}`` to ``url``; see the module docstring."""

    def __init__(
        self,
        url: str,
        account: str,
        position: Callable[[], float],
        *,
        interval_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 2.0,
        max_position_s: float | None = None,
    ) -> None:
        self.url = url
        self.account = account
        self.position = position
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_position_s = max_position_s
        self._client = client
        self._last = -math.inf
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sent = 0
        self.failed = 0
        self.last_position_s: float | None = None

    def on_tick(self, t: float) -> None:
        if t - self._last >= self.interval_s:
            self._last = t
            task = asyncio.ensure_future(self.report())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def report(self, position_s: float | None = None) -> bool:
        pos = max(0.0, self.position() if position_s is None else position_s)
        if self.max_position_s is not None:
            pos = min(pos, self.max_position_s)
        body = {"account": self.account, "position_s": round(pos, 3)}
        try:
            if self._client is not None:
                r = await self._client.put(self.url, json=body, timeout=self.timeout_s)
            else:
                async with async_client(timeout=self.timeout_s) as c:
                    r = await c.put(self.url, json=body)
        except httpx.HTTPError:
            self.failed += 1
            return False
        if r.status_code >= 300:
            self.failed += 1
            return False
        self.sent += 1
        self.last_position_s = pos
        return True

    async def close(self, final_position_s: float | None = None) -> None:
        """Wait for reports in flight, then send the final position."""
        for t in list(self._tasks):
            with contextlib.suppress(Exception):
                await t
        await self.report(final_position_s)
