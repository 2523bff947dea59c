"""Errors raised by the manifest package.

    ManifestError                 root: anything wrong with a manifest
     ├── ManifestSyntaxError      not parseable at all (bad XML, no #EXTM3U, empty)
     ├── ManifestValueError       a required value missing or unparseable
     └── UnsupportedManifestError well-formed but uses something abrkit cannot play

Every message says what was wrong and where: a line number for HLS, an
element/attribute path for DASH, and the manifest's URL when it is known.
"""

from __future__ import annotations


class ManifestError(Exception):
    """Root of every error the manifest package raises."""

    def __init__(self, message: str, *, where: str | None = None, url: str | None = None) -> None:
        self.message = message
        self.where = where
        self.url = url
        parts = [message]
        if where:
            parts.append(f"at {where}")
        if url:
            parts.append(f"in {url}")
        super().__init__(" ".join(parts))


class ManifestSyntaxError(ManifestError):
    """The text is not a manifest at all (not XML, wrong root, no #EXTM3U, empty)."""


class ManifestValueError(ManifestError):
    """A required value is missing or cannot be parsed."""


class UnsupportedManifestError(ManifestError):
    """The manifest is well formed but uses a feature abrkit does not support."""
