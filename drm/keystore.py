"""The server-side key store: one random 16-byte content key and KID per title
(or per title and track), kept in one JSON file readable by its owner only.

The file (``abrkit-keystore/1``) is created with mode 0600 and rewritten
atomically under an exclusive lock; a file readable by group or others is
refused, and so is a store inside the content directory that edges serve.
Nothing here logs, and :class:`ContentKey`'s ``repr`` hides the key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KeyStoreError

__all__ = ["ContentKey", "KeyStore", "default_key_store_path"]

FORMAT = "abrkit-keystore/1"
_HEX = frozenset("0123456789abcdef")


def default_key_store_path() -> Path:
    """``$ABRKIT_KEY_STORE``, else ``$ABRKIT_CACHE/keys/keystore.json``, else
    ``~/.cache/abrkit/keys/keystore.json``."""
    env = os.environ.get("ABRKIT_KEY_STORE")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("ABRKIT_CACHE")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache" / "abrkit"
    return base / "keys" / "keystore.json"


@dataclass(frozen=True, slots=True)
class ContentKey:
    """A content key: ``kid`` and ``key`` are 16 bytes each; ``track`` is None for a
    title-wide key. The key is left out of ``repr``."""

    title: str
    kid: bytes
    key: bytes = field(repr=False)
    track: str | None = None
    scheme: str = "cenc"  # "cenc" | "aes-128"

    @property
    def kid_hex(self) -> str:
        return self.kid.hex()


def _is_hex16(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and set(value) <= _HEX


class KeyStore:
    """A key-store file. ``forbid_under`` (e.g. the content directory) is a
    directory the file must not be inside."""

    def __init__(self, path: Path | str, *, forbid_under: Path | str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        if forbid_under is not None:
            root = Path(forbid_under).expanduser().resolve()
            if self.path == root or root in self.path.parents:
                raise KeyStoreError(
                    f"key store {self.path} is inside the content directory {root}; "
                    "keys must never be served"
                )
        self._cache: tuple[float, int, tuple[ContentKey, ...]] | None = None

    # ----- reading ------------------------------------------------------
    def keys(self) -> tuple[ContentKey, ...]:
        """Every key in the file (re-read when the file changed); () if there is none."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return ()
        except OSError as exc:
            raise KeyStoreError(f"key store {self.path}: {exc.strerror}") from None
        if self._cache is not None and self._cache[:2] == (st.st_mtime, st.st_size):
            return self._cache[2]
        keys = self._parse(st)
        self._cache = (st.st_mtime, st.st_size, keys)
        return keys

    def _parse(self, st: os.stat_result) -> tuple[ContentKey, ...]:
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise KeyStoreError(
                f"key store {self.path} is readable by others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); it must be 0600"
            )
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"key store {self.path}: not readable JSON ({type(exc).__name__})"
                                ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyStoreError(f"key store {self.path}: format is not {FORMAT!r}")
        out = []
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise KeyStoreError(f"key store {self.path}: 'keys' is not a list")
        for i, e in enumerate(entries):
            if not (isinstance(e, dict) and isinstance(e.get("title"), str)
                    and _is_hex16(e.get("kid")) and _is_hex16(e.get("key"))):
                raise KeyStoreError(f"key store {self.path}: keys[{i}] is malformed")
            track = e.get("track")
            out.append(ContentKey(e["title"], bytes.fromhex(e["kid"]), bytes.fromhex(e["key"]),
                                  track if isinstance(track, str) else None,
                                  str(e.get("scheme", "cenc"))))
        return tuple(out)

    def find(self, kid: bytes | str) -> ContentKey | None:
        """The key with this KID (bytes or hex), or None."""
        k = bytes.fromhex(kid) if isinstance(kid, str) else kid
        return next((c for c in self.keys() if c.kid == k), None)

    def for_title(self, title: str) -> tuple[ContentKey, ...]:
        return tuple(c for c in self.keys() if c.title == title)

    # ----- writing ------------------------------------------------------
    def get_or_create(self, title: str, *, track: str | None = None,
                      scheme: str = "cenc") -> ContentKey:
        """The key of ``title`` (and ``track``) for ``scheme``; a new random key and KID
        is generated and stored the first time."""
        with self._locked():
            keys = list(self.keys())
            for c in keys:
                if c.title == title and c.track == track and c.scheme == scheme:
                    return c
            new = ContentKey(title, secrets.token_bytes(16), secrets.token_bytes(16), track, scheme)
            self._write(keys + [new])
            return new

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._cache = None
            yield
        finally:
            os.close(fd)

    def _write(self, keys: list[ContentKey]) -> None:
        body = {
            "format": FORMAT,
            "keys": [
                {"title": c.title, "track": c.track, "scheme": c.scheme,
                 "kid": c.kid.hex(), "key": c.key.hex()}
                for c in keys
            ],
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(body, f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path)
        self._cache = None
