"""Veo through the Gemini API as the emulator serves it, under ``/gemini/v1beta``.

| method + path                                   | does                                             |
|-------------------------------------------------|--------------------------------------------------|
| POST /models/{model}:predictLongRunning         | start: ``{instances: [{prompt, image?}], parameters}`` -> ``{name, done: false}`` |
| GET /models/{model}/operations/{id}             | the operation; once ``done``: samples, filtered result, or ``error`` |
| GET /files/{id}:download?alt=media              | the MP4 (needs the key when the emulator requires one; kept two days) |

The key comes in ``x-goog-api-key`` (or ``?key=``). Errors are Google's
``{"error": {"code", "message", "status", "details"?}}``: a missing key 403 PERMISSION_DENIED, a
wrong one 400 INVALID_ARGUMENT (reason ``API_KEY_INVALID``), an unknown model 404 NOT_FOUND, 429
RESOURCE_EXHAUSTED, 5xx INTERNAL / UNAVAILABLE.

Validation as in API-key mode: one instance with a ``prompt`` (1–1024 characters); ``image`` as
``{bytesBase64Encoded, mimeType}``; ``parameters``: ``aspectRatio`` ``16:9``/``9:16``,
``resolution`` ``720p``/``1080p`` (the pair must be one of the model's sizes), ``durationSeconds``
among the model's durations, ``sampleCount`` up to its ``max_variations``, ``negativePrompt``,
``personGeneration`` (``allow_all``/``allow_adult``/``dont_allow``). ``seed`` and ``generateAudio``
are refused with 400 INVALID_ARGUMENT saying they are Vertex AI parameters; unknown fields are
refused as the real API does ("Unknown name ... Cannot find field.").

A prompt with a moderation term gives a ``done`` operation with **no samples** and
``raiMediaFilteredCount`` / ``raiMediaFilteredReasons`` (what the real service does); a guardrail term
a synchronous 400 INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._app import Surface, image_size, register_surface, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["GeminiSurface", "FILE_TTL_SECONDS"]

FILE_TTL_SECONDS = 2 * 24 * 3600.0
"""Generated files are kept two days."""

MAX_PROMPT = 1024
_GRPC = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
         405: "UNIMPLEMENTED", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
         502: "UNAVAILABLE", 503: "UNAVAILABLE"}
_PARAMETERS = {"aspectRatio", "resolution", "durationSeconds", "negativePrompt", "sampleCount",
               "personGeneration", "seed", "generateAudio", "numberOfVideos"}
_VERTEX_ONLY = {"seed", "generateAudio"}
_PERSON = ("allow_all", "allow_adult", "dont_allow")
_SIZES = {("720p", "16:9"): "1280x720", ("720p", "9:16"): "720x1280",
          ("1080p", "16:9"): "1920x1080", ("1080p", "9:16"): "1080x1920"}
_RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"


@register_surface
class GeminiSurface(Surface):
    """``models/{model}:predictLongRunning``, operations and file downloads."""

    protocol = "gemini"

    def routes(self) -> list:
        return [
            Route("/models", self._wrap("list", self._models), methods=["GET"]),
            Route("/models/{target}", self._wrap("create", self._start), methods=["POST"]),
            Route("/models/{model}/operations/{op}", self._wrap("poll", self._operation), methods=["GET"]),
            Route("/files/{target}", self._wrap("download", self._download), methods=["GET"]),
        ]

    # ------------------------------------------------------------------ errors
    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, reason: Optional[str] = None,
              **extra: Any) -> Response:
        """``{"error": {"code": <http status>, "message", "status": <gRPC status>, "details"?}}``."""
        err: dict[str, Any] = {"code": status, "message": message, "status": _GRPC.get(status, "UNKNOWN")}
        if reason:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                               "domain": "googleapis.com"}]
        return JSONResponse({"error": err}, status_code=status, headers=headers)

    def _invalid(self, message: str) -> Response:
        return self.error(400, message)

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def api_key(request: Request) -> Optional[str]:
        """The key from ``x-goog-api-key`` or the ``key`` query parameter."""
        return request.headers.get("x-goog-api-key") or request.query_params.get("key") or None

    unlimited_operations = frozenset({"download"})

    def auth_error(self, api_key: Optional[str]) -> Response:
        if api_key is None:
            return self.error(403, "Method doesn't allow unregistered callers (callers without established "
                                   "identity). Please use API Key or other form of API consumer identity "
                                   "to call this API.")
        return self.error(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")

    def _offer(self, model_id: str):
        return next((o for o in self.emu.catalog.offers(provider=self.provider) if o.id == model_id), None)

    # ------------------------------------------------------------------ objects
    def operation(self, name: str, base: str) -> dict:
        """The operation object, as of now; sample URIs under ``base``."""
        jobs = self.emu.store.group(name)
        now = self.emu.clock.now()
        if not all(j.terminal(now) for j in jobs):
            return {"name": name, "done": False}
        samples = [{"video": {"uri": f"{base}/files/{j.id}:download?alt=media"}} for j in jobs if j.error is None]
        filtered = [j for j in jobs if j.error is not None]
        gen: dict[str, Any] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateVideoResponse"}
        if samples:
            gen["generatedSamples"] = samples
        if filtered:
            gen["raiMediaFilteredCount"] = len(filtered)
            gen["raiMediaFilteredReasons"] = [filtered[0].error[1]]
        return {"name": name, "done": True, "response": {"@type": _RESPONSE_TYPE, "generateVideoResponse": gen}}

    # ------------------------------------------------------------------ create
    async def _models(self, request: Request, key: Optional[str]) -> Response:
        """``GET /models``: ``{models: [{name: "models/<id>", displayName, supportedGenerationMethods}]}``
        (the Gemini API's ListModels shape; Veo models list ``predictLongRunning``)."""
        models = [{"name": f"models/{o.id}", "version": o.id.rsplit("-", 1)[-1],
                   "displayName": self.emu.catalog.models[o.model].title,
                   "supportedGenerationMethods": ["predictLongRunning"]}
                  for o in self.emu.listed_offers(self.provider)]
        return JSONResponse({"models": models})

    async def _start(self, request: Request, key: Optional[str]) -> Response:
        target = request.path_params["target"]
        model_id, sep, method = target.partition(":")
        if not sep:
            return self.error(404, f"Method not found: models/{target}.")
        if method != "predictLongRunning":
            return self.error(404, f"models/{model_id} does not support {method} in this emulator; "
                                   f"use predictLongRunning.")
        self.emu.counters.incr(self.provider, "create_calls")
        offer = self._offer(model_id)
        if offer is None:
            known = ", ".join(o.id for o in self.emu.catalog.offers(provider=self.provider))
            return self.error(404, f"models/{model_id} is not found for API version v1beta, or is not supported "
                                   f"for predictLongRunning. Call ListModels to see the list of available models "
                                   f"and their supported methods. (emulated: {known})")
        if self.emu.is_shut_down(self.provider, offer):
            # Google's answer for a shut-down model (Gemini deprecations page; relays quote the 404)
            return self.error(404, f"models/{model_id} is no longer available. Please see the Gemini API "
                                   "deprecations page for the recommended replacement.")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._invalid("Invalid JSON payload received. Expected an object.")
        for name in body:
            if name not in ("instances", "parameters"):
                return self._invalid(f"Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
            return self._invalid("instances must hold exactly one instance.")
        inst = instances[0]
        for name in inst:
            if name not in ("prompt", "image"):
                return self._invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at 'instances[0]': "
                                     f"Cannot find field.")
        prompt = inst.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._invalid("A prompt is required.")
        if len(prompt) > MAX_PROMPT:
            return self._invalid(f"The prompt is longer than {MAX_PROMPT} characters.")
        image = None
        if inst.get("image") is not None:
            img = inst["image"]
            if not isinstance(img, dict) or not isinstance(img.get("bytesBase64Encoded"), str):
                return self._invalid("image must be {bytesBase64Encoded, mimeType} in API-key mode.")
            try:
                image = base64.b64decode(img["bytesBase64Encoded"], validate=True)
            except (binascii.Error, ValueError):
                image = None
            if not image or image_size(image) is None:
                return self._invalid("image.bytesBase64Encoded is not a readable image.")
            if img.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
                return self._invalid(f"image.mimeType {img.get('mimeType')!r} is not supported; use image/png, "
                                     f"image/jpeg or image/webp.")
            if "image-to-video" not in offer.capabilities:
                return self._invalid(f"{model_id} has no image-to-video.")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            return self._invalid("parameters must be an object.")
        for name in params:
            if name not in _PARAMETERS:
                return self._invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at 'parameters': "
                                     f"Cannot find field.")
            if name in _VERTEX_ONLY:
                return self._invalid(f"`{name}` isn't supported by this model in the Gemini API; it is a "
                                     f"Vertex AI parameter.")
        aspect = params.get("aspectRatio", "16:9")
        resolution = params.get("resolution", "720p")
        if aspect not in ("16:9", "9:16"):
            return self._invalid(f"aspectRatio {aspect!r} is not supported; use 16:9 or 9:16.")
        if resolution not in ("720p", "1080p"):
            return self._invalid(f"resolution {resolution!r} is not supported; use 720p or 1080p.")
        size = _SIZES[(resolution, aspect)]
        if size not in offer.sizes:
            return self._invalid(f"{model_id} does not support resolution {resolution} with aspectRatio {aspect}.")
        allowed = [int(s) for s in offer.seconds]
        duration = params.get("durationSeconds", max(allowed))
        if isinstance(duration, str) and duration.isdigit():
            duration = int(duration)
        if isinstance(duration, float) and duration.is_integer():
            duration = int(duration)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration not in allowed:
            return self._invalid(f"durationSeconds {duration!r} is out of bounds for {model_id}; supported: "
                                 f"{', '.join(map(str, allowed))}.")
        count = params.get("sampleCount", params.get("numberOfVideos", 1))
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= offer.max_variations:
            return self._invalid(f"sampleCount must be from 1 to {offer.max_variations} for {model_id}.")
        neg = params.get("negativePrompt")
        if neg is not None and not isinstance(neg, str):
            return self._invalid("negativePrompt must be a string.")
        person = params.get("personGeneration")
        if person is not None and person not in _PERSON:
            return self._invalid(f"personGeneration {person!r} is not supported; use {', '.join(_PERSON)}.")
        if self.emu.guardrail_hit(prompt):
            return self._invalid("The prompt could not be submitted: it violates the usage guidelines "
                                 "(emulated guardrail).")
        if self.emu.over_concurrency(self.provider, key):
            self.emu.counters.incr(self.provider, "rate_limited")
            return self.error(429, "Resource has been exhausted (e.g. check quota).", headers=retry_headers(1.0))
        name = f"models/{model_id}/operations/{self.emu.ids.hex(6)}"
        width, height = (int(v) for v in size.split("x"))
        for i in range(count):
            self._new_job(key, name, i, offer, prompt, width, height, float(duration), image)
        self.emu.counters.incr(self.provider, "creates")
        self.emu.counters.note_create(self.provider, [name], prompt, accepted=True)
        return JSONResponse({"name": name, "done": False})

    def _new_job(self, key, name, index, offer, prompt, width, height, seconds, image) -> Job:
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, offer.model, seconds, width, height,
                                              fails=blocked is not None)
        seed = emu.new_seed()
        spec = None if blocked else RenderSpec(model=offer.model, prompt=prompt, seed=seed, width=width,
                                               height=height, seconds=seconds, fps=int(round(offer.fps)),
                                               audio=True, input_image=image)
        job = Job(
            id=emu.ids.hex(6), provider=self.provider, key=key_fingerprint(key), model=offer.model,
            provider_model=offer.id, prompt=prompt, width=width, height=height, seconds=seconds, fps=offer.fps,
            audio=True, seed=seed, created_at=created, start_at=start, finish_at=finish,
            error=("safety_filtered", "Video generation was blocked by the safety filter: the prompt may violate "
                                      f"the usage guidelines (emulated: it contains {blocked!r}).")
            if blocked else None,
            group=name, index=index, spec=spec,
        )
        return emu.add_job(job)

    # ------------------------------------------------------------------ read
    async def _operation(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        name = f"models/{request.path_params['model']}/operations/{request.path_params['op']}"
        jobs = self.emu.store.group(name)
        if not jobs or jobs[0].provider != self.provider:
            return self.error(404, f"Operation {name} not found.")
        return JSONResponse(self.operation(name, self.base_url(request)))

    async def _download(self, request: Request, key: Optional[str]) -> Response:
        target = request.path_params["target"]
        file_id, _, method = target.partition(":")
        if method != "download":
            return self.error(404, f"Method not found: files/{target}.")
        job = self.emu.store.get(file_id, self.provider)
        now = self.emu.clock.now()
        if job is None or job.spec is None or not job.terminal(now):
            return self.error(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        if now >= job.finish_at + FILE_TTL_SECONDS or \
                self.emu.faults.decide("expire_urls", self.provider, "download"):
            return self.error(403, f"You do not have permission to access the File {file_id} or it may not exist "
                                   f"(emulated: files are kept two days).")
        try:
            info = await self.emu.video_file(job)
        except Exception as exc:  # a render failure is the emulator's bug: say so
            return self.error(500, f"The emulator could not render files/{file_id}: {exc}")
        return self.media(request, info.path, "video/mp4")
