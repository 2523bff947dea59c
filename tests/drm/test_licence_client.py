"""The ClearKey licence client against httpx's MockTransport: request shape,
retries, denials, cache, renewal on an injected clock, AES-128 key URIs."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drm import (
    KeyNotFoundError,
    LicenceClient,
    LicenceConfig,
    LicenceDenied,
    LicenceError,
    b64url_decode,
    b64url_encode,
    contains_key_material,
)

KID = os.urandom(16)
KEY = os.urandom(16)
URL = "http://licence.test/licence/t"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Server:
    """A scripted licence server: ``script`` is a list of statuses for POSTs (then 200)."""

    def __init__(self, script=(), expires_in=60.0) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.expires_in = expires_in

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, content=KEY)
        if self.script:
            status = self.script.pop(0)
            if status == 0:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(status, json={"error": f"e{status}", "reason": "scripted"})
        if request.url.path.endswith("/heartbeat") or request.method == "DELETE":
            return httpx.Response(200, json={"ok": True})
        body = json.loads(request.content)
        keys = [{"kty": "oct", "kid": k, "k": b64url_encode(KEY)}
                for k in body["kids"] if b64url_decode(k) == KID]
        return httpx.Response(200, json={"keys": keys, "type": "temporary",
                                         "expires_in": self.expires_in})


def client(server, clock=None, **kw):
    reports = []
    sleeps = []
    c = LicenceClient(URL, "v1.tok.sig", http=httpx.Client(transport=httpx.MockTransport(server)),
                      clock=clock or Clock(), sleep=sleeps.append, on_licence=reports.append,
                      config=LicenceConfig(**kw))
    return c, reports, sleeps


def test_request_is_eme_clearkey_json_with_bearer_token():
    s = Server()
    c, reports, _ = client(s)
    assert c.key(KID.hex()) == KEY
    (req,) = s.requests
    assert req.method == "POST" and req.headers["authorization"] == "Bearer v1.tok.sig"
    body = json.loads(req.content)
    assert body == {"kids": [b64url_encode(KID)], "type": "temporary"}
    assert "=" not in body["kids"][0]
    (r,) = reports
    assert r.kids == (KID.hex(),) and r.attempts == 1 and not r.renewal and r.expires_in_s == 60


def test_keys_are_cached_for_the_session():
    s = Server()
    c, _, _ = client(s)
    for _ in range(5):
        c.key(KID.hex())
    assert len(s.requests) == 1


def test_transport_errors_and_5xx_are_retried_with_backoff():
    s = Server(script=[0, 503, 502])
    c, reports, sleeps = client(s, retries=3, backoff_s=0.1)
    assert c.key(KID.hex()) == KEY
    assert sleeps == [0.1, 0.2, 0.4] and reports[0].attempts == 4


def test_retries_give_up_with_a_licence_error():
    s = Server(script=[503] * 10)
    c, _, _ = client(s, retries=2)
    with pytest.raises(LicenceError, match="after 3 attempts") as info:
        c.key(KID.hex())
    assert info.value.status == 503


@pytest.mark.parametrize("status", [401, 403, 429])
def test_denials_are_not_retried(status):
    s = Server(script=[status])
    c, _, sleeps = client(s)
    with pytest.raises(LicenceDenied) as info:
        c.key(KID.hex())
    assert info.value.status == status and info.value.error == f"e{status}"
    assert len(s.requests) == 1 and sleeps == []


def test_unknown_kid_is_key_not_found_naming_kid_and_segment():
    other = os.urandom(16).hex()
    c, _, _ = client(Server())
    with pytest.raises(KeyNotFoundError) as info:
        c.key(other, segment="video/240p/seg-00001.m4s")
    assert info.value.kid == other and info.value.segment == "video/240p/seg-00001.m4s"


def test_renewal_before_expiry_on_the_injected_clock():
    s = Server(expires_in=40.0)
    clock = Clock()
    c, reports, _ = client(s, clock=clock, renew_fraction=0.75)
    c.key(KID.hex())
    clock.now += 29.0
    assert not c.renew_due()
    c.key(KID.hex())
    assert len(s.requests) == 1
    clock.now += 2.0  # 31 s > 30 s = 0.75 x 40
    assert c.renew_due()
    assert c.key(KID.hex()) == KEY
    assert len(s.requests) == 2 and reports[-1].renewal and c.renewals == 1
    assert c.expires_at == pytest.approx(clock.now + 40.0)


def test_failed_renewal_keeps_valid_keys_then_expires():
    s = Server(expires_in=40.0)
    clock = Clock()
    c, _, _ = client(s, clock=clock, retries=0)
    c.key(KID.hex())
    clock.now += 35.0
    s.script = [503]
    assert c.key(KID.hex()) == KEY  # renewal failed, key still valid: no stall
    clock.now += 10.0  # expired now
    s.script = [503, 503]
    with pytest.raises(LicenceError):
        c.key(KID.hex())


def test_aes128_key_uri_fetched_once_with_token():
    s = Server()
    c, reports, _ = client(s)
    uri = "http://licence.test/licence/t/key/" + KID.hex()
    assert c.uri_key(uri) == KEY and c.uri_key(uri) == KEY
    assert len(s.requests) == 1 and s.requests[0].headers["authorization"].startswith("Bearer ")
    assert reports[0].kind == "aes-128"


def test_heartbeat_and_release():
    s = Server()
    c, _, _ = client(s)
    c.key(KID.hex())
    assert c.heartbeat()
    c.release()
    assert not c.has_key(KID.hex())
    assert [r.method for r in s.requests] == ["POST", "POST", "DELETE"]
    assert s.requests[1].url.path == "/licence/t/heartbeat"


def test_malformed_response_is_a_licence_error_without_keys():
    def bad(request):
        jwk = {"kty": "oct", "kid": "x", "k": b64url_encode(KEY)}
        return httpx.Response(200, json={"keys": [jwk]})

    c, _, _ = client(bad)
    with pytest.raises(LicenceError) as info:
        c.key(KID.hex())
    assert not contains_key_material(str(info.value), [KEY])
    assert KEY.hex() not in repr(c)


def test_key_heartbeats_on_its_own_and_reacquires_a_forgotten_stream():
    class HbServer(Server):
        forget = False

        def __call__(self, request):
            if request.url.path.endswith("/heartbeat"):
                self.requests.append(request)
                return httpx.Response(409 if self.forget else 200, json={"error": "no_stream"})
            resp = super().__call__(request)
            if request.method == "POST":
                body = json.loads(resp.content)
                body["heartbeat_timeout_s"] = 9.0
                return httpx.Response(200, json=body)
            return resp

    s = HbServer(expires_in=600.0)
    clock = Clock()
    c, _, _ = client(s, clock=clock)
    c.key(KID.hex())
    assert c.heartbeat_interval() == 3.0
    clock.now += 2.0
    c.key(KID.hex())
    assert len(s.requests) == 1
    clock.now += 1.5
    c.key(KID.hex())
    assert s.requests[-1].url.path.endswith("/heartbeat") and c.heartbeats == 1
    s.forget = True
    clock.now += 3.5
    assert c.key(KID.hex()) == KEY
    assert [r.url.path.rsplit("/", 1)[1] for r in s.requests] == ["t", "heartbeat", "heartbeat",
                                                                    "t"]
    assert c.active


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=5, unique=True),
       st.floats(min_value=0.001, max_value=1e6))
def test_request_and_response_round_trip(kids, expires):
    from drm import licence_request_body, parse_licence_response

    body = json.loads(licence_request_body(k.hex() for k in kids))
    assert [b64url_decode(k) for k in body["kids"]] == kids and body["type"] == "temporary"
    keys = {k: bytes(reversed(k)) for k in kids}
    resp = json.dumps({"keys": [{"kty": "oct", "kid": b64url_encode(k), "k": b64url_encode(v)}
                                for k, v in keys.items()], "type": "temporary",
                       "expires_in": expires}).encode()
    got, exp = parse_licence_response(resp)
    assert got == {k.hex(): v for k, v in keys.items()} and exp == expires


@pytest.mark.parametrize("body", [b"", b"[]", b'{"keys": 3}', b'{"keys": [{"kty": "oct"}]}',
                                  b'{"keys": [{"kty": "oct", "kid": "AA", "k": "AA"}]}'])
def test_bad_responses_are_licence_errors(body):
    from drm import parse_licence_response

    with pytest.raises(LicenceError):
        parse_licence_response(body)
