"""The base every emulator surface builds on: `Surface`, `register_surface` and the helpers the surfaces share.

```
_surface.py  Surface (routes, errors, faults, key check, rate limit, media) · register_surface
             MediaResponse · retry_headers · parse_json / read_json · decode_data_url /
             decode_base64 · image_size · probe_video · SEED_MAX
    ^
openai.py, runware.py, runware_ws.py, runcrate.py, relay.py, _google.py, gemini.py,
interactions.py, vertex.py   (one module per protocol; each imports this module, never `_app`)
    ^
_app.py      Emulator (imports the surface modules, which register themselves here)
```

A surface holds the `Emulator` it serves as ``self.emu`` (typed ``Any`` here: this module must not
import `_app`, which imports every surface).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from ..catalog import SEED_MAX, ProviderInfo
from ._faults import EmulatedReset, drop_connection
from ._store import Job, key_fingerprint

__all__ = [
    "Surface",
    "register_surface",
    "registered_surfaces",
    "MediaResponse",
    "retry_headers",
    "parse_json",
    "read_json",
    "decode_data_url",
    "decode_base64",
    "image_size",
    "probe_video",
    "SEED_MAX",
    "BodyProblem",
]

BodyProblem = Literal["empty", "syntax", "type"]
"""Why a body is not the JSON a route wants: nothing but white space, not JSON, JSON of another type."""

_REFUSE: Any = object()


def probe_video(data: bytes) -> Optional[tuple[int, int, float]]:
    """(width, height, seconds) of a video sent to a surface (an upload, an inline source), or None
    when PyAV cannot read it."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            seconds = float(container.duration / 1_000_000) if container.duration else (
                float(stream.duration * stream.time_base) if stream.duration else 0.0)
            return stream.codec_context.width, stream.codec_context.height, seconds
    except Exception:
        return None


# --------------------------------------------------------------------------- surfaces
_SURFACES: dict[str, type["Surface"]] = {}


def register_surface(cls: type["Surface"]) -> type["Surface"]:
    """Class decorator: make ``cls`` serve every catalog provider whose protocol is ``cls.protocol``."""
    _SURFACES[cls.protocol] = cls
    return cls


def registered_surfaces() -> dict[str, type["Surface"]]:
    """The surface classes registered so far, by protocol (`_app` imports the surface modules first)."""
    return dict(_SURFACES)


class _DropResponse(Response):
    """A 'response' that drops the connection instead of answering (the ``reset`` fault)."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        await drop_connection(scope)


class Surface:
    """One provider protocol served under a path prefix. Subclass, decorate with
    `register_surface`, implement `routes` and `error`; use the shared helpers below.

    Args:
        emulator: the `Emulator` (the shared state: config, store, renderer, faults, counters).
        info: the catalog entry of the provider this instance serves.
    """

    protocol: ClassVar[str] = ""
    """The catalog ``protocol`` this surface speaks."""

    def __init__(self, emulator: Any, info: ProviderInfo) -> None:
        self.emu = emulator
        self.info = info
        self.provider = info.name
        self.prefix = info.emulator_prefix.rstrip("/")
        self.mount = self.mount_path()
        self.app = Starlette(
            routes=self.routes(),
            exception_handlers={404: self._not_found, 405: self._not_allowed},
        )

    # -- to implement
    def mount_path(self) -> str:
        """Where the root app hands requests to this surface (default: the prefix itself).

        Routes are relative to it. Google's surfaces mount one level above their versioned prefix
        (``/gemini`` for ``/gemini/v1beta``) so that every API version, and every unknown path
        under the service, is answered by the service itself, in its own error shape.
        """
        return self.prefix

    def routes(self) -> list:
        """Starlette routes, relative to the prefix."""
        raise NotImplementedError

    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, **extra: Any) -> Response:
        """An error response in this provider's format."""
        raise NotImplementedError

    def bad_body(self, message: str, problem: "BodyProblem") -> Response:
        """This protocol's answer to a body that is not the JSON a route wants (`read_json` words
        ``message``; ``problem`` is "empty", "syntax" or "type"). Default: ``error(400, message)``."""
        return self.error(400, message)

    # -- shared helpers
    async def json_body(self, request: Request, *, expect: type = dict, what: str = "a JSON object",
                        empty: Any = _REFUSE) -> Any:
        """The body as JSON of type ``expect``, or this protocol's `bad_body` response (see `read_json`)."""
        return await read_json(request, self.bad_body, expect=expect, what=what, empty=empty)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return self.error(404, f"Invalid URL ({request.method} {request.url.path})", code="unknown_url")

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return self.error(405, f"Method {request.method} not allowed for {request.url.path}",
                          code="method_not_allowed")

    @staticmethod
    def bearer(request: Request) -> Optional[str]:
        """The token of an ``Authorization: Bearer`` header, if any."""
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    def key_ok(self, api_key: Optional[str]) -> bool:
        required = self.emu.config.require_key
        return required is None or api_key == required

    unlimited_operations: frozenset = frozenset()
    """Operations the rate limit does not count (media downloads that stand in for a CDN)."""

    def api_key(self, request: Request) -> Optional[str]:
        """The API key of a request as this protocol sends it (default: ``Authorization: Bearer``)."""
        return self.bearer(request)

    def auth_error(self, api_key: Optional[str]) -> Response:
        """This protocol's answer to a missing (``api_key`` None) or wrong key."""
        return self.error(401, "No API key provided." if api_key is None else "Invalid API key.")

    def _wrap(self, operation: str, handler):
        """An endpoint around ``handler(request, api_key)``: faults, key check, rate limit, reset-after."""
        async def endpoint(request: Request) -> Response:
            early = await self.pre(request, operation)
            if early is not None:
                return early
            key = self.api_key(request)
            if not self.key_ok(key):
                self.emu.counters.incr(self.provider, "auth_failures")
                return self.auth_error(key)
            if operation not in self.unlimited_operations:
                limited = self.limit(key, operation)
                if limited is not None:
                    return limited
            return self.post(operation, await handler(request, key))

        endpoint.__name__ = handler.__name__.lstrip("_")
        return endpoint

    async def pre(self, request: Request, operation: str) -> Optional[Response]:
        """Before handling: count, then maybe slow / 5xx / reset-before. None = carry on."""
        emu = self.emu
        emu.counters.incr(self.provider, "requests")
        await emu.faults.maybe_slow(self.provider, operation)
        if emu.faults.decide("error_5xx", self.provider, operation):
            status = emu.faults.status_5xx()
            return self.error(status, _SERVER_ERROR_TEXT[status], code=None, kind="server_error")
        if emu.config.faults.reset_when == "before" and emu.faults.decide("reset", self.provider, operation):
            return _DropResponse()
        return None

    def limit(self, api_key: Optional[str], operation: str) -> Optional[Response]:
        """The rate-limit check for one request (None = allowed)."""
        cfg = self.emu.config
        wait = self.emu.limiter.hit(self.provider, key_fingerprint(api_key), self.emu.clock.now(),
                                    cfg.rate_limit_per_minute, cfg.rate_limit_window_seconds)
        if wait is None:
            return None
        self.emu.counters.incr(self.provider, "rate_limited")
        return self.error(
            429,
            f"Rate limit reached: {cfg.rate_limit_per_minute} requests per "
            f"{cfg.rate_limit_window_seconds:g} s for this key. Please try again in {wait:.3f}s.",
            code="rate_limit_exceeded", kind="rate_limit",
            headers=retry_headers(wait),
        )

    def post(self, operation: str, response: Response) -> Response:
        """After handling: maybe lose the answer (reset-after)."""
        emu = self.emu
        if emu.config.faults.reset_when == "after" and emu.faults.decide("reset", self.provider, operation):
            return _DropResponse()
        return response

    def link_expired(self, job: Job, now: float, ttl: Optional[float] = None) -> bool:
        """A finished job's media link has expired: ``ttl`` (default: the config's
        ``url_ttl_seconds``) has passed since it finished, or the ``expire_urls`` fault says so."""
        ttl = self.emu.config.url_ttl_seconds if ttl is None else ttl
        return now >= job.finish_at + ttl or self.emu.faults.decide("expire_urls", self.provider, "download")

    async def rendered(self, request: Request, job: Job, what: str, variant: str = "video",
                       content_type: str = "video/mp4") -> Response:
        """Serve a finished job's ``variant`` with `media`; a render that fails is the emulator's
        bug, answered as this protocol's 500 saying it could not render ``what``."""
        try:
            path = await self.emu.asset_file(job, variant)
        except Exception as exc:
            return self.error(500, f"The emulator could not render {what}: {exc}")
        return self.media(request, path, content_type)

    def media(self, request: Request, path: Path, content_type: str) -> Response:
        """Serve a media file: Range requests, byte counting, the ``truncate_download`` fault."""
        truncate = None
        if self.emu.faults.decide("truncate_download", self.provider, "download"):
            truncate = self.emu.config.faults.truncate_fraction
        self.emu.counters.incr(self.provider, "downloads")
        return MediaResponse(
            path, content_type, range_header=request.headers.get("range"), truncate=truncate,
            on_bytes=lambda n: self.emu.counters.incr(self.provider, "bytes_out", n),
        )

    def base_url(self, request: Request) -> str:
        """The absolute URL of this surface as the client reached it."""
        return _origin(request.scope) + self.prefix

    def open_offer(self, model_id: Any, among: Optional[Callable[[Any], bool]] = None) -> Any:
        """The offer the emulator serves an id the catalog does not list at this provider under
        (``EmulatorConfig.serve_unknown_models``), or None when it answers such ids as unknown.
        Its sizes are every size of this provider's catalogued offers (those ``among`` accepts:
        the same protocol family), its seconds those offers' lengths plus every whole number from
        1 to 20; defaults from the catalogued offer whose id is closest (`Catalog.open_offer`)."""
        import dataclasses

        if (not self.emu.config.serve_unknown_models or not isinstance(model_id, str) or not model_id.strip()
                or any(c.isspace() for c in model_id)):
            return None
        offers = [o for o in self.emu.catalog.offers(provider=self.provider) if among is None or among(o)]
        base = self.emu.catalog.open_offer(self.provider, model_id)
        sizes = list(base.sizes)
        for o in offers:
            sizes += [x for x in o.sizes if x not in sizes]
        seconds = sorted({*base.seconds, *(x for o in offers for x in o.seconds), *(float(n) for n in range(1, 21))})
        return dataclasses.replace(base, sizes=tuple(sizes), seconds=tuple(seconds))

    def index_entry(self, origin: str) -> dict:
        return {
            "provider": self.provider,
            "protocol": self.protocol,
            "title": self.info.title,
            "prefix": self.prefix,
            "base_url": origin + self.prefix,
        }


_SERVER_ERROR_TEXT = {
    500: "The server had an error while processing your request. Sorry about that! (emulated fault)",
    502: "Bad gateway. (emulated fault)",
    503: "The server is overloaded or not ready yet. (emulated fault)",
}


def retry_headers(wait_seconds: float) -> dict[str, str]:
    """``retry-after`` (whole seconds, rounded up) and ``retry-after-ms``."""
    ms = max(1, int(round(wait_seconds * 1000)))
    return {"retry-after": str(max(1, -(-ms // 1000))), "retry-after-ms": str(ms)}


def _origin(scope: dict) -> str:
    scheme = scope.get("scheme", "http")
    host = None
    for k, v in scope.get("headers", []):
        if k == b"host":
            host = v.decode("latin-1")
            break
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    return f"{scheme}://{host}"


# --------------------------------------------------------------------------- media
class MediaResponse(Response):
    """Streams a file with ``Accept-Ranges: bytes`` and single-range (206) support.

    ``truncate`` (0..1) announces the full ``Content-Length`` but sends only that fraction, then
    drops the connection: what a flaky CDN does.
    """

    chunk_size = 256 * 1024

    def __init__(self, path: Path, media_type: str, *, range_header: Optional[str] = None,
                 truncate: Optional[float] = None, on_bytes: Optional[Callable[[int], None]] = None) -> None:
        self.path = Path(path)
        self.media_type = media_type
        self.range_header = range_header
        self.truncate = truncate
        self.on_bytes = on_bytes
        self.background = None
        self.status_code = 200
        self.body = b""
        self.init_headers({})

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        size = self.path.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", self.media_type.encode()),
            (b"accept-ranges", b"bytes"),
        ]
        if self.range_header:
            parsed = _parse_range(self.range_header, size)
            if parsed is None:
                body = b""
                await send({"type": "http.response.start", "status": 416, "headers": headers + [
                    (b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": body})
                return
            start, end = parsed
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        length = end - start + 1
        headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        limit = length if self.truncate is None else int(length * max(0.0, min(0.99, self.truncate)))
        sent = 0
        with open(self.path, "rb") as fh:
            fh.seek(start)
            while sent < limit:
                chunk = fh.read(min(self.chunk_size, limit - sent))
                if not chunk:
                    break
                sent += len(chunk)
                more = sent < length
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if self.on_bytes:
                    self.on_bytes(len(chunk))
        if self.truncate is not None:
            hook = scope.get("extensions", {}).get("sorakit.drop_connection")
            if hook is None:  # in-process: say so (EmulatorTransport turns it into httpx's error)
                raise EmulatedReset(f"connection dropped after {sent} of {length} body bytes (injected fault)",
                                    mid_body=True)
            hook()
            for _ in range(3):
                await asyncio.sleep(0)
            return  # the body is incomplete and the connection gone
        if sent == 0:
            await send({"type": "http.response.body", "body": b""})


def _parse_range(value: str, size: int) -> Optional[tuple[int, int]]:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` (one range) -> inclusive (start, end), or None."""
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or size == 0:
        return None
    a, _, b = spec.strip().partition("-")
    try:
        if a == "":
            n = int(b)
            if n <= 0:
                return None
            return max(0, size - n), size - 1
        start = int(a)
        end = int(b) if b else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)



# --------------------------------------------------------------------------- shared parsing
def parse_json(raw: "bytes | str", expect: type = dict) -> "tuple[Any, Optional[BodyProblem]]":
    """A request body (or a WebSocket frame) as JSON of type ``expect``: ``(value, None)``, or
    ``(None, problem)``."""
    if not raw.strip():
        return None, "empty"
    try:
        value = json.loads(raw)
    except ValueError:
        return None, "syntax"
    if not isinstance(value, expect):
        return None, "type"
    return value, None


async def read_json(request: Request, refuse: Callable[[str, BodyProblem], Response], *,
                    expect: type = dict, what: str = "a JSON object", empty: Any = _REFUSE) -> Any:
    """The body of ``request`` as JSON of type ``expect``, or the surface's own error response.

    Every surface reads its JSON bodies here (through `Surface.json_body`, which passes its
    `Surface.bad_body` in as the error shape): ``refuse(message, problem)`` gets "The request body is not valid JSON." or "The request body must be {what}."
    (a surface may word it as its service does) and returns the response to send. ``empty`` is
    what an empty body stands for (default: refused, like JSON of the wrong type).
    """
    value, problem = parse_json(await request.body(), expect)
    if problem is None:
        return value
    if problem == "empty" and empty is not _REFUSE:
        return empty
    message = "The request body is not valid JSON." if problem == "syntax" else f"The request body must be {what}."
    return refuse(message, problem)


def decode_data_url(value: str) -> Optional[bytes]:
    """Bytes of a ``data:[mime];base64,...`` URL (None when it is not one or is malformed)."""
    if not value.startswith("data:"):
        return None
    head, sep, payload = value.partition(",")
    if not sep or ";base64" not in head:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_base64(value: str) -> Optional[bytes]:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data or None


def image_size(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) of encoded image bytes Pillow can read; None otherwise."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
