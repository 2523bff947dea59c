"""Real playback: :class:`Player` against a playback API or a manifest URL.

    player = await Player.open("http://127.0.0.1:8100/playback/demo", PlayerConfig(speed=4))
    await player.play()                     # starts (or resumes) playback; returns at once
    async for event in player.events():    # telemetry events as they happen
        ...
    summary = await player.wait()           # SessionSummary when the session ends
    # also: player.pause(), player.seek(12.0), player.stop(), player.result()

    summary = play_sync(url, PlayerConfig())   # the same, blocking

``open`` takes a playback-API URL (``POST /playback/{title}`` -> a grant with
ranked pathways, manifest URLs, token, resume position, steering URI,
telemetry and progress URLs) or a manifest URL (HLS master/media playlist or
DASH MPD). It fetches the manifest from pathway 1 with failover
(:class:`~player.oca.OcaPool`), resolves every video rendition and the audio
one (:mod:`player.media`), and builds the engine session. ``play`` runs the
:class:`~player.realtime.RealtimeDriver` on a :class:`~player.realtime.ScaledClock`
(``config.speed``); segments are fetched through the pool (failover, breakers,
retries; an edge that failed is ranked last for ``config.demote_s``, even
against steering), decoded with PyAV in a worker thread
(:mod:`player.decode`) and presented by the headless renderer
(:mod:`player.renderer`). Audio: the audio segment covering each video
segment's start is fetched alongside it (the packager aligns them one to one)
and, with ``DecodeConfig.audio``, decoded.

Errors: :class:`PlaybackError` (``code``: ``grant``, ``manifest``,
``media``) when a session cannot start; a session that fails later ends
with ``summary.state == "failed"`` and an ``error`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from abr.registry import make_abandon_rule, policy_factory
from manifest import ManifestError
from manifest.parse import parse
from telemetry.events import Event
from telemetry.qoe import QoeSummary
from telemetry.sinks import HttpSink

from .config import PlayerConfig
from .decode import Decoder
from .errors import PlayerError
from .http import async_client, shared_ssl_context
from .media import Media, MediaError, load_media
from .oca import FailoverRecord, OcaPool, Pathway, PathwayError, pathways_from_grant
from .realtime import Clock, Fetched, RealtimeDriver, ScaledClock
from .renderer import FrameStats, HeadlessRenderer
from .resume import ProgressReporter
from .session import Session, SessionResult
from .states import FetchSegment, State
from .steering_client import SteeringClient, SteeringManifest
from .telemetry_bridge import TelemetryBridge, cmcd_for
from .transport import RETRYABLE_STATUSES, HttpxTransport, Transport, TransportError

__all__ = ["PlaybackError", "Player", "SessionSummary", "play_sync"]


class PlaybackError(PlayerError):
    """A session could not start. ``code``: "grant", "manifest" or "media"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class SessionSummary:
    """How a session went: the engine's result plus what only real playback knows.

    ``timings`` (wall seconds): ``grant_s``, ``manifest_s`` (manifest and media
    playlists), ``init_s`` (first init segment), ``first_segment_s`` and
    ``first_frame_s`` (from ``play()``), ``wall_s`` (play to end), ``cpu_s``
    (process CPU over the session), ``decode_cpu_s``.
    """

    session_id: str
    title: str | None
    state: str
    failure: str | None
    result: SessionResult
    frames: FrameStats | None
    failovers: int
    edges: dict[str, int]  # segments delivered per edge
    timings: dict[str, float | None]
    events: int
    start_position_s: float
    sizes_from: str

    @property
    def qoe(self) -> QoeSummary:
        return self.result.qoe

    @property
    def ok(self) -> bool:
        return self.state == "ended"

    def to_dict(self) -> dict[str, Any]:
        fr = self.frames
        return {
            "session_id": self.session_id,
            "title": self.title,
            "state": self.state,
            "failure": self.failure,
            "qoe": self.qoe.to_dict(),
            "frames": None if fr is None else {
                "decoded": fr.decoded, "presented": fr.presented, "late": fr.late,
                "dropped": fr.dropped, "out_of_order": fr.out_of_order,
            },
            "failovers": self.failovers,
            "edges": dict(self.edges),
            "timings": dict(self.timings),
            "events": self.events,
            "start_position_s": self.start_position_s,
            "segments": [r._asdict() for r in self.result.segments],
        }


def _is_manifest_url(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith((".m3u8", ".m3u", ".mpd"))


@dataclass
class _Timings:
    t_open: float = field(default_factory=time.perf_counter)
    grant_s: float | None = None
    manifest_s: float | None = None
    init_s: float | None = None
    t_play: float | None = None
    first_segment_s: float | None = None
    first_frame_s: float | None = None
    wall_s: float | None = None
    cpu0: float = 0.0
    cpu_s: float | None = None


class Player:
    """One playback session. Build with :meth:`open`; see the module docstring."""

    def __init__(self) -> None:  # use Player.open
        self.config = PlayerConfig()
        self.grant: dict[str, Any] | None = None
        self.session_id = ""
        self.title: str | None = None
        self.media: Media
        self.session: Session
        self.pool: OcaPool
        self.bridge: TelemetryBridge
        self.driver: RealtimeDriver
        self.clock: Clock
        self.renderer: HeadlessRenderer | None = None
        self.decoder: Decoder | None = None
        self.reporter: ProgressReporter | None = None
        self.steering: SteeringClient | None = None
        self._transport: Transport
        self._client: httpx.AsyncClient | None = None
        self._owns_transport = False
        self._http_sinks: list[HttpSink] = []
        self._task: asyncio.Task[SessionSummary] | None = None
        self._aux: list[asyncio.Task[Any]] = []
        self._decodes: list[asyncio.Future[Any]] = []
        self._init_cache: dict[Any, asyncio.Future[bytes]] = {}
        self._serving: str | None = None
        self._demoted: dict[str, float] = {}
        self._steer_priority: tuple[str, ...] = ()
        self._failovers = 0
        self._edges: dict[str, int] = {}
        self._decode_gen = 0
        self._summary: SessionSummary | None = None
        self._io_closed = False
        self._timings = _Timings()
        self._start_position = 0.0
        self._wall: Callable[[], float] = time.time
        self._monotonic: Callable[[], float] = time.monotonic
        self._owns_client = False
        self._licence_http: httpx.Client | None = None
        self._seg_starts: list[float] = []

    # --- opening ------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        url: str,
        config: PlayerConfig | None = None,
        *,
        transport: Transport | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Player:
        """Ask for a grant (or take the manifest URL), load the title, build the session.

        ``transport`` (segments, manifests, steering) and ``http`` (grant,
        progress, telemetry) are injectable; ``clock`` defaults to
        ``ScaledClock(config.speed)``; ``wall`` gives event timestamps (Unix s).
        """
        self = cls()
        cfg = self.config = config or PlayerConfig()
        self._wall = wall
        self._monotonic = monotonic
        self._timings = _Timings(cpu0=time.process_time())
        self._client = http or async_client(timeout=cfg.manifest_timeout_s)
        self._owns_client = http is None
        cmcd_mode = "query" if cfg.telemetry.cmcd == "off" else cfg.telemetry.cmcd
        if transport is None:
            transport = HttpxTransport(cmcd_mode=cmcd_mode)
            self._owns_transport = True
        self._transport = transport
        sinks = list(cfg.telemetry.sinks)
        self.bridge = TelemetryBridge("pending", sinks, wall=wall,
                                      heartbeat_interval_s=cfg.telemetry.heartbeat_interval_s)
        try:
            pathways = await self._pathways(url)
            self.bridge.session_id = self.session_id
            if cfg.telemetry.collector and self.grant and self.grant.get("telemetry_url"):
                sink = HttpSink(str(self.grant["telemetry_url"]), spool_dir=cfg.telemetry.spool_dir)
                self._http_sinks.append(sink)
                self.bridge.sinks.append(sink)
            self._http_sinks += [s for s in sinks if isinstance(s, HttpSink)]
            self.pool = OcaPool(pathways, transport, config=cfg.oca, clock=monotonic,
                                on_failover=self._on_failover)
            self._serving = self.pool.ranking[0]
            await self._load()
        except BaseException as exc:
            code = exc.code if isinstance(exc, PlaybackError) else "open"
            if not self.session_id:
                self.session_id = self.bridge.session_id = uuid.uuid4().hex
            self.bridge.error(code, str(exc), fatal=True)
            self.bridge.finish()
            await self._close_io()
            raise
        self._build_session()
        return self

    async def _pathways(self, url: str) -> list[Pathway]:
        cfg = self.config
        assert self._client is not None
        if _is_manifest_url(url):
            parts = urlsplit(url)
            self.session_id = uuid.uuid4().hex
            self.title = parts.path.rstrip("/").rsplit("/", 2)[-2] if "/" in parts.path else None
            return [Pathway("origin", f"{parts.scheme}://{parts.netloc}", url)]
        t0 = time.perf_counter()
        try:
            r = await self._client.post(url, json=cfg.grant.body())
        except httpx.HTTPError as exc:
            raise PlaybackError("grant", f"POST {url}: {type(exc).__name__}: {exc}") from exc
        self._timings.grant_s = time.perf_counter() - t0
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code != 200 or not isinstance(body, dict):
            why = body.get("reason") or body.get("error") if isinstance(body, dict) else None
            raise PlaybackError("grant", f"POST {url}: HTTP {r.status_code}: {why or r.text[:200]}")
        self.grant = body
        self.session_id = str(body.get("session_id") or uuid.uuid4().hex)
        self.title = body.get("title")
        try:
            pathways = pathways_from_grant(body, protocol=cfg.protocol)
        except PathwayError as exc:
            raise PlaybackError("grant", str(exc)) from exc
        if not any(p.manifest_url for p in pathways):
            manifest = (body.get("manifests") or {}).get(cfg.protocol) or body.get("manifest_url")
            if not manifest:
                raise PlaybackError("grant", "the grant names no manifest")
            pathways = [Pathway(p.id, p.base_url, manifest if i == 0 else None)
                        for i, p in enumerate(pathways)]
        return pathways

    async def _load(self) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        try:
            res = await self.pool.fetch_manifest()
        except TransportError as exc:
            raise PlaybackError("manifest", str(exc)) from exc
        try:
            presentation = parse(res.data, res.url)
            self.media = await load_media(self.pool, presentation, max_height=cfg.max_height)
        except (ManifestError, MediaError) as exc:
            raise PlaybackError("media", str(exc)) from exc
        except TransportError as exc:
            raise PlaybackError("manifest", str(exc)) from exc
        self._timings.manifest_s = time.perf_counter() - t0

    def _build_session(self) -> None:
        cfg = self.config
        policy = policy_factory(cfg.policy, **dict(cfg.policy_config))()
        rules = (make_abandon_rule("buffer"),) if cfg.abandon else ()
        self.session = Session(self.media.video, policy, cfg.engine, rules)
        self._seg_starts = [0.0, *itertools.accumulate(self.media.video.segment_durations_s)]
        start = cfg.start_position_s
        if start is None and cfg.resume.use_grant and self.grant:
            with contextlib.suppress(TypeError, ValueError):
                start = float(self.grant.get("resume_at") or 0.0)
        duration = self.media.video.duration_s
        self._start_position = start if start is not None and 0 <= start < duration - 1 else 0.0
        self.clock = ScaledClock(cfg.speed, monotonic=self._monotonic)
        self._build_driver()

    def _build_driver(self, clock: Clock | None = None) -> None:
        cfg = self.config
        if clock is not None:
            self.clock = clock
        self.bridge.session = self.session
        observers: list[Any] = [self.bridge, self]
        self.driver = RealtimeDriver(
            self.session, self._fetch, self.clock, start_position_s=self._start_position,
            observers=observers,
        )
        self.bridge.position = self.driver.playhead
        self.bridge.edge = lambda: self.pool.current_edge
        self.bridge.throughput = self._throughput_bps
        if cfg.decode.enabled:
            fps = self.media.frame_rate or 30.0
            self.renderer = HeadlessRenderer(
                self.driver.playhead, self.clock.now, self.clock.sleep,
                late_after_s=cfg.decode.late_after_s, drop_after_s=cfg.decode.drop_after_s,
                frame_interval_s=1.0 / fps,
            )
            self.renderer.on_first_frame = self._first_frame
            self.decoder = Decoder(cfg.decode.threads, drm=self._drm_session())
        progress_url = (self.grant or {}).get("progress_url")
        if cfg.resume.report and progress_url:
            self.reporter = ProgressReporter(
                str(progress_url), cfg.grant.account, self.driver.playhead,
                interval_s=cfg.resume.progress_interval_s, client=self._client,
                max_position_s=self.media.video.duration_s,
            )
            self.driver.observers.append(self.reporter)
        steering_uri = (self.grant or {}).get("steering_uri")
        if cfg.steering and steering_uri:
            self.steering = SteeringClient(
                str(steering_uri), self._transport, protocol=cfg.protocol,
                initial_priority=self.pool.ranking, on_update=self._on_steering,
                clock=self._monotonic,
            )

    def _drm_session(self) -> Any:
        """A ``drm.DrmSession`` when the grant names a licence server (keys are only
        asked for when an init segment is protected or a segment has an AES-128 key);
        licence latencies become ``LicenceEvent`` telemetry."""
        g = self.grant or {}
        if not (g.get("licence_url") and g.get("token")):
            return None
        from drm import DrmSession, LicenceClient, LicenceReport
        from telemetry.events import LicenceEvent

        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None

        def report(r: LicenceReport) -> None:  # called from the decode thread
            def emit() -> None:
                self.bridge.emit(LicenceEvent, latency_s=r.latency_s)

            if loop is None:
                emit()
            else:
                with contextlib.suppress(RuntimeError):  # the loop is gone
                    loop.call_soon_threadsafe(emit)

        # a sync client on the process's shared SSL context: a default httpx.Client()
        # loads the CA bundle again (~65 ms of CPU in Player.open; playback.md)
        self._licence_http = httpx.Client(verify=shared_ssl_context())
        drm = DrmSession(LicenceClient(str(g["licence_url"]), str(g["token"]),
                                       http=self._licence_http, on_licence=report))
        drm.index(self.media.presentation)
        return drm

    def use_clock(self, clock: Clock) -> None:
        """Run on ``clock`` instead of the wall clock (before :meth:`play`; tests, benchmarks)."""
        if self._task is not None:
            raise PlayerError("use_clock() after play()")
        self._build_driver(clock)

    # --- user API -----------------------------------------------------------------------
    async def play(self) -> None:
        """Start playback (first call) or resume it (after :meth:`pause`)."""
        if self._task is None:
            self._timings.t_play = time.perf_counter()
            self._task = asyncio.create_task(self._run(), name=f"abrkit-player-{self.session_id}")
            await asyncio.sleep(0)
        else:
            self.driver.resume()

    async def prefetch_inits(self) -> int:
        """Fetch every video rung's init segment (and the audio one) into the init cache now.

        Later switches then need no init request before their first media segment (an
        app can call this before :meth:`play` when switch latency matters more than the
        extra bytes). Returns how many init segments were fetched or already cached.
        """
        media = self.media
        jobs = [self._init(("v", r), w) for r, w in enumerate(media.video_inits) if w]
        if media.audio_init:
            jobs.append(self._init(("a",), media.audio_init))
        await asyncio.gather(*jobs)
        return len(jobs)

    def pause(self) -> None:
        self.driver.pause()

    def resume(self) -> None:
        self.driver.resume()

    def seek(self, position_s: float) -> None:
        self.driver.seek(position_s)

    def stop(self) -> None:
        if self._task is None:
            return
        self.driver.stop()

    async def wait(self) -> SessionSummary:
        """Wait for the session to end (``play()`` first) and return its summary."""
        if self._task is None:
            await self.play()
        assert self._task is not None
        return await self._task

    async def events(self) -> AsyncIterator[Event]:
        """Every telemetry event of the session, from the first, until it ends."""
        q = self.bridge.subscribe()
        while True:
            e = await q.get()
            if e is None:
                return
            yield e

    def result(self) -> SessionSummary:
        """The summary (final once the session ended; a snapshot before)."""
        return self._summary or self._summarise(self.session.result())

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self.stop()
            with contextlib.suppress(Exception):
                await self._task
        await self._close_io()

    async def __aenter__(self) -> Player:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @staticmethod
    def run(url: str, config: PlayerConfig | None = None) -> SessionSummary:
        """Open, play to the end and close, blocking (``asyncio.run``)."""
        return play_sync(url, config)

    # --- the session --------------------------------------------------------------------
    async def _run(self) -> SessionSummary:
        for sink in self._http_sinks:
            with contextlib.suppress(Exception):
                await sink.start()
        if self.renderer is not None:
            self._aux.append(asyncio.create_task(self.renderer.run()))
        if self.steering is not None:
            self._aux.append(asyncio.create_task(self.steering.run(
                pathway=lambda: self.pool.current_edge, throughput_bps=self._throughput_bps)))
        try:
            result = await self.driver.run()
            await self._finish_frames()
        finally:
            for t in self._aux:
                t.cancel()
            for t in self._aux:
                with contextlib.suppress(BaseException):
                    await t
            self._aux.clear()
        if result.state == State.FAILED.value and result.failure:
            pass  # the bridge already sent the fatal error event
        self.bridge.session_end(result)
        if self.reporter is not None:
            await self.reporter.close(self.driver.playhead())
        tm = self._timings
        if tm.t_play is not None:
            tm.wall_s = time.perf_counter() - tm.t_play
        tm.cpu_s = time.process_time() - tm.cpu0
        self.bridge.finish()
        await self._close_io()
        self._summary = self._summarise(result)
        return self._summary

    async def _finish_frames(self) -> None:
        if self.renderer is None:
            return
        for f in list(self._decodes):
            with contextlib.suppress(Exception):
                await f
        if self.session.state is State.ENDED:
            self.renderer.present_due(self.driver.playhead())

    async def _close_io(self) -> None:
        if self._io_closed:
            return
        self._io_closed = True
        for sink in self.bridge.sinks:
            try:
                if isinstance(sink, HttpSink):
                    await sink.aclose()
                else:
                    sink.flush()
            except Exception:
                self.bridge.sink_errors += 1
        if self.decoder is not None:
            self.decoder.close()
            drm = self.decoder.drm
            if drm is not None:  # free the licence server's stream slot
                if drm.licence.active:
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(drm.licence.release)
                drm.licence.close()
        if self._licence_http is not None:
            self._licence_http.close()
            self._licence_http = None
        if self._owns_transport:
            closer = getattr(self._transport, "aclose", None)
            if closer is not None:
                await closer()
            self._owns_transport = False
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def _summarise(self, result: SessionResult) -> SessionSummary:
        t = self._timings
        dec = self.decoder
        return SessionSummary(
            session_id=self.session_id,
            title=self.title,
            state=result.state,
            failure=result.failure,
            result=result,
            frames=self.renderer.stats() if self.renderer is not None else None,
            failovers=self._failovers,
            edges=dict(self._edges),
            timings={
                "grant_s": t.grant_s, "manifest_s": t.manifest_s, "init_s": t.init_s,
                "first_segment_s": t.first_segment_s, "first_frame_s": t.first_frame_s,
                "wall_s": t.wall_s, "cpu_s": t.cpu_s,
                "decode_cpu_s": dec.cpu_s if dec is not None else None,
            },
            events=len(self.bridge.emitted),
            start_position_s=self._start_position,
            sizes_from=self.media.sizes_from,
        )

    # --- fetching -----------------------------------------------------------------------
    def _throughput_bps(self) -> float | None:
        samples = self.session.samples
        if samples:
            s = samples[-1]
            return 8.0 * s.bytes / s.seconds if s.seconds > 0 else None
        return self.pool.throughput_bps()

    async def _init(self, key: Any, where: tuple[str, Any]) -> bytes:
        fut = self._init_cache.get(key)
        if fut is None or (fut.done() and (fut.cancelled() or fut.exception() is not None)):
            t0 = time.perf_counter()

            async def get() -> bytes:
                res = await self.pool.fetch(where[0], byte_range=where[1])
                if self._timings.init_s is None:
                    self._timings.init_s = time.perf_counter() - t0
                return res.data

            fut = asyncio.ensure_future(get())
            self._init_cache[key] = fut
        return await asyncio.shield(fut)

    async def _fetch(self, action: FetchSegment, progress: Callable[[int], None]) -> Fetched:
        media = self.media
        cfg = self.config
        init_where = media.video_inits[action.rung]
        init = await self._init(("v", action.rung), init_where) if init_where else b""
        cmcd = None
        if cfg.telemetry.cmcd != "off":
            cmcd = cmcd_for(
                self.session, action, session_id=self.session_id, content_id=self.title,
                buffer_s=self.driver.buffer_s(), throughput_bps=self._throughput_bps(),
                next_url=self._next_url(action),
            )
        video = self.pool.fetch(
            action.url or "", byte_range=action.byte_range, cmcd=cmcd,
            on_progress=lambda got, total, elapsed: progress(got),
        )
        jobs: list[Any] = [video]
        aidx = None
        if media.audio_urls:
            aidx = media.audio_index(self._seg_starts[action.segment_index])
            jobs.append(self._audio(aidx))
        results = await _all_or_nothing(jobs)
        res = results[0]
        self._serving = res.edge
        self._edges[res.edge] = self._edges.get(res.edge, 0) + 1
        if self._timings.first_segment_s is None and self._timings.t_play is not None:
            self._timings.first_segment_s = time.perf_counter() - self._timings.t_play
        audio = results[1] if aidx is not None else None
        payload = {"init": init, "data": res.data, "audio": audio, "audio_index": aidx,
                   "url": action.url,
                   "audio_url": media.audio_urls[aidx] if aidx is not None else None}
        return Fetched(res.result.size, res.edge, payload)

    async def _audio(self, index: int) -> bytes:
        media = self.media
        res = await self.pool.fetch(media.audio_urls[index], byte_range=media.audio_ranges[index])
        return res.data

    def _next_url(self, action: FetchSegment) -> str | None:
        urls = self.session.video.urls
        nxt = action.segment_index + 1
        if urls is None or nxt >= len(urls) or action.url is None:
            return None
        cur, target = urlsplit(action.url).path, urlsplit(urls[nxt][action.rung]).path
        base = cur.rsplit("/", 1)[0] + "/"
        return target[len(base):] if target.startswith(base) else target

    # --- driver observer: decode and present ------------------------------------------
    def on_segment(self, action: FetchSegment, fetched: Fetched, t: float) -> None:
        if self.decoder is None or self.renderer is None or not isinstance(fetched.payload, dict):
            return
        p = fetched.payload
        start = self._seg_starts[action.segment_index]
        gen = self._decode_gen
        label = f"segment {action.segment_index} rung {action.rung}"
        fut = asyncio.ensure_future(self._decode(p, start, gen, label))
        self._decodes.append(fut)
        fut.add_done_callback(lambda f: self._decodes.remove(f) if f in self._decodes else None)

    async def _decode(self, p: dict[str, Any], start: float, gen: int, label: str) -> None:
        assert self.decoder is not None and self.renderer is not None
        push = self.renderer.stream(start)

        def on_frame_time(t: float) -> None:  # frames go to the renderer as they decode
            if gen == self._decode_gen:
                push(t)

        try:
            await self.decoder.decode(p["init"], p["data"], label=label, url=p.get("url"),
                                      on_frame_time=on_frame_time)
            if self.config.decode.audio and p.get("audio") is not None and self.media.audio_init:
                a_init = await self._init(("a",), self.media.audio_init)
                await self.decoder.decode(a_init, p["audio"], kind="audio", label=label + " audio",
                                          url=p.get("audio_url"))
        except PlayerError as exc:
            self.bridge.error("decode", str(exc), fatal=False)

    def on_event(self, event: Any) -> None:
        from .states import Seek

        if type(event) is Seek and self.renderer is not None:
            self._decode_gen += 1
            self.renderer.flush()

    def _first_frame(self, _t: float) -> None:
        if self._timings.t_play is not None and self._timings.first_frame_s is None:
            self._timings.first_frame_s = time.perf_counter() - self._timings.t_play

    # --- failover and steering ---------------------------------------------------------
    def _on_failover(self, rec: FailoverRecord) -> None:
        if rec.reason.startswith("http-4"):
            status = rec.reason.removeprefix("http-")
            if status.isdigit() and int(status) not in RETRYABLE_STATUSES:
                return  # the edge answered (e.g. 404 for an optional file): it is not down
        self._demoted[rec.from_edge] = self._monotonic() + self.config.demote_s
        if rec.from_edge == self._serving:  # concurrent requests leaving the same edge: one event
            self._serving = rec.to_edge
            self._failovers += 1
            self.bridge.failover(rec.from_edge, rec.to_edge, rec.reason)
        self._rerank()

    def _rerank(self, priority: tuple[str, ...] | None = None) -> None:
        now = self._monotonic()
        self._demoted = {e: t for e, t in self._demoted.items() if t > now}
        base = list(priority) if priority else list(self.pool.ranking)
        base += [e for e in self.pool.ranking if e not in base]
        ok = [e for e in base if e not in self._demoted]
        self.pool.set_priority(ok + [e for e in base if e in self._demoted])
        if self._serving in self._demoted and ok:
            self._serving = ok[0]

    def _on_steering(self, m: SteeringManifest) -> None:
        if m.pathway_priority != self._steer_priority:
            self._steer_priority = m.pathway_priority
            self._rerank(m.pathway_priority)
            self.bridge.steering(m.pathway_priority, m.ttl_s)
        else:
            self._rerank(m.pathway_priority)


async def _all_or_nothing(jobs: list[Any]) -> list[Any]:
    """Await every job; on the first failure (or a cancel) cancel the others and raise."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        # read every finished job's exception (none is left "never retrieved"); raise the first
        errors = [exc for t in done if (exc := t.exception()) is not None]
        if errors:
            raise errors[0]
        return [t.result() for t in tasks]
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()


def play_sync(url: str, config: PlayerConfig | None = None) -> SessionSummary:
    """Open ``url``, play it to the end and return the :class:`SessionSummary` (blocking)."""

    async def main() -> SessionSummary:
        player = await Player.open(url, config)
        try:
            return await player.wait()
        finally:
            await player.aclose()

    return asyncio.run(main())
