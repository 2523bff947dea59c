"""``abrkit serve`` licence flags: --key-store, --max-streams, --licence-seconds,
--heartbeat-timeout (parsing, validation, and a real start that applies them)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import httpx
import pytest

from drm import KeyStore, b64url_encode
from server.commands import serve
from server.control.licence import LicenceConfig
from tests.support.serve_process import serve_process


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    return p.parse_args(list(argv))


def key_store(folder: Path, title: str = "demo") -> tuple[Path, bytes]:
    store = KeyStore(folder / "keystore.json")
    return store.path, store.get_or_create(title).kid


def test_cli_defaults_are_the_licence_servers() -> None:
    cfg = serve.licence_config(parse(), Path("/nonexistent-content"))
    default = LicenceConfig()
    assert cfg == default
    assert cfg.key_store is None  # the server falls back to drm.default_key_store_path()


def test_flags_map_to_licence_config(tmp_path: Path, content_dir: Path) -> None:
    store, _ = key_store(tmp_path)
    a = parse("--key-store", str(store), "--max-streams", "5", "--licence-seconds", "90",
              "--heartbeat-timeout", "7.5")
    assert serve.licence_config(a, content_dir) == LicenceConfig(
        key_store=store, licence_duration_s=90.0, max_streams=5, heartbeat_timeout_s=7.5
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-streams", "0"], "--max-streams must be >= 1, got 0"),
        (["--licence-seconds", "0"], "--licence-seconds must be a positive number of seconds"),
        (["--licence-seconds", "nan"], "--licence-seconds must be a positive number"),
        (["--heartbeat-timeout", "-3"], "--heartbeat-timeout must be a positive number"),
        (["--heartbeat-timeout", "inf"], "--heartbeat-timeout must be a positive number"),
    ],
)
def test_bad_numbers_are_usage_errors(
    argv: list[str], message: str, content_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))
    assert serve.run(parse("--content", str(content_dir), *argv)) == serve.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_non_numbers_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse("--max-streams", "two")
    assert exc.value.code == 2
    assert "--max-streams: invalid int value: 'two'" in capsys.readouterr().err


def test_bad_key_stores_are_usage_errors(
    content_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ABRKIT_CACHE", str(tmp_path))

    def refused(store: Path) -> str:
        code = serve.run(parse("--content", str(content_dir), "--key-store", str(store)))
        assert code == serve.EXIT_USAGE
        return capsys.readouterr().err

    assert "does not exist" in refused(tmp_path / "missing.json")
    assert "is not a file" in refused(tmp_path)
    readable, _ = key_store(tmp_path / "loose")
    readable.chmod(0o644)
    assert "readable by others" in refused(readable)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    garbage.chmod(0o600)
    assert "not readable JSON" in refused(garbage)
    inside = content_dir / "keystore-inside.json"
    try:
        inside.write_text("{}")
        assert "inside the content directory" in refused(inside)
    finally:
        inside.unlink()


@pytest.mark.integration
def test_serve_applies_the_licence_flags(content_dir: Path, tmp_path: Path) -> None:
    store, kid = key_store(tmp_path / "keys")
    args = ["--content", str(content_dir), "--edges", "1", "--key-store", str(store),
            "--max-streams", "1", "--licence-seconds", "42", "--heartbeat-timeout", "30"]
    with serve_process(args, tmp_path / "cache") as (proc, out):
        control = re.search(r"control plane (http://127\.0\.0\.1:\d+)", out)
        assert control, out
        assert f"licences      keys {store}, at most 1 streams per account, 42 s licences" in out

        def licence() -> httpx.Response:
            grant = httpx.post(f"{control.group(1)}/playback/demo",
                               json={"country": "US", "device_class": "tv", "account": "bob"})
            assert grant.status_code == 200, grant.text
            g = grant.json()
            return httpx.post(g["licence_url"], json={"kids": [b64url_encode(kid)]},
                              headers={"Authorization": f"Bearer {g['token']}"})

        first = licence()
        assert first.status_code == 200, first.text
        assert first.json()["expires_in"] == 42 and first.json()["heartbeat_timeout_s"] == 30
        second = licence()  # a second session of the same account: over --max-streams 1
        assert second.status_code == 429 and second.json()["limit"] == 1
