"""DRM end to end on 127.0.0.1 over real HTTP: a tiny title (6 s, 2 rungs + audio)
packaged with ``--encrypt cenc`` (played through DASH and HLS) and with
``--encrypt aes-128`` (HLS), served by the reference backend; keys come from its
ClearKey licence server with the grant's token. Every segment of every
rendition is fetched from an edge, decrypted and decoded; without the key
nothing decodes; bad tokens are refused; the concurrent-stream limit holds;
the licence renews during a long session; no key material leaks anywhere."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from drm import (
    DecryptError,
    DrmSession,
    KeyStore,
    LicenceClient,
    LicenceDenied,
    contains_key_material,
    decode_segment,
    licence_url_from,
    read_tenc,
)
from manifest import Presentation
from manifest.hls import parse_media_playlist
from manifest.parse import parse
from server.control.licence import LicenceConfig as ServerLicenceConfig
from server.control.tokens import SessionToken, sign_token
from server.packager import Rung, package
from server.packager.demo_source import write_demo_source
from server.packager.encrypt import EncryptOptions
from server.runner import Backend, start_backend

pytestmark = pytest.mark.integration

SECRET = b"drm-integration-secret-0123456789"
FPS = 30
DURATION = 6.0
LADDER = (Rung(120, 150_000), Rung(180, 300_000))
LICENCE_S = 2.0  # short licences: renewals happen within a test
HEARTBEAT_TIMEOUT_S = 1.5
MAX_STREAMS = 2


@dataclass
class Env:
    backend: Backend
    content: Path
    keys: KeyStore
    http: httpx.Client


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("drm")
    content = root / "content"
    content.mkdir()
    store = root / "private" / "keystore.json"
    src = write_demo_source(root / "clip.mp4", duration=DURATION, width=320, height=180, fps=FPS)
    cfg = ServerLicenceConfig(key_store=store, licence_duration_s=LICENCE_S,
                              max_streams=MAX_STREAMS, heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S)
    with start_backend(content, edges=2, secret=SECRET, licence=cfg, steering_ttl_s=2.0,
                       work_dir=root / "work") as backend:
        url = backend.control_url + "/licence/{title}"
        for title, scheme in (("enc", "cenc"), ("aes", "aes-128")):
            package(src, content, segment_seconds=2.0, ladder=LADDER, title=title,
                    encrypt=EncryptOptions(scheme, store, url))
        with httpx.Client(timeout=10) as http:
            yield Env(backend, content, KeyStore(store), http)


def grant(env: Env, title: str, account: str) -> dict:
    r = env.http.post(env.backend.grant_url(title),
                      json={"country": "US", "device_class": "tv", "account": account})
    assert r.status_code == 200, r.text
    return r.json()


def load(env: Env, url: str) -> Presentation:
    p = parse(env.http.get(url).text, url)
    for r in p.renditions():
        if r.segments is None and r.uri:
            p = p.with_segments(r.id, parse_media_playlist(env.http.get(r.uri).text, r.uri))
    return p


def play(env: Env, p: Presentation, drm: DrmSession, pace_s: float = 0.0) -> dict[str, int]:
    """Fetch every segment of every rendition from the edge, decrypt, decode."""
    frames: dict[str, int] = {}
    for track in p.tracks():
        for r in track.renditions:
            assert r.segments is not None and r.segments.init is not None
            drm.prepare((*track.protection, *r.protection))
            init = env.http.get(r.segments.init.url).content
            n = 0
            for s in r.segments.segments:
                data = env.http.get(s.url).content
                got = drm.decode(init, data, key_info=s.key, sequence=s.number, name=s.url,
                                 kind=track.type)
                n += len(got) if track.type == "video" else sum(f.samples for f in got)
                time.sleep(pace_s)
            frames[f"{track.type}:{r.id}"] = n
    return frames


def session(env: Env, g: dict, **kw) -> DrmSession:
    return DrmSession(LicenceClient(g["licence_url"], g["token"], http=env.http, **kw))


@pytest.mark.parametrize(("title", "fmt"), [("enc", "dash"), ("enc", "hls"), ("aes", "hls")])
def test_encrypted_title_plays_every_frame(env, title, fmt):
    g = grant(env, title, f"player-{title}-{fmt}")
    p = load(env, g["manifests"][fmt])
    if title == "enc" and fmt == "dash":
        for t in p.tracks():
            assert {cp.system for cp in t.protection} == {"mp4protection", "clearkey"}
            assert licence_url_from(t.protection) == g["licence_url"]
    reports = []
    drm = session(env, g, on_licence=reports.append)
    try:
        frames = play(env, p, drm)
    finally:
        drm.licence.release()
    video = [v for k, v in frames.items() if k.startswith("video:")]
    audio = [v for k, v in frames.items() if k.startswith("audio:")]
    assert video == [int(DURATION * FPS)] * 2
    assert len(audio) == 1 and abs(audio[0] / 48_000 - DURATION) < 0.1
    assert reports and all(r.latency_s < 2.0 for r in reports)


def test_media_is_really_encrypted_and_does_not_decode_without_the_key(env):
    enc = env.content / "enc"
    for rdir, kind in (("video/180p", "video"), ("audio/aac", "audio")):
        init = (enc / rdir / "init.mp4").read_bytes()
        (t,) = read_tenc(init)
        assert t.scheme == "cenc" and t.kid == env.keys.for_title("enc")[0].kid_hex
        for seg in sorted((enc / rdir).glob("seg-*.m4s")):
            with pytest.raises(DecryptError) as info:  # FFmpeg: InvalidDataError
                decode_segment(init, seg.read_bytes(), None, kid=t.kid, name=seg.name, kind=kind)
            assert t.kid in str(info.value) and seg.name in str(info.value)
    aes = env.content / "aes" / "video" / "180p"
    for seg in sorted(aes.glob("seg-*.m4s")):
        with pytest.raises(DecryptError):
            decode_segment((aes / "init.mp4").read_bytes(), seg.read_bytes(), None, name=seg.name)
    assert not (env.content / "aes" / "manifest.mpd").exists()
    # no key material in the content directory
    keys = [k.key for k in (*env.keys.for_title("enc"), *env.keys.for_title("aes"))]
    for f in env.content.rglob("*"):
        if f.is_file() and f.suffix in (".m3u8", ".mpd", ".json"):
            assert not contains_key_material(f.read_text(), keys), f


def _post(env: Env, title: str, token: str | None, kid: str) -> httpx.Response:
    from drm import b64url_encode

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return env.http.post(f"{env.backend.control_url}/licence/{title}", headers=headers,
                         json={"kids": [b64url_encode(bytes.fromhex(kid))], "type": "temporary"})


def test_forged_expired_and_other_title_tokens_are_refused(env):
    kid = env.keys.for_title("enc")[0].kid_hex
    g = grant(env, "enc", "tokens")
    good = g["token"]
    now = time.time()
    cases = {
        "missing_token": (None, 401),
        "malformed": ("nonsense", 401),
        "bad_signature": (good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), 401),
        "expired": (sign_token(SECRET, SessionToken("enc", "tokens", int(now) - 1, "x")), 401),
        "wrong_title": (grant(env, "aes", "tokens")["token"], 403),
    }
    forged = sign_token(b"another-secret", SessionToken("enc", "tokens", int(now) + 60, "y"))
    cases["forged"] = (forged, 401)
    for name, (token, status) in cases.items():
        r = _post(env, "enc", token, kid)
        assert r.status_code == status, (name, r.text)
        assert r.json()["reason"] and "keys" not in r.json()
    assert _post(env, "enc", good, kid).status_code == 200
    aes_kid = env.keys.for_title("aes")[0].kid_hex
    url = f"{env.backend.control_url}/licence/aes/key/{aes_kid}"
    assert env.http.get(url).status_code == 401
    assert env.http.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 403
    env.http.request("DELETE", f"{env.backend.control_url}/licence/enc",
                     headers={"Authorization": f"Bearer {good}"})


def test_concurrent_stream_limit_under_parallel_sessions(env):
    kid = env.keys.for_title("enc")[0].kid_hex
    grants = [grant(env, "enc", "family") for _ in range(MAX_STREAMS + 1)]
    results: list[int] = []
    barrier = threading.Barrier(len(grants))

    def start(g: dict) -> None:
        barrier.wait()
        with httpx.Client(timeout=10) as c:
            r = c.post(g["licence_url"], headers={"Authorization": f"Bearer {g['token']}"},
                       json={"kids": [__import__("drm").b64url_encode(bytes.fromhex(kid))]})
            results.append(r.status_code)

    threads = [threading.Thread(target=start, args=(g,)) for g in grants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] * MAX_STREAMS + [429]
    # the refused one gets a clear answer; stopping one session frees its slot
    clients = [LicenceClient(g["licence_url"], g["token"], http=env.http) for g in grants]
    held = [c for c in clients if _try(c, kid)]
    waiting = [c for c in clients if c not in held]
    assert len(held) == MAX_STREAMS and len(waiting) == 1
    with pytest.raises(LicenceDenied) as info:
        waiting[0].acquire((kid,))
    assert info.value.status == 429 and "limit 2" in str(info.value)
    held[0].release()
    waiting[0].acquire((kid,))
    # a vanished session (no heartbeat) frees its slot after the timeout; one that
    # heart-beats keeps it
    deadline = time.monotonic() + HEARTBEAT_TIMEOUT_S + 0.6
    while time.monotonic() < deadline:
        assert held[1].heartbeat()
        time.sleep(0.3)
    late = grant(env, "enc", "family")
    LicenceClient(late["licence_url"], late["token"], http=env.http).acquire((kid,))
    assert not waiting[0].heartbeat()  # it vanished (no heartbeat) and was dropped
    for c in clients:
        c.release()


def _try(c: LicenceClient, kid: str) -> bool:
    try:
        c.acquire((kid,))
        return True
    except LicenceDenied:
        return False


def test_licence_renews_during_a_long_session_without_stalling(env):
    g = grant(env, "enc", "long-session")
    p = load(env, g["manifests"]["dash"])
    reports = []
    drm = session(env, g, on_licence=reports.append)
    video = p.tracks("video")[0]
    r = video.renditions[0]
    init = env.http.get(r.segments.init.url).content
    drm.prepare(video.protection)
    gaps = []
    t_prev = time.monotonic()
    frames = 0
    for _ in range(4):  # about 4.8 s: more than two licence durations
        for s in r.segments.segments:
            data = env.http.get(s.url).content
            frames += len(drm.decode(init, data, name=s.url))
            now = time.monotonic()
            gaps.append(now - t_prev)
            t_prev = now
            time.sleep(0.4)
    drm.licence.release()
    assert frames == 4 * int(DURATION * FPS)
    assert drm.licence.renewals >= 2
    assert sum(1 for rep in reports if rep.renewal) == drm.licence.renewals
    assert max(gaps) < 0.4 + 1.0  # no segment waited long on a licence


def test_no_key_material_in_logs_telemetry_or_metrics(env, caplog):
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore", "drm",
             "server", "player", "asyncio", "starlette"]
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        if lg.name != "root" and not lg.propagate:
            lg.addHandler(caplog.handler)
    try:
        from telemetry.events import LicenceEvent

        events = []
        texts_errors: list[str] = []
        for title, fmt in (("enc", "dash"), ("enc", "hls"), ("aes", "hls")):
            g = grant(env, title, f"leak-{title}-{fmt}")
            reports = []
            drm = session(env, g, on_licence=reports.append)
            play(env, load(env, g["manifests"][fmt]), drm)
            drm.licence.heartbeat()
            drm.licence.release()
            logging.getLogger("drm").debug("session %s done: %r", g["session_id"], drm.licence)
            events += [LicenceEvent(session_id=g["session_id"], ts=time.time(),
                                    latency_s=r.latency_s).to_dict() for r in reports]
            r = env.http.post(g["telemetry_url"], json={"events": events[-len(reports):]})
            assert r.status_code == 200
            # errors a player would surface: wrong title, missing key
            bad = _post(env, "aes" if title == "enc" else "enc", g["token"],
                        env.keys.for_title("enc")[0].kid_hex)
            texts_errors.append(bad.text)
            try:
                decode_segment((env.content / "enc/video/120p/init.mp4").read_bytes(),
                               (env.content / "enc/video/120p/seg-00001.m4s").read_bytes(),
                               b"\x00" * 16, name="x")
            except DecryptError as exc:
                texts_errors.append(str(exc) + repr(exc))
        metrics = [env.http.get(env.backend.control_url + "/metrics").text]
        metrics += [env.http.get(u + "/metrics").text for u in env.backend.edge_urls.values()]
        qoe = env.http.get(env.backend.control_url + "/qoe").text
    finally:
        for lg, level in saved:
            lg.setLevel(level)
            lg.removeHandler(caplog.handler)
    keys = [k.key for k in (*env.keys.for_title("enc"), *env.keys.for_title("aes"))]
    assert len(keys) == 2
    logs = [r.getMessage() for r in caplog.records]
    assert logs, "no log record captured"
    db = env.backend.control_plane.config.db_path
    stored = b"".join(f.read_bytes() for f in db.parent.glob(db.name + "*"))
    haystacks = {"logs": "\n".join(logs), "telemetry": json.dumps(events),
                 "telemetry store": stored.decode("latin-1"),
                 "metrics": "\n".join(metrics), "qoe": qoe, "errors": "\n".join(texts_errors)}
    assert "licence_requests_total" in haystacks["metrics"]
    for name, text in haystacks.items():
        assert not contains_key_material(text, keys), name
