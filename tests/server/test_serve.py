"""``abrkit serve`` as a user runs it: a subprocess, real ports, Ctrl-C."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.commands import serve

ROOT = Path(__file__).resolve().parents[2]


def test_arguments_and_defaults() -> None:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    a = p.parse_args([])
    assert (a.content, a.edges, a.port_base, a.host) == (None, 3, 8100, "127.0.0.1")


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))
    assert serve.cache_dir() == tmp_path


def test_bad_content_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    assert serve.run(p.parse_args(["--content", str(tmp_path / "missing")])) == 2
    assert serve.run(p.parse_args(["--edges", "0"])) == 2


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_subprocess(content_dir: Path, tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "ABRKIT_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "player.cli",
            "serve",
            "--content",
            str(content_dir),
            "--edges",
            "2",
            "--port-base",
            "0",
            "--steering-ttl",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        out = "".join(lines)
        control = re.search(r"control plane (http://127\.0\.0\.1:\d+)", out)
        assert control, out + (
            proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        )
        assert re.search(r"edge-2 +http://127\.0\.0\.1:\d+", out)
        assert "curl -s -X POST" in out
        r = httpx.post(
            f"{control.group(1)}/playback/demo", json={"country": "US", "device_class": "tv"}
        )
        assert r.status_code == 200 and len(r.json()["pathways"]) == 2
        assert httpx.get(r.json()["manifest_url"]).status_code == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ensure_demo_content_packages_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.packager
    from server.runner import ensure_demo_content

    calls: list[Path] = []

    def fake(root: Path, **_: object) -> Path:
        calls.append(Path(root))
        return Path(root) / "demo"

    monkeypatch.setattr(server.packager, "ensure_demo_title", fake)
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))
    assert ensure_demo_content() == tmp_path / "content"
    assert calls == [tmp_path / "content"]
