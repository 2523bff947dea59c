"""Edge serving throughput and tail latency, side by side with nginx.

    python -m benchmarks.bench_edge [--connections 16,64] [--duration 10]
                                    [--segment-bytes 1500000] [--segments 8]
                                    [--out benchmarks/results/edge.md]

Writes ``--segments`` random files of ``--segment-bytes`` (a ~4 s segment of
a 3 Mbit/s rung is ~1.5 MB) into a temporary content directory, then for
each concurrency level drives, with ``wrk`` (a separate load-generator
process), first an abrkit edge (``server.edge.Edge`` on uvicorn, one event
loop, started as ``abrkit serve`` starts it) and then nginx (one worker,
``sendfile on``, a temporary ``nginx.conf`` on a loopback port, run in the
foreground and stopped afterwards) serving the same files. wrk's Lua script
cycles through the segment URLs. Reported: requests/s, MB/s and p99 latency
from ``wrk --latency``, and edge/nginx ratios.

Needs ``wrk`` and ``nginx`` on PATH (Debian: ``apt-get install -y wrk
nginx``); without wrk it says so and exits 2, without nginx it benchmarks
the edge alone. The machine's other load is not controlled; the load
average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.machine import machine_line
from server.config import EdgeConfig
from server.edge.app import Edge
from server.runner import ServerThread, _bind

TITLE = "bench"


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    bytes_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS_T = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_UNITS_B = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_wrk(text: str) -> WrkResult:
    """Figures from ``wrk --latency`` output."""

    def num(pattern: str) -> re.Match[str]:
        m = re.search(pattern, text)
        if m is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{text}")
        return m

    rps = float(num(r"Requests/sec:\s+([\d.]+)").group(1))
    m = num(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)")
    bps = float(m.group(1)) * _UNITS_B[m.group(2)]
    lat = {}
    for pct in ("50", "99"):
        m = num(rf"\s{pct}%\s+([\d.]+)(us|ms|s|m)\b")
        lat[pct] = float(m.group(1)) * _UNITS_T[m.group(2)]
    reqs = int(num(r"(\d+) requests in").group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = (sum(int(x) for x in sock.groups()) if sock else 0) + (
        int(non2xx.group(1)) if non2xx else 0
    )
    return WrkResult(rps, bps, lat["50"], lat["99"], reqs, errors)


def make_content(root: Path, segments: int, seg_bytes: int) -> list[str]:
    d = root / TITLE / "video" / "v0"
    d.mkdir(parents=True)
    paths = []
    for i in range(1, segments + 1):
        (d / f"seg-{i:05d}.m4s").write_bytes(os.urandom(seg_bytes))
        paths.append(f"/{TITLE}/video/v0/seg-{i:05d}.m4s")
    return paths


def write_lua(path: Path, urls: list[str]) -> None:
    items = ", ".join(f'"{u}"' for u in urls)
    path.write_text(
        f"local paths = {{{items}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )


def run_wrk(url: str, lua: Path, connections: int, duration_s: int) -> WrkResult:
    threads = max(1, min(connections, os.cpu_count() or 1))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(lua),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}")
    return parse_wrk(out.stdout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ video/iso.segment m4s; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.port = _free_port()
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port, root=root))
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp = tmp

    def __enter__(self) -> Nginx:
        self.proc = subprocess.Popen(
            [
                "nginx",
                "-c",
                str(self.conf),
                "-p",
                str(self.tmp),
                "-e",
                str(self.tmp / "nginx-error.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_port(self.port)
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except OSError:
        return "absent"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", default="16,64", help="comma-separated concurrency levels")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--segment-bytes", type=int, default=1_500_000)
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/edge.md"))
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.connections.split(",") if c.strip()]

    if shutil.which("wrk") is None:
        print(
            "bench_edge: wrk is not installed (Debian: apt-get install -y wrk nginx); "
            "nothing measured.",
            file=sys.stderr,
        )
        return 2
    have_nginx = shutil.which("nginx") is not None
    if not have_nginx:
        print(
            "bench_edge: nginx is not installed (Debian: apt-get install -y nginx); "
            "measuring the abrkit edge alone.",
            file=sys.stderr,
        )

    rows: list[tuple[int, WrkResult, WrkResult | None]] = []
    with tempfile.TemporaryDirectory(prefix="abrkit-bench-edge-") as t:
        tmp = Path(t)
        tmp.chmod(0o755)  # nginx workers run as an unprivileged user and must read it
        root = tmp / "content"
        paths = make_content(root, args.segments, args.segment_bytes)
        lua = tmp / "paths.lua"
        write_lua(lua, paths)
        edge = Edge(EdgeConfig(name="bench-edge", content_dir=root))
        server = ServerThread("bench-edge", edge.app, "127.0.0.1", _bind("127.0.0.1", 0))
        server.start()
        try:
            for c in levels:
                print(f"edge  c={c} ...", file=sys.stderr, flush=True)
                e = run_wrk(server.url, lua, c, args.duration)
                n = None
                if have_nginx:
                    print(f"nginx c={c} ...", file=sys.stderr, flush=True)
                    with Nginx(root, tmp) as ng:
                        n = run_wrk(f"http://127.0.0.1:{ng.port}", lua, c, args.duration)
                rows.append((c, e, n))
        finally:
            server.stop()

    report = render(args, rows, have_nginx)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def render(
    args: argparse.Namespace, rows: list[tuple[int, WrkResult, WrkResult | None]], have_nginx: bool
) -> str:
    import starlette
    import uvicorn

    mb = 1e6
    lines = [
        "# Edge serving throughput vs nginx",
        "",
        f"Command: `python -m benchmarks.bench_edge --connections {args.connections} "
        f"--duration {args.duration} --segment-bytes {args.segment_bytes} "
        f"--segments {args.segments}`",
        "",
        machine_line(
            f"uvicorn {uvicorn.__version__} (h11), starlette {starlette.__version__}",
            _version(["nginx", "-v"]),
            _version(["wrk", "--version"]),
        ),
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Workload: GET of {args.segments} files of {args.segment_bytes} bytes "
        f"(~4 s segments at ~{args.segment_bytes * 8 / 4 / 1e6:.1f} Mbit/s) in rotation, "
        f"keep-alive, {args.duration} s per run, wrk with one thread per core as a separate "
        "process on the same machine. abrkit edge: one process, one asyncio loop (uvicorn + h11), "
        "no faults. nginx: one worker, sendfile on, access log off.",
        "",
        "| connections | server | requests/s | MB/s | p50 (ms) | p99 (ms) | errors |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for c, e, n in rows:
        lines.append(
            f"| {c} | abrkit edge | {e.requests_per_s:.1f} | {e.bytes_per_s / mb:.1f} | "
            f"{e.p50_ms:.1f} | {e.p99_ms:.1f} | {e.errors} |"
        )
        if n is not None:
            lines.append(
                f"| {c} | nginx | {n.requests_per_s:.1f} | {n.bytes_per_s / mb:.1f} | "
                f"{n.p50_ms:.1f} | {n.p99_ms:.1f} | {n.errors} |"
            )
    if have_nginx:
        lines += [
            "",
            "| connections | edge/nginx throughput | edge/nginx p99 latency |",
            "|---:|---:|---:|",
        ]
        for c, e, n in rows:
            assert n is not None
            lines.append(
                f"| {c} | {e.bytes_per_s / n.bytes_per_s:.2f} | {e.p99_ms / n.p99_ms:.1f} |"
            )
    lines += [
        "",
        "Reading: nginx sends from the page cache with sendfile(2), in C; the abrkit edge reads "
        "each chunk into Python and writes it through uvicorn's pure-Python h11 protocol on one "
        "event loop, so its throughput is bounded by one interpreter's copies and framing, and "
        "its tail latency grows with the number of connections sharing that loop. wrk runs on "
        "the same cores and other users' jobs load the machine (see the load average), so "
        "absolute figures move from run to run; the ratios within one run are the comparable "
        "figures. The edge is a test fixture for players (faults, shaping, tiering), not a "
        "production CDN node.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
