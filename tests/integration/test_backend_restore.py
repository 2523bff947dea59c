"""The shared backend between tests: an edge an earlier test took down and brought back
must be in the next test's grant (regression: the stalled-edge failover test got a
one-edge grant after the edge-down tests and had nowhere to fail over to)."""

from __future__ import annotations

import time

import httpx
import pytest

from player.config import GrantRequest
from server.runner import Backend

from .conftest import TITLE, restore

pytestmark = pytest.mark.integration


def _grant_edges(backend: Backend) -> list[str]:
    r = httpx.post(backend.grant_url(TITLE), json=GrantRequest().body(), timeout=10)
    r.raise_for_status()
    return sorted(p["id"] for p in r.json()["pathways"])


def test_restore_waits_until_the_grant_lists_every_edge(backend: Backend) -> None:
    edge = backend.edges[0]
    monitor = backend.control_plane.monitor
    edge.down()
    polls, deadline = monitor.polls, time.monotonic() + 15.0
    while monitor.polls < polls + 2 and time.monotonic() < deadline:  # seen down
        time.sleep(0.02)
    assert edge.name not in _grant_edges(backend)
    edge.up()  # back, as an earlier test's teardown would leave it
    restore(backend)
    assert _grant_edges(backend) == sorted(e.name for e in backend.edges)
