"""Telemetry collection: batch validation and durable SQLite storage.

A batch is ``{"events": [event, ...]}``; each event is an object with

======================  ==========================================================
``id``                  string, 1-128 chars, unique per event (idempotency key)
``session_id``          string, 1-128 chars (the grant's ``session_id``)
``type``                string ``[a-z][a-z0-9_.]{0,63}``
``ts``                  number, Unix seconds (client clock)
``title``               optional string; else taken from the grant's session
======================  ==========================================================

plus, for the types QoE uses (numbers, all >= 0):

- ``startup``: ``startup_s``
- ``stall``: ``seconds``; or ``stall_end``: ``stall_s`` (telemetry.events)
- ``heartbeat`` and ``summary``: ``bitrate_bps``, ``played_s``, ``rebuffer_s``
  (cumulative for the session so far)
- ``session_end``: optional ``qoe`` object (telemetry.qoe.QoeSummary.to_dict:
  ``played_s``, ``rebuffer_s``, ``average_bitrate_bps`` are used when numbers)
- ``failover``: optional ``from_pathway``, ``to_pathway`` (strings)

Other types are stored as they are. A batch is validated completely before
anything is written; it is stored in one transaction with ``INSERT OR
IGNORE`` on the event id, so duplicates (across or within batches) are
stored once and a rejected batch stores nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import ServerError

__all__ = ["BatchError", "BatchTooLarge", "TelemetryStore", "validate_batch"]

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
REQUIRED_NUMBERS: dict[str, tuple[str, ...]] = {
    "startup": ("startup_s",),
    "stall": ("seconds",),
    "stall_end": ("stall_s",),
    "heartbeat": ("bitrate_bps", "played_s", "rebuffer_s"),
    "summary": ("bitrate_bps", "played_s", "rebuffer_s"),
    "failover": (),
}
MAX_ERRORS = 20


class BatchError(ServerError):
    """A telemetry batch is malformed; ``errors`` lists (where, what)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        where, what = errors[0]
        super().__init__(f"{where}: {what}")


def _is_num(v: Any) -> bool:
    return (
        isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
    )


def _check_event(i: int, ev: Any, errors: list[tuple[str, str]]) -> None:
    at = f"events[{i}]"
    if not isinstance(ev, dict):
        errors.append((at, f"expected an object, got {type(ev).__name__}"))
        return
    for key in ("id", "session_id"):
        v = ev.get(key)
        if not isinstance(v, str) or not 1 <= len(v) <= 128:
            errors.append((f"{at}.{key}", "required string of 1-128 characters"))
    t = ev.get("type")
    if not isinstance(t, str) or not _TYPE_RE.match(t):
        errors.append((f"{at}.type", "required string matching [a-z][a-z0-9_.]{0,63}"))
        t = None
    if not _is_num(ev.get("ts")):
        errors.append((f"{at}.ts", "required number (Unix seconds)"))
    if "title" in ev and (not isinstance(ev["title"], str) or not ev["title"]):
        errors.append((f"{at}.title", "must be a non-empty string when present"))
    for key in REQUIRED_NUMBERS.get(t or "", ()):
        v = ev.get(key)
        if not (_is_num(v) and v is not None and v >= 0):
            errors.append((f"{at}.{key}", f"required number >= 0 for type {t!r}"))
    if t == "session_end" and "qoe" in ev and not isinstance(ev["qoe"], dict):
        errors.append((f"{at}.qoe", "must be an object when present"))
    if t == "failover":
        for key in ("from_pathway", "to_pathway"):
            if key in ev and not isinstance(ev[key], str):
                errors.append((f"{at}.{key}", "must be a string when present"))


def validate_batch(body: Any, *, max_events: int) -> list[dict[str, Any]]:
    """The events of a valid batch; raises :class:`BatchError` listing problems."""
    if not isinstance(body, dict):
        raise BatchError([("body", 'expected a JSON object {"events": [...]}')])
    events = body.get("events")
    if not isinstance(events, list):
        raise BatchError([("events", "required list of event objects")])
    if not events:
        raise BatchError([("events", "empty batch")])
    if len(events) > max_events:
        raise BatchTooLarge([("events", f"{len(events)} events exceeds the limit of {max_events}")])
    errors: list[tuple[str, str]] = []
    for i, ev in enumerate(events):
        _check_event(i, ev, errors)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise BatchError(errors)
    return events


class BatchTooLarge(BatchError):
    """A batch holds more events than the configured limit."""


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    title TEXT,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_title_type ON events(title, type);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    account TEXT NOT NULL,
    country TEXT NOT NULL,
    device_class TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class TelemetryStore:
    """Events and grant sessions in one SQLite file (WAL). Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._lock = threading.Lock()
        self._conn.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record_session(
        self, session_id: str, title: str, account: str, country: str, device_class: str, now: float
    ) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, title, account, country, device_class, now),
            )

    def store(self, events: list[dict[str, Any]], *, now: float) -> StoreResult:
        stored = 0
        with self._tx() as c:
            titles: dict[str, str | None] = {}
            for ev in events:
                title = ev.get("title")
                if title is None:
                    sid = ev["session_id"]
                    if sid not in titles:
                        row = c.execute(
                            "SELECT title FROM sessions WHERE session_id = ?", (sid,)
                        ).fetchone()
                        titles[sid] = row[0] if row else None
                    title = titles[sid]
                cur = c.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        ev["id"],
                        ev["session_id"],
                        ev["type"],
                        float(ev["ts"]),
                        title,
                        json.dumps(ev, separators=(",", ":")),
                        now,
                    ),
                )
                stored += cur.rowcount
        return StoreResult(stored, len(events) - stored)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def events(self, title: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(title, session_id, type, payload) of the event types QoE uses."""
        q = (
            "SELECT title, session_id, type, payload FROM events WHERE type IN "
            "('startup','stall','stall_end','heartbeat','summary','session_end','failover')"
        )
        args: tuple[Any, ...] = ()
        if title is not None:
            q += " AND title = ?"
            args = (title,)
        q += " ORDER BY ts"
        with self._lock:
            rows = self._conn.execute(q, args).fetchall()
        return [(r[0] or "unknown", r[1], r[2], json.loads(r[3])) for r in rows]
