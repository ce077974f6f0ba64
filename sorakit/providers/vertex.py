"""Veo 3.1 on Google's Gemini Enterprise Agent Platform (formerly Vertex AI). Pure mapping.

```
POST {base}/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning
     (express mode, API key and no project: {base}/{v}/publishers/google/models/{m}:predictLongRunning)
     {"instances": [{"prompt", "image"?: {"bytesBase64Encoded", "mimeType"},
                     "video"?: {"gcsUri" | "bytesBase64Encoded", "mimeType"}}],        (extension)
      "parameters": {"aspectRatio", "resolution", "durationSeconds", "sampleCount", "generateAudio",
                     "seed"?, "negativePrompt"?, "personGeneration"?, "enhancePrompt"?,
                     "storageUri"?}}  -> {name, done}
POST {base}/{v}/{name up to /operations}:fetchPredictOperation  {"operationName": name}
     -> {name, done, response?: {videos: [{bytesBase64Encoded | gcsUri, mimeType}],
                                 raiMediaFilteredCount?, raiMediaFilteredReasons?}, error?}
GET  {storage}/download/storage/v1/b/{bucket}/o/{url-encoded object}?alt=media   (a gcsUri sample)
```

Source: the official ``google-genai`` 3.6.1 package (``google/genai/models.py``
``generate_videos`` and ``_GenerateVideosParameters_to_vertex`` / ``_GenerateVideosConfig_to_vertex``
(``output_gcs_uri`` -> ``parameters.storageUri``) / ``_GenerateVideosSource_to_vertex`` /
``_Video_to_vertex`` (``uri`` -> ``gcsUri``, ``video_bytes`` -> ``bytesBase64Encoded``) /
``_GenerateVideosResponse_from_vertex``; ``operations.py`` ``_fetch_predict_videos_operation``),
and its requests as observed on the wire: in express mode it polls at the project path taken from
the operation name, so does this module. Extension: Google's "Extend videos" page
(docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/extend-videos, read
2026-11-27): a Veo input video of 1 to 30 s is extended by 7 s (the catalog's ``extend_seconds``);
the Veo API reference gives ``instances[].video`` as ``bytesBase64Encoded`` or ``gcsUri`` with
``mimeType``. Cloud Storage download: the JSON API's media download
(``GET /download/storage/v1/b/{bucket}/o/{object}?alt=media``, the object name percent-encoded,
``/`` as ``%2F``) with the same OAuth token.

Auth, in this order:

* an OAuth access token in ``Authorization: Bearer`` from ``options["credentials"]`` when given
  (any ``google.auth.credentials.Credentials``): an explicit choice wins over a key in the
  environment;
* an API key (``GOOGLE_CLOUD_API_KEY``, express mode) in ``x-goog-api-key``;
* else Application Default Credentials through ``google.auth.default()`` when the optional
  ``google-auth`` package is installed (``pip install 'sorakit[vertex]'``). Tokens are refreshed by
  google-auth, never signed here.

Options: ``project`` (default ``GOOGLE_CLOUD_PROJECT``, or the ADC project), ``location``
(default ``GOOGLE_CLOUD_LOCATION`` or ``us-central1``; the regional host
``{location}-aiplatform.googleapis.com`` is used when the base URL is the catalog's),
``api_version`` (``v1``), ``person_generation``, ``enhance_prompt``, ``storage_uri`` (a
``gs://bucket/prefix/``: the videos are written there, ``parameters.storageUri``) and
``storage_base_url`` (the Cloud Storage JSON API, ``https://storage.googleapis.com``; the emulator's
stand-in when emulated, see `emulator_options`).

Videos come back inline (``bytesBase64Encoded``) or, with ``storage_uri``, as a ``gcsUri``.
Inline ones are never written to the ledger (`strip_inline`); the download re-reads the operation
and decodes sample *i* (``provider_video_id`` = ``{operation}#sample={i}``). A ``gcsUri`` sample
is a completed state whose ``video_url`` is the ``gs://`` URI (so the row keeps it, and an
extension can name it); it is downloaded through the Cloud Storage JSON API with the OAuth token,
which is sent there and nowhere else (`key_allowed_for`). An express-mode API key cannot read
Cloud Storage: that download fails with ``error_code="gcs_needs_oauth"`` and the row keeps the
URI. A safety-filtered sample is a ``failed`` state with ``error_code="safety_filtered"``, never
an index error.

Extension (``action="extend"``, ``source_video_id``): a ``gs://`` source is sent as ``gcsUri``;
any other id names a completed sorakit job, whose cached file the engine puts into the plan
(`wants_source_file`) and which is sent inline as ``bytesBase64Encoded``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any, ClassVar, Mapping, Optional

import httpx

from urllib.parse import quote, unquote

from .._exceptions import ConfigurationError, ProviderError, ValidationError
from .._types import JobState
from ..catalog import Plan
from ._base import Provider, Variant, as_int
from .gemini import VEO_OPERATION_CANCEL, google_error_details, google_key_error, veo_body

__all__ = ["VertexProvider", "SCOPES", "SAFETY_CODE", "GCS_NEEDS_OAUTH", "STORAGE_BASE", "gcs_parts"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SAFETY_CODE = "safety_filtered"
DEFAULT_BASE = "https://aiplatform.googleapis.com"
STORAGE_BASE = "https://storage.googleapis.com"
"""The Cloud Storage JSON API (media downloads under ``/download/storage/v1``)."""
GCS_NEEDS_OAUTH = "gcs_needs_oauth"
"""``code`` of the error when a ``gcsUri`` video must be read with an express-mode API key."""
_DOWNLOAD = "/download/storage/v1/b/"
_BUCKET = r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"
_GCS_URI = re.compile(rf"^gs://({_BUCKET})(?:/(.*))?$", re.DOTALL)
_OBJECT_ENCODED = re.compile(r"^[A-Za-z0-9%._~!$&'()*+,;=:@-]+$")

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.~-]*"
_OPERATION = re.compile(rf"^(projects/{_SEGMENT}/locations/{_SEGMENT}/publishers/google/models/{_SEGMENT})"
                        rf"/operations/{_SEGMENT}$")
_SAMPLE = re.compile(r"#sample=(\d+)$")


def _segment(value: str, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(_SEGMENT, value) or value in (".", ".."):
        raise ValidationError(field, value, "a path segment (letters, digits, '_', '-', '.', '~')")
    return value


def gcs_parts(uri: Any, field: str, *, need_object: bool = True) -> tuple[str, str]:
    """``gs://bucket/a/b.mp4`` -> ``("bucket", "a/b.mp4")``, or `ValidationError` naming ``field``."""
    m = _GCS_URI.match(uri) if isinstance(uri, str) else None
    name = (m.group(2) or "") if m else ""
    if not m or any(c in name for c in "\r\n\x00") or (need_object and not name.strip("/")):
        raise ValidationError(field, uri, "a Cloud Storage URI gs://bucket/" + ("path/video.mp4" if need_object
                                                                                 else "prefix/"),
                              "bucket names are 3-222 lower-case letters, digits, '.', '_' or '-'")
    return m.group(1), name


def strip_inline(obj: Any) -> Any:
    """A copy of an operation without ``bytesBase64Encoded`` payloads (kept out of the ledger)."""
    if isinstance(obj, Mapping):
        return {k: (f"<{len(v)} base64 characters, not kept>" if k == "bytesBase64Encoded" and isinstance(v, str)
                    else strip_inline(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strip_inline(v) for v in obj]
    return obj


class VertexProvider(Provider):
    """Veo via ``…/publishers/google/models/{m}:predictLongRunning`` and ``:fetchPredictOperation``."""

    protocol: ClassVar[str] = "vertex"
    cancel = VEO_OPERATION_CANCEL
    create_is_idempotent: ClassVar[bool] = False
    supports_reconcile: ClassVar[bool] = False
    variants: ClassVar[tuple[str, ...]] = ("video",)

    def __init__(self, info, *, base_url: str | None = None, api_key: str | None = None, **options: Any):
        super().__init__(info, base_url=base_url, api_key=api_key, **options)
        self.project = options.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        self.location = options.get("location") or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        self.api_version = options.get("api_version", "v1")
        if self.api_version not in ("v1", "v1beta1"):
            raise ConfigurationError(f"vertex api_version {self.api_version!r}: use 'v1' or 'v1beta1'")
        if self.project is not None:
            _segment(self.project, "project")
        _segment(self.location, "location")
        self._oauth = options.get("credentials") is not None or not self._api_key
        """Bearer tokens (explicit credentials, or ADC when no key): what Cloud Storage accepts."""
        self.storage_uri = options.get("storage_uri")
        if self.storage_uri is not None:
            gcs_parts(self.storage_uri, "storage_uri", need_object=False)
        self.storage_base_url = str(options.get("storage_base_url") or STORAGE_BASE).rstrip("/")
        if self.base_url == DEFAULT_BASE and self.location != "global" and self.project:
            self.base_url = f"https://{self.location}-aiplatform.googleapis.com"

    @classmethod
    def emulator_options(cls, base_url: str) -> dict[str, Any]:
        """Emulated, Cloud Storage downloads go to the emulator's stand-in below the surface."""
        return {"storage_base_url": base_url.rstrip("/") + "/storage"}

    # -- auth -----------------------------------------------------------------------------------
    secret_headers: ClassVar[tuple[str, ...]] = ("authorization", "x-goog-api-key")

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` (explicit credentials or ADC) or ``x-goog-api-key``."""
        if self._oauth:
            return {"Authorization": f"Bearer {self._access_token()}"}
        return {"x-goog-api-key": self._api_key}

    def key_allowed_for(self, url: Any) -> bool:
        """Below the base URL; and, with an OAuth token (never an API key), a Cloud Storage media
        download ``{storage}/download/storage/v1/b/{bucket}/o/{one encoded object name}``: the
        object name is one percent-encoded segment (``%2F`` is part of the name there, so the
        base rule that refuses encoded separators is replaced by this exact shape)."""
        if super().key_allowed_for(url):
            return True
        return self._oauth and self._is_storage_download(url)

    def _is_storage_download(self, url: Any) -> bool:
        try:
            u, base = httpx.URL(str(url)), httpx.URL(self.storage_base_url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return False
        if (u.scheme, u.host, u.port) != (base.scheme, base.host, base.port):
            return False
        raw = u.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
        head = base.raw_path.decode("ascii").rstrip("/") + _DOWNLOAD
        if not raw.startswith(head):
            return False
        bucket, sep, obj = raw[len(head):].partition("/o/")
        return (bool(sep) and re.fullmatch(_BUCKET, bucket) is not None and _OBJECT_ENCODED.match(obj) is not None
                and not any(ord(c) < 32 for c in unquote(obj)))

    def _access_token(self) -> str:
        creds = self.options.get("credentials")
        if creds is None:
            try:
                import google.auth
            except ImportError:
                raise ConfigurationError(
                    "the vertex provider needs an API key (GOOGLE_CLOUD_API_KEY, express mode) or Application "
                    "Default Credentials through google-auth: pip install 'sorakit[vertex]'") from None
            creds, adc_project = google.auth.default(scopes=list(SCOPES))
            self.options["credentials"] = creds
            if self.project is None and adc_project:
                self.project = _segment(adc_project, "project")
        if not getattr(creds, "valid", False):
            from google.auth.transport.requests import Request as AuthRequest

            creds.refresh(AuthRequest())  # google-auth does the OAuth exchange; nothing is signed here
        token = getattr(creds, "token", None)
        if not token:
            raise ConfigurationError("the Google credentials gave no access token")
        return token

    def error_details(self, body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
        """Google's ``{"error": {"code", "message", "status", "details"}}`` (as the Gemini provider)."""
        return google_error_details(body, response)

    def error(self, response: httpx.Response, message: str, code: str | None = None,
              param: str | None = None) -> ProviderError:
        """A wrong express-mode key (400 ``API_KEY_INVALID``) is an `AuthenticationError` (`google_key_error`)."""
        return google_key_error(super().error(response, message, code, param), code)

    # -- create -----------------------------------------------------------------------------------
    def model_path(self, model: str) -> str:
        model = _segment(model, "model")
        if self.project is None and not self._oauth:
            return f"{self.api_version}/publishers/google/models/{model}"
        if self.project is None:
            self._access_token()  # ADC may name the project
        if self.project is None:
            raise ConfigurationError("the vertex provider needs a project (GOOGLE_CLOUD_PROJECT or "
                                     "provider_options={'vertex': {'project': ...}}) when no API key is set")
        return (f"{self.api_version}/projects/{self.project}/locations/{self.location}/publishers/google/"
                f"models/{model}")

    def body(self, plan: Plan) -> dict[str, Any]:
        """The Gemini API's Veo body plus what only the enterprise platform takes: sound, seed,
        the video to extend, Cloud Storage output."""
        body = veo_body(plan, "the enterprise platform", self.options.get("person_generation"))
        if plan.action == "extend":
            body["instances"][0]["video"] = self.source_video(plan)
        params = body["parameters"]
        params["generateAudio"] = bool(plan.audio)
        if plan.seed is not None:
            params["seed"] = plan.seed
        if self.options.get("enhance_prompt") is not None:
            params["enhancePrompt"] = bool(self.options["enhance_prompt"])
        if self.storage_uri is not None:
            params["storageUri"] = self.storage_uri
        return body

    def wants_source_file(self, plan: Plan) -> bool:
        """An extension whose source is not in Cloud Storage: the source job's file goes inline."""
        return plan.action == "extend" and not str(plan.source_video_id or "").startswith("gs://")

    def source_video(self, plan: Plan) -> dict[str, str]:
        """``instances[0].video``: ``{gcsUri}`` for a ``gs://`` source, else the file inline."""
        src = plan.source_video_id
        if isinstance(src, str) and src.startswith("gs://"):
            gcs_parts(src, "source_video_id")
            return {"gcsUri": src, "mimeType": "video/mp4"}
        if plan.source_video is None:
            raise ValidationError("source_video_id", src, "a gs:// URI, or the video id of a completed sorakit "
                                                          "job whose file is in the media cache",
                                  "the enterprise platform extends a video from Cloud Storage or sent inline")
        return {"bytesBase64Encoded": base64.b64encode(plan.source_video).decode("ascii"), "mimeType": "video/mp4"}

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        if plan.action not in ("generate", "extend"):
            raise ValidationError("action", plan.action, ["generate", "extend"],
                                  "Veo on the enterprise platform generates and extends videos")
        return self.request("POST", f"{self.model_path(plan.provider_model)}:predictLongRunning",
                            json_body=self.body(plan))

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        self.raise_for_error(response)
        op = self.json_object(response)
        name = op.get("name")
        if not isinstance(name, str) or not _OPERATION.match(name):
            raise self.error(response, f"the operation name {name!r} is not a Veo operation", "invalid_response")
        if op.get("done"):
            return self.operation_states(op)
        return [JobState(provider_job_id=name, status="submitted", raw=strip_inline(op))]

    # -- poll -------------------------------------------------------------------------------------
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        m = _OPERATION.match(provider_job_id or "")
        if not m:
            raise ValidationError("provider_job_id", provider_job_id,
                                  "projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{id}")
        return self.request("POST", f"{self.api_version}/{m.group(1)}:fetchPredictOperation",
                            json_body={"operationName": provider_job_id})

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        self.raise_for_error(response)
        op = self.json_object(response)
        op.setdefault("name", provider_job_id)
        return self.operation_states(op)

    def operation_states(self, op: Mapping[str, Any]) -> list[JobState]:
        name = str(op.get("name"))
        raw = strip_inline(op)
        if not op.get("done"):
            meta = op.get("metadata") if isinstance(op.get("metadata"), Mapping) else {}
            return [JobState(provider_job_id=name, status="in_progress",
                             progress=as_int(meta.get("progressPercent")), raw=raw)]
        error = op.get("error")
        if isinstance(error, Mapping):
            code = error.get("status") or (str(error["code"]) if error.get("code") is not None else "failed")
            return [JobState(provider_job_id=name, status="failed", error_code=str(code),
                             error_message=str(error.get("message") or "the operation failed"), raw=raw)]
        result = op.get("response") if isinstance(op.get("response"), Mapping) else {}
        videos = [v for v in result.get("videos") or [] if isinstance(v, Mapping)]
        states = []
        for i, v in enumerate(videos):
            gcs = v.get("gcsUri")
            if v.get("bytesBase64Encoded") or (isinstance(gcs, str) and gcs.startswith("gs://")):
                states.append(JobState(provider_job_id=name, status="completed", progress=100,
                                       provider_video_id=f"{name}#sample={i}", variation_index=i, raw=raw,
                                       video_url=None if v.get("bytesBase64Encoded") else gcs))
            else:
                states.append(JobState(provider_job_id=name, status="failed", error_code="unreadable_output",
                                       error_message=f"sample {i} holds neither inline bytes nor a gs:// URI "
                                                     f"({sorted(v)})", variation_index=i, raw=raw))
        filtered = as_int(result.get("raiMediaFilteredCount")) or 0
        reasons = [str(r) for r in result.get("raiMediaFilteredReasons") or [] if r]
        if not videos or filtered:
            count = max(filtered, 0 if videos else 1)
            code, message = (SAFETY_CODE, "; ".join(reasons) or f"{filtered} video(s) removed by the safety filter") \
                if (reasons or filtered) else ("no_output", "the operation finished without any video")
            states += [JobState(provider_job_id=name, status="failed", error_code=code, error_message=message,
                                variation_index=len(videos) + k if (videos or count > 1) else None, raw=raw)
                       for k in range(count)]
        return states

    # -- download -----------------------------------------------------------------------------------
    def inline_media(self, state: JobState) -> bool:
        return not state.video_url

    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        """A ``gs://`` video through the Cloud Storage JSON API (OAuth only); else the operation
        again (its videos are inline) and `decode_media` takes sample *i* out."""
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        if state.video_url:
            return self.storage_download(state.video_url)
        return self.build_poll(state.provider_job_id)

    def storage_download(self, gcs_uri: str) -> httpx.Request:
        """``GET {storage}/download/storage/v1/b/{bucket}/o/{object}?alt=media`` with the bearer
        token; a `ProviderError` (``gcs_needs_oauth``) in express mode, where nothing is sent."""
        bucket, obj = gcs_parts(gcs_uri, "video_url")
        if not self._oauth:
            raise ProviderError(
                f"the video is at {gcs_uri}, and an express-mode API key cannot read Cloud Storage: "
                f"use OAuth credentials (provider_options={{'vertex': {{'credentials': ...}}}} or Application "
                f"Default Credentials) and job.retry_download(), or copy it with gcloud storage cp",
                provider=self.name, code=GCS_NEEDS_OAUTH)
        url = f"{self.storage_base_url}{_DOWNLOAD}{bucket}/o/{quote(obj, safe='')}"
        return self.request("GET", url, params={"alt": "media"})

    def decode_media(self, state: JobState, response: httpx.Response) -> bytes:
        m = _SAMPLE.search(state.provider_video_id or "")
        index = int(m.group(1)) if m else 0
        op = self.json_object(response)
        result = op.get("response") if isinstance(op.get("response"), Mapping) else {}
        videos = [v for v in result.get("videos") or [] if isinstance(v, Mapping)]
        if index >= len(videos) or not isinstance(videos[index].get("bytesBase64Encoded"), str):
            raise self.error(response, f"the operation holds no inline video #{index}", "no_output")
        try:
            return base64.b64decode(videos[index]["bytesBase64Encoded"], validate=True)
        except (binascii.Error, ValueError):
            raise self.error(response, "the inline video is not valid base64", "invalid_response") from None
