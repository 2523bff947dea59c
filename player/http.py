"""HTTP client construction shared by the player's drivers.

``httpx.AsyncClient()`` builds a fresh SSL context and loads the CA bundle
each time (~0.1 s of CPU on a small machine), synchronously on the event
loop, even for plain-HTTP loopback URLs. A player opens several clients per
session (control plane, segments, resume reports), so that cost showed up
as most of the time spent in ``Player.open`` (benchmarks/results/playback.md).
One verified context per process, built on first use, removes it.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The process-wide default (certificate-verifying) SSL context."""
    return ssl.create_default_context()


def async_client(**kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` using the shared SSL context unless ``verify`` is given."""
    kwargs.setdefault("verify", shared_ssl_context())
    return httpx.AsyncClient(**kwargs)
