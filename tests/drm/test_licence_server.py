"""The licence server's routes in-process (Starlette TestClient) on a fake clock:
token checks, the ClearKey exchange, the concurrent-stream limit, heartbeats,
timeouts, AES-128 keys, metrics without keys."""

from __future__ import annotations

import os
import warnings

import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from drm import KeyStore, b64url_decode, b64url_encode, contains_key_material
from server.control.licence import LicenceConfig, LicenceServer
from server.control.tokens import SessionToken, sign_token

SECRET = os.urandom(32)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    key = store.get_or_create("t")
    other = store.get_or_create("u")
    clock = Clock()
    server = LicenceServer(SECRET, LicenceConfig(key_store=store.path, licence_duration_s=30,
                                                 max_streams=2, heartbeat_timeout_s=10,
                                                 clock=clock),
                           content_dir=tmp_path / "content")
    app = Starlette(routes=server.routes())
    with TestClient(app) as http:
        yield http, server, clock, key, other


def token(title="t", account="alice", session="s1", ttl=3600.0, now=1_800_000_000.0):
    return sign_token(SECRET, SessionToken(title, account, int(now + ttl), session))


def ask(http, tok, kid, title="t", **kw):
    return http.post(f"/licence/{title}", json={"kids": [b64url_encode(kid)],
                                                "type": "temporary", **kw},
                     headers={"Authorization": f"Bearer {tok}"} if tok else {})


def test_licence_is_a_clearkey_key_set(env):
    http, _, _, key, _ = env
    r = ask(http, token(), key.kid)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["type"] == "temporary" and body["expires_in"] == 30
    (jwk,) = body["keys"]
    assert jwk["kty"] == "oct" and b64url_decode(jwk["kid"]) == key.kid
    assert b64url_decode(jwk["k"]) == key.key


def test_token_in_body_field(env):
    http, _, _, key, _ = env
    r = http.post("/licence/t", json={"kids": [b64url_encode(key.kid)], "token": token()})
    assert r.status_code == 200


@pytest.mark.parametrize(("make", "status", "error"), [
    (lambda: None, 401, "missing_token"),
    (lambda: "garbage", 401, "malformed"),
    (lambda: token()[:-3] + "AAA", 401, "bad_signature"),
    (lambda: sign_token(os.urandom(32), SessionToken("t", "a", 1_900_000_000, "s")), 401,
     "bad_signature"),
    (lambda: token(ttl=-1), 401, "expired"),
    (lambda: token(title="u"), 403, "wrong_title"),
])
def test_bad_tokens_are_refused_with_reasons(env, make, status, error):
    http, _, _, key, _ = env
    r = ask(http, make(), key.kid)
    assert r.status_code == status and r.json()["error"] == error and r.json()["reason"]
    assert not contains_key_material(r.text, [key.key])


def test_other_titles_kid_and_bad_bodies(env):
    http, _, _, key, other = env
    r = ask(http, token(), other.kid)
    assert r.status_code == 403 and r.json()["error"] == "unknown_kid"
    assert not contains_key_material(r.text, [other.key, key.key])
    auth = {"Authorization": f"Bearer {token()}"}
    r = http.post("/licence/t", json={"kids": ["!!"]}, headers=auth)
    assert r.status_code == 422 and r.json()["where"] == "kids[0]"
    r = http.post("/licence/t", content=b"{", headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 422
    r = ask(http, token(title="clear"), key.kid, title="clear")
    assert r.status_code == 403 and r.json()["error"] == "not_encrypted"


def test_stream_limit_heartbeat_stop_and_timeout(env):
    http, server, clock, key, _ = env
    t1, t2, t3 = (token(session=f"s{i}") for i in (1, 2, 3))
    assert ask(http, t1, key.kid).status_code == 200
    assert ask(http, t2, key.kid).status_code == 200
    r = ask(http, t3, key.kid)
    assert r.status_code == 429 and r.json()["error"] == "too_many_streams"
    assert r.json()["limit"] == 2 and r.json()["active"] == 2
    assert ask(http, t1, key.kid).status_code == 200  # renewal of a held slot
    assert ask(http, token(account="bob", session="b1"), key.kid).status_code == 200  # per account
    # stop frees a slot
    r = http.delete("/licence/t", headers={"Authorization": f"Bearer {t2}"})
    assert r.json() == {"released": True}
    assert ask(http, t3, key.kid).status_code == 200
    # s1 keeps heart-beating, s3 vanishes: after the timeout its slot is free
    for _ in range(3):
        clock.now += 6
        assert http.post("/licence/t/heartbeat",
                         headers={"Authorization": f"Bearer {t1}"}).status_code == 200
    assert http.post("/licence/t/heartbeat",
                     headers={"Authorization": f"Bearer {t3}"}).status_code == 409
    assert ask(http, token(session="s4"), key.kid).status_code == 200
    assert ask(http, token(session="s5"), key.kid).status_code == 429


def test_aes128_key_endpoint(env):
    http, _, _, key, other = env
    r = http.get(f"/licence/t/key/{key.kid_hex}", headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 200 and r.content == key.key
    assert r.headers["cache-control"] == "no-store"
    assert http.get(f"/licence/t/key/{key.kid_hex}").status_code == 401
    r = http.get(f"/licence/t/key/{other.kid_hex}", headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 403


def test_metrics_count_results_without_keys(env):
    http, server, _, key, _ = env
    ask(http, token(), key.kid)
    ask(http, "garbage", key.kid)
    text = server.metrics.render()
    assert 'licence_requests_total{result="issued"} 1' in text
    assert 'licence_requests_total{result="malformed"} 1' in text
    assert "licence_active_streams 1" in text
    assert not contains_key_material(text, [key.key])


def test_key_store_in_content_dir_is_refused(tmp_path):
    from drm import KeyStoreError

    with pytest.raises(KeyStoreError):
        LicenceServer(SECRET, LicenceConfig(key_store=tmp_path / "c" / "k.json"),
                      content_dir=tmp_path / "c")
