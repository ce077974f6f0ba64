"""The Gemini Developer API (API-key mode): Veo long-running operations and Gemini Omni Flash.

Pure mapping, no I/O. Two wire shapes behind one provider, chosen by model id: ``gemini-*``
models (Gemini Omni Flash) go through the Interactions API (`sorakit.providers._interactions`,
remix/edit = ``previous_interaction_id``); Veo ids through ``predictLongRunning``:

```
POST {base}/models/{model}:predictLongRunning     header x-goog-api-key
     {"instances": [{"prompt", "image"?: {"bytesBase64Encoded", "mimeType"}}],
      "parameters": {"aspectRatio", "resolution", "durationSeconds", "negativePrompt"?,
                     "sampleCount", "personGeneration"?}}          -> {name, done: false}
GET  {base}/{name}            -> {name, done, response?: {generateVideoResponse: {generatedSamples:
                                 [{video: {uri}}], raiMediaFilteredCount?, raiMediaFilteredReasons?}},
                                 error?: {code, message, status}}
GET  {video.uri}              (absolute; needs the key header; kept about two days)
```

A file URI that names this provider's own host under another scheme (the emulator serves
``https://`` URIs over plain HTTP, as google-genai needs them) is downloaded by file name through
the base URL, which is what the official SDK's ``files.download`` does
(``_transformers.t_file_name`` + its own base URL).

What users trip over, handled here:

* A safety-filtered result is ``done`` with **no samples** and ``raiMediaFilteredReasons``: it
  becomes a ``failed`` state with ``error_code="safety_filtered"`` and the reasons as the message,
  never an index error. When some samples of several were filtered, the filtered ones are failed
  states after the delivered ones.
* The download URI needs the API key, but the key is sent only to the Gemini host (or, for the
  emulator or a proxy, only below the configured base URL): never to any other host a URI names.
* Files are kept about two days: ``video_url_expires_at`` is set two days after the answer
  (by its ``Date`` header when present).
* ``seed`` and ``generateAudio`` are Vertex AI parameters: in API-key mode they are refused by the
  catalog plan (the gemini offers have no ``seed`` capability and ``audio = "always"``).

The operation name is the job id, so a job whose create was acknowledged is resumed by polling the
name. Create is not idempotent and operations cannot be listed: a create whose answer was lost
cannot be reconciled and must stay ``unknown`` (``create_is_idempotent = supports_reconcile = False``).
"""

from __future__ import annotations

import base64
import email.utils
import time
from typing import Any, ClassVar, Mapping, Optional
from urllib.parse import urlsplit

import httpx

from .._exceptions import AuthenticationError, ProviderError, ValidationError
from .._types import JobState
from ..catalog import Plan, resolution_tier
from . import _interactions as omni
from ._base import CancelSupport, ListedModel, Provider, Variant, as_int, header_float

__all__ = ["GeminiProvider", "FILE_LIFETIME_S", "GEMINI_HOST", "google_error_details", "veo_body"]

FILE_LIFETIME_S = 2 * 24 * 3600
"""Generated videos are kept on the server about two days."""

GEMINI_HOST = "generativelanguage.googleapis.com"
"""The Gemini API host: download URIs on it get the key header."""

SAFETY_CODE = "safety_filtered"
"""``error_code`` of a result the safety filter removed."""



VEO_OPERATION_CANCEL = CancelSupport(
    "none", "unconfirmed",
    "Google's Veo operations offer no cancel that sorakit can rely on: the official SDK only gets "
    "them, and whether the generic operations ':cancel' stops a video generation is not documented",
    "google-genai 3.6.1 operations.py (get / fetchPredictOperation only, no cancel)")
"""Veo long-running operations (Gemini API ``predictLongRunning`` and the enterprise platform)."""


class GeminiProvider(Provider):
    """Veo via ``models/{model}:predictLongRunning`` and operation polling, key in ``x-goog-api-key``.

    Options:
        person_generation: sent as ``parameters.personGeneration`` when set (``"allow_all"``,
            ``"allow_adult"``, ``"dont_allow"``; allowed values depend on region and mode).
        file_lifetime_s: seconds a generated file stays downloadable (default two days).
    """

    protocol: ClassVar[str] = "gemini"
    create_is_idempotent: ClassVar[bool] = False
    supports_reconcile: ClassVar[bool] = False
    variants: ClassVar[tuple[str, ...]] = ("video",)
    lists_models: ClassVar[bool] = True
    secret_headers: ClassVar[tuple[str, ...]] = ("x-goog-api-key",)

    def extra_key_scopes(self) -> tuple[str, ...]:
        """The official API host, at any version path (file URIs may name another version)."""
        return (f"https://{GEMINI_HOST}/",)

    # -- model listing --------------------------------------------------------------------------
    def build_models(self, page: Any = None) -> httpx.Request:
        """``GET /models?pageSize=1000[&pageToken=...]`` (Gemini API ListModels)."""
        params = {"pageSize": 1000, **({"pageToken": page} if page else {})}
        return self.request("GET", "models", params=params)

    def parse_models(self, response: httpx.Response) -> tuple[list[ListedModel], Any]:
        """``{models: [{name: "models/<id>", supportedGenerationMethods: [...]}], nextPageToken?}``.
        A video model generates with ``predictLongRunning`` (Veo) or is named ``veo-*`` / ``*omni*``."""
        self.raise_for_error(response)
        body = self.json_object(response)
        out = []
        for m in body.get("models") or []:
            if not isinstance(m, dict) or not m.get("name"):
                continue
            mid = str(m["name"]).split("/", 1)[-1]
            methods = m.get("supportedGenerationMethods") or []
            out.append(ListedModel(mid, "predictLongRunning" in methods or mid.startswith("veo") or "omni" in mid))
        return out, body.get("nextPageToken") or None

    def auth_headers(self) -> dict[str, str]:
        """``x-goog-api-key: <key>`` (not ``Authorization``)."""
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    def error_details(self, body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
        return google_error_details(body, response)

    def error(self, response: httpx.Response, message: str, code: str | None = None,
              param: str | None = None) -> ProviderError:
        return google_key_error(super().error(response, message, code, param), code)

    # -- create -------------------------------------------------------------------------------
    def body(self, plan: Plan) -> dict[str, Any]:
        """The ``predictLongRunning`` body for `plan`."""
        return veo_body(plan, "the Gemini API", self.options.get("person_generation"))

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        if omni.is_interactions_model(plan.provider_model):
            return self.request("POST", "interactions", json_body=omni.interaction_body(plan))
        if plan.action != "generate":
            raise ValidationError("action", plan.action, ["generate"],
                                  "the Gemini API only generates new videos")
        model = self.segment(plan.provider_model, "model")
        return self.request("POST", f"models/{model}:predictLongRunning", json_body=self.body(plan))

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        """The operation ``{name, done: false}`` -> a ``submitted`` state named by the operation."""
        self.raise_for_error(response)
        op = self.json_object(response)
        if omni.is_interactions_model(plan.provider_model):
            if not op.get("id"):
                raise self.error(response, "the interaction has no id", "invalid_response")
            omni.check_interaction_id(str(op["id"]))
            return omni.interaction_states(op, self._expiry(response))
        if not op.get("name"):
            raise self.error(response, "the operation has no name", "invalid_response")
        if op.get("done"):
            return self.operation_states(op, response)
        return [JobState(provider_job_id=str(op["name"]), status="submitted", raw=op)]

    # -- poll ---------------------------------------------------------------------------------
    @staticmethod
    def is_interaction(provider_job_id: str) -> bool:
        """Interaction ids are one segment (``v1_...``); operation names are paths: the Gemini API's
        ``models/<m>/operations/<id>``, or ``operations/<id>`` as relays name them (gptproto's Veo
        reference, tests/published/gemini-veo)."""
        return "/" not in provider_job_id

    def build_poll(self, provider_job_id: str) -> httpx.Request:
        if self.is_interaction(provider_job_id):
            return self.request("GET", "interactions/" + omni.check_interaction_id(provider_job_id))
        return self.request("GET", self.segments(provider_job_id, "provider_job_id"))

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        self.raise_for_error(response)
        op = self.json_object(response)
        if self.is_interaction(provider_job_id):
            op.setdefault("id", provider_job_id)
            return omni.interaction_states(op, self._expiry(response))
        op.setdefault("name", provider_job_id)
        return self.operation_states(op, response)

    # -- stopping a job -----------------------------------------------------------------------
    def cancel_support(self, provider_job_id: str) -> CancelSupport:
        """Interactions (Omni Flash) have ``POST interactions/{id}/cancel``; Veo operations none."""
        return omni.CANCEL if self.is_interaction(provider_job_id) else VEO_OPERATION_CANCEL

    def build_cancel(self, provider_job_id: str) -> httpx.Request:
        if not self.is_interaction(provider_job_id):
            raise NotImplementedError("sorakit sends no cancel for a Veo operation (see VEO_OPERATION_CANCEL)")
        return self.request("POST", "interactions/" + omni.check_interaction_id(provider_job_id) + "/cancel")

    def parse_cancel(self, provider_job_id: str, response: httpx.Response) -> Optional[JobState]:
        """The cancelled Interaction (its ``status`` says whether it stopped)."""
        self.raise_for_error(response)
        obj = self.json_object(response)
        obj.setdefault("id", provider_job_id)
        return omni.interaction_states(obj, None)[0]

    def _expiry(self, response: httpx.Response | None) -> float:
        return self._now(response) + float(self.options.get("file_lifetime_s", FILE_LIFETIME_S))

    def operation_states(self, op: Mapping[str, Any], response: httpx.Response | None = None) -> list[JobState]:
        """An operation -> states: running, failed (``error``), filtered, or one per sample."""
        name = str(op.get("name"))
        meta = op.get("metadata") if isinstance(op.get("metadata"), Mapping) else {}
        if not op.get("done"):
            progress = as_int(meta.get("progressPercent") or meta.get("progress"))
            return [JobState(provider_job_id=name, status="in_progress", progress=progress,
                             poll_after=header_float(response, "retry-after") if response is not None else None,
                             raw=op)]
        error = op.get("error")
        if isinstance(error, Mapping):
            code = error.get("status") or (str(error["code"]) if error.get("code") is not None else "failed")
            message = str(error.get("message") or "the operation failed without a message")
            return [JobState(provider_job_id=name, status="failed", error_code=str(code),
                             error_message=message, raw=op)]
        result = op.get("response") if isinstance(op.get("response"), Mapping) else {}
        gen = result.get("generateVideoResponse") if isinstance(result.get("generateVideoResponse"), Mapping) else result
        samples = gen.get("generatedSamples") or gen.get("generatedVideos") or []
        uris = []
        for sample in samples if isinstance(samples, list) else []:
            video = sample.get("video") if isinstance(sample, Mapping) else None
            uri = video.get("uri") if isinstance(video, Mapping) else None
            if uri:
                uris.append(str(uri))
        filtered = as_int(gen.get("raiMediaFilteredCount")) or 0
        reasons = [str(r) for r in gen.get("raiMediaFilteredReasons") or [] if r]
        expires = self._expiry(response)
        states = [
            JobState(provider_job_id=name, status="completed", progress=100, video_url=uri,
                     video_url_expires_at=expires, provider_video_id=_file_name(uri),
                     variation_index=i, raw=op)
            for i, uri in enumerate(uris)
        ]
        if not uris or filtered:
            count = max(filtered, 0 if uris else 1)
            if reasons or filtered:
                code = SAFETY_CODE
                message = "; ".join(reasons) or (
                    f"{filtered} video(s) removed by the safety filter (no reason given)")
            else:
                code, message = "no_output", "the operation finished without any video"
            states += [
                JobState(provider_job_id=name, status="failed", error_code=code, error_message=message,
                         variation_index=len(uris) + k if (uris or count > 1) else None, raw=op)
                for k in range(count)
            ]
        return states

    # -- download -----------------------------------------------------------------------------
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        """The video: its URI (the key only to the Gemini host or below the base URL), a file of this
        host by name through the base URL, or — for an interaction that delivered the video inline —
        the interaction itself (`decode_media` takes the bytes out)."""
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        if self.inline_media(state):
            return self.build_poll(state.provider_job_id)
        if not state.video_url:
            raise ValueError("the job has no video URI yet")
        if self.key_allowed_for(state.video_url):
            return self.download_request(state.video_url)
        by_name = self._same_host_file(state.video_url)
        if by_name is not None:
            return self.request("GET", f"files/{self.segment(by_name, 'file')}:download", params={"alt": "media"})
        return self.download_request(state.video_url)   # elsewhere: no key (see _base)

    def inline_media(self, state: JobState) -> bool:
        """An Omni job without a URI: its video is inline in the interaction."""
        return not state.video_url and bool(state.provider_job_id) and self.is_interaction(state.provider_job_id)

    def decode_media(self, state: JobState, response: httpx.Response) -> bytes:
        """The inline video of the interaction `build_download` re-read."""
        try:
            return omni.video_bytes(self.json_object(response))
        except ValueError as exc:
            raise self.error(response, str(exc), "no_output") from None

    def _same_host_file(self, url: str) -> Optional[str]:
        """The file id of an ``https`` URI that is this provider's base URL but for the scheme
        (the emulator over plain HTTP), else None."""
        u, b = urlsplit(url), urlsplit(self.base_url)
        base_path = b.path.rstrip("/")
        if (u.scheme, b.scheme) != ("https", "http") or (u.netloc or "").lower() != (b.netloc or "").lower() \
                or not u.path.startswith(base_path + "/files/"):
            return None
        name = _file_name(url)
        file_id = name.split("/", 1)[1] if name else ""
        return file_id if file_id and all(c.isalnum() or c in "-_" for c in file_id) else None

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _now(response: httpx.Response | None) -> float:
        if response is not None and response.headers.get("date"):
            try:
                return email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
            except (TypeError, ValueError):
                pass
        return time.time()


def _file_name(uri: str) -> Optional[str]:
    """``.../v1beta/files/abc:download?alt=media`` -> ``files/abc``."""
    path = urlsplit(uri).path
    if "/files/" not in path:
        return None
    return "files/" + path.split("/files/", 1)[1].split(":", 1)[0]


KEY_REASONS = frozenset({"API_KEY_INVALID"})
"""``ErrorInfo`` reasons that mean the key is wrong. Google answers a wrong key with HTTP 400
``INVALID_ARGUMENT`` and ``details: [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason":
"API_KEY_INVALID"}]`` (tests/published/gemini-veo: error bodies quoted in public issue threads), not 401."""


def google_key_error(err: ProviderError, code: Optional[str]) -> ProviderError:
    """``err`` as an `AuthenticationError` when ``code`` is a wrong-key reason (else ``err`` itself):
    code that catches `AuthenticationError` must see Google's 400 ``API_KEY_INVALID`` too."""
    if code not in KEY_REASONS or isinstance(err, AuthenticationError):
        return err
    return AuthenticationError(str(err.message), provider=err.provider, status_code=err.status_code, code=code,
                               request_id=err.request_id, retry_after=err.retry_after, param=err.param)


def google_error_details(body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
    """Google's ``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT", "details"}}``.

    The code is the ``status`` text (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``,
    ``PERMISSION_DENIED``...); an ``ErrorInfo`` reason (``API_KEY_INVALID``) is added to the message,
    and a wrong-key reason (`KEY_REASONS`) becomes the code (`google_key_error` maps it).
    """
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # some Google front ends wrap the error in a list
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        e = body["error"]
        message = str(e.get("message") or response.reason_phrase or f"HTTP {response.status_code}")
        code = e.get("status") or (str(e["code"]) if e.get("code") is not None else None)
        reasons = [d.get("reason") for d in e.get("details") or []
                   if isinstance(d, dict) and d.get("reason")]
        if reasons and reasons[0] not in message:
            message = f"{message} [{reasons[0]}]"
        if reasons and reasons[0] in KEY_REASONS:
            code = reasons[0]
        return message, code, None
    text = response.text.strip()[:300] if response.content else ""
    return text or response.reason_phrase or f"HTTP {response.status_code}", None, None


def veo_body(plan: Plan, service: str, person_generation: Optional[str] = None) -> dict[str, Any]:
    """The Veo ``predictLongRunning`` body both Google protocols share (image inline)."""
    instance: dict[str, Any] = {"prompt": plan.prompt}
    if plan.input_image is not None:
        instance["image"] = {
            "bytesBase64Encoded": base64.b64encode(plan.input_image).decode("ascii"),
            "mimeType": plan.input_image_mime or "image/png",
        }
    elif plan.input_image_url is not None:
        raise ValidationError("input_image", plan.input_image_url, "image bytes, a file path or a data: URL",
                              f"{service} takes the image inline, not as a URL")
    seconds = float(plan.seconds)
    params: dict[str, Any] = {
        "aspectRatio": "16:9" if plan.width >= plan.height else "9:16",
        "resolution": resolution_tier(plan.width, plan.height),
        "durationSeconds": int(seconds) if seconds.is_integer() else seconds,
        "sampleCount": plan.variations,
    }
    if plan.negative_prompt:
        params["negativePrompt"] = plan.negative_prompt
    if person_generation:
        params["personGeneration"] = person_generation
    return {"instances": [instance], "parameters": params}
