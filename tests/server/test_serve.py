"""``abrkit serve`` as a user runs it: a subprocess, real ports, Ctrl-C."""

from __future__ import annotations

import argparse
import re
import signal
from pathlib import Path

import httpx
import pytest

from server.commands import serve
from tests.support.serve_process import serve_process


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
    args = ["--content", str(content_dir), "--edges", "2", "--steering-ttl", "2"]
    with serve_process(args, tmp_path) as (proc, out):
        control = re.search(r"control plane (http://127\.0\.0\.1:\d+)", out)
        assert control, out
        assert re.search(r"edge-2 +http://127\.0\.0\.1:\d+", out)
        assert "curl -s -X POST" in out
        r = httpx.post(
            f"{control.group(1)}/playback/demo", json={"country": "US", "device_class": "tv"}
        )
        assert r.status_code == 200 and len(r.json()["pathways"]) == 2
        assert httpx.get(r.json()["manifest_url"]).status_code == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0


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
