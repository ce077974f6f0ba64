"""Google's Gemini Developer API as the emulator serves it, mounted at ``/gemini``.

The catalog's prefix is ``/gemini/v1beta``; the surface is mounted one level up so that every API
version and every unknown path under ``/gemini`` answers in Google's error shape.

| method + path                                          | does                                      |
|--------------------------------------------------------|-------------------------------------------|
| POST /v1beta/models/{model}:predictLongRunning         | Veo (old Developer-API shape, still spoken by relays and google-genai 2.x): ``{name, done: false}`` |
| GET  /v1beta/models/{model}/operations/{id}            | the operation; once ``done``: samples, filtered result, or ``error`` |
| GET  /{v1beta,v1,v1alpha}/files/{id}:download?alt=media | the MP4 (needs the key when the emulator requires one; kept two days); google-genai 3.x asks ``/v1/`` |
| POST /{v1beta,v1,v1alpha}/interactions                 | Gemini Omni Flash through the Interactions API (`sorakit.emulator.interactions`) |
| GET  /{v1beta,v1,v1alpha}/interactions/{id}            | the interaction: ``in_progress`` → ``completed`` (video inline or URI) / ``failed`` |

The key comes in ``x-goog-api-key`` (or ``?key=``). Errors are Google's
``{"error": {"code", "message", "status", "details"?}}``: a missing key 403 PERMISSION_DENIED, a
wrong one 400 INVALID_ARGUMENT (reason ``API_KEY_INVALID``), an unknown model 404 NOT_FOUND, 429
RESOURCE_EXHAUSTED, 5xx INTERNAL / UNAVAILABLE.

Veo validation (`sorakit.emulator._google.parse_veo`) takes every field google-genai 2.x writes in
this mode: instance ``prompt``, ``image``, ``lastFrame``, ``referenceImages`` (asset/style),
``video`` (``{uri}`` of an earlier output: extension by 7 s); parameters ``aspectRatio``,
``resolution`` (720p/1080p, 4k where the model offers it), ``durationSeconds``, ``sampleCount``,
``negativePrompt``, ``personGeneration``, ``enhancePrompt``; top-level ``webhookConfig``. The
enterprise-only parameters (``seed``, ``generateAudio``, ``storageUri``...) are refused with 400
INVALID_ARGUMENT naming them, unknown fields as the real API does ("Unknown name ... Cannot find
field.").

Sample URIs are ``https://{host}/gemini/v1beta/files/{id}:download?alt=media`` by default
(``EmulatorConfig.google_file_uri_scheme``) as on the real service: the official SDK's
``files.download(file=video)`` extracts the file name only from an ``https://`` URI and downloads it
through its own base URL (google-genai ``_transformers.t_file_name``). Set the scheme to ``"http"``
for a client that fetches the URI literally from a plain-HTTP emulator.

A prompt with a moderation term gives a ``done`` operation with **no samples** and
``raiMediaFilteredCount`` / ``raiMediaFilteredReasons`` (what the real service does); a guardrail term
a synchronous 400 INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import register_surface
from ._google import GoogleSurface, parse_veo, version_mount
from ._store import Job
from .interactions import API_VERSIONS, InteractionsMixin, is_interactions_model_id

__all__ = ["GeminiSurface", "FILE_TTL_SECONDS"]

FILE_TTL_SECONDS = 2 * 24 * 3600.0
"""Generated files are kept two days."""

_RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
_VEO_VERSION = "v1beta"


@register_surface
class GeminiSurface(InteractionsMixin, GoogleSurface):
    """Veo ``models/{model}:predictLongRunning``, operations, files, and the Interactions API."""

    protocol = "gemini"
    unlimited_operations = frozenset({"download"})

    def mount_path(self) -> str:
        return version_mount(self.prefix)

    def routes(self) -> list:
        v = _VEO_VERSION
        return [
            Route(f"/{v}/models", self._wrap("list", self._models), methods=["GET"]),
            Route(f"/{v}/models/{{target}}", self._wrap("create", self._start), methods=["POST"]),
            Route(f"/{v}/models/{{model}}/operations/{{op}}", self._wrap("poll", self._operation), methods=["GET"]),
            Route("/{version}/files/{target}", self._wrap("download", self._download), methods=["GET"]),
            *self.interaction_routes(),
        ]

    # ------------------------------------------------------------------ helpers
    def file_uri(self, request: Request, file_id: str) -> str:
        """A sample's URI: ``https://`` like the real service (see the module docstring)."""
        base = self.base_url(request)
        scheme = self.emu.config.google_file_uri_scheme
        if scheme and "://" in base:
            base = scheme + "://" + base.split("://", 1)[1]
        return f"{base}/files/{file_id}:download?alt=media"

    def _file_job(self, ref: str) -> Optional[Job]:
        """The job behind a file URI / ``files/{id}`` name made by this surface."""
        tail = ref.split("/files/", 1)[1] if "/files/" in ref else ref[len("files/"):] if ref.startswith("files/") else ""
        file_id = tail.split(":", 1)[0].split("?", 1)[0]
        job = self.emu.store.get(file_id, self.provider) if file_id else None
        if job is None or job.spec is None or not job.terminal(self.emu.clock.now()):
            return None
        return job

    # ------------------------------------------------------------------ objects
    def operation(self, name: str, request: Request) -> dict:
        """The operation object, as of now."""
        jobs = self.emu.store.group(name)
        now = self.emu.clock.now()
        if not all(j.terminal(now) for j in jobs):
            return {"name": name, "done": False}
        samples = [{"video": {"uri": self.file_uri(request, j.id)}} for j in jobs if j.error is None]
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
                   # Omni is reached through interactions, not a generation method (unconfirmed listing)
                   "supportedGenerationMethods": [] if self.is_interactions_model(o) else ["predictLongRunning"]}
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
        offer = self.offer_by_id(model_id)
        if offer is None and not is_interactions_model_id(model_id):  # a newer Veo id
            offer = self.open_offer(model_id, among=lambda o: not self.is_interactions_model(o))
        if offer is None or self.is_interactions_model(offer):
            return self.error(404, f"models/{model_id} is not found for API version v1beta, or is not supported "
                                   f"for predictLongRunning. Call ListModels to see the list of available models "
                                   f"and their supported methods. (emulated: {self.known_veo_ids()})")
        if self.emu.is_shut_down(self.provider, offer):
            # Google's answer for a shut-down model (Gemini deprecations page; relays quote the 404)
            return self.error(404, f"models/{model_id} is no longer available. Please see the Gemini API "
                                   "deprecations page for the recommended replacement.")
        body = await self.json_body(request)
        if isinstance(body, Response):
            return body

        def lookup(ref: str):
            job = self._file_job(ref)
            return None if job is None else (job.seconds, job.width, job.height)

        veo = parse_veo(body, offer, enterprise=False, video_lookup=lookup)
        if isinstance(veo, str):
            return self.invalid(veo)
        refused = self.refuse_early(veo.prompt, key, "Resource has been exhausted (e.g. check quota).")
        if refused is not None:
            return refused
        name = f"models/{model_id}/operations/{self.emu.ids.hex(6)}"
        source = self._file_job(veo.source_video) if veo.source_video else None
        for i in range(veo.count):
            self.new_veo_job(key, name, i, offer, veo, source=source)
        self.emu.counters.incr(self.provider, "creates")
        self.emu.counters.note_create(self.provider, [name], veo.prompt, accepted=True)
        return JSONResponse({"name": name, "done": False})

    # ------------------------------------------------------------------ read
    async def _operation(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        name = f"models/{request.path_params['model']}/operations/{request.path_params['op']}"
        jobs = self.emu.store.group(name)
        if not jobs or jobs[0].provider != self.provider:
            return self.error(404, f"Operation {name} not found.")
        return JSONResponse(self.operation(name, request))

    async def _download(self, request: Request, key: Optional[str]) -> Response:
        if request.path_params["version"] not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        target = request.path_params["target"]
        file_id, _, method = target.partition(":")
        if method != "download":
            return self.error(404, f"Method not found: files/{target}.")
        job = self.emu.store.get(file_id, self.provider)
        now = self.emu.clock.now()
        if job is None or job.spec is None or not job.terminal(now):
            return self.error(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        if self.link_expired(job, now, ttl=FILE_TTL_SECONDS):
            return self.error(403, f"You do not have permission to access the File {file_id} or it may not exist "
                                   f"(emulated: files are kept two days).")
        return await self.rendered(request, job, f"files/{file_id}")
