"""A fake monotonic clock with an async sleep that advances it (for OCA/retry tests)."""

from __future__ import annotations

import asyncio


class FakeTime:
    """Call it for the time; ``await fake.sleep(s)`` records ``s`` and moves the clock.

    ``yield_to_loop``: also let other tasks run at each sleep (``asyncio.sleep(0)``),
    for tests where a concurrent request must make progress while one waits.
    """

    def __init__(self, start: float = 1000.0, *, yield_to_loop: bool = False) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._yield = yield_to_loop

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s
        if self._yield:
            await asyncio.sleep(0)
