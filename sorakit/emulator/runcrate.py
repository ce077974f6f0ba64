"""Runcrate's video API as the emulator serves it, under ``/runcrate/v1``.

| method + path               | does                                                                  |
|-----------------------------|-----------------------------------------------------------------------|
| POST /videos                | create: JSON ``{model, prompt, duration, aspect_ratio?, width?, height?, image_url?}`` -> ``{id, status}`` |
| GET /videos/{id}            | ``{id, status: queued|processing|completed|failed, progress, ...}``   |
| GET /videos/{id}/download   | the MP4 (Range requests); 404 before completion and once expired      |
| GET /models                 | ``{object: "list", data: [{id, object: "model", type: "video"}]}``    |

Sources: runcrate-sdk 0.5.0 (``POST /v1/videos`` with ``duration``; base ``https://api.runcrate.ai``),
Runcrate's docs (``image_url`` for image-to-video; a download before completion is a 404). The
model list follows the OpenAI-compatible shape Runcrate's other endpoints use (unconfirmed).

Validation: ``model`` is a Runcrate id from the catalog (``openai/sora-2``, ``openai/sora-2-pro``);
``duration`` a JSON integer among the model's durations (4, 8, 12); ``width``/``height`` together
and one of the model's sizes; ``aspect_ratio`` ``16:9`` / ``9:16`` (alone it picks the model's size
of that orientation, and it must agree with ``width``/``height``); unknown fields are refused.

Errors are ``{"error": {"message", "type", "code"}}`` (Runcrate's API reference introduction, read
2026-12-07: ``type: "invalid_request_error"``, ``code: "invalid_api_key"`` for a wrong key; the other
``type`` values follow OpenAI's, whose endpoints Runcrate mirrors: unconfirmed).
Image-to-video takes ``image_url`` (the OpenAPI-based reference page "Submit video generation job").
runcrate-sdk 0.5.0 turns a file path in any ``image`` / ``start_image`` keyword into a data URI, but
that helper is shared with ``generate_image`` and Runcrate's video docs name no such field: the
emulator refuses ``image`` / ``start_image`` with a 400 that names ``image_url``.

Choices where the public record is silent: keys
are ``Authorization: Bearer`` (``require_key`` as everywhere in the emulator); a moderation term
makes the job ``failed`` with ``moderation_blocked``, a guardrail term a synchronous 400. There is
no job list and no client-chosen id, as on the real service.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import Surface, register_surface, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["RuncrateSurface"]

_STATUS = {"queued": "queued", "in_progress": "processing", "completed": "completed", "failed": "failed"}
_FIELDS = {"model", "prompt", "duration", "duration_seconds", "aspect_ratio", "width", "height", "image_url"}
MAX_PROMPT = 32000


@register_surface
class RuncrateSurface(Surface):
    """Runcrate ``/v1/videos``: create, retrieve, download."""

    protocol = "runcrate"

    def routes(self) -> list:
        return [
            Route("/videos", self._wrap("create", self._create), methods=["POST"]),
            Route("/videos/{video_id}", self._wrap("poll", self._retrieve), methods=["GET"]),
            Route("/videos/{video_id}/download", self._wrap("download", self._download), methods=["GET"]),
            Route("/models", self._wrap("list", self._models), methods=["GET"]),
        ]

    # ------------------------------------------------------------------ errors
    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, **extra: Any) -> Response:
        """``{"error": {"message", "type", "code"}}`` (``code`` defaults from the status)."""
        if code is None:
            code = {400: "invalid_request", 401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed",
                    409: "conflict", 429: "rate_limited"}.get(status, "server_error" if status >= 500 else "error")
        kind = "server_error" if status >= 500 else "rate_limit_error" if status == 429 else "invalid_request_error"
        err: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if param:
            err["param"] = param
        return JSONResponse({"error": err}, status_code=status, headers=headers)

    def _invalid(self, message: str, param: Optional[str] = None, code: str = "invalid_request") -> Response:
        return self.error(400, message, code=code, param=param)

    # ------------------------------------------------------------------ plumbing
    unlimited_operations = frozenset({"download"})

    def auth_error(self, api_key: Optional[str]) -> Response:
        return self.error(401, "Missing API key: send Authorization: Bearer rc_live_..." if api_key is None
                          else "Invalid API key.", code="invalid_api_key")

    def _offers(self):
        return {o.id: o for o in self.emu.catalog.offers(provider=self.provider)}

    # ------------------------------------------------------------------ objects
    def video(self, job: Job) -> dict:
        """The video object of a job, as of now."""
        now = self.emu.clock.now()
        status, progress = job.state(now)
        obj: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.provider_model,
            "status": _STATUS[status],
            "progress": progress,
            "prompt": job.prompt,
            "duration": int(job.seconds),
            "width": job.width,
            "height": job.height,
            "aspect_ratio": "16:9" if job.width > job.height else "9:16" if job.width < job.height else "1:1",
            "created_at": int(job.created_at),
            "completed_at": int(job.finish_at) if status in ("completed", "failed") else None,
        }
        if status == "completed":
            obj["expires_at"] = int(job.finish_at + self.emu.config.url_ttl_seconds)
        if status == "failed" and job.error:
            obj["error"] = {"code": job.error[0], "message": job.error[1]}
        return obj

    # ------------------------------------------------------------------ create
    async def _create(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self.json_body(request)  # runcrate's 400 code is "invalid_request"
        if isinstance(body, Response):
            return body
        unknown = sorted(set(body) - _FIELDS)
        image_field = next((f for f in ("image", "start_image") if f in unknown), None)
        if image_field:
            return self._invalid(f"Unknown field '{image_field}': image-to-video takes 'image_url' (a URL or a "
                                 f"data URI).", image_field, "unknown_field")
        if unknown:
            return self._invalid(f"Unknown field '{unknown[0]}'. Allowed fields: {', '.join(sorted(_FIELDS))}.",
                                 unknown[0], "unknown_field")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._invalid("'prompt' is required and must be a non-empty string.", "prompt")
        if len(prompt) > MAX_PROMPT:
            return self._invalid(f"'prompt' is longer than {MAX_PROMPT} characters.", "prompt")
        offers = self._offers()
        model_id = body.get("model")
        offer = offers.get(model_id) if isinstance(model_id, str) else None
        if offer is None and isinstance(model_id, str) and "/" in model_id:
            offer = self.open_offer(model_id)  # a "vendor/model" id the catalog does not list
        if offer is None:
            return self._invalid(f"Unknown model {model_id!r}. Available: {', '.join(offers)}.", "model",
                                 "model_not_found")
        if self.emu.is_shut_down(self.provider, offer):
            return self.error(404, f"Model {model_id!r} is no longer available.", code="model_not_found",
                              param="model")
        allowed = [int(s) for s in offer.seconds]
        if "duration" in body and "duration_seconds" in body:
            return self._invalid("Send 'duration' or 'duration_seconds', not both.", "duration_seconds")
        duration = body.get("duration", body.get("duration_seconds", allowed[0]))
        if isinstance(duration, float) and duration.is_integer():
            duration = int(duration)
        if isinstance(duration, bool) or not isinstance(duration, int):
            return self._invalid(f"'duration' must be an integer number of seconds ({', '.join(map(str, allowed))}), "
                                 f"not {type(duration).__name__}.", "duration", "invalid_type")
        if duration not in allowed:
            return self._invalid(f"'duration' {duration} is not supported for {model_id}; use "
                                 f"{', '.join(map(str, allowed))}.", "duration")
        size = self._size(body, offer)
        if isinstance(size, Response):
            return size
        width, height = size
        image = None
        if body.get("image_url") is not None:
            image = _image(body["image_url"])
            if isinstance(image, str):
                return self._invalid(image, "image_url")
            if "image-to-video" not in offer.capabilities:
                return self._invalid(f"{model_id} has no image-to-video ('image_url').", "image_url")
        if self.emu.guardrail_hit(prompt):
            return self._invalid("The prompt was rejected by the content policy (emulated guardrail).", "prompt",
                                 "content_policy_violation")
        if self.emu.over_concurrency(self.provider, key):
            self.emu.counters.incr(self.provider, "rate_limited")
            return self.error(429, "Too many concurrent video jobs for this key.", code="concurrency_limit",
                              headers=retry_headers(1.0))
        job = self._new_job(key, offer, prompt, width, height, float(duration), image)
        return JSONResponse({"id": job.id, "status": "queued", "model": model_id,
                             "created_at": int(job.created_at)})

    def _size(self, body: dict, offer) -> Union[tuple[int, int], Response]:
        w, h, aspect = body.get("width"), body.get("height"), body.get("aspect_ratio")
        if aspect is not None and aspect not in ("16:9", "9:16"):
            return self._invalid(f"'aspect_ratio' {aspect!r} is not supported; use '16:9' or '9:16'.", "aspect_ratio")
        if (w is None) != (h is None):
            return self._invalid("'width' and 'height' must be given together.", "width" if w is None else "height")
        if w is not None:
            if any(isinstance(v, bool) or not isinstance(v, int) for v in (w, h)):
                return self._invalid("'width' and 'height' must be integers.", "width", "invalid_type")
            size = f"{w}x{h}"
            if size not in offer.sizes:
                return self._invalid(f"Size {size} is not supported for {offer.id}; use {', '.join(offer.sizes)}.",
                                     "width")
            if aspect is not None and (aspect == "16:9") != (w > h):
                return self._invalid(f"'aspect_ratio' {aspect} disagrees with {size}.", "aspect_ratio")
            return w, h
        sizes = [tuple(int(v) for v in s.split("x")) for s in offer.sizes]
        if aspect is not None:
            sizes = [s for s in sizes if (s[0] > s[1]) == (aspect == "16:9")]
        return sizes[0]

    def _new_job(self, key: Optional[str], offer, prompt: str, width: int, height: int, seconds: float,
                 image: Optional[bytes] = None) -> Job:
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, offer.model, seconds, width, height,
                                              fails=blocked is not None)
        seed = emu.new_seed()
        audio = offer.audio != "never"
        spec = None if blocked else RenderSpec(model=offer.model, prompt=prompt, seed=seed, width=width,
                                               height=height, seconds=seconds, fps=int(round(offer.fps)),
                                               audio=audio, input_image=image)
        job = Job(
            id="vid_" + emu.ids.hex(12), provider=self.provider, key=key_fingerprint(key), model=offer.model,
            provider_model=offer.id, prompt=prompt, width=width, height=height, seconds=seconds,
            fps=offer.fps, audio=audio, seed=seed, created_at=created, start_at=start, finish_at=finish,
            error=("moderation_blocked", f"The video was blocked by the content policy (emulated: the prompt "
                                         f"contains {blocked!r}).") if blocked else None,
            spec=spec,
        )
        emu.add_job(job)
        emu.counters.incr(self.provider, "creates")
        emu.counters.note_create(self.provider, [job.id], prompt, accepted=True)
        return job

    async def _models(self, request: Request, key: Optional[str]) -> Response:
        data = [{"id": o.id, "object": "model", "type": "video", "owned_by": o.id.split("/")[0]}
                for o in self.emu.listed_offers(self.provider)]
        return JSONResponse({"object": "list", "data": data})

    # ------------------------------------------------------------------ read
    async def _retrieve(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        job = self.emu.store.get(request.path_params["video_id"], self.provider)
        if job is None:
            return self.error(404, f"Video {request.path_params['video_id']!r} not found.")
        return JSONResponse(self.video(job))

    async def _download(self, request: Request, key: Optional[str]) -> Response:
        video_id = request.path_params["video_id"]
        job = self.emu.store.get(video_id, self.provider)
        if job is None:
            return self.error(404, f"Video {video_id!r} not found.")
        now = self.emu.clock.now()
        status, _ = job.state(now)
        if status != "completed":  # Runcrate answers 404 until the video exists (its docs)
            return self.error(404, f"Video {video_id!r} is {_STATUS[status]}; there is no file to download"
                              + (" (it failed)." if status == "failed" else " yet."), code="not_found")
        if self.link_expired(job, now):
            return self.error(404, f"Video {video_id!r} has expired.", code="video_expired")
        return await self.rendered(request, job, repr(video_id))


def _image(value: Any) -> Union[bytes, str]:
    """The bytes of an ``image_url`` data URI, or a message saying why not (offline: no fetching)."""
    from ._surface import decode_data_url

    if not isinstance(value, str):
        return "'image_url' must be a string (a URL or a data URI)."
    if value.startswith(("http://", "https://")):
        return "The sorakit emulator works offline and does not fetch image URLs: send a data URI."
    data = decode_data_url(value) if value.startswith("data:") else None
    return data or "'image_url' is neither a URL nor a valid data URI."

