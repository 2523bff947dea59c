"""``abrkit serve`` as a user runs it: a subprocess on 127.0.0.1, read until it is up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve_process(
    args: Sequence[str], cache: Path, timeout_s: float = 30.0
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``(process, its stdout up to the "Ctrl-C to stop" line)``; killed on exit if alive.

    ``cache`` is ``$ABRKIT_CACHE`` of the process. A process that ends before
    it is up yields what it printed (stdout and stderr) for the test to assert on.
    """
    env = {**os.environ, "ABRKIT_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "player.cli", "serve", "--port-base", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines = []
        deadline = time.monotonic() + timeout_s
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        out = "".join(lines)
        if proc.poll() is not None and proc.stderr is not None:
            out += proc.stderr.read()
        yield proc, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
