"""Errors of the reference server (``server``).

One root, one branch per component::

    ServerError                 anything the reference server raises on purpose
     └── PackagerError          bad packaging input or a failed encode
                                (missing/undecodable source, bad ladder spec,
                                segment length <= 0, ...)

Other components (control plane, edges) add their branches under
:class:`ServerError`. Messages say what was wrong and where (path, option).
"""

from __future__ import annotations

__all__ = ["PackagerError", "ServerError"]


class ServerError(Exception):
    """Root of every error the reference server raises on purpose."""


class PackagerError(ServerError):
    """The packager could not package a source: bad input or a failed encode.

    ``where`` names the file or option at fault when known.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
