"""Signed, expiring playback session tokens (HMAC-SHA256).

Format: ``v1.<payload>.<signature>``, both parts unpadded base64url.
The payload is compact JSON ``{"t": title, "a": account, "e": expiry
(integer Unix seconds), "s": session id}``; the signature is
HMAC-SHA256(secret, ``"v1." + payload``). Verification is constant-time and
checks the expiry against a ``now`` the caller passes in (no clock here).
The licence server and edges verify with :func:`verify_token`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from server.errors import ServerError

__all__ = ["SessionToken", "TokenError", "sign_token", "verify_token"]

_PREFIX = "v1"


class TokenError(ServerError):
    """A token is malformed, forged or expired; ``reason`` is one of
    ``malformed``, ``bad_signature``, ``expired``, ``wrong_title``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SessionToken:
    title: str
    account: str
    expires_at: int
    session_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode("ascii"), hashlib.sha256).digest()


def sign_token(secret: bytes, claims: SessionToken) -> str:
    payload = json.dumps(
        {
            "t": claims.title,
            "a": claims.account,
            "e": int(claims.expires_at),
            "s": claims.session_id,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    signed = f"{_PREFIX}.{_b64(payload)}"
    return f"{signed}.{_b64(_mac(secret, signed))}"


def verify_token(
    secret: bytes, token: str, *, now: float, title: str | None = None
) -> SessionToken:
    """The claims of a valid token; raises :class:`TokenError` otherwise."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise TokenError("malformed", "token: expected 'v1.<payload>.<signature>'")
    signed = f"{parts[0]}.{parts[1]}"
    try:
        sig = _unb64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed", "token: signature is not base64url") from exc
    if not hmac.compare_digest(sig, _mac(secret, signed)):
        raise TokenError("bad_signature", "token: signature does not match")
    try:
        data = json.loads(_unb64(parts[1]))
        claims = SessionToken(str(data["t"]), str(data["a"]), int(data["e"]), str(data["s"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed", "token: payload is not the expected JSON") from exc
    if now >= claims.expires_at:
        raise TokenError("expired", f"token: expired at {claims.expires_at} (now {int(now)})")
    if title is not None and claims.title != title:
        raise TokenError("wrong_title", f"token: issued for {claims.title!r}, not {title!r}")
    return claims
