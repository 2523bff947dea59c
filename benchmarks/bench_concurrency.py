"""Concurrent headless sessions (decode off, speed 1) one client process sustains.

    python -m benchmarks.bench_concurrency [--ns 1,2,4,8,16,32,64] [--startup-bound 2.0]
                                           [--content DIR --title NAME] [--json FILE]

The reference backend (control plane + 3 edges) runs in a *separate process*
(:func:`spawn_backend`), so the CPU figures are the client's alone. For each N,
N ``Player`` sessions (``decode.enabled=False``, speed 1, steering on, CMCD
query, no collector, no resume) are opened together in one asyncio loop; the
step passes when every session ends normally with zero stalls and each
session's startup (press-play to playback start, the engine's QoE
``startup_s``, plus ``open()``) is under ``--startup-bound`` seconds. The ramp
stops at the first failing N. Client CPU is ``time.process_time()`` (user +
system, all threads) over the step, divided by its wall time.

Also hosts :func:`spawn_backend` (used by the other playback benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import loadavg, machine

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

_BACKEND_CODE = r"""
import json, sys, signal, threading
from server.runner import start_backend
b = start_backend(sys.argv[1], edges=int(sys.argv[2]), steering_ttl_s=float(sys.argv[3]))
print(json.dumps({"control": b.control_url, "edges": b.edge_urls}), flush=True)
ev = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: ev.set())
try:
    sys.stdin.read()          # until the parent closes our stdin (or dies)
finally:
    b.close()
"""


class BackendProc:
    """The reference backend in a child process; ``close()`` stops it."""

    def __init__(self, content: Path, edges: int = 3, steering_ttl_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [PY, "-c", _BACKEND_CODE, str(content), str(edges), str(steering_ttl_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT), text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("backend process did not start")
        info = json.loads(line)
        self.control_url: str = info["control"]
        self.edge_urls: dict[str, str] = info["edges"]

    def grant_url(self, title: str) -> str:
        return f"{self.control_url}/playback/{title}"

    def set_faults(self, edge: str, faults: dict[str, Any]) -> None:
        import httpx

        r = httpx.post(f"{self.edge_urls[edge]}/admin/faults", json=faults, timeout=10)
        r.raise_for_status()

    def clear_faults(self, edge: str) -> None:
        import httpx

        httpx.delete(f"{self.edge_urls[edge]}/admin/faults", timeout=10).raise_for_status()

    def cpu_s(self) -> float:
        """User + system CPU seconds of the backend process so far (Linux /proc)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(5)

    def __enter__(self) -> BackendProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_backend(content: Path, edges: int = 3, steering_ttl_s: float = 10.0) -> BackendProc:
    return BackendProc(content, edges, steering_ttl_s)


def headless_config(**kw: Any) -> Any:
    from player.config import DecodeConfig, PlayerConfig, ResumeConfig, TelemetryConfig

    base: dict[str, Any] = {
        "decode": DecodeConfig(enabled=False),
        "resume": ResumeConfig(use_grant=False, report=False),
        "telemetry": TelemetryConfig(),
        "start_position_s": 0.0,
    }
    base.update(kw)
    return PlayerConfig(**base)


async def _one(url: str, cfg: Any, play_s: float, shared: dict[str, Any]) -> dict[str, Any]:
    from player import Player

    t0 = time.perf_counter()
    try:
        p = await Player.open(url, cfg, **shared)
    except Exception as exc:  # noqa: BLE001 - a failed open is a result
        return {"ok": False, "error": f"open: {exc}"}
    open_s = time.perf_counter() - t0
    try:
        await p.play()
        if play_s > 0:
            done, _ = await asyncio.wait({asyncio.ensure_future(p.wait())}, timeout=play_s)
            if not done:
                p.stop()
        s = await p.wait()
    finally:
        await p.aclose()
    q = s.qoe
    return {
        "ok": s.ok, "open_s": open_s, "startup_s": (q.startup_delay_s or 0.0) + open_s,
        "stalls": q.rebuffer_count, "rebuffer_s": q.rebuffer_s, "failure": s.failure,
    }


async def _step(url: str, n: int, cfg: Any, play_s: float, shared_clients: bool) -> dict:
    import httpx

    from player.transport import HttpxTransport

    c0, w0 = time.process_time(), time.perf_counter()
    shared: dict[str, Any] = {}
    if shared_clients:  # one connection pool for every session of the step
        limits = httpx.Limits(max_connections=4 * n + 10, max_keepalive_connections=4 * n + 10)
        client = httpx.AsyncClient(follow_redirects=True, limits=limits)
        shared = {"transport": HttpxTransport(client, cmcd_mode=cfg.telemetry.cmcd
                                              if cfg.telemetry.cmcd != "off" else "query"),
                  "http": client}
    try:
        res = await asyncio.gather(*(_one(url, cfg, play_s, shared) for _ in range(n)))
    finally:
        if shared:
            await shared["http"].aclose()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    ok = [r for r in res if r.get("ok")]
    starts = sorted(r["startup_s"] for r in ok)
    return {
        "n": n, "ended": len(ok), "failed": n - len(ok),
        "stalls": sum(r["stalls"] for r in ok),
        "rebuffer_s": round(sum(r["rebuffer_s"] for r in ok), 3),
        "startup_p50_s": round(statistics.median(starts), 3) if starts else None,
        "startup_max_s": round(starts[-1], 3) if starts else None,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "cpu_util": round(cpu / wall, 3) if wall else None,
        "errors": [r.get("error") or r.get("failure") for r in res if not r.get("ok")][:3],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="1,2,4,8,16,32,64")
    ap.add_argument("--startup-bound", type=float, default=2.0)
    ap.add_argument("--content", default="/tmp/abrkit-bench/content-agree")
    ap.add_argument("--title", default="agree")
    ap.add_argument("--play-s", type=float, default=60.0,
                    help="stop each session after this many wall seconds of play() "
                         "(0 = play the whole title)")
    ap.add_argument("--policy", default="dynamic")
    ap.add_argument("--shared-clients", action="store_true",
                    help="one httpx client/transport for all sessions of a step (injected "
                         "into Player.open) instead of two new clients per session")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from benchmarks.bench_agreement import ensure_title

    content = ensure_title() if a.content == "/tmp/abrkit-bench/content-agree" else Path(a.content)
    out: dict[str, Any] = {"machine_start": machine(), "steps": [], "args": vars(a)}
    with spawn_backend(content, edges=3) as be:
        url = be.grant_url(a.title)
        cfg = headless_config(policy=a.policy)
        for n in [int(x) for x in a.ns.split(",")]:
            b0 = be.cpu_s()
            st = asyncio.run(_step(url, n, cfg, a.play_s, a.shared_clients))
            st["backend_cpu_s"] = round(be.cpu_s() - b0, 2)
            st["loadavg"] = [round(x, 2) for x in loadavg()]
            st["pass"] = (st["failed"] == 0 and st["stalls"] == 0
                          and (st["startup_max_s"] or 1e9) <= a.startup_bound)
            out["steps"].append(st)
            print(json.dumps(st), flush=True)
            if not st["pass"]:
                break
    out["machine_end"] = machine()
    passing = [s["n"] for s in out["steps"] if s["pass"]]
    out["max_n"] = max(passing) if passing else 0
    print(json.dumps({"max_n": out["max_n"], "machine": out["machine_end"]}))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
