"""The `Emulator`: one ASGI app, one job store, one renderer, many provider surfaces.

```
Emulator.app  (pure ASGI: x-request-id on every response, dispatch by path prefix)
 ├── GET /                    JSON index of the surfaces
 ├── /openai/v1/...           OpenAISurface   (sorakit/emulator/openai.py)
 ├── /runware/v1[...]         RunwareSurface  (sorakit/emulator/runware.py)
 └── ...                      one `Surface` subclass per protocol, mounted at the catalog's
                              ``emulator_prefix`` of every provider speaking that protocol
shared: EmulatorConfig · JobStore (clock-derived job state) · RenderCache · FaultInjector ·
        RateLimiter · Counters · SeededIds
```

The `Surface` base and the helpers the surfaces share are in `_surface`; the surface modules import
from there (never from here), and this module imports them (`_surface_classes`): one direction.

Rendering never runs on the event loop: a job's MP4 is submitted to a small thread pool when
the job is created (``render_eagerly``) so it is usually ready by completion; a download waits
for it without blocking the loop.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import httpx
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from ..catalog import Catalog, load_catalog
from ._faults import EmulatedReset, FaultConfig, FaultInjector
from ._store import (
    Clock,
    Counters,
    DEFAULT_LATENCY_SECONDS,
    Job,
    JobStore,
    LatencyModel,
    RateLimiter,
    RequestLog,
    SeededIds,
    SystemClock,
    key_fingerprint,
)
from ._surface import SEED_MAX, MediaResponse, Surface, _origin, register_surface, registered_surfaces

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "Surface",
    "EmulatorTransport",
    "SyncEmulatorTransport",
    "MediaResponse",
    "register_surface",
]
# `Surface`, `MediaResponse` and `register_surface` live in `_surface` (the surfaces import them
# from there, so that this module can import the surfaces without a circle); re-exported here.


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Mutable at runtime (tests flip faults and limits on and off).

    Every field has a default that makes a usable local service; tests mostly set
    ``time_scale`` (0.01–0.05) and ``seed``.
    """

    time_scale: float = 1.0
    """Multiplies the latency model (sora-2 ≈ 60 s, sora-2-pro ≈ 120 s, veo ≈ 35–55 s, kling ≈ 90 s
    for an 8 s clip). 0.01 makes a sora-2 job take well under a second."""
    generation_seconds: Optional[float] = None
    """Fixed create→completion time for every job (benchmarks); overrides the latency model."""
    seed: int = 0
    """Seed of every random choice (ids, seeds, latency jitter, faults): same seed, same run. Read
    when the emulator is created (faults follow ``faults.seed`` or this; ``emu.faults.reseed()``)."""
    concurrency_per_key: Optional[int] = None
    """At most this many jobs of one API key run at once; None = unlimited."""
    concurrency_overflow: Literal["queue", "reject"] = "queue"
    """Excess jobs wait ``queued`` (what OpenAI and Runware do) or are refused with a 429."""
    rate_limit_per_minute: Optional[int] = None
    """Requests per key per window (every API request counts, OpenAI content downloads included;
    Runware's CDN-style media URLs do not); the excess is answered 429 with ``retry-after`` and
    ``retry-after-ms``. None = unlimited."""
    rate_limit_window_seconds: float = 60.0
    """The rate-limit window on the emulator clock (shrink it in tests)."""
    moderation_terms: tuple[str, ...] = ("blocked-term",)
    """A prompt containing one (case-insensitive) makes the job fail: OpenAI status ``failed`` with
    ``moderation_blocked``, Runware a ``data`` item with ``status: "error"`` and ``error.code``
    ``providerContentPolicyViolation``. Never billed."""
    guardrail_terms: tuple[str, ...] = ("guardrail-term",)
    """A prompt containing one is refused synchronously (OpenAI 400 ``invalid_request_error``,
    like the real-person / copyrighted-character guardrails; Runware 400)."""
    balance_usd: Optional[float] = None
    """Account balance on surfaces that bill per task (Runware): a task whose catalog cost exceeds
    what is left is refused with 402 ``insufficientCredits``; accepted tasks spend the cost they
    report (an offer without a catalog price: the Runware surface's emulator figure). None = unlimited. ``emu.spent_usd`` shows what was spent."""
    require_key: Optional[str] = None
    """None: any key (or none) is accepted. A string: requests must carry ``Bearer <it>`` (Runware
    also accepts an ``authentication`` task) or get a 401."""
    url_ttl_seconds: float = 3600.0
    """How long finished media stays downloadable: OpenAI ``expires_at`` and Runware ``videoURL``."""
    poll_after_ms: Optional[int] = None
    """``openai-poll-after-ms`` sent on retrieve; None = ``max(10, 2000 × time_scale)``."""
    latency_seconds: dict[str, float] = field(default_factory=dict)
    """Per-model overrides of the latency model base (seconds for an 8 s 720p clip at scale 1)."""
    render_eagerly: bool = True
    """Start rendering when a job is created (ready at completion); False renders on first download."""
    render_workers: int = 2
    """Threads rendering videos."""
    faults: FaultConfig = field(default_factory=FaultConfig)
    """Injected faults (all off by default)."""
    shut_down: set = field(default_factory=set)
    """``(provider, model)`` pairs (canonical name or the provider's id) the emulator answers like a
    shut-down model, as the real service does: OpenAI 404 ``model_not_found``, Google 404 "... is no
    longer available", Runware ``unknownModel``, Runcrate 404 ``model_not_found``; the model listings
    leave it out. By default the emulator still serves models the catalog marks shut down (so old
    notebooks keep running); ``emu.shut_down("veo-3", "gemini")`` adds a pair."""
    serve_unknown_models: bool = True
    """Serve a model id the catalog does not list, as a stand-in for a model released after this
    catalog (sorakit's open catalog sends such ids when the provider is named), when it is shaped
    like the provider's ids (a Runware AIR id has a ':', a Runcrate id a '/', a Gemini API id on
    the Interactions API starts 'gemini-', any other there is a Veo id): any size a
    catalogued offer of that provider (of the same protocol family) uses, any whole number of
    seconds from 1 to 20 or a length such an offer takes, defaults from the catalogued offer whose
    id is closest, price unknown. False answers it the way the service answers an id it does not
    know (OpenAI 400 ``invalid_value``, Google 404 NOT_FOUND, Runware ``invalidModel``, Runcrate 404
    ``model_not_found``)."""
    runware_failures_in: str = "data"
    """Where a Runware ``getResponse`` answer puts a failed generation: ``"data"`` (an item ``{status:
    "error", error: {code, message}}``, as runware-sdk reads it) or ``"errors"`` (an entry ``{code,
    status: "error", message, documentation, taskType, taskUUID}`` of the ``errors`` array, as Runware's
    docs say failed generations are moved there). Both forms are published (tests/published/runware)."""
    google_file_uri_scheme: str = "https"
    """Scheme of the Gemini API's file URIs. ``https`` as on the real service: google-genai's
    ``files.download(file=video)`` takes the file name only from an ``https://`` URI and fetches it
    through its own base URL. ``http`` for a client that follows the URI literally to a plain-HTTP
    emulator."""

    def __post_init__(self) -> None:
        if self.runware_failures_in not in ("data", "errors"):
            raise ValueError(f"runware_failures_in={self.runware_failures_in!r}: use 'data' or 'errors'")



def _surface_classes() -> dict[str, type[Surface]]:
    from . import openai as _openai  # noqa: F401  (registers OpenAISurface)
    from . import runware as _runware  # noqa: F401  (registers RunwareSurface)
    from . import runcrate as _runcrate  # noqa: F401  (registers RuncrateSurface)
    from . import relay as _relay  # noqa: F401  (registers RelaySurface)
    from . import gemini as _gemini  # noqa: F401  (registers GeminiSurface)
    from . import vertex as _vertex  # noqa: F401  (registers VertexSurface)

    return registered_surfaces()


# --------------------------------------------------------------------------- root app
class _RootApp:
    """Pure ASGI: request ids on every response, lifespan, dispatch to surfaces by prefix."""

    def __init__(self, emulator: "Emulator") -> None:
        self.emu = emulator

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":  # surfaces with WebSocket routes (Runware) answer; others close
            surface = self._surface_for(scope)
            if surface is None:
                await send({"type": "websocket.close", "code": 1000})
                return
            await surface.app(self._child_scope(scope, surface), receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = "req_" + self.emu.ids.hex(16, "request-ids")
        rid = request_id.encode()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid))
                message = {**message, "headers": headers}
            await send(message)

        scope = dict(scope)
        scope["sorakit.request_id"] = request_id
        recorder = self.emu.requests.recorder(scope, receive)
        try:
            surface = self._surface_for(scope)
            if surface is not None:
                await surface.app(self._child_scope(scope, surface), recorder.receive, send_with_id)
                return
            root = scope.get("root_path", "")
            path = scope["path"]
            route_path = path[len(root):] if root and path.startswith(root) else path
            await self._own(scope, recorder.receive, send_with_id, route_path)
        except ClientDisconnect:
            # the client went away before its body arrived (e.g. its read timeout passed while a
            # `slow` fault held the answer): nobody is left to answer, and no server logs a
            # traceback for that
            return
        finally:
            recorder.finish()

    def _surface_for(self, scope) -> Optional["Surface"]:
        root = scope.get("root_path", "")
        path = scope["path"]
        route_path = path[len(root):] if root and path.startswith(root) else path
        for surface in sorted(self.emu.surfaces.values(), key=lambda s: -len(s.mount)):
            if route_path == surface.mount or route_path.startswith(surface.mount + "/"):
                return surface
        return None

    @staticmethod
    def _child_scope(scope, surface: "Surface") -> dict:
        root = scope.get("root_path", "")
        path = scope["path"]
        route_path = path[len(root):] if root and path.startswith(root) else path
        child = dict(scope)
        child["root_path"] = root + surface.mount
        if route_path == surface.mount:
            child["path"] = path + "/"
            child["raw_path"] = (scope.get("raw_path") or path.encode()) + b"/"
        return child

    async def _own(self, scope, receive, send, route_path: str) -> None:
        if route_path in ("", "/") and scope["method"] in ("GET", "HEAD"):
            response: Response = JSONResponse(self.emu.index(_origin(scope)))
        else:
            response = JSONResponse(
                {"error": {"message": f"Invalid URL ({scope['method']} {scope['path']}); "
                                      f"surfaces: {', '.join(s.prefix for s in self.emu.surfaces.values())}",
                           "type": "invalid_request_error", "param": None, "code": "unknown_url"}},
                status_code=404)
        await response(scope, receive, send)


# --------------------------------------------------------------------------- transports
_INCOMPLETE = "peer closed connection without sending complete message body"


class EmulatorTransport(httpx.ASGITransport):
    """``httpx.ASGITransport`` over the emulator that fails like a socket would.

    An injected reset raises ``httpx.RemoteProtocolError("Server disconnected without sending a
    response.")`` and a body shorter than its ``Content-Length`` raises ``httpx.RemoteProtocolError``,
    as httpx does over a real connection (plain ``ASGITransport`` would raise the app's
    `EmulatedReset` and hand over the short body).
    """

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        super().__init__(app=app, client=client)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except EmulatedReset as exc:
            message = _INCOMPLETE if exc.mid_body else "Server disconnected without sending a response."
            raise httpx.RemoteProtocolError(message, request=request) from None
        content = b"".join([part async for part in response.stream])
        expected = response.headers.get("content-length")
        if (request.method != "HEAD" and expected is not None and expected.isdigit()
                and len(content) < int(expected)):
            raise httpx.RemoteProtocolError(
                f"{_INCOMPLETE} (received {len(content)} of {expected} bytes)", request=request)
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              extensions=response.extensions)


class SyncEmulatorTransport(httpx.BaseTransport):
    """A blocking transport over the emulator's ASGI app (no port), for ``httpx.Client``.

    Requests run on an event loop in a helper thread owned by the emulator.
    """

    def __init__(self, emulator: "Emulator") -> None:
        self._emu = emulator
        self._inner = EmulatorTransport(emulator.app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        areq = httpx.Request(request.method, request.url, headers=request.headers, content=body,
                             extensions=request.extensions)

        async def go():
            response = await self._inner.handle_async_request(areq)
            return response.status_code, response.headers, await response.aread(), response.extensions

        status, headers, content, extensions = self._emu._portal().call(go)
        return httpx.Response(status, headers=headers, content=content, request=request,
                              extensions=extensions)


# --------------------------------------------------------------------------- emulator
class Emulator:
    """An offline stand-in for the video providers, as one ASGI app (`app`).

    Args:
        config: behaviour (`EmulatorConfig`); mutable later through ``emu.config``.
        media_dir: where rendered media is cached (content-addressed, reusable across runs);
            None = a temporary directory removed by `close`.
        clock: the time jobs are judged by (default wall clock; tests pass a `ManualClock`).
        catalog: the model catalog (default: the one shipped with sorakit).

    Use it in-process (``httpx.AsyncClient(transport=emu.transport())``,
    ``httpx.Client(transport=emu.sync_transport())``) or over HTTP with `EmulatorServer`.
    """

    def __init__(
        self,
        config: Optional[EmulatorConfig] = None,
        media_dir: Optional[Path] = None,
        *,
        clock: Optional[Clock] = None,
        catalog: Optional[Catalog] = None,
    ) -> None:
        from ._render import RenderCache

        self.config = config or EmulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self.catalog = catalog or load_catalog()
        self._tmp: Optional[str] = None
        if media_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="sorakit-emulator-")
            media_dir = Path(self._tmp)
        self.media_dir = Path(media_dir)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.renders = RenderCache(self.media_dir / "renders")
        self.store = JobStore()
        self.counters = Counters()
        self.limiter = RateLimiter()
        self.requests = RequestLog()
        """Every request received, in order (`RequestLog`): what clients really sent."""
        self.ids = SeededIds(self.config.seed)
        self.faults = FaultInjector(self)
        self._lock = threading.Lock()
        self.spent_usd: dict[str, float] = {}
        """USD spent per provider on billed tasks (see ``EmulatorConfig.balance_usd``)."""
        self._executor = ThreadPoolExecutor(max_workers=max(1, self.config.render_workers),
                                            thread_name_prefix="sorakit-render")
        self._portal_cm = None
        self._portal_obj = None
        self._closed = False
        classes = _surface_classes()
        self.surfaces: dict[str, Surface] = {
            name: classes[info.protocol](self, info)
            for name, info in self.catalog.providers.items() if info.protocol in classes
        }
        self.app = _RootApp(self)

    # -- info
    def index(self, origin: str = "") -> dict:
        """What GET / answers: the surfaces and the main settings."""
        return {
            "object": "sorakit.emulator",
            "surfaces": [s.index_entry(origin) for s in self.surfaces.values()],
            "time_scale": self.config.time_scale,
            "seed": self.config.seed,
            "requires_key": self.config.require_key is not None,
            "jobs": len(self.store),
        }

    def jobs(self, provider: Optional[str] = None) -> list[Job]:
        """All jobs (not deleted) in creation order."""
        return self.store.jobs(provider)

    # -- model lifecycle
    def shut_down(self, model: str, provider: str) -> None:
        """From now on answer ``model`` at ``provider`` the way the real service answers a retired model."""
        self.config.shut_down.add((provider, model))

    def is_shut_down(self, provider: str, offer: Any) -> bool:
        """Whether the emulator was told ``offer`` is gone at ``provider``."""
        return (provider, offer.model) in self.config.shut_down or (provider, offer.id) in self.config.shut_down

    def listed_offers(self, provider: str) -> list:
        """What the provider's model listing shows: its catalog offers still served today (by the
        catalog's dates) and not shut down in this emulator."""
        import datetime as dt

        today = dt.datetime.now(dt.timezone.utc).date()
        return [o for o in self.catalog.offers(provider=provider)
                if o.serves_on(today) and not self.is_shut_down(provider, o)]

    # -- scheduling
    def moderation_hit(self, prompt: str) -> Optional[str]:
        low = prompt.lower()
        return next((t for t in self.config.moderation_terms if t and t.lower() in low), None)

    def guardrail_hit(self, prompt: str) -> Optional[str]:
        low = prompt.lower()
        return next((t for t in self.config.guardrail_terms if t and t.lower() in low), None)

    def over_concurrency(self, provider: str, api_key: Optional[str]) -> bool:
        """True when ``concurrency_overflow="reject"`` and the key already runs its maximum."""
        cfg = self.config
        if not cfg.concurrency_per_key or cfg.concurrency_overflow != "reject":
            return False
        return self.store.active(provider, key_fingerprint(api_key), self.clock.now()) >= cfg.concurrency_per_key

    def timeline(self, provider: str, api_key: Optional[str], model: str, seconds: float,
                 width: int, height: int, *, fails: bool = False) -> tuple[float, float, float]:
        """``(created_at, start_at, finish_at)`` for a new job (queue, latency, concurrency)."""
        cfg = self.config
        now = self.clock.now()
        latency = LatencyModel(base={**DEFAULT_LATENCY_SECONDS, **cfg.latency_seconds})
        queue_s, run_s = latency.durations(
            model, seconds, width, height, time_scale=cfg.time_scale,
            fixed_seconds=cfg.generation_seconds, rnd=self.ids.random("latency"))
        if fails:
            run_s *= 0.25
        start, finish = self.store.schedule(provider, key_fingerprint(api_key), now + queue_s, run_s,
                                            cfg.concurrency_per_key)
        return now, start, finish

    def charge(self, provider: str, usd: Optional[float]) -> bool:
        """Spend ``usd`` of the balance; False (nothing spent) when it would exceed ``balance_usd``."""
        with self._lock:
            spent = self.spent_usd.get(provider, 0.0)
            cost = usd or 0.0
            limit = self.config.balance_usd
            if limit is not None and cost > 0 and spent + cost > limit + 1e-9:
                return False
            self.spent_usd[provider] = round(spent + cost, 6)
            return True

    def new_seed(self) -> int:
        return self.ids.randint("seeds", 0, SEED_MAX)

    def add_job(self, job: Job) -> Job:
        """Store a job and (``render_eagerly``) start rendering it."""
        self.store.add(job)
        self.counters.incr(job.provider, "jobs")
        if self.config.render_eagerly and job.spec is not None:
            self.start_render(job)
        return job

    # -- rendering
    def start_render(self, job: Job) -> Future:
        with self._lock:
            if job.render_future is None:
                if self._closed:
                    raise RuntimeError("the emulator is closed")
                job.render_future = self._executor.submit(self.renders.video, job.spec)
            return job.render_future

    async def video_file(self, job: Job):
        """The job's `RenderInfo`, waiting (off the loop) for the render."""
        return await asyncio.wrap_future(self.start_render(job))

    async def asset_file(self, job: Job, variant: str) -> Path:
        """Path of ``video`` / ``thumbnail`` / ``spritesheet`` for a job."""
        if variant == "video":
            return (await self.video_file(job)).path
        fn = self.renders.thumbnail if variant == "thumbnail" else self.renders.spritesheet
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, job.spec)

    def wait_renders(self, timeout: Optional[float] = None) -> None:
        """Block until every started render has finished."""
        for job in self.store.jobs(include_deleted=True):
            if job.render_future is not None:
                job.render_future.result(timeout=timeout)

    # -- in-process clients
    def transport(self) -> EmulatorTransport:
        """An async httpx transport into this emulator (no port)."""
        return EmulatorTransport(self.app)

    def sync_transport(self) -> SyncEmulatorTransport:
        """A blocking httpx transport into this emulator (no port)."""
        return SyncEmulatorTransport(self)

    def _portal(self):
        with self._lock:
            if self._portal_obj is None:
                from anyio.from_thread import start_blocking_portal

                self._portal_cm = start_blocking_portal()
                self._portal_obj = self._portal_cm.__enter__()
            return self._portal_obj

    # -- lifecycle
    def close(self) -> None:
        """Stop rendering (waits for renders under way), stop helper threads, drop a temp media dir."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            cm, self._portal_cm, self._portal_obj = self._portal_cm, None, None
        self._executor.shutdown(wait=True, cancel_futures=True)
        if cm is not None:
            cm.__exit__(None, None, None)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Emulator(surfaces={list(self.surfaces)}, jobs={len(self.store)}, "
                f"time_scale={self.config.time_scale}, seed={self.config.seed})")
