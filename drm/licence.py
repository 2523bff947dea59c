"""The ClearKey licence client: W3C EME ClearKey JSON over HTTP, bound to the
grant's session token.

Request (``POST <licence_url>``, ``Authorization: Bearer <token>``)::

    {"kids": ["<base64url KID>", ...], "type": "temporary"}

Response::

    {"keys": [{"kty": "oct", "kid": "<base64url>", "k": "<base64url key>"}],
     "type": "temporary", "expires_in": 600}

``expires_in`` and ``heartbeat_timeout_s`` (seconds; abrkit's additions,
ignored by browsers' CDMs) are the licence duration and how long the server
keeps a silent stream's slot. :meth:`LicenceClient.key` heart-beats on its
own every third of that timeout (or ``heartbeat_s``), re-acquiring the
licence if the server forgot the stream. The client keeps the keys for the session, renews the
licence once ``renew_fraction`` of its duration has passed (a failed renewal
keeps the keys until they expire, so playback does not stall), retries
transport errors and 5xx with backoff, never retries 401/403/429, and reports
every acquisition through ``on_licence(LicenceReport)`` (latency, attempts;
never keys). AES-128 key URIs (HLS) are fetched with the same token and cached.

The flows are generators that yield :class:`HttpRequest` / :class:`Sleep` and
receive :class:`HttpResponse`; :class:`LicenceClient` drives them with an
``httpx.Client`` (any object with ``request(method, url, content=, headers=,
timeout=)`` works), and the clock and sleep are injected.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import KeyNotFoundError, LicenceDenied, LicenceError

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "LicenceClient",
    "LicenceConfig",
    "LicenceReport",
    "Sleep",
    "b64url_decode",
    "b64url_encode",
    "licence_request_body",
    "parse_licence_response",
]

log = logging.getLogger(__name__)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class LicenceConfig:
    """``retries``: extra attempts after a transport error or 5xx; ``backoff_s``:
    first wait, doubled each time; ``timeout_s``: per request; ``renew_fraction``:
    renew once this share of the licence duration has passed."""

    retries: int = 3
    backoff_s: float = 0.1
    timeout_s: float = 5.0
    renew_fraction: float = 0.75
    heartbeat_s: float | None = None  # None: a third of the server's heartbeat_timeout_s


@dataclass(frozen=True, slots=True)
class LicenceReport:
    """One licence acquisition (or renewal, or AES-128 key fetch): for telemetry."""

    kids: tuple[str, ...]  # hex KIDs asked for (public identifiers)
    latency_s: float  # first request sent -> keys usable, retries included
    attempts: int
    renewal: bool = False
    expires_in_s: float | None = None
    kind: str = "clearkey"  # "clearkey" | "aes-128"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int  # 0: transport error
    body: bytes = b""
    error: str | None = None  # transport error name


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


def licence_request_body(kids: Iterable[str]) -> bytes:
    """The EME ClearKey licence request for hex ``kids``."""
    return json.dumps(
        {"kids": [b64url_encode(bytes.fromhex(k)) for k in kids], "type": "temporary"},
        separators=(",", ":"),
    ).encode()


def parse_licence_response(body: bytes) -> tuple[dict[str, bytes], float | None]:
    """``({kid hex: key}, expires_in seconds or None)`` from a ClearKey response."""
    keys, expires, _ = _parse(body)
    return keys, expires


def _parse(body: bytes) -> tuple[dict[str, bytes], float | None, float | None]:
    try:
        data = json.loads(body)
        keys = {}
        for jwk in data["keys"]:
            if jwk.get("kty") != "oct":
                continue
            kid, k = b64url_decode(jwk["kid"]), b64url_decode(jwk["k"])
            if len(kid) != 16 or len(k) != 16:
                raise ValueError("not 16 bytes")
            keys[kid.hex()] = k
        exp = data.get("expires_in")
        expires = float(exp) if isinstance(exp, int | float) and exp > 0 else None
        hb = data.get("heartbeat_timeout_s")
        heartbeat = float(hb) if isinstance(hb, int | float) and hb > 0 else None
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise LicenceError("licence response is not a ClearKey key set") from None
    return keys, expires, heartbeat


def _reason(body: bytes) -> tuple[str, str | None]:
    try:
        data = json.loads(body)
        return str(data.get("error", "error")), (str(data["reason"]) if "reason" in data else None)
    except (ValueError, TypeError, AttributeError):
        return "error", None


Flow = Generator[HttpRequest | Sleep, HttpResponse | None, HttpResponse]


def _with_retries(req: HttpRequest, config: LicenceConfig, what: str) -> Flow:
    """Send ``req`` until it gets a non-5xx answer; raise after the last attempt."""
    attempt = 0
    wait = config.backoff_s
    while True:
        attempt += 1
        resp = yield req
        assert resp is not None
        if resp.status and resp.status < 500 and resp.status != 408:
            return HttpResponse(resp.status, resp.body, str(attempt))
        if attempt > config.retries:
            why = resp.error or f"HTTP {resp.status}"
            raise LicenceError(f"{what} failed after {attempt} attempts ({why})",
                               status=resp.status or None, reason=why)
        yield Sleep(wait)
        wait *= 2


def _check(resp: HttpResponse, what: str) -> None:
    if resp.status == 200:
        return
    error, reason = _reason(resp.body)
    msg = f"{what} refused: HTTP {resp.status} {error}" + (f": {reason}" if reason else "")
    if resp.status in (401, 403, 429):
        raise LicenceDenied(msg, status=resp.status, error=error, reason=reason)
    raise LicenceError(msg, status=resp.status, reason=reason)


class LicenceClient:
    """Keys of one playback session. Thread-safe; one instance per session."""

    def __init__(
        self,
        licence_url: str,
        token: str,
        *,
        http: Any = None,
        config: LicenceConfig = LicenceConfig(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_licence: Callable[[LicenceReport], None] | None = None,
    ) -> None:
        self.licence_url = licence_url.rstrip("/")
        self._token = token
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.on_licence = on_licence
        self._own_http = http is None
        if http is None:
            import httpx

            http = httpx.Client()
        self.http = http
        self._lock = threading.RLock()
        self._keys: dict[str, bytes] = {}
        self._uri_keys: dict[str, bytes] = {}
        self._issued_at: float | None = None
        self._expires_in: float | None = None
        self._heartbeat_timeout: float | None = None
        self._last_contact: float | None = None
        self.renewals = 0
        self.heartbeats = 0

    def __repr__(self) -> str:
        return f"LicenceClient({self.licence_url!r}, keys={len(self._keys)})"

    # ----- driving flows --------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _run(self, flow: Flow) -> HttpResponse:
        import httpx

        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    self.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    r = self.http.request(step.method, step.url, content=step.body,
                                          headers=step.headers, timeout=self.config.timeout_s)
                    resp = HttpResponse(r.status_code, r.content)
                except httpx.HTTPError as exc:
                    resp = HttpResponse(0, b"", type(exc).__name__)
                step = flow.send(resp)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # ----- licences -------------------------------------------------------
    def acquire(self, kids: Iterable[str], *, renewal: bool = False) -> dict[str, bytes]:
        """Ask the licence server for ``kids`` (hex); the keys join the session cache.
        Raises :class:`LicenceDenied` / :class:`LicenceError`; a KID the server did not
        return is a :class:`KeyNotFoundError`."""
        wanted = tuple(dict.fromkeys(k.lower() for k in kids))
        if not wanted:
            raise KeyNotFoundError("no KID to ask a licence for")
        start = self.clock()
        req = HttpRequest("POST", self.licence_url,
                          {**self._headers(), "Content-Type": "application/json"},
                          licence_request_body(wanted))
        resp = self._run(_with_retries(req, self.config, "licence request"))
        _check(resp, "licence request")
        keys, expires, heartbeat = _parse(resp.body)
        missing = [k for k in wanted if k not in keys]
        with self._lock:
            self._keys.update(keys)
            self._issued_at = self._last_contact = self.clock()
            self._expires_in = expires
            self._heartbeat_timeout = heartbeat
        latency = self.clock() - start
        if self.on_licence is not None:
            self.on_licence(LicenceReport(wanted, latency, int(resp.error or 1), renewal, expires))
        log.debug("licence for %d kid(s) in %.1f ms (renewal=%s)", len(keys), latency * 1e3,
                  renewal)
        if missing:
            raise KeyNotFoundError("the licence does not carry this key", kid=missing[0])
        return {k: keys[k] for k in wanted}

    @property
    def expires_at(self) -> float | None:
        """Clock time the licence expires (None: no licence yet, or no expiry)."""
        if self._issued_at is None or self._expires_in is None:
            return None
        return self._issued_at + self._expires_in

    def renew_due(self) -> bool:
        if self._issued_at is None or self._expires_in is None or not self._keys:
            return False
        return self.clock() >= self._issued_at + self.config.renew_fraction * self._expires_in

    def maybe_renew(self) -> bool:
        """Renew the licence if it is due; True if a renewal happened. A failed renewal
        is logged (no keys) and leaves the current keys until they expire; a denied
        one (401/403/429) is raised."""
        if not self.renew_due():
            return False
        try:
            self.acquire(tuple(self._keys), renewal=True)
        except LicenceDenied:
            raise
        except LicenceError as exc:
            exp = self.expires_at
            if exp is not None and self.clock() >= exp:
                raise
            log.warning("licence renewal failed, keys still valid: %s", exc)
            return False
        self.renewals += 1
        return True

    def key(self, kid: str, *, segment: str | None = None) -> bytes:
        """The key for ``kid`` (hex): from the cache, renewed when due, acquired when
        missing. Raises :class:`KeyNotFoundError` naming the KID and ``segment``."""
        kid = kid.lower()
        if not self.maybe_renew():
            self.maybe_heartbeat()
        with self._lock:
            key = self._keys.get(kid)
            exp = self.expires_at
        if key is not None and (exp is None or self.clock() < exp):
            return key
        try:
            return self.acquire((kid,), renewal=key is not None)[kid]
        except KeyNotFoundError:
            raise KeyNotFoundError("the licence server has no key for this KID", kid=kid,
                                   segment=segment) from None

    def heartbeat_interval(self) -> float | None:
        if self.config.heartbeat_s is not None:
            return self.config.heartbeat_s
        return self._heartbeat_timeout / 3 if self._heartbeat_timeout else None

    def maybe_heartbeat(self) -> bool:
        """Heart-beat if the interval has passed since the last contact; if the server
        forgot the stream, acquire the licence again (which may be refused: 429)."""
        every = self.heartbeat_interval()
        last = self._last_contact
        if every is None or last is None or not self._keys or self.clock() - last < every:
            return False
        try:
            alive = self.heartbeat()
        except LicenceDenied:
            raise
        except LicenceError as exc:
            log.warning("licence heartbeat failed: %s", exc)
            return False
        if not alive:
            self.acquire(tuple(self._keys), renewal=True)
        return True

    def has_key(self, kid: str) -> bool:
        return kid.lower() in self._keys

    # ----- AES-128 key URIs ----------------------------------------------
    def uri_key(self, uri: str, *, segment: str | None = None) -> bytes:
        """The 16-byte key behind an HLS AES-128 key URI (GET with the session token),
        cached per URI."""
        with self._lock:
            if uri in self._uri_keys:
                return self._uri_keys[uri]
        start = self.clock()
        req = HttpRequest("GET", uri, self._headers())
        resp = self._run(_with_retries(req, self.config, "key request"))
        _check(resp, "key request")
        if len(resp.body) != 16:
            raise LicenceError(f"key URI answered {len(resp.body)} bytes, not 16",
                               segment=segment)
        with self._lock:
            self._uri_keys[uri] = resp.body
        if self.on_licence is not None:
            self.on_licence(LicenceReport((), self.clock() - start, int(resp.error or 1),
                                          kind="aes-128"))
        return resp.body

    # ----- session --------------------------------------------------------
    def heartbeat(self) -> bool:
        """Tell the licence server the stream is alive; False if it forgot the session."""
        req = HttpRequest("POST", self.licence_url + "/heartbeat", self._headers())
        resp = self._run(_with_retries(req, self.config, "heartbeat"))
        if resp.status in (404, 409, 410):
            return False
        _check(resp, "heartbeat")
        self._last_contact = self.clock()
        self.heartbeats += 1
        return True

    def release(self) -> None:
        """Stop the stream (frees its concurrent-stream slot) and forget the keys."""
        try:
            req = HttpRequest("DELETE", self.licence_url, self._headers())
            self._run(_with_retries(req, LicenceConfig(retries=0), "release"))
        finally:
            with self._lock:
                self._keys.clear()
                self._uri_keys.clear()

    @property
    def active(self) -> bool:
        """True once a licence or key was acquired (and not released)."""
        return bool(self._keys or self._uri_keys)

    def close(self) -> None:
        if self._own_http:
            self.http.close()
