from __future__ import annotations

import pytest

from server.control.tokens import SessionToken, TokenError, sign_token, verify_token

SECRET = b"k" * 32
CLAIMS = SessionToken(title="demo", account="alice", expires_at=1_000, session_id="s1")


def test_round_trip() -> None:
    token = sign_token(SECRET, CLAIMS)
    assert token.startswith("v1.")
    assert verify_token(SECRET, token, now=999, title="demo") == CLAIMS


def test_expired_at_and_after_expiry() -> None:
    token = sign_token(SECRET, CLAIMS)
    for now in (1_000, 5_000):
        with pytest.raises(TokenError) as exc:
            verify_token(SECRET, token, now=now)
        assert exc.value.reason == "expired"


def test_wrong_secret_is_bad_signature() -> None:
    token = sign_token(SECRET, CLAIMS)
    with pytest.raises(TokenError) as exc:
        verify_token(b"other", token, now=0)
    assert exc.value.reason == "bad_signature"


def test_tampered_payload_is_rejected() -> None:
    forged = sign_token(SECRET, SessionToken("demo", "mallory", 10**12, "s1"))
    good = sign_token(SECRET, CLAIMS)
    spliced = ".".join([good.split(".")[0], forged.split(".")[1], good.split(".")[2]])
    with pytest.raises(TokenError) as exc:
        verify_token(SECRET, spliced, now=0)
    assert exc.value.reason == "bad_signature"


def test_each_claim_is_signed() -> None:
    base = sign_token(SECRET, CLAIMS)
    for other in (
        SessionToken("other", "alice", 1_000, "s1"),
        SessionToken("demo", "bob", 1_000, "s1"),
        SessionToken("demo", "alice", 1_001, "s1"),
        SessionToken("demo", "alice", 1_000, "s2"),
    ):
        assert sign_token(SECRET, other).split(".")[2] != base.split(".")[2]


@pytest.mark.parametrize("token", ["", "v1", "v1.a", "v2.a.b", "v1.a.b.c", "v1.!!.??", 42])
def test_malformed(token: object) -> None:
    with pytest.raises(TokenError) as exc:
        verify_token(SECRET, token, now=0)  # type: ignore[arg-type]
    assert exc.value.reason in ("malformed", "bad_signature")


def test_signed_garbage_payload_is_malformed() -> None:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"x": 1}').rstrip(b"=").decode()
    signed = f"v1.{payload}"
    sig = (
        base64.urlsafe_b64encode(hmac.new(SECRET, signed.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(TokenError) as exc:
        verify_token(SECRET, f"{signed}.{sig}", now=0)
    assert exc.value.reason == "malformed"


def test_wrong_title() -> None:
    with pytest.raises(TokenError) as exc:
        verify_token(SECRET, sign_token(SECRET, CLAIMS), now=0, title="other")
    assert exc.value.reason == "wrong_title"
