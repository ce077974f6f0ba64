"""Veo 3.1 on Google's Gemini Enterprise Agent Platform (formerly Vertex AI). Pure mapping.

```
POST {base}/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning
     (express mode, API key and no project: {base}/{v}/publishers/google/models/{m}:predictLongRunning)
     {"instances": [{"prompt", "image"?: {"bytesBase64Encoded", "mimeType"}}],
      "parameters": {"aspectRatio", "resolution", "durationSeconds", "sampleCount", "generateAudio",
                     "seed"?, "negativePrompt"?, "personGeneration"?, "enhancePrompt"?}}  -> {name, done}
POST {base}/{v}/{name up to /operations}:fetchPredictOperation  {"operationName": name}
     -> {name, done, response?: {videos: [{bytesBase64Encoded | gcsUri, mimeType}],
                                 raiMediaFilteredCount?, raiMediaFilteredReasons?}, error?}
```

Source: the official ``google-genai`` 3.6.1 package (``google/genai/models.py``
``generate_videos`` and ``_GenerateVideosParameters_to_vertex`` / ``_GenerateVideosConfig_to_vertex``
/ ``_GenerateVideosResponse_from_vertex``; ``operations.py`` ``_fetch_predict_videos_operation``),
and its requests as observed on the wire: in express mode it polls at the project path taken from
the operation name, so does this module.

Auth, in this order:

* an API key (``GOOGLE_CLOUD_API_KEY``, express mode) in ``x-goog-api-key``;
* else an OAuth access token in ``Authorization: Bearer`` from ``options["credentials"]`` (any
  ``google.auth.credentials.Credentials``), or from Application Default Credentials through
  ``google.auth.default()`` when the optional ``google-auth`` package is installed
  (``pip install 'sorakit[vertex]'``). Tokens are refreshed by google-auth, never signed here.

Options: ``project`` (default ``GOOGLE_CLOUD_PROJECT``, or the ADC project), ``location``
(default ``GOOGLE_CLOUD_LOCATION`` or ``us-central1``; the regional host
``{location}-aiplatform.googleapis.com`` is used when the base URL is the catalog's),
``api_version`` (``v1``), ``person_generation``, ``enhance_prompt``.

Videos come back inline (``bytesBase64Encoded``): they are never written to the ledger
(`strip_inline`); the download re-reads the operation and decodes sample *i*
(``provider_video_id`` = ``{operation}#sample={i}``). A safety-filtered sample is a ``failed``
state with ``error_code="safety_filtered"``, never an index error. Output to Cloud Storage
(``storageUri``) is not requested: reading ``gs://`` needs a storage client sorakit does not have.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any, ClassVar, Mapping, Optional

import httpx

from .._exceptions import ConfigurationError, ValidationError
from .._types import JobState
from ..catalog import Plan
from ._base import Provider, Variant, as_int
from .gemini import VEO_OPERATION_CANCEL, google_error_details, veo_body

__all__ = ["VertexProvider", "SCOPES", "SAFETY_CODE"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SAFETY_CODE = "safety_filtered"
DEFAULT_BASE = "https://aiplatform.googleapis.com"

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.~-]*"
_OPERATION = re.compile(rf"^(projects/{_SEGMENT}/locations/{_SEGMENT}/publishers/google/models/{_SEGMENT})"
                        rf"/operations/{_SEGMENT}$")
_SAMPLE = re.compile(r"#sample=(\d+)$")


def _segment(value: str, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(_SEGMENT, value) or value in (".", ".."):
        raise ValidationError(field, value, "a path segment (letters, digits, '_', '-', '.', '~')")
    return value


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
        if self.base_url == DEFAULT_BASE and self.location != "global" and self.project:
            self.base_url = f"https://{self.location}-aiplatform.googleapis.com"

    # -- auth -----------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """``x-goog-api-key`` (express mode) or ``Authorization: Bearer <ADC access token>``."""
        if self._api_key:
            return {"x-goog-api-key": self._api_key}
        return {"Authorization": f"Bearer {self._access_token()}"}

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

    # -- create -----------------------------------------------------------------------------------
    def model_path(self, model: str) -> str:
        model = _segment(model, "model")
        if self.project is None and self._api_key:
            return f"{self.api_version}/publishers/google/models/{model}"
        if self.project is None:
            self._access_token()  # ADC may name the project
        if self.project is None:
            raise ConfigurationError("the vertex provider needs a project (GOOGLE_CLOUD_PROJECT or "
                                     "provider_options={'vertex': {'project': ...}}) when no API key is set")
        return (f"{self.api_version}/projects/{self.project}/locations/{self.location}/publishers/google/"
                f"models/{model}")

    def body(self, plan: Plan) -> dict[str, Any]:
        """The Gemini API's Veo body plus what only the enterprise platform takes: sound, seed."""
        body = veo_body(plan, "the enterprise platform", self.options.get("person_generation"))
        params = body["parameters"]
        params["generateAudio"] = bool(plan.audio)
        if plan.seed is not None:
            params["seed"] = plan.seed
        if self.options.get("enhance_prompt") is not None:
            params["enhancePrompt"] = bool(self.options["enhance_prompt"])
        return body

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        if plan.action != "generate":
            raise ValidationError("action", plan.action, ["generate"],
                                  "sorakit's vertex client generates new videos (extension needs gs:// storage)")
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
            if v.get("bytesBase64Encoded"):
                states.append(JobState(provider_job_id=name, status="completed", progress=100,
                                       provider_video_id=f"{name}#sample={i}", variation_index=i, raw=raw))
            else:
                states.append(JobState(provider_job_id=name, status="failed", error_code="unreadable_output",
                                       error_message=f"the video is at {v.get('gcsUri')!r}; sorakit reads only "
                                                     f"inline videos (no storageUri)", variation_index=i, raw=raw))
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
        """The operation again (its videos are inline); `decode_media` takes sample *i* out."""
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        return self.build_poll(state.provider_job_id)

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
