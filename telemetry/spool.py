"""A durable, append-only on-disk queue of event dicts for the HTTP sink.

Layout of a spool directory::

    seg-00000001.jsonl   append-only JSON Lines segments, fsync'd on every append
    seg-00000002.jsonl   (a new one when the current passes ``segment_max_bytes``)
    ack.json             {"segment": n, "offset": bytes}: everything before this
                         position is acknowledged by the collector; written to a
                         temporary file, fsync'd and renamed over (atomic)
    dead-letter.jsonl    events the collector rejected for good, with the reason

Positions are ``(segment, offset)`` pairs in append order; ``ack()`` only moves
forward, and segments entirely before the ack position are deleted. A new
``Spool`` on the same directory (say after a player restart) starts reading at
the ack position, so anything not acknowledged is read again: nothing is lost,
and the collector's dedup by event id turns "at least once" into "once".

A line cut short by a crash (no trailing newline) is discarded on open; a line
that is not valid JSON is moved to the dead-letter file. One process per spool
directory (there is no cross-process lock).

:class:`MemoryQueue` has the same interface without the disk, for a sink with
no spool directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telemetry.events import TelemetryError

__all__ = ["Position", "SpoolRecord", "Spool", "MemoryQueue", "SpoolError"]

_SEGMENT_RE = re.compile(r"^seg-(\d{8})\.jsonl$")
ACK_FILE = "ack.json"
DEAD_LETTER_FILE = "dead-letter.jsonl"


class SpoolError(TelemetryError):
    """The spool directory cannot be used (unreadable marker, I/O failure)."""


@dataclass(frozen=True, order=True)
class Position:
    """A point in the spool: byte ``offset`` within segment number ``segment``."""

    segment: int
    offset: int


@dataclass(frozen=True)
class SpoolRecord:
    """One queued event dict and the position just after it (ack up to ``end``).

    A line that is not a JSON object comes back with ``event=None``, its text in
    ``raw`` and the problem in ``error``: the reader should dead-letter it.
    """

    event: dict[str, Any] | None
    end: Position
    raw: str = ""
    error: str = ""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class Spool:
    """Append-only JSONL segments with an atomically written ack marker."""

    def __init__(
        self, directory: str | os.PathLike[str], *, segment_max_bytes: int = 1 << 20
    ) -> None:
        self.directory = Path(directory)
        self.segment_max_bytes = segment_max_bytes
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {self.directory}: {exc}") from exc
        self._ack = self._load_ack()
        segments = self._segments()
        self._write_segment = segments[-1] if segments else self._ack.segment + 1
        if segments:
            self._repair_tail(segments[-1])
        self._file = open(self._path(self._write_segment), "ab")  # noqa: SIM115
        self._pending = self._count_pending()

    # --- paths and markers ----------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"seg-{segment:08d}.jsonl"

    def _segments(self) -> list[int]:
        out = []
        for entry in os.listdir(self.directory):
            m = _SEGMENT_RE.match(entry)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _load_ack(self) -> Position:
        path = self.directory / ACK_FILE
        if not path.exists():
            return Position(0, 0)
        try:
            data = json.loads(path.read_text("utf-8"))
            pos = Position(int(data["segment"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"unreadable ack marker {path}: {exc}") from exc
        return pos

    def _repair_tail(self, segment: int) -> None:
        """Drop a trailing partial line left by a crash in the middle of a write."""
        path = self._path(segment)
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(path, "r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def _count_pending(self) -> int:
        total = 0
        for segment in self._segments():
            if segment < self._ack.segment:
                continue
            try:
                data = self._path(segment).read_bytes()
            except FileNotFoundError:
                continue
            start = self._ack.offset if segment == self._ack.segment else 0
            total += data.count(b"\n", start)
        return total

    # --- public API -----------------------------------------------------------------
    @property
    def acked(self) -> Position:
        """Everything before this position has been acknowledged."""
        return self._ack

    def __len__(self) -> int:
        """How many records are not yet acknowledged."""
        return self._pending

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Append event dicts (one JSON line each), flush and fsync; returns how many."""
        lines = [
            json.dumps(dict(e), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            + b"\n"
            for e in events
        ]
        if not lines:
            return 0
        try:
            if self._file.tell() > 0 and self._file.tell() >= self.segment_max_bytes:
                self._rotate()
            self._file.write(b"".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise SpoolError(f"cannot append to spool {self.directory}: {exc}") from exc
        self._pending += len(lines)
        return len(lines)

    def _rotate(self) -> None:
        self._file.close()
        self._write_segment += 1
        self._file = open(self._path(self._write_segment), "ab")  # noqa: SIM115
        _fsync_dir(self.directory)

    def read(self, max_records: int, start: Position | None = None) -> list[SpoolRecord]:
        """Up to ``max_records`` unacknowledged records from ``start`` (default: the ack)."""
        out: list[SpoolRecord] = []
        if max_records <= 0:
            return out
        for record in self._iter_from(start or self._ack):
            out.append(record)
            if len(out) >= max_records:
                break
        return out

    def _iter_from(self, start: Position) -> Iterable[SpoolRecord]:
        for segment in self._segments():
            if segment < start.segment:
                continue
            offset = start.offset if segment == start.segment else 0
            path = self._path(segment)
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    for line in fh:
                        offset += len(line)
                        if not line.endswith(b"\n"):
                            break  # being written right now; not complete yet
                        end = Position(segment, offset)
                        try:
                            event = json.loads(line)
                            if not isinstance(event, dict):
                                raise ValueError("not a JSON object")
                        except ValueError as exc:
                            text = line.decode("utf-8", "replace").rstrip("\n")
                            yield SpoolRecord(None, end, text, f"corrupt spool line: {exc}")
                            continue
                        yield SpoolRecord(event, end)
            except FileNotFoundError:
                continue

    def ack(self, position: Position) -> None:
        """Mark everything before ``position`` delivered (atomic write; never moves back)."""
        if position <= self._ack:
            return
        tmp = self.directory / (ACK_FILE + ".tmp")
        payload = json.dumps({"segment": position.segment, "offset": position.offset})
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / ACK_FILE)
            _fsync_dir(self.directory)
        except OSError as exc:
            raise SpoolError(f"cannot write ack marker in {self.directory}: {exc}") from exc
        self._ack = position
        self._pending = self._count_pending()
        for segment in self._segments():
            if segment < position.segment and segment != self._write_segment:
                with contextlib.suppress(OSError):  # best effort cleanup
                    self._path(segment).unlink()

    def dead_letter(self, event: Mapping[str, Any], reason: str) -> None:
        """Park an event the collector rejected, with the reason, in dead-letter.jsonl."""
        line = json.dumps({"reason": reason, "event": dict(event)}, ensure_ascii=False)
        self._append_dead_letter(line.encode("utf-8") + b"\n")

    def dead_letter_raw(self, raw: str, reason: str) -> None:
        """Park an unparseable spool line, with the reason."""
        line = json.dumps({"reason": reason, "raw": raw}, ensure_ascii=False)
        self._append_dead_letter(line.encode("utf-8") + b"\n")

    def _append_dead_letter(self, line: bytes) -> None:
        try:
            with open(self.directory / DEAD_LETTER_FILE, "ab") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise SpoolError(f"cannot write dead letter in {self.directory}: {exc}") from exc

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything parked in the dead-letter file (for inspection and tests)."""
        path = self.directory / DEAD_LETTER_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def close(self) -> None:
        """Flush and close the current segment (appends are already fsync'd)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


class MemoryQueue:
    """The Spool interface kept in memory (nothing survives a restart)."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._base = 0  # absolute index of self._records[0]
        self._dead: list[dict[str, Any]] = []

    @property
    def acked(self) -> Position:
        return Position(0, self._base)

    def __len__(self) -> int:
        return len(self._records)

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        before = len(self._records)
        self._records.extend(dict(e) for e in events)
        return len(self._records) - before

    def read(self, max_records: int, start: Position | None = None) -> list[SpoolRecord]:
        first = (start.offset if start else self._base) - self._base
        first = max(first, 0)
        chunk = self._records[first : first + max(max_records, 0)]
        return [
            SpoolRecord(e, Position(0, self._base + first + i + 1)) for i, e in enumerate(chunk)
        ]

    def ack(self, position: Position) -> None:
        drop = position.offset - self._base
        if drop > 0:
            del self._records[:drop]
            self._base = position.offset

    def dead_letter(self, event: Mapping[str, Any], reason: str) -> None:
        self._dead.append({"reason": reason, "event": dict(event)})

    def dead_letter_raw(self, raw: str, reason: str) -> None:
        self._dead.append({"reason": reason, "raw": raw})

    def dead_letters(self) -> list[dict[str, Any]]:
        return list(self._dead)

    def close(self) -> None:
        pass
