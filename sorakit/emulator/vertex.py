"""Veo on Google's Gemini Enterprise Agent Platform (formerly Vertex AI), mounted at ``/vertex``.

| method + path (``{v}`` = ``v1`` or ``v1beta1``)                                            | does |
|--------------------------------------------------------------------------------------------|------|
| POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning       | start: ``{name, done: false}`` |
| POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}:fetchPredictOperation    | ``{operationName}`` -> the operation |
| POST /{v}/publishers/google/models/{m}:predictLongRunning                                  | the same in express mode (API key, no project) |
| GET  /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{id}          | the operation (plain LRO read) |
| GET  /storage/download/storage/v1/b/{bucket}/o/{object}?alt=media                          | Cloud Storage stand-in: a video written under ``storageUri`` |

Shapes are the official ``google-genai`` 3.6.1 package's (``google/genai/models.py``:
``generate_videos`` → ``_GenerateVideosParameters_to_vertex`` / ``_GenerateVideosConfig_to_vertex``,
``_GenerateVideosOperation_from_vertex`` / ``_GenerateVideosResponse_from_vertex`` /
``_Video_from_vertex``; ``operations.py`` → ``_fetch_predict_videos_operation``), observed on the
wire: in express mode (``genai.Client(vertexai=True, api_key=...)``) it creates at
``/v1beta1/publishers/google/models/{m}:predictLongRunning`` and then polls at the project path
taken from the operation name; with a project it sends ``Authorization: Bearer <ADC token>``.

Auth: ``x-goog-api-key`` (or ``?key=``) in express mode, or ``Authorization: Bearer``. With
``EmulatorConfig.require_key`` set either must equal it; errors as Google's front end gives them
(no credentials 401 UNAUTHENTICATED, a wrong bearer 401, a wrong key 400 ``API_KEY_INVALID``).

The request (`sorakit.emulator._google.parse_veo`, enterprise mode): instance ``prompt``,
``image`` / ``lastFrame`` / ``referenceImages`` (``bytesBase64Encoded`` + ``mimeType``; ``gcsUri``
images are refused: the emulator keeps no buckets), ``video`` (extension by 7 s of a 1-30 s input:
the ``gcsUri`` of an earlier output, or any readable MP4 as ``bytesBase64Encoded`` with
``mimeType: video/mp4``, which the real API takes too); parameters ``aspectRatio``, ``resolution`` (720p, 1080p, 4k where the
model's sizes include it), ``durationSeconds``, ``sampleCount``, ``seed`` (sample *i* gets
``seed + i``), ``negativePrompt``, ``personGeneration``, ``enhancePrompt``, ``generateAudio``,
``storageUri``, and the accepted-but-ignored ``fps``, ``compressionQuality``, ``resizeMode``,
``pubsubTopic``, ``labels``.

The answer: ``response.videos[]`` — each ``{bytesBase64Encoded, mimeType}`` inline, or
``{gcsUri, mimeType}`` under ``storageUri`` when one was given — and, when the safety filter
removed samples, ``raiMediaFilteredCount`` / ``raiMediaFilteredReasons``.

Cloud Storage stand-in: the objects written under ``storageUri`` are served by the Cloud Storage
JSON API's media download (``/download/storage/v1/b/{bucket}/o/{percent-encoded object}?alt=media``)
below ``{mount}/storage``, to an ``Authorization: Bearer`` caller only: an API key alone is
answered 401 as Cloud Storage answers an anonymous caller (it does not read API keys for private
objects). Without ``alt=media`` the object's metadata is answered.
"""

from __future__ import annotations

import base64
from typing import Any, Optional, Union

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import probe_video, register_surface
from ._google import GoogleSurface, parse_veo
from ._store import Job

__all__ = ["VertexSurface", "API_VERSIONS", "EXPRESS_PROJECT", "EXPRESS_LOCATION"]


API_VERSIONS = ("v1", "v1beta1")
EXPRESS_PROJECT = "emulated-project"
"""The project named in operation names of express-mode requests (the real service uses the key's)."""
EXPRESS_LOCATION = "us-central1"
_RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
_MODEL = "publishers/google/models/{target}"


@register_surface
class VertexSurface(GoogleSurface):
    """``…/publishers/google/models/{m}:predictLongRunning`` and ``:fetchPredictOperation``."""

    protocol = "vertex"
    google_service = "aiplatform.googleapis.com"

    def routes(self) -> list:
        full = "/{version}/projects/{project}/locations/{location}/" + _MODEL
        return [
            Route(full, self._wrap("create", self._model_method), methods=["POST"]),
            Route("/{version}/" + _MODEL, self._wrap("create", self._model_method), methods=["POST"]),
            Route("/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}"
                  "/operations/{op}", self._wrap("poll", self._get_operation), methods=["GET"]),
            Route("/storage/download/storage/v1/b/{bucket}/o/{object:path}",
                  self._wrap("download", self._gcs_download), methods=["GET"]),
        ]

    unlimited_operations = frozenset({"download"})

    # ------------------------------------------------------------------ auth
    def api_key(self, request: Request) -> Optional[str]:
        """The API key, or ``"Bearer <token>"`` for an OAuth access token."""
        key = self.goog_key(request)
        if key:
            return key
        token = self.bearer(request)
        return f"Bearer {token}" if token else None

    def key_ok(self, api_key: Optional[str]) -> bool:
        required = self.emu.config.require_key
        if required is None:
            return True
        return api_key is not None and api_key.removeprefix("Bearer ") == required

    def auth_error(self, api_key: Optional[str]) -> Response:
        if api_key is None:
            return self.error(401, "Request is missing required authentication credential. Expected OAuth 2 "
                                   "access token, login cookie or other valid authentication credential.")
        if api_key.startswith("Bearer "):
            return self.error(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                   "token, login cookie or other valid authentication credential.",
                              reason="ACCESS_TOKEN_TYPE_UNSUPPORTED")
        return self.error(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")

    # ------------------------------------------------------------------ dispatch
    async def _model_method(self, request: Request, key: Optional[str]) -> Response:
        p = request.path_params
        if p["version"] not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        model_id, sep, method = p["target"].partition(":")
        if method == "fetchPredictOperation":
            return await self._fetch(request, model_id)
        if method != "predictLongRunning":
            return self.error(404, f"publishers/google/models/{p['target']}: method not found; this emulator "
                                   f"serves predictLongRunning and fetchPredictOperation.")
        return await self._start(request, key, model_id, p.get("project") or EXPRESS_PROJECT,
                                 p.get("location") or EXPRESS_LOCATION)

    # ------------------------------------------------------------------ create
    async def _start(self, request: Request, key: Optional[str], model_id: str, project: str,
                     location: str) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        offer = self.offer_by_id(model_id) or self.open_offer(model_id)
        if offer is None:
            return self.error(404, f"Publisher Model `projects/{project}/locations/{location}/publishers/google/"
                                   f"models/{model_id}` not found. (emulated: {self.known_ids()})")
        if self.emu.is_shut_down(self.provider, offer):
            return self.error(404, f"Publisher Model `publishers/google/models/{model_id}` is no longer available.")
        body = await self.json_body(request)
        if isinstance(body, Response):
            return body
        veo = parse_veo(body, offer, enterprise=True, video_lookup=self._lookup_gcs)
        if isinstance(veo, str):
            return self.invalid(veo)
        refused = self.refuse_early(veo.prompt, key, "Quota exceeded for aiplatform.googleapis.com/"
                                                     "online_prediction_requests_per_base_model.")
        if refused is not None:
            return refused
        op_id = self.emu.ids.uuid4()
        name = (f"projects/{project}/locations/{location}/publishers/google/models/{model_id}/"
                f"operations/{op_id}")
        source = self._gcs_job(veo.source_video) if veo.source_video else None
        for i in range(veo.count):
            job = self.new_veo_job(key, name, i, offer, veo, source=source)
            if veo.storage_uri:
                job.extra["gcs_uri"] = f"{veo.storage_uri.rstrip('/')}/{op_id}/sample_{i}.mp4"
        self.emu.counters.incr(self.provider, "creates")
        self.emu.counters.note_create(self.provider, [name], veo.prompt, accepted=True)
        return JSONResponse({"name": name, "done": False})

    def _gcs_job(self, uri: str) -> Optional[Job]:
        now = self.emu.clock.now()
        for job in self.emu.store.jobs(self.provider):
            if job.extra.get("gcs_uri") == uri and job.spec is not None and job.terminal(now):
                return job
        return None

    def _lookup_gcs(self, ref: Union[str, bytes]):
        """(seconds, width, height) of a video to extend: a ``gcsUri`` this emulator wrote, or a
        video sent inline (probed; any readable MP4)."""
        if isinstance(ref, bytes):
            got = probe_video(ref)
            return None if got is None else (float(round(got[2])), got[0], got[1])
        job = self._gcs_job(ref)
        return None if job is None else (job.seconds, job.width, job.height)

    # ------------------------------------------------------------------ Cloud Storage stand-in
    async def _gcs_download(self, request: Request, key: Optional[str]) -> Response:
        p = request.path_params
        uri = f"gs://{p['bucket']}/{p['object']}"
        if self.bearer(request) is None:
            return self.error(401, "Anonymous caller does not have storage.objects.get access to the Google "
                                   f"Cloud Storage object. Permission 'storage.objects.get' denied on resource "
                                   f"(or it may not exist). [{uri}]")
        job = self._gcs_job(uri)
        if job is None or job.error is not None:
            return self.error(404, f"No such object: {p['bucket']}/{p['object']}")
        if request.query_params.get("alt") != "media":
            return JSONResponse({"kind": "storage#object", "bucket": p["bucket"], "name": p["object"],
                                 "contentType": "video/mp4"})
        return await self.rendered(request, job, uri)

    # ------------------------------------------------------------------ read
    async def operation(self, name: str) -> dict:
        """The operation as of now; videos inline (rendered here) or as their ``gcsUri``."""
        jobs = self.emu.store.group(name)
        now = self.emu.clock.now()
        if not all(j.terminal(now) for j in jobs):
            return {"name": name, "done": False}
        videos = []
        for j in jobs:
            if j.error is not None:
                continue
            if j.extra.get("gcs_uri"):
                videos.append({"gcsUri": j.extra["gcs_uri"], "mimeType": "video/mp4"})
            else:
                info = await self.emu.video_file(j)
                videos.append({"bytesBase64Encoded": base64.b64encode(info.path.read_bytes()).decode("ascii"),
                               "mimeType": "video/mp4"})
        response: dict[str, Any] = {"@type": _RESPONSE_TYPE}
        filtered = [j for j in jobs if j.error is not None]
        # Google's done fetchPredictOperation answers carry the count even when it is 0
        # (tests/published/vertex: the Veo docs' sample responses)
        response["raiMediaFilteredCount"] = len(filtered)
        if filtered:
            response["raiMediaFilteredReasons"] = [filtered[0].error[1]]
        if videos:
            response["videos"] = videos
        return {"name": name, "done": True, "response": response}

    async def _answer(self, name: str) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        jobs = self.emu.store.group(name)
        if not jobs or jobs[0].provider != self.provider:
            return self.error(404, f"Operation {name} not found.")
        try:
            return JSONResponse(await self.operation(name))
        except Exception as exc:  # a render failure is the emulator's bug: say so
            return self.error(500, f"The emulator could not render {name}: {exc}")

    async def _fetch(self, request: Request, model_id: str) -> Response:
        body = await self.json_body(request, empty={})
        if isinstance(body, Response):
            return body
        if not isinstance(body.get("operationName"), str):
            return self.invalid("operationName is required.")
        for field_name in body:
            if field_name != "operationName":
                return self.invalid(f"Invalid JSON payload received. Unknown name \"{field_name}\": "
                                    f"Cannot find field.")
        name = body["operationName"]
        if f"/models/{model_id}/operations/" not in name:
            return self.invalid(f"operationName {name!r} is not an operation of models/{model_id}.")
        return await self._answer(name)

    async def _get_operation(self, request: Request, key: Optional[str]) -> Response:
        p = request.path_params
        if p["version"] not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        name = (f"projects/{p['project']}/locations/{p['location']}/publishers/google/models/{p['model']}/"
                f"operations/{p['op']}")
        return await self._answer(name)
