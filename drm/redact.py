"""Keep key material out of logs, telemetry and error messages.

:func:`key_forms` lists every textual form a 16-byte key commonly takes (hex
lower/upper, base64, base64url, with and without padding);
:func:`redact` replaces them in a string; :class:`RedactingFilter` is a
:class:`logging.Filter` that scrubs records of every registered key and of
JWK ``"k"`` members, as a second line of defence (the code never logs keys).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["REDACTED", "RedactingFilter", "contains_key_material", "key_forms", "redact"]

REDACTED = "[redacted]"
_JWK_K = re.compile(r'("k"\s*:\s*")[^"]*(")')


def key_forms(key: bytes) -> set[str]:
    """The textual forms of ``key`` to look for / scrub (all at least 16 characters)."""
    std = base64.b64encode(key).decode("ascii")
    url = base64.urlsafe_b64encode(key).decode("ascii")
    return {key.hex(), key.hex().upper(), std, std.rstrip("="), url, url.rstrip("=")}


def redact(text: str, keys: Iterable[bytes] = ()) -> str:
    """``text`` with every form of ``keys`` and every JWK ``"k"`` value replaced."""
    for key in keys:
        for form in sorted(key_forms(key), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    return _JWK_K.sub(rf"\g<1>{REDACTED}\g<2>", text)


def contains_key_material(text: str, keys: Iterable[bytes]) -> bool:
    """True if any form of any of ``keys`` occurs in ``text`` (hex case-insensitively)."""
    low = text.lower()
    return any(key.hex() in low or any(f in text for f in key_forms(key)) for key in keys)


class RedactingFilter(logging.Filter):
    """Scrubs registered keys (and JWK ``"k"`` values) from log records.

    Attach to handlers (``handler.addFilter(f)``) so records of every logger
    pass through it; :meth:`add_key` registers a key as soon as it is known.
    """

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._keys: set[bytes] = set(keys)

    def add_key(self, key: bytes) -> None:
        with self._lock:
            self._keys.add(bytes(key))

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            keys = tuple(self._keys)
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        clean = redact(message, keys)
        if clean != message:
            record.msg, record.args = clean, None
        return True
