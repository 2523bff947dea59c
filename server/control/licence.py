"""The ClearKey licence server and HLS AES-128 key endpoint of the control plane.

Routes (all need the grant's session token, ``Authorization: Bearer <token>``
or a ``"token"`` field of the JSON body)::

    POST   /licence/{title}              W3C EME ClearKey licence exchange
    POST   /licence/{title}/heartbeat    the stream is alive (keeps its slot)
    DELETE /licence/{title}              the stream stopped (frees its slot)
    GET    /licence/{title}/key/{kid}    HLS AES-128 key: 16 raw bytes

The token must be authentic (HMAC), unexpired and issued for ``title``.
Each account may hold ``max_streams`` concurrent streams; a stream is a
session id that acquired a licence or key and has been seen (licence,
renewal, heartbeat) within ``heartbeat_timeout_s``; one seen earlier has
vanished and its slot is free. Answers are JSON ``{"error", "reason"}``:

    401 missing_token | malformed | bad_signature | expired
    403 wrong_title | unknown_kid | not_encrypted
    429 too_many_streams (with "limit" and "active")
    422 invalid_request

Key material is only ever in 200 bodies: never logged, never in errors, never
in metrics (``licence_requests_total{result}``, ``licence_active_streams``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from drm import KeyStore, KeyStoreError, b64url_decode, b64url_encode, default_key_store_path
from server.control.metrics import Registry
from server.control.tokens import SessionToken, TokenError, verify_token

__all__ = ["LicenceConfig", "LicenceServer", "StreamLimiter"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class LicenceConfig:
    """``key_store``: the key file (default :func:`drm.default_key_store_path`);
    ``licence_duration_s``: ``expires_in`` of a licence; ``max_streams``:
    concurrent streams per account; ``heartbeat_timeout_s``: a stream not seen for
    this long frees its slot; ``clock``: Unix seconds (default ``time.time``)."""

    key_store: Path | None = None
    licence_duration_s: float = 600.0
    max_streams: int = 2
    heartbeat_timeout_s: float = 60.0
    clock: Callable[[], float] | None = None


class StreamLimiter:
    """Concurrent streams per account: session id -> (account, last seen)."""

    def __init__(self, limit: int, timeout_s: float) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[str, float]] = {}

    def _expire(self, now: float) -> None:
        dead = [s for s, (_, t) in self._seen.items() if now - t > self.timeout_s]
        for s in dead:
            del self._seen[s]

    def admit(self, account: str, session: str, now: float) -> tuple[bool, int]:
        """Take or refresh a slot; ``(admitted, active streams of the account)``."""
        with self._lock:
            self._expire(now)
            if session in self._seen:
                self._seen[session] = (account, now)
                return True, self._active(account)
            active = self._active(account)
            if active >= self.limit:
                return False, active
            self._seen[session] = (account, now)
            return True, active + 1

    def touch(self, session: str, now: float) -> bool:
        with self._lock:
            self._expire(now)
            if session not in self._seen:
                return False
            self._seen[session] = (self._seen[session][0], now)
            return True

    def release(self, session: str) -> bool:
        with self._lock:
            return self._seen.pop(session, None) is not None

    def _active(self, account: str) -> int:
        return sum(1 for a, _ in self._seen.values() if a == account)

    def active(self, now: float) -> int:
        with self._lock:
            self._expire(now)
            return len(self._seen)


def _err(status: int, error: str, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason, **extra}, status_code=status,
                        headers=_NO_STORE)


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class LicenceServer:
    """State and routes of the licence server (mounted by the control plane)."""

    def __init__(self, secret: bytes, config: LicenceConfig | None = None, *,
                 content_dir: Path | None = None, metrics: Registry | None = None) -> None:
        self.config = config or LicenceConfig()
        self._secret = secret
        self.clock = self.config.clock or time.time
        self.store = KeyStore(self.config.key_store or default_key_store_path(),
                              forbid_under=content_dir)
        self.streams = StreamLimiter(self.config.max_streams, self.config.heartbeat_timeout_s)
        self.metrics = metrics or Registry()
        m = self.metrics
        m.describe("licence_requests_total", "counter", "Licence/key requests by result.")
        m.describe("licence_active_streams", "gauge", "Streams holding a licence slot.")
        m.add_collector(lambda reg: reg.set("licence_active_streams", None,
                                            self.streams.active(self.clock())))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/licence/{title}", self.licence, methods=["POST", "DELETE"]),
            Route("/licence/{title}/heartbeat", self.heartbeat, methods=["POST"]),
            Route("/licence/{title}/key/{kid}", self.key, methods=["GET"]),
        ]

    # ----- helpers --------------------------------------------------------
    def _count(self, result: str) -> None:
        self.metrics.inc("licence_requests_total", {"result": result})

    def _refuse(self, status: int, error: str, reason: str, **extra: Any) -> _Refused:
        self._count(error)
        return _Refused(_err(status, error, reason, **extra))

    def _claims(self, request: Request, title: str, body: dict[str, Any] | None) -> SessionToken:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if token is None and body is not None and isinstance(body.get("token"), str):
            token = body["token"]
        if not token:
            raise self._refuse(401, "missing_token",
                               "send the grant's token as 'Authorization: Bearer <token>'")
        try:
            return verify_token(self._secret, token, now=self.clock(), title=title)
        except TokenError as exc:
            status = 403 if exc.reason == "wrong_title" else 401
            raise self._refuse(status, exc.reason, str(exc)) from None

    def _admit(self, claims: SessionToken) -> None:
        ok, active = self.streams.admit(claims.account, claims.session_id, self.clock())
        if not ok:
            raise self._refuse(
                429, "too_many_streams",
                f"account {claims.account!r} already has {active} concurrent streams "
                f"(limit {self.streams.limit}); stop one or wait for it to time out",
                limit=self.streams.limit, active=active)

    def _title_keys(self, title: str) -> dict[str, Any]:
        try:
            return {k.kid_hex: k for k in self.store.for_title(title)}
        except KeyStoreError:
            raise self._refuse(500, "key_store", "the key store is unusable") from None

    async def _json(self, request: Request) -> dict[str, Any] | None:
        raw = await request.body()
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._refuse(422, "invalid_request", "body is not JSON") from None
        if not isinstance(data, dict):
            raise self._refuse(422, "invalid_request", "body is not a JSON object")
        return data

    # ----- routes ---------------------------------------------------------
    async def licence(self, request: Request) -> Response:
        title = request.path_params["title"]
        try:
            body = await self._json(request)
            claims = self._claims(request, title, body)
            if request.method == "DELETE":
                released = self.streams.release(claims.session_id)
                self._count("released")
                return JSONResponse({"released": released}, headers=_NO_STORE)
            return self._issue(title, claims, body)
        except _Refused as r:
            return r.response

    def _issue(self, title: str, claims: SessionToken, body: dict[str, Any] | None) -> Response:
        kids_b64 = body.get("kids") if body is not None else None
        if not isinstance(kids_b64, list) or not kids_b64 or len(kids_b64) > 64:
            raise self._refuse(422, "invalid_request",
                               "'kids' must be a list of 1 to 64 base64url key ids", where="kids")
        kids = []
        for i, k in enumerate(kids_b64):
            try:
                raw = b64url_decode(k) if isinstance(k, str) else b""
            except ValueError:
                raw = b""
            if len(raw) != 16:
                raise self._refuse(422, "invalid_request", "not a base64url 16-byte key id",
                                   where=f"kids[{i}]")
            kids.append(raw.hex())
        known = self._title_keys(title)
        if not known:
            raise self._refuse(403, "not_encrypted", f"{title!r} has no keys")
        unknown = [k for k in kids if k not in known]
        if unknown:
            raise self._refuse(403, "unknown_kid",
                               f"key id {unknown[0]} is not a key of {title!r}", kid=unknown[0])
        self._admit(claims)
        self._count("issued")
        keys = [{"kty": "oct", "kid": b64url_encode(bytes.fromhex(k)),
                 "k": b64url_encode(known[k].key)} for k in kids]
        ltype = body.get("type") if body is not None else None
        return JSONResponse({"keys": keys, "type": ltype if ltype == "temporary" else "temporary",
                             "expires_in": self.config.licence_duration_s,
                             "heartbeat_timeout_s": self.config.heartbeat_timeout_s},
                            headers=_NO_STORE)

    async def heartbeat(self, request: Request) -> Response:
        title = request.path_params["title"]
        try:
            claims = self._claims(request, title, await self._json(request))
        except _Refused as r:
            return r.response
        if not self.streams.touch(claims.session_id, self.clock()):
            self._count("no_stream")
            return _err(409, "no_stream", "no active stream for this session (timed out or "
                        "stopped); ask for a licence again")
        self._count("heartbeat")
        return JSONResponse({"ok": True, "timeout_s": self.config.heartbeat_timeout_s},
                            headers=_NO_STORE)

    async def key(self, request: Request) -> Response:
        title = request.path_params["title"]
        kid = str(request.path_params["kid"]).lower()
        try:
            claims = self._claims(request, title, None)
            known = self._title_keys(title)
            if kid not in known:
                raise self._refuse(403, "unknown_kid", f"key id {kid} is not a key of {title!r}",
                                   kid=kid)
            self._admit(claims)
        except _Refused as r:
            return r.response
        self._count("key")
        return Response(known[kid].key, media_type="application/octet-stream", headers=_NO_STORE)
