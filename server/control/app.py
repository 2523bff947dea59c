"""The control plane's ASGI app: grants, steering, telemetry, QoE, progress.

Routes::

    POST /playback/{title}             grant (server.control.playback)
    GET  /steering/{title}?session=    content-steering JSON
    GET  /edges                        what the control plane knows of each edge
    POST /telemetry                    batch of client events (server.control.telemetry_store)
    GET  /qoe[?title=]                 per-title QoE (server.control.qoe)
    PUT  /viewing/{title}/progress     {account, position_s}
    GET  /viewing/{title}/progress?account=
    GET  /healthz, /metrics
    POST|DELETE /licence/{title}, POST /licence/{title}/heartbeat,
    GET  /licence/{title}/key/{kid}    ClearKey licences (server.control.licence)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from server.config import ControlConfig
from server.control.catalog_rules import CatalogRules
from server.control.licence import LicenceConfig, LicenceServer
from server.control.metrics import Registry, RequestCounter
from server.control.playback import (
    DASH_NAME,
    HLS_NAME,
    RequestError,
    parse_grant_request,
    pathway_urls,
)
from server.control.progress import ProgressStore
from server.control.qoe import aggregate
from server.control.steering import EdgeMonitor, steering_manifest
from server.control.telemetry_store import (
    BatchError,
    BatchTooLarge,
    TelemetryStore,
    validate_batch,
)
from server.control.tokens import SessionToken, sign_token

__all__ = ["ControlPlane"]

_TITLE_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _err(status: int, error: str, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason, **extra}, status_code=status)


class TooLarge(Exception):
    pass


class ControlPlane:
    """Control-plane state and its ASGI app (``control.app``)."""

    def __init__(
        self,
        config: ControlConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        extra_routes: Sequence[BaseRoute] = (),
        licence: LicenceConfig | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.rules = CatalogRules(config.rules)
        self.telemetry = TelemetryStore(config.db_path)
        self.progress = ProgressStore(config.db_path)
        self.monitor = EdgeMonitor(
            config.edges,
            ttl_s=config.steering_ttl_s,
            poll_interval_s=config.poll_interval_s,
            timeout_s=config.edge_poll_timeout_s,
            clock=monotonic,
        )
        self.metrics = Registry()
        self._describe_metrics()
        self.licence = LicenceServer(
            config.secret, licence, content_dir=config.content_dir, metrics=self.metrics
        )
        routes = [
            Route("/playback/{title}", self.grant, methods=["POST"]),
            Route("/steering/{title}", self.steering, methods=["GET"]),
            Route("/edges", self.edges, methods=["GET"]),
            Route("/telemetry", self.collect, methods=["POST"]),
            Route("/qoe", self.qoe, methods=["GET"]),
            Route("/viewing/{title}/progress", self.viewing, methods=["GET", "PUT"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.render_metrics, methods=["GET"]),
            *self.licence.routes(),
            *extra_routes,
        ]
        self.starlette = Starlette(routes=routes, lifespan=self._lifespan)
        self.starlette.router.redirect_slashes = False
        self.app = RequestCounter(self.starlette, self.metrics, lambda: self.starlette.routes)

    @property
    def base_url(self) -> str:
        return self.config.public_url.rstrip("/")

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Any) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            if self.monitor.edges:
                await self.monitor.poll_once(client)
            task = asyncio.create_task(self.monitor.run(client))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def close(self) -> None:
        self.telemetry.close()
        self.progress.close()

    # ------------------------------------------------------------ catalog
    def title_dir(self, title: str) -> Path | None:
        if not title or not set(title) <= _TITLE_OK or title.startswith("."):
            return None
        d = self.config.content_dir / title
        return d if (d / "catalog.json").is_file() else None

    def title_info(self, title: str) -> dict[str, Any]:
        """Lenient read of catalog.json: duration and manifest names, when present."""
        d = self.title_dir(title)
        data: Any = None
        if d is not None:
            try:
                data = json.loads((d / "catalog.json").read_text())
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                data = None
        if not isinstance(data, dict):
            data = {}
        info: dict[str, Any] = {"duration": None, "hls": HLS_NAME, "dash": DASH_NAME}
        for key in ("duration", "duration_s"):
            v = data.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool):
                info["duration"] = float(v)
                break
        for key in ("hls", "dash"):
            v = data.get(key)
            if isinstance(v, str) and v and ".." not in v and not v.startswith("/"):
                info[key] = v
        return info

    # ------------------------------------------------------------- grants
    async def grant(self, request: Request) -> Response:
        title = request.path_params["title"]
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _err(422, "invalid_request", f"body is not JSON: {exc}", where="body")
        try:
            req = parse_grant_request(body)
        except RequestError as exc:
            return _err(422, "invalid_request", str(exc), where=exc.where)
        if self.title_dir(title) is None:
            return _err(404, "unknown_title", f"no title {title!r} in the catalog")
        now = self.clock()
        decision = self.rules.check(
            title, req.country, req.device_class, dt.datetime.fromtimestamp(now, dt.UTC)
        )
        if not decision.allowed:
            self.metrics.inc("control_grants_denied_total", {"reason": "not_licensed"})
            return _err(403, "not_licensed", decision.reason, country=req.country)
        session_id = uuid.uuid4().hex
        expires = int(now + self.config.token_ttl_s)
        token = sign_token(
            self.config.secret, SessionToken(title, req.account, expires, session_id)
        )
        ranked = self.monitor.ranking(session_id)
        info = self.title_info(title)
        pathways = [
            pathway_urls(st.name, st.url, title, hls=info["hls"], dash=info["dash"])
            for st in ranked
        ]
        resume = self.progress.get(req.account, title)
        await asyncio.to_thread(
            self.telemetry.record_session,
            session_id,
            title,
            req.account,
            req.country,
            req.device_class,
            now,
        )
        self.metrics.inc("control_grants_total", {"title": title})
        top = pathways[0] if pathways else None
        return JSONResponse(
            {
                "title": title,
                "session_id": session_id,
                "token": token,
                "expires_at": expires,
                "manifest_url": top["hls"] if top else None,
                "manifests": {"hls": top["hls"], "dash": top["dash"]} if top else {},
                "pathways": pathways,
                "licence_url": f"{self.base_url}/licence/{title}",
                "resume_at": resume[0] if resume else 0.0,
                "steering_uri": f"{self.base_url}/steering/{title}?session={session_id}",
                "telemetry_url": f"{self.base_url}/telemetry",
                "progress_url": f"{self.base_url}/viewing/{title}/progress",
            }
        )

    async def steering(self, request: Request) -> Response:
        title = request.path_params["title"]
        if self.title_dir(title) is None:
            return _err(404, "unknown_title", f"no title {title!r} in the catalog")
        session = request.query_params.get("session", "")
        priority = [st.name for st in self.monitor.ranking(session)]
        reload_uri = f"{self.base_url}/steering/{title}"
        if session:
            reload_uri += f"?session={session}"
        body = steering_manifest(priority, ttl_s=self.config.steering_ttl_s, reload_uri=reload_uri)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    async def edges(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "edges": [
                    {**st.as_json(), "eligible": self.monitor.eligible(st)}
                    for st in self.monitor.edges.values()
                ],
                "polls": self.monitor.polls,
            }
        )

    # ---------------------------------------------------------- telemetry
    async def _read_limited(self, request: Request) -> bytes:
        limit = self.config.max_batch_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def collect(self, request: Request) -> Response:
        cfg = self.config
        try:
            raw = await self._read_limited(request)
        except TooLarge:
            self.metrics.inc("control_telemetry_batches_rejected_total", {"reason": "too_large"})
            return _err(
                413,
                "batch_too_large",
                f"batch exceeds {cfg.max_batch_bytes} bytes",
                limit_bytes=cfg.max_batch_bytes,
            )
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.metrics.inc("control_telemetry_batches_rejected_total", {"reason": "malformed"})
            return _err(
                422,
                "invalid_telemetry",
                f"body is not JSON: {exc}",
                where="body",
                errors=[{"where": "body", "what": str(exc)}],
            )
        try:
            events = validate_batch(body, max_events=cfg.max_batch_events)
        except BatchError as exc:
            too_many = isinstance(exc, BatchTooLarge)
            status, reason = (413, "too_many") if too_many else (422, "malformed")
            events_in = body.get("events") if isinstance(body, dict) else None
            n = len(events_in) if isinstance(events_in, list) else 0
            self.metrics.inc("control_telemetry_batches_rejected_total", {"reason": reason})
            self.metrics.inc("control_telemetry_events_rejected_total", {"reason": reason}, n)
            return _err(
                status,
                "batch_too_large" if too_many else "invalid_telemetry",
                str(exc),
                where=exc.errors[0][0],
                errors=[{"where": w, "what": m} for w, m in exc.errors],
            )
        result = await asyncio.to_thread(self.telemetry.store, events, now=self.clock())
        self.metrics.inc("control_telemetry_events_stored_total", None, result.stored)
        self.metrics.inc("control_telemetry_events_duplicate_total", None, result.duplicates)
        return JSONResponse({"stored": result.stored, "duplicates": result.duplicates})

    async def qoe(self, request: Request) -> Response:
        title = request.query_params.get("title")
        rows = await asyncio.to_thread(self.telemetry.events, title)
        return JSONResponse({"titles": aggregate(rows)})

    # ----------------------------------------------------------- progress
    async def viewing(self, request: Request) -> Response:
        title = request.path_params["title"]
        if self.title_dir(title) is None:
            return _err(404, "unknown_title", f"no title {title!r} in the catalog")
        if request.method == "GET":
            account = request.query_params.get("account", "anonymous")
            got = self.progress.get(account, title)
            return JSONResponse(
                {
                    "title": title,
                    "account": account,
                    "position_s": got[0] if got else 0.0,
                    "updated_at": got[1] if got else None,
                }
            )
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _err(422, "invalid_request", f"body is not JSON: {exc}", where="body")
        if not isinstance(body, dict):
            return _err(422, "invalid_request", "expected {account, position_s}", where="body")
        account = body.get("account", "anonymous")
        pos = body.get("position_s")
        if not isinstance(account, str) or not account or len(account) > 128:
            return _err(
                422, "invalid_request", "account must be a non-empty string", where="account"
            )
        if isinstance(pos, bool) or not isinstance(pos, int | float) or not 0 <= pos < 1e7:
            return _err(
                422, "invalid_request", "position_s must be a number >= 0", where="position_s"
            )
        duration = self.title_info(title)["duration"]
        if duration is not None and pos > duration:
            return _err(
                422,
                "invalid_request",
                f"position_s {pos} is past the title's end ({duration} s)",
                where="position_s",
            )
        self.progress.put(account, title, float(pos), self.clock())
        return JSONResponse({"title": title, "account": account, "position_s": float(pos)})

    # ------------------------------------------------------------- health
    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "edges": len(self.monitor.edges)})

    async def render_metrics(self, _request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    def _describe_metrics(self) -> None:
        m = self.metrics
        m.describe("control_grants_total", "counter", "Playback grants issued.")
        m.describe("control_grants_denied_total", "counter", "Playback requests denied.")
        m.describe("control_telemetry_events_stored_total", "counter", "Telemetry events stored.")
        m.describe(
            "control_telemetry_events_duplicate_total",
            "counter",
            "Telemetry events ignored as duplicates.",
        )
        m.describe(
            "control_telemetry_events_rejected_total",
            "counter",
            "Telemetry events in rejected batches.",
        )
        m.describe(
            "control_telemetry_batches_rejected_total", "counter", "Telemetry batches rejected."
        )
        m.describe("control_edge_up", "gauge", "1 if the edge is eligible for steering.")
        m.describe("control_edge_active_connections", "gauge", "Edge-reported responses in flight.")
        m.describe("control_edge_bytes_per_second", "gauge", "Edge-reported send rate.")

        def collect(reg: Registry) -> None:
            for st in self.monitor.edges.values():
                lab = {"edge": st.name}
                reg.set("control_edge_up", lab, 1.0 if self.monitor.eligible(st) else 0.0)
                reg.set("control_edge_active_connections", lab, st.active_connections)
                reg.set("control_edge_bytes_per_second", lab, st.bytes_per_s)

        m.add_collector(collect)
