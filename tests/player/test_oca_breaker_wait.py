"""OcaPool with every breaker closed to a request: wait (bounded) for a probe, never give
up untried. Regression for "all edges failed after 0 attempt(s): circuit open"."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from player.breaker import BreakerConfig, BreakerState
from player.oca import OcaConfig, OcaExhausted, OcaPool, Pathway
from player.retry import RetryPolicy
from player.transport import ConnectError, FetchResult, MockTransport
from tests.support import FakeTime

EDGES = [Pathway("a", "http://a.test/"), Pathway("b", "http://b.test/")]


def fake_time() -> FakeTime:
    """Starts at 100 s; each sleep lets the other requests' tasks run."""
    return FakeTime(100.0, yield_to_loop=True)


def pool_of(transport: Any, fake: FakeTime, *, cooldown_s: float, deadline_s: float,
            breaker_wait_s: float = 10.0, edges: list[Pathway] = EDGES) -> OcaPool:
    config = OcaConfig(
        timeout_s=2.0, stall_timeout_s=0.5,
        retry=RetryPolicy(max_attempts=3, base_s=0.1, cap_s=0.4, deadline_s=deadline_s),
        breaker=BreakerConfig(failure_threshold=1, cooldown_s=cooldown_s),
        breaker_wait_s=breaker_wait_s,
    )
    return OcaPool(edges, transport, config=config, clock=fake, sleep=fake.sleep,
                   rng=random.Random(3))


def test_stale_open_breakers_are_waited_for_and_probed() -> None:
    """Breakers opened by an earlier request, cool-down longer than the request's
    deadline: the next request waits for the first half-open time and probes."""
    up = {"v": False}
    fake = fake_time()
    t = MockTransport(lambda req: b"back" if up["v"] else ConnectError("refused", url=req.url))
    pool = pool_of(t, fake, cooldown_s=8.0, deadline_s=2.0)
    with pytest.raises(OcaExhausted):
        asyncio.run(pool.fetch("s.m4s"))
    assert {b.state for b in pool.breakers.values()} == {BreakerState.OPEN}
    up["v"] = True
    t.requests.clear()
    start = fake.now
    res = asyncio.run(pool.fetch("s.m4s"))
    assert res.data == b"back" and res.attempts == 1
    assert 7.0 <= fake.now - start <= 8.0 + 1e-9  # waited for the half-open time, no longer
    assert len(t.requests) == 1


def second_request_to_dead_edges(**kw: float) -> tuple[OcaExhausted, MockTransport, float]:
    """Every edge refuses: a first request opens every breaker; the second one's error,
    its transport requests and the fake time it took."""
    fake = fake_time()
    t = MockTransport(lambda req: ConnectError("refused", url=req.url))
    pool = pool_of(t, fake, deadline_s=2.0, **kw)
    with pytest.raises(OcaExhausted):
        asyncio.run(pool.fetch("s.m4s"))
    t.requests.clear()
    start = fake.now
    with pytest.raises(OcaExhausted) as info:
        asyncio.run(pool.fetch("s.m4s"))
    return info.value, t, fake.now - start


def test_stale_open_breakers_past_the_wait_bound_fail_without_waiting() -> None:
    err, t, took = second_request_to_dead_edges(cooldown_s=30.0, breaker_wait_s=5.0)
    assert t.requests == [] and took == 0
    assert err.attempts == 0 and set(err.errors.values()) == {"circuit open"}


def test_a_failed_probe_after_the_wait_ends_the_request() -> None:
    """Bounded: one wait for the half-open time, one probe, then the usual deadline."""
    err, t, took = second_request_to_dead_edges(cooldown_s=8.0)
    assert err.attempts >= 1 and "refused" in str(err) and t.requests
    assert took <= 8.0 + 2.0


class GatedTransport:
    """Edge "a" answers once ``gate`` is set; every other URL is refused."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.urls: list[str] = []

    async def fetch(self, url: str, **_: Any) -> FetchResult:
        self.urls.append(url)
        if "a.test" not in url:
            raise ConnectError("refused", url=url)
        await self.gate.wait()
        return FetchResult(url=url, status=200, data=b"seg", elapsed_s=0.1, ttfb_s=0.05)


def test_a_request_waits_for_another_requests_half_open_probe() -> None:
    """Two requests at once, one edge half-open: the second must not burn its passes
    while the first one's probe is in flight and give up after 0 attempts."""
    fake = fake_time()
    t = GatedTransport()
    pool = pool_of(t, fake, cooldown_s=1.0, deadline_s=2.0, edges=EDGES[:1])
    pool.breakers["a"].record_failure()  # open from an earlier request
    fake.now += 1.0  # half-open now

    async def main() -> tuple[Any, Any]:
        first = asyncio.ensure_future(pool.fetch("v.m4s"))
        await asyncio.sleep(0)  # the first request takes the probe
        second = asyncio.ensure_future(pool.fetch("a.m4s"))
        while len(fake.sleeps) < 40 and not second.done():  # a slow probe: 40 polls
            await asyncio.sleep(0)
        t.gate.set()
        return await first, await second

    first, second = asyncio.run(main())
    assert first.data == b"seg" and second.data == b"seg"
    assert second.attempts == 1
    assert pool.breakers["a"].state is BreakerState.CLOSED


def test_a_poll_for_a_probe_in_flight_is_bounded() -> None:
    fake = fake_time()
    t = GatedTransport()  # the gate never opens: the probe hangs
    pool = pool_of(t, fake, cooldown_s=1.0, deadline_s=2.0, breaker_wait_s=3.0,
                   edges=EDGES[:1])
    pool.breakers["a"].record_failure()
    fake.now += 1.0

    async def main() -> BaseException:
        first = asyncio.ensure_future(pool.fetch("v.m4s"))
        await asyncio.sleep(0)
        with pytest.raises(OcaExhausted) as info:
            await pool.fetch("a.m4s")
        first.cancel()
        return info.value

    err = asyncio.run(main())
    assert isinstance(err, OcaExhausted) and err.attempts == 0
    assert 2.9 <= sum(fake.sleeps) <= 3.0 + 1e-9
