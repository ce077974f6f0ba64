"""The OpenAI Videos API (``/v1/videos``) as the emulator serves it, under ``/openai/v1``.

Routes (relative to the prefix), as in OpenAI's published spec:

| method + path                    | does                                                            |
|----------------------------------|-----------------------------------------------------------------|
| POST /videos                     | create (multipart or JSON)                                      |
| GET /videos                      | list: ``limit`` 0–100 (default 20), ``order`` (default desc), ``after`` |
| GET /videos/{id}                 | retrieve; ``openai-poll-after-ms`` header                        |
| DELETE /videos/{id}              | delete a completed or failed video                               |
| GET /videos/{id}/content         | ``variant`` = video (MP4, Range requests) / thumbnail (WebP) / spritesheet (JPEG) |
| POST /videos/{id}/remix          | remix (``remixed_from_video_id``)                                |
| POST /videos/extensions          | extend a video (``seconds`` of the result is the stitched total) |
| POST /videos/edits               | edit a video                                                     |
| POST /files                      | minimal file upload, so ``input_reference: {file_id}`` resolves  |

Validation follows the real service: ``seconds`` must be the *string* ``"4"``/``"8"``/``"12"`` (a
JSON number is a 400 ``invalid_type``), ``size`` one of the four sizes the model allows, ``prompt``
1–32000 characters, unknown parameters refused, and an input image must match ``size`` exactly.

Choices where the public record is silent (documented so a client does not over-fit them):

- ``input_reference.image_url`` with an ``http(s)://`` URL: the emulator is offline and will not
  fetch it, so it answers 400 ``invalid_request_error`` (param ``input_reference``) saying so. Send
  the image as an upload, a ``data:`` URL, or a ``file_id`` from ``POST /files``.
- ``model``: the Sora ids and dated snapshots, plus every canonical catalog model name and relay
  model id (OpenAI-compatible relays such as LiteLLM route other models through ``/v1/videos``).
  Non-Sora models accept the sizes and durations their catalog offers allow.
- Content before completion: 400; after ``expires_at``: 404 with code ``video_expired``.
- Deleting a queued or running video: 400 (the spec only deletes completed or failed videos).
- All videos live in one project: any key sees every video (keys only matter for limits).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import Surface, decode_data_url, image_size, probe_video, register_surface, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["OpenAISurface"]

VIDEO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
CREATE_SECONDS = ("4", "8", "12")
EXTEND_SECONDS = ("4", "8", "12", "16", "20")
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
MAX_PROMPT = 32000
SNAPSHOTS = {"sora-2-2025-10-06": "sora-2", "sora-2-pro-2025-10-06": "sora-2-pro", "sora-2-2025-12-08": "sora-2"}
"""Dated model snapshots OpenAI published, and the model each pins."""
_NESTED = re.compile(r"^(?P<outer>[^\[\]]+)\[(?P<inner>[^\[\]]+)\]$")


@dataclass
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Source:
    """What a remix / extension / edit builds on."""

    id: Optional[str]
    model: str
    provider_model: str
    width: int
    height: int
    seconds: float
    fps: int
    audio: bool
    key: str


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


def _list_text(values, conj: str = "and") -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + (f", {conj} " if len(quoted) > 2 else f" {conj} ") + quoted[-1]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string"


def _mask(key: str) -> str:
    return key[:3] + "*" * 6 + key[-4:] if len(key) > 10 else "*" * len(key)


@register_surface
class OpenAISurface(Surface):
    """OpenAI ``/v1/videos`` (and what OpenAI-compatible relays serve at that path)."""

    protocol = "openai"

    def __init__(self, emulator, info) -> None:
        self.files: dict[str, dict] = {}
        super().__init__(emulator, info)

    def routes(self) -> list:
        return [
            Route("/videos", self._wrap("create", self._create), methods=["POST"]),
            Route("/videos", self._wrap("list", self._list), methods=["GET"]),
            Route("/videos/extensions", self._wrap("create", self._extend), methods=["POST"]),
            Route("/videos/edits", self._wrap("create", self._edit), methods=["POST"]),
            Route("/videos/{video_id}", self._wrap("poll", self._retrieve), methods=["GET"]),
            Route("/videos/{video_id}", self._wrap("delete", self._delete), methods=["DELETE"]),
            Route("/videos/{video_id}/content", self._wrap("download", self._content), methods=["GET"]),
            Route("/videos/{video_id}/remix", self._wrap("create", self._remix), methods=["POST"]),
            Route("/files", self._wrap("upload", self._upload), methods=["POST"]),
            Route("/models", self._wrap("list", self._models), methods=["GET"]),
        ]

    # ------------------------------------------------------------------ errors
    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, **extra: Any) -> Response:
        """``{"error": {"message", "type", "param", "code"}}``."""
        if kind == "rate_limit":
            type_ = "requests"
        elif status >= 500 or kind == "server_error":
            type_ = "server_error"
        else:
            type_ = "invalid_request_error"
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return JSONResponse(body, status_code=status, headers=headers)

    def _invalid(self, message: str, param: Optional[str], code: Optional[str] = "invalid_value") -> Response:
        return self.error(400, message, param=param, code=code)

    # ------------------------------------------------------------------ request plumbing
    def auth_error(self, api_key: Optional[str]) -> Response:
        if api_key is None:
            return self.error(401, "You didn't provide an API key. You need to provide your API key "
                                   "in an Authorization header using Bearer auth (i.e. Authorization: "
                                   "Bearer YOUR_KEY).")
        return self.error(401, f"Incorrect API key provided: {_mask(api_key)}.", code="invalid_api_key")

    async def _read(self, request: Request) -> Union[dict, Response]:
        """The body as a dict: multipart (``a[b]`` keys nested, files as `_Upload`) or JSON."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            try:
                form = await request.form(max_part_size=64 * 1024 * 1024)
            except Exception as exc:  # malformed multipart
                return self._invalid(f"Could not parse the multipart body: {exc}", None, None)
            out: dict[str, Any] = {}
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    value = _Upload(value.filename or "upload", value.content_type or "", await value.read())
                m = _NESTED.match(name)
                if m:
                    inner = out.setdefault(m["outer"], {})
                    if not isinstance(inner, dict):
                        return self._invalid(f"Invalid parameter '{name}'.", m["outer"], "invalid_type")
                    inner[m["inner"]] = value
                else:
                    out[name] = value
            return out
        return await self.json_body(request, empty={})

    def bad_body(self, message: str, problem: str) -> Response:
        if problem == "syntax":
            return self._invalid(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                "sent was not valid JSON.)", None, None)
        return self._invalid(message, None, "invalid_type")

    def _choice(self, body: dict, name: str, allowed, default: Optional[str], *, typed=None,
                model_name: Optional[str] = None) -> Union[str, Response]:
        """``body[name]``, one of the strings ``allowed`` (``default`` when absent; required when
        ``default`` is None), or OpenAI's 400: a wrong type lists ``typed`` (default ``allowed``),
        a wrong value the model's ``allowed``."""
        value = body.get(name)
        if value is None:
            if default is None:
                return self._invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
            return default
        if not isinstance(value, str):
            return self._invalid(f"Invalid type for '{name}': expected one of {_list_text(typed or allowed, 'or')}, "
                                 f"but got {_type_name(value)} instead.", name, "invalid_type")
        if value not in allowed:
            where = f" for {model_name}" if model_name else ""
            return self._invalid(f"Invalid value: '{value}'. Supported values{where} are: {_list_text(allowed)}.",
                                 name)
        return value

    def _unknown(self, body: dict, allowed: set[str]) -> Optional[Response]:
        for name in body:
            if name not in allowed:
                return self._invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        return None

    def _prompt(self, body: dict) -> Union[str, Response]:
        if "prompt" not in body or body["prompt"] is None:
            return self._invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        prompt = body["prompt"]
        if not isinstance(prompt, str):
            return self._invalid(f"Invalid type for 'prompt': expected a string, but got {_type_name(prompt)} "
                                 "instead.", "prompt", "invalid_type")
        if len(prompt) < 1:
            return self._invalid("Invalid 'prompt': string too short. Expected a string with minimum length 1, "
                                 "but got an empty string instead.", "prompt", "string_below_min_length")
        if len(prompt) > MAX_PROMPT:
            return self._invalid(f"Invalid 'prompt': string too long. Expected a string with maximum length "
                                 f"{MAX_PROMPT}, but got a string with length {len(prompt)} instead.",
                                 "prompt", "string_above_max_length")
        if self.emu.guardrail_hit(prompt):
            return self._invalid("Your request was blocked by our moderation system: the prompt may depict "
                                 "a real person or a copyrighted character. (emulated guardrail)",
                                 "prompt", "moderation_blocked")
        return prompt

    # ------------------------------------------------------------------ models
    def resolve_model(self, name: str) -> Optional[str]:
        """Canonical catalog model for a model string a client sent (None when unknown)."""
        cat = self.emu.catalog
        own = {o.id: o.model for o in cat.offers(provider=self.provider)}
        if name in own:
            return own[name]
        if name in SNAPSHOTS and SNAPSHOTS[name] in own:
            return own[SNAPSHOTS[name]]
        if name in cat.models:
            return name
        for offer in cat.offers():
            if offer.provider == "relay" and offer.id == name:
                return offer.model
        return None

    def gone(self, model: str, unlisted: Any = None) -> Optional[Response]:
        """OpenAI's answer for a model it no longer serves (the emulator was told it is shut down)."""
        offer = unlisted or next((o for o in self.emu.catalog.offers(model=model, provider=self.provider)), None)
        if offer is None or not self.emu.is_shut_down(self.provider, offer):
            return None
        return self.error(404, f"The model `{offer.id}` does not exist or you do not have access to it.",
                          code="model_not_found")

    async def _models(self, request: Request, key: Optional[str]) -> Response:
        """``GET /models``: ``{object: "list", data: [{id, object: "model", created, owned_by}]}``."""
        data = [{"id": o.id, "object": "model", "created": 1_759_708_800, "owned_by": "system"}
                for o in self.emu.listed_offers(self.provider)]
        return JSONResponse({"object": "list", "data": data})

    def _offers(self, model: str):
        cat = self.emu.catalog
        return [o for o in cat.offers(model=model) if o.provider == self.provider] or cat.offers(model=model)

    def model_limits(self, model: str, unlisted: Any = None) -> tuple[list[str], list[str], int, bool]:
        """(sizes, seconds, fps, audio) the model accepts here (``unlisted``: the offer of an id the
        catalog does not list, `Surface.open_offer`)."""
        offers = [unlisted] if unlisted is not None else self._offers(model)
        sizes: list[str] = []
        seconds: list[float] = []
        for o in offers:
            sizes += [s for s in o.sizes if s not in sizes]
            seconds += [s for s in o.seconds if s not in seconds]
        first = offers[0]
        return sizes, [_fmt_seconds(s) for s in sorted(seconds)], int(round(first.fps)), first.audio != "never" and (
            first.audio == "always" or first.default_audio)

    # ------------------------------------------------------------------ video objects
    def video(self, job: Job) -> dict:
        """The Video object of a job, as of now."""
        now = self.emu.clock.now()
        status, progress = job.state(now)
        done = status in ("completed", "failed")
        return {
            "id": job.id,
            "object": "video",
            "model": job.provider_model,
            "status": status,
            "progress": progress,
            "created_at": int(job.created_at),
            "completed_at": int(job.finish_at) if done else None,
            "expires_at": int(job.finish_at + self.emu.config.url_ttl_seconds) if status == "completed" else None,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": _fmt_seconds(job.seconds),
            "remixed_from_video_id": job.source_id if job.kind == "remix" else None,
            "error": {"code": job.error[0], "message": job.error[1]} if status == "failed" and job.error else None,
        }

    def _poll_after_ms(self) -> int:
        cfg = self.emu.config
        if cfg.poll_after_ms is not None:
            return int(cfg.poll_after_ms)
        if cfg.generation_seconds is not None:
            return max(10, int(cfg.generation_seconds * 100))
        return max(10, int(2000 * cfg.time_scale))

    def _new_job(self, key: Optional[str], *, model: str, provider_model: str, prompt: str, width: int,
                 height: int, seconds: float, fps: int, audio: bool, kind: str = "generate",
                 source: Optional[_Source] = None, image: Optional[bytes] = None) -> Job:
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, model, seconds, width, height,
                                              fails=blocked is not None)
        seed = emu.new_seed()
        spec = None
        if blocked is None:
            spec = RenderSpec(model=model, prompt=prompt, seed=seed, width=width, height=height,
                              seconds=seconds, fps=fps, audio=audio, input_image=image,
                              source_key=source.key if source else None)
        job = Job(
            id="video_" + emu.ids.hex(24),
            provider=self.provider,
            key=key_fingerprint(key),
            model=model,
            provider_model=provider_model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            fps=fps,
            audio=audio,
            seed=seed,
            created_at=created,
            start_at=start,
            finish_at=finish,
            kind=kind,
            source_id=source.id if source else None,
            error=("moderation_blocked",
                   "Your request was blocked by our moderation system. (emulated: the prompt contains "
                   f"{blocked!r})") if blocked else None,
            spec=spec,
        )
        emu.add_job(job)
        emu.counters.incr(self.provider, "creates")
        emu.counters.note_create(self.provider, [job.id], prompt, accepted=True)
        return job

    def _over_concurrency(self, key: Optional[str]) -> Optional[Response]:
        if self.emu.over_concurrency(self.provider, key):
            self.emu.counters.incr(self.provider, "rate_limited")
            return self.error(429, f"Too many concurrent video jobs for this key (at most "
                                   f"{self.emu.config.concurrency_per_key}). Wait for one to finish.",
                              code="concurrency_limit_exceeded", kind="rate_limit",
                              headers=retry_headers(1.0))
        return None

    # ------------------------------------------------------------------ create
    async def _create(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self._read(request)
        if isinstance(body, Response):
            return body
        bad = self._unknown(body, {"prompt", "model", "seconds", "size", "input_reference"})
        if bad:
            return bad
        prompt = self._prompt(body)
        if isinstance(prompt, Response):
            return prompt
        model_name = body.get("model", "sora-2")
        if not isinstance(model_name, str):
            return self._invalid(f"Invalid type for 'model': expected a string, but got {_type_name(model_name)} "
                                 "instead.", "model", "invalid_type")
        model = self.resolve_model(model_name)
        unlisted = None
        if model is None:
            unlisted = self.open_offer(model_name)  # an id the catalog does not list
            if unlisted is None:
                ids = [o.id for o in self.emu.catalog.offers(provider=self.provider)]
                return self._invalid(f"Invalid value: '{model_name}'. Supported values are: {_list_text(ids)}.",
                                     "model")
            model = model_name
        gone = self.gone(model, unlisted)
        if gone is not None:
            return gone
        sizes, seconds_allowed, fps, audio = self.model_limits(model, unlisted)
        size = self._choice(body, "size", sizes, "720x1280" if "720x1280" in sizes else sizes[0],
                            typed=VIDEO_SIZES, model_name=model_name)
        if isinstance(size, Response):
            return size
        seconds = self._choice(body, "seconds", seconds_allowed, "4" if "4" in seconds_allowed else seconds_allowed[0])
        if isinstance(seconds, Response):
            return seconds
        width, height = (int(v) for v in size.split("x"))
        image = None
        if body.get("input_reference") is not None:
            image = await self._input_image(body["input_reference"])
            if isinstance(image, Response):
                return image
            got = image_size(image)
            if got is None:
                return self._invalid("Invalid input_reference: the image could not be decoded (send PNG, JPEG "
                                     "or WebP).", "input_reference", "invalid_image")
            if got != (width, height):
                return self._invalid(f"Inpaint image must match the requested width and height (image is "
                                     f"{got[0]}x{got[1]}, size is {size}).", "input_reference")
        busy = self._over_concurrency(key)
        if busy:
            return busy
        job = self._new_job(key, model=model, provider_model=model_name, prompt=prompt, width=width,
                            height=height, seconds=float(seconds), fps=fps, audio=audio, image=image)
        return JSONResponse(self.video(job))

    async def _input_image(self, value: Any) -> Union[bytes, Response]:
        if isinstance(value, _Upload):
            return value.data
        if not isinstance(value, dict):
            return self._invalid(f"Invalid type for 'input_reference': expected a file upload or an object with "
                                 f"'image_url' or 'file_id', but got {_type_name(value)} instead.",
                                 "input_reference", "invalid_type")
        given = [k for k in ("image_url", "file_id") if value.get(k) is not None]
        extra = [k for k in value if k not in ("image_url", "file_id")]
        if extra:
            return self._invalid(f"Unknown parameter: 'input_reference.{extra[0]}'.", "input_reference",
                                 "unknown_parameter")
        if len(given) != 1:
            return self._invalid("Provide exactly one of 'image_url' or 'file_id' in 'input_reference'.",
                                 "input_reference")
        if given[0] == "file_id":
            entry = self.files.get(str(value["file_id"]))
            if entry is None:
                return self._invalid(f"No such File object: {value['file_id']}", "input_reference")
            return entry["data"]
        url = str(value["image_url"])
        data = decode_data_url(url)
        if data is not None:
            return data
        if url.startswith(("http://", "https://")):
            return self._invalid(
                "input_reference.image_url: the sorakit emulator works offline and does not fetch "
                f"'{url[:100]}'. Upload the image, send a base64 data: URL, or use a file_id.",
                "input_reference", "image_url_unreachable")
        return self._invalid("input_reference.image_url must be an http(s) URL or a base64 data: URL.",
                             "input_reference")

    # ------------------------------------------------------------------ remix / extend / edit
    async def _source(self, value: Any, param: str, action: str) -> Union[_Source, Response]:
        if isinstance(value, _Upload):
            return await self._uploaded_source(value, param)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            return self._invalid(f"Invalid '{param}': expected an object with 'id' or a video upload.",
                                 param, "invalid_type")
        return self._job_source(value["id"], param, action)

    def _job_source(self, video_id: str, param: Optional[str], action: str) -> Union[_Source, Response]:
        job = self.emu.store.get(video_id, self.provider)
        if job is None:
            return self.error(404, f"Video with id '{video_id}' not found.", param=param)
        status, _ = job.state(self.emu.clock.now())
        if status != "completed" or job.spec is None:
            return self._invalid(f"Video '{video_id}' is {status}; only a completed video can be {action}.",
                                 param, "invalid_state")
        return _Source(id=job.id, model=job.model, provider_model=job.provider_model, width=job.width,
                       height=job.height, seconds=job.seconds, fps=int(job.fps), audio=job.audio,
                       key=job.spec.key())

    async def _uploaded_source(self, upload: _Upload, param: str) -> Union[_Source, Response]:
        got = await asyncio.get_running_loop().run_in_executor(None, probe_video, upload.data)
        if got is None:
            return self._invalid(f"Invalid '{param}': the uploaded file is not a readable video.", param,
                                 "invalid_video")
        width, height, seconds = got
        if f"{width}x{height}" not in VIDEO_SIZES:
            return self._invalid(f"Invalid '{param}': the video is {width}x{height}; supported sizes are "
                                 f"{_list_text(VIDEO_SIZES)}.", param)
        seconds = float(max(1, round(seconds)))
        key = "upload-" + hashlib.sha256(upload.data).hexdigest()
        return _Source(id=None, model="sora-2", provider_model="sora-2", width=width, height=height,
                       seconds=seconds, fps=30, audio=True, key=key)

    async def _remix(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self._read(request)
        if isinstance(body, Response):
            return body
        bad = self._unknown(body, {"prompt"})
        if bad:
            return bad
        prompt = self._prompt(body)
        if isinstance(prompt, Response):
            return prompt
        source = self._job_source(request.path_params["video_id"], None, "remixed")
        if isinstance(source, Response):
            return source
        busy = self._over_concurrency(key)
        if busy:
            return busy
        job = self._new_job(key, model=source.model, provider_model=source.provider_model, prompt=prompt,
                            width=source.width, height=source.height, seconds=source.seconds, fps=source.fps,
                            audio=source.audio, kind="remix", source=source)
        return JSONResponse(self.video(job))

    async def _extend(self, request: Request, key: Optional[str]) -> Response:
        return await self._derive(request, key, "extend")

    async def _edit(self, request: Request, key: Optional[str]) -> Response:
        return await self._derive(request, key, "edit")

    async def _derive(self, request: Request, key: Optional[str], kind: str) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self._read(request)
        if isinstance(body, Response):
            return body
        allowed = {"video", "prompt", "seconds"} if kind == "extend" else {"video", "prompt"}
        bad = self._unknown(body, allowed)
        if bad:
            return bad
        if body.get("video") is None:
            return self._invalid("Missing required parameter: 'video'.", "video", "missing_required_parameter")
        prompt = self._prompt(body)
        if isinstance(prompt, Response):
            return prompt
        total = None
        if kind == "extend":
            seconds = self._choice(body, "seconds", EXTEND_SECONDS, None)
            if isinstance(seconds, Response):
                return seconds
        source = await self._source(body["video"], "video", "extended" if kind == "extend" else "edited")
        if isinstance(source, Response):
            return source
        if kind == "extend":
            total = source.seconds + float(body["seconds"])
            if total > 120:
                return self._invalid(f"The extended video would last {total:g} s; at most 120 s is supported.",
                                     "seconds")
        busy = self._over_concurrency(key)
        if busy:
            return busy
        job = self._new_job(key, model=source.model, provider_model=source.provider_model, prompt=prompt,
                            width=source.width, height=source.height,
                            seconds=total if total is not None else source.seconds, fps=source.fps,
                            audio=source.audio, kind=kind, source=source)
        return JSONResponse(self.video(job))

    # ------------------------------------------------------------------ read
    async def _retrieve(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        video_id = request.path_params["video_id"]
        job = self.emu.store.get(video_id, self.provider)
        if job is None:
            return self.error(404, f"Video with id '{video_id}' not found.")
        return JSONResponse(self.video(job), headers={"openai-poll-after-ms": str(self._poll_after_ms())})

    async def _list(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "lists")
        q = request.query_params
        limit_text = q.get("limit", "20")
        try:
            limit = int(limit_text)
        except ValueError:
            return self._invalid(f"Invalid type for 'limit': expected an integer, but got '{limit_text}' instead.",
                                 "limit", "invalid_type")
        if not 0 <= limit <= 100:
            return self._invalid(f"Invalid 'limit': expected an integer from 0 to 100, but got {limit}.", "limit")
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            return self._invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order")
        jobs = self.emu.store.jobs(self.provider)
        if order == "desc":
            jobs = list(reversed(jobs))
        start = 0
        after = q.get("after")
        if after:
            ids = [j.id for j in jobs]
            if after not in ids:
                return self._invalid(f"Invalid 'after': no video with id '{after}'.", "after")
            start = ids.index(after) + 1
        page = jobs[start:start + limit]
        return JSONResponse({
            "object": "list",
            "data": [self.video(j) for j in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": start + limit < len(jobs),
        })

    async def _delete(self, request: Request, key: Optional[str]) -> Response:
        video_id = request.path_params["video_id"]
        self.emu.counters.incr(self.provider, "cancel_calls")
        job = self.emu.store.get(video_id, self.provider)
        if job is None:
            return self.error(404, f"Video with id '{video_id}' not found.")
        status, _ = job.state(self.emu.clock.now())
        if status not in ("completed", "failed"):
            return self._invalid(f"Video '{video_id}' is {status}; only a completed or failed video can be "
                                 "deleted.", None, "invalid_state")
        self.emu.store.delete(video_id)
        self.emu.counters.incr(self.provider, "deletes")
        return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})

    async def _content(self, request: Request, key: Optional[str]) -> Response:
        video_id = request.path_params["video_id"]
        variant = request.query_params.get("variant", "video")
        if variant not in VARIANTS:
            return self._invalid(f"Invalid value: '{variant}'. Supported values are: {_list_text(VARIANTS)}.",
                                 "variant")
        job = self.emu.store.get(video_id, self.provider)
        if job is None:
            return self.error(404, f"Video with id '{video_id}' not found.")
        now = self.emu.clock.now()
        status, _ = job.state(now)
        if status == "failed":
            return self._invalid(f"Video '{video_id}' failed; it has no content.", None, "invalid_state")
        if status != "completed":
            return self._invalid(f"Video '{video_id}' is not ready yet (status: {status}); download it once "
                                 "it is completed.", None, "video_not_ready")
        if self.link_expired(job, now):
            return self.error(404, f"The content of video '{video_id}' has expired.", code="video_expired")
        return await self.rendered(request, job, f"{variant} for '{video_id}'", variant, VARIANTS[variant])

    # ------------------------------------------------------------------ files
    async def _upload(self, request: Request, key: Optional[str]) -> Response:
        body = await self._read(request)
        if isinstance(body, Response):
            return body
        upload = body.get("file")
        if not isinstance(upload, _Upload):
            return self._invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
        file_id = "file-" + self.emu.ids.hex(12)
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": len(upload.data),
            "created_at": int(self.emu.clock.now()),
            "filename": upload.filename,
            "purpose": str(body.get("purpose") or "vision"),
            "status": "processed",
        }
        self.files[file_id] = {**obj, "data": upload.data}
        return JSONResponse(obj)
