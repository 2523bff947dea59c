"""Where telemetry events go: memory, a JSON Lines file, or the collector over HTTP.

Every sink has the same small synchronous surface::

    sink.emit(event)     # never blocks on the network
    sink.flush()         # push what is buffered
    sink.close()         # flush and release resources (idempotent)

:class:`HttpSink` also has an asyncio surface (``await start()`` runs a task
that flushes every ``flush_interval_s`` or when ``batch_size`` events are
waiting; ``await aflush()``, ``await aclose()``). Both drive one delivery flow,
written as a generator that yields "POST this batch" / "sleep this long" steps
and receives the outcomes (the httpx ``_auth.py`` pattern), so the sync and
async paths cannot disagree.

Delivery guarantees of :class:`HttpSink`:

- ``emit`` appends the event dict to a queue first: a :class:`~telemetry.spool.Spool`
  directory (fsync'd JSONL, survives a collector outage *and* a restart: a new
  sink on the same directory re-sends what was never acknowledged) or, with no
  directory, an in-memory queue;
- batches are POSTed as ``{"events": [...]}``; on 2xx the queue is acknowledged
  up to the batch end; the collector dedups by event id, so a batch re-sent
  after a lost response is harmless;
- 413 splits the batch in halves (a single event still too large is
  dead-lettered); 422 bisects the batch to isolate the bad events, which
  are parked in the dead-letter file with the collector's reason; the rest goes on;
- anything else (connection refused, timeouts, 5xx, 429, 400, other 4xx) is retried
  with capped exponential backoff and full jitter until the flush deadline;
  unsent events stay queued and are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from telemetry.events import Event, TelemetryError, event_from_dict
from telemetry.spool import MemoryQueue, Spool, SpoolRecord

__all__ = [
    "Sink",
    "MemorySink",
    "JsonlSink",
    "TeeSink",
    "HttpSink",
    "HttpSinkConfig",
    "Backoff",
    "SinkClosedError",
]

Clock = Callable[[], float]


class SinkClosedError(TelemetryError):
    """``emit`` was called on a closed sink."""


@runtime_checkable
class Sink(Protocol):
    """What the player needs from a telemetry sink."""

    def emit(self, event: Event) -> None: ...

    def flush(self) -> Any: ...

    def close(self) -> Any: ...


def _as_dict(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(event, Event):
        return event.to_dict()
    return event_from_dict(event).to_dict()  # validates a plain dict


class MemorySink:
    """Keeps every event in ``events`` (for tests and in-process consumers)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def emit(self, event: Event) -> None:
        if self.closed:
            raise SinkClosedError("emit() on a closed MemorySink")
        self.events.append(event)

    def of_type(self, kind: str) -> list[Event]:
        """The events whose ``type`` is ``kind``."""
        return [e for e in self.events if e.type == kind]

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class JsonlSink:
    """Appends one JSON object per line to ``path``; ``close()`` fsyncs."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def emit(self, event: Event | Mapping[str, Any]) -> None:
        if self._fh.closed:
            raise SinkClosedError(f"emit() on a closed JsonlSink ({self.path})")
        self._fh.write(json.dumps(_as_dict(event), separators=(",", ":")) + "\n")

    def flush(self) -> None:
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


class TeeSink:
    """Sends every event to several sinks."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: uniform(0, min(cap, base * 2**n))."""

    base_s: float = 0.25
    cap_s: float = 30.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2.0 ** min(attempt, 62))))


@dataclass(frozen=True)
class HttpSinkConfig:
    """Tuning of :class:`HttpSink` (seconds and counts)."""

    batch_size: int = 100
    flush_interval_s: float = 2.0
    request_timeout_s: float = 5.0
    flush_timeout_s: float = 10.0  # how long one flush keeps retrying before leaving events queued
    backoff: Backoff = field(default_factory=Backoff)
    segment_max_bytes: int = 1 << 20


# --- the delivery flow ---------------------------------------------------------------


@dataclass(frozen=True)
class _Post:
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Reply:
    status: int | None  # None: no HTTP response (connection error, timeout)
    detail: str


_BAD_EVENTS = frozenset({422})
_Flow = Generator["_Post | _Sleep", "_Reply | None", None]


class HttpSink:
    """Batches events to ``POST url`` as ``{"events": [...]}``, spooled and retried.

    Args:
        url: the collector endpoint, e.g. ``http://127.0.0.1:8000/telemetry``.
        spool_dir: directory for the durable queue; ``None`` keeps it in memory.
        config: batch size, intervals, timeouts, backoff.
        client / async_client: httpx clients to use (owned by the caller);
            created on demand otherwise.
        clock: seconds, monotonic (deadlines); sleep / async_sleep: how to wait
            between retries; rng: jitter source. All injectable for tests.
        headers: extra request headers (e.g. an auth token).
    """

    def __init__(
        self,
        url: str,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        config: HttpSinkConfig | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.config = config or HttpSinkConfig()
        self.queue: Spool | MemoryQueue = (
            Spool(spool_dir, segment_max_bytes=self.config.segment_max_bytes)
            if spool_dir is not None
            else MemoryQueue()
        )
        self._client = client
        self._owns_client = client is None
        self._aclient = async_client
        self._owns_aclient = async_client is None
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._rng = rng or random.Random()
        self._headers = dict(headers or {})
        self._lock = threading.Lock()  # guards the queue (emit may come from another thread)
        self._alock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.last_error: str | None = None
        self.delivered = 0  # events acknowledged by this sink instance
        self.dead_lettered = 0

    # --- emit ------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Events queued and not yet acknowledged by the collector."""
        with self._lock:
            return len(self.queue)

    def emit(self, event: Event | Mapping[str, Any]) -> None:
        """Queue ``event`` durably; wakes the async flusher when a batch is ready."""
        if self._closed:
            raise SinkClosedError(f"emit() on a closed HttpSink ({self.url})")
        data = _as_dict(event)
        with self._lock:
            self.queue.append([data])
            ready = len(self.queue) >= self.config.batch_size
        if ready and self._wake is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._wake.set)

    # --- the flow --------------------------------------------------------------------
    def _flow(self, deadline: float) -> _Flow:
        attempt = 0
        while True:
            with self._lock:
                records = self.queue.read(self.config.batch_size)
            if not records:
                self.last_error = None
                return
            good: list[SpoolRecord] = []
            for record in records:
                if record.event is None:
                    with self._lock:
                        self.queue.dead_letter_raw(record.raw, record.error)
                    self.dead_lettered += 1
                else:
                    good.append(record)
            done, error = yield from self._send(good, 0, len(good))
            if error is None:
                self._ack(records[-1])
                attempt = 0
                continue
            if done:
                self._ack(good[done - 1])
            self.last_error = error
            delay = self.config.backoff.delay_s(attempt, self._rng)
            attempt += 1
            if self._clock() + delay > deadline:
                return
            yield _Sleep(delay)

    def _ack(self, record: SpoolRecord) -> None:
        with self._lock:
            self.queue.ack(record.end)

    def _send(
        self, records: Sequence[SpoolRecord], lo: int, hi: int
    ) -> Generator[_Post | _Sleep, _Reply | None, tuple[int, str | None]]:
        """POST records[lo:hi]; returns (how many from 0 are done, error or None)."""
        if lo >= hi:
            return hi, None
        reply = yield _Post([r.event for r in records[lo:hi] if r.event is not None])
        assert reply is not None
        status = reply.status
        if status is not None and 200 <= status < 300:
            self.delivered += hi - lo
            return hi, None
        if status == 413 or status in _BAD_EVENTS:
            if hi - lo == 1:
                event = records[lo].event
                assert event is not None
                reason = f"collector answered {status}: {reply.detail}".strip()
                with self._lock:
                    self.queue.dead_letter(event, reason)
                self.dead_lettered += 1
                return hi, None
            mid = (lo + hi) // 2
            done, error = yield from self._send(records, lo, mid)
            if error is not None:
                return done, error
            return (yield from self._send(records, mid, hi))
        what = f"HTTP {status}" if status is not None else "no response"
        return lo, f"POST {self.url}: {what}: {reply.detail}".strip()

    # --- sync driver -----------------------------------------------------------------
    def flush(self, timeout_s: float | None = None) -> int:
        """Deliver queued events, retrying until ``timeout_s`` (default: config).

        Returns how many events are still queued (0 when all were delivered).
        Never raises for a collector outage: see ``last_error``.
        """
        deadline = self._clock() + (self.config.flush_timeout_s if timeout_s is None else timeout_s)
        flow = self._flow(deadline)
        reply: _Reply | None = None
        while True:
            try:
                step = flow.send(reply)
            except StopIteration:
                break
            if isinstance(step, _Sleep):
                self._sleep(step.seconds)
                reply = None
            else:
                reply = self._post_sync(step.events)
        return self.pending

    def _post_sync(self, events: list[dict[str, Any]]) -> _Reply:
        if self._client is None:
            self._client = httpx.Client(timeout=self.config.request_timeout_s)
        try:
            response = self._client.post(self.url, json={"events": events}, headers=self._headers)
        except httpx.HTTPError as exc:
            return _Reply(None, f"{type(exc).__name__}: {exc}")
        return _Reply(response.status_code, _detail(response.text))

    def close(self, timeout_s: float | None = None) -> int:
        """Final flush, then release the spool and owned client; returns events left queued."""
        if self._closed:
            return self.pending
        left = self.flush(timeout_s)
        self._closed = True
        with self._lock:
            self.queue.close()
        if self._owns_client and self._client is not None:
            self._client.close()
        return left

    def __enter__(self) -> HttpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- async driver ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the background flusher task on the running loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"HttpSink({self.url})")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.aflush()

    async def aflush(self, timeout_s: float | None = None) -> int:
        """Async twin of :meth:`flush`."""
        if self._alock is None:
            self._alock = asyncio.Lock()
        async with self._alock:
            deadline = self._clock() + (
                self.config.flush_timeout_s if timeout_s is None else timeout_s
            )
            flow = self._flow(deadline)
            reply: _Reply | None = None
            while True:
                try:
                    step = flow.send(reply)
                except StopIteration:
                    break
                if isinstance(step, _Sleep):
                    await self._async_sleep(step.seconds)
                    reply = None
                else:
                    reply = await self._post_async(step.events)
        return self.pending

    async def _post_async(self, events: list[dict[str, Any]]) -> _Reply:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.config.request_timeout_s)
        try:
            response = await self._aclient.post(
                self.url, json={"events": events}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            return _Reply(None, f"{type(exc).__name__}: {exc}")
        return _Reply(response.status_code, _detail(response.text))

    async def aclose(self, timeout_s: float | None = None) -> int:
        """Stop the flusher task, final flush, release resources; returns events left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._closed:
            return self.pending
        left = await self.aflush(timeout_s)
        self._closed = True
        with self._lock:
            self.queue.close()
        if self._owns_aclient and self._aclient is not None:
            await self._aclient.aclose()
        if self._owns_client and self._client is not None:
            self._client.close()
        return left

    async def __aenter__(self) -> HttpSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _detail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
