"""Resume positions per (account, title), in the control plane's SQLite file."""

from __future__ import annotations

import threading
from pathlib import Path

from server.control.telemetry_store import connect

__all__ = ["ProgressStore"]


class ProgressStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS progress (account TEXT NOT NULL, title TEXT NOT NULL, "
            "position_s REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (account, title))"
        )

    def put(self, account: str, title: str, position_s: float, now: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO progress VALUES (?, ?, ?, ?) ON CONFLICT(account, title) "
                "DO UPDATE SET position_s = excluded.position_s, updated_at = excluded.updated_at",
                (account, title, position_s, now),
            )

    def get(self, account: str, title: str) -> tuple[float, float] | None:
        """(position_s, updated_at) or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT position_s, updated_at FROM progress WHERE account = ? AND title = ?",
                (account, title),
            ).fetchone()
        return (float(row[0]), float(row[1])) if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
