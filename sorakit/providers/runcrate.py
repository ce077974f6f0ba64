"""The Runcrate protocol (``https://api.runcrate.ai/v1``): video models behind a small JSON API.

Pure mapping, no I/O. Sources: the official ``runcrate-sdk`` 0.5.0 (inference host
``https://api.runcrate.ai``, ``POST /v1/videos`` with ``duration``) and Runcrate's docs (models,
durations, ``image_url`` for image-to-video, a download before completion answers 404).

```
POST /videos                {model: "google/veo-3.0" | ..., prompt, duration, aspect_ratio?,
                             width?, height?, image_url?}          -> {id, status}
GET  /videos/{id}           -> {id, status: queued|processing|completed|failed, ...}
GET  /videos/{id}/download  -> MP4 bytes (404 until completed)
GET  /models                -> {data: [{id, ...}]} (drift detection; shape unconfirmed)
```

Keys (``RUNCRATE_API_KEY``) start with ``rc_live_``. A malformed key for Runcrate's own host is
refused with a `ConfigurationError` when the provider is built, before any call; the message shows
at most the first four characters of the key, never the key.

Resume: what works and what does not
------------------------------------
The client cannot choose the job id and there is no list endpoint, so create is **not** idempotent
(``create_is_idempotent = False``) and cannot be reconciled (``supports_reconcile = False``):

* A job whose create was acknowledged has its ``id`` in the ledger; after a crash or a kernel
  restart it is polled and downloaded by that id like any other job.
* A create whose answer never arrived (connection reset, timeout) has an unknown outcome: it may
  have been billed. It must stay ``unknown`` in the ledger; re-sending it could create and bill a
  second video, and nothing here can find the first one. Check the Runcrate dashboard.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional
from urllib.parse import urlsplit

import httpx

from .._exceptions import ConfigurationError, ValidationError
from .._types import JobState
from ..catalog import Plan, ProviderInfo
from ._base import CancelSupport, ListedModel, Provider, Variant, as_float, as_int, header_float
from .relay import lenient_error_details

__all__ = ["RuncrateProvider", "check_api_key", "aspect_ratio"]

_VIDEO_FAMILIES = ("sora", "veo", "kling", "seedance", "hailuo", "wan", "video")

_STATUS = {
    "queued": "queued", "pending": "queued", "submitted": "queued",
    "processing": "in_progress", "in_progress": "in_progress", "running": "in_progress",
    "completed": "completed", "succeeded": "completed", "success": "completed",
    "failed": "failed", "error": "failed",
    "cancelled": "cancelled", "canceled": "cancelled",
}


def check_api_key(info: ProviderInfo, api_key: Optional[str]) -> None:
    """Raise `ConfigurationError` when ``api_key`` cannot be a key of ``info``'s service.

    Checks the prefix the catalog names (``key_prefix``, ``rc_live_`` for Runcrate) and stray
    whitespace. The message never contains the key: at most its first four characters and its length.
    """
    if api_key is None:
        return
    var = info.key_env[0] if info.key_env else "the API key"
    if not isinstance(api_key, str):
        raise ConfigurationError(f"{var} must be a string")
    shown = api_key[: min(4, len(api_key) // 4)]
    hint = f"'{shown}…' ({len(api_key)} characters)" if shown else f"({len(api_key)} characters)"
    if api_key != api_key.strip() or any(c.isspace() for c in api_key):
        raise ConfigurationError(
            f"{var} contains whitespace {hint}: copy the key again without spaces or line breaks")
    if info.key_prefix and not api_key.startswith(info.key_prefix):
        raise ConfigurationError(
            f"{var} looks malformed: {info.title} keys start with {info.key_prefix!r}, this one starts "
            f"{hint}; create a key in your {info.title} dashboard")


def aspect_ratio(width: int, height: int) -> str:
    """The nearest ``aspect_ratio`` value: ``"16:9"`` for landscape, ``"9:16"`` portrait, ``"1:1"`` square."""
    if width == height:
        return "1:1"
    return "16:9" if width > height else "9:16"




class RuncrateProvider(Provider):
    """``POST /videos``, ``GET /videos/{id}``, ``GET /videos/{id}/download`` with a ``rc_live_`` key.

    Options:
        send_aspect_ratio: also send ``aspect_ratio`` beside ``width``/``height`` (default True).
        check_key: refuse malformed keys at construction: ``"auto"`` (default) checks when the base
            URL is on Runcrate's own host (the emulator and proxies take keys of their own), True
            always, False never. The engine also checks live keys against ``key_prefix``.
    """

    protocol: ClassVar[str] = "runcrate"
    cancel: ClassVar[CancelSupport] = CancelSupport(
        "none", "unconfirmed",
        "Runcrate documents no way to stop a video once sent (its SDK's jobs.cancel stops compute "
        "machines, not videos); it runs to the end and is billed",
        "runcrate-sdk 0.5.0 (resources/jobs.py cancel is for machine jobs; no video cancel); PROTOCOLS.md §3")
    create_is_idempotent: ClassVar[bool] = False
    supports_reconcile: ClassVar[bool] = False
    variants: ClassVar[tuple[str, ...]] = ("video",)
    lists_models: ClassVar[bool] = True

    # -- model listing --------------------------------------------------------------------------
    def build_models(self, page: Any = None) -> httpx.Request:
        """``GET /models`` (OpenAI-compatible list; the shape is unconfirmed for video models)."""
        return self.request("GET", "models")

    def parse_models(self, response: httpx.Response) -> tuple[list[ListedModel], Any]:
        """``{data: [{id, type?}]}``: ``type`` ``video`` when given, else a video family in the id."""
        self.raise_for_error(response)
        out = []
        for m in self.json_object(response).get("data") or []:
            if not isinstance(m, dict) or not m.get("id"):
                continue
            mid, kind = str(m["id"]), str(m.get("type") or "").lower()
            video = kind == "video" if kind else any(f in mid.lower() for f in _VIDEO_FAMILIES)
            out.append(ListedModel(mid, video))
        return out, None

    def __init__(self, info: ProviderInfo, *, base_url: str | None = None, api_key: str | None = None,
                 **options: Any):
        super().__init__(info, base_url=base_url, api_key=api_key, **options)
        check = options.get("check_key", "auto")
        if check == "auto":
            # keys are Runcrate's only on Runcrate's host; the emulator and proxies take their own
            check = urlsplit(self.base_url).netloc.lower() == urlsplit(info.base_url).netloc.lower()
        if check:
            check_api_key(info, api_key)

    def error_details(self, body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
        return lenient_error_details(body, response)

    # -- create -------------------------------------------------------------------------------
    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON body for `plan`: duration as an integer, exact width/height, aspect ratio."""
        seconds = float(plan.seconds)
        if not seconds.is_integer():
            raise ValidationError("seconds", plan.seconds, [4, 8, 12], "Runcrate takes whole seconds")
        body: dict[str, Any] = {
            "model": plan.provider_model,
            "prompt": plan.prompt,
            "duration": int(seconds),
            "width": plan.width,
            "height": plan.height,
        }
        if self.options.get("send_aspect_ratio", True):
            body["aspect_ratio"] = aspect_ratio(plan.width, plan.height)
        if plan.input_image is not None:  # image-to-video: Runcrate's docs name ``image_url`` (URL or data URI)
            import base64

            mime = plan.input_image_mime or "image/png"
            body["image_url"] = f"data:{mime};base64," + base64.b64encode(plan.input_image).decode("ascii")
        elif plan.input_image_url is not None:
            body["image_url"] = plan.input_image_url
        return body

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        if plan.action != "generate":
            raise ValidationError("action", plan.action, ["generate"], "Runcrate only generates new videos")
        return self.request("POST", "videos", json_body=self.body(plan))

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        self.raise_for_error(response)
        body = self.json_object(response)
        if not body.get("id"):
            raise self.error(response, "the create answer has no video id", "invalid_response")
        state = self.video_state(body, response)
        if state.status in ("queued", "in_progress") and not body.get("status"):
            state.status = "submitted"
        return [state]

    # -- poll ---------------------------------------------------------------------------------
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        return self.request("GET", f"videos/{self.segment(provider_job_id, 'provider_job_id')}")

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        self.raise_for_error(response)
        body = self.json_object(response)
        body.setdefault("id", provider_job_id)
        return [self.video_state(body, response)]

    def video_state(self, obj: dict, response: httpx.Response | None = None) -> JobState:
        """A Runcrate video object -> `JobState` (tolerant of status spellings and error shapes)."""
        status = _STATUS.get(str(obj.get("status") or "").strip().lower(), "in_progress")
        code = message = None
        if status == "failed":
            err = obj.get("error")
            if isinstance(err, dict):
                code = err.get("code") or err.get("type")
                message = err.get("message")
            elif isinstance(err, str) and err.strip():
                message = err.strip()
            message = message or obj.get("failure_reason") or obj.get("message")
            code = str(code or obj.get("code") or "failed")
            message = str(message or "Runcrate reported a failure without a message")
        progress = as_int(obj.get("progress"))
        if status == "completed":
            progress = 100
        return JobState(
            provider_job_id=str(obj.get("id")),
            status=status,  # type: ignore[arg-type]
            progress=progress,
            video_url=obj.get("video_url") if isinstance(obj.get("video_url"), str) else None,
            video_url_expires_at=as_float(obj.get("expires_at")),
            provider_video_id=str(obj.get("id")),
            billed_cost=as_float(obj.get("cost")),
            error_code=code,
            error_message=message,
            poll_after=header_float(response, "retry-after") if response is not None else None,
            raw=obj,
        )

    # -- download -----------------------------------------------------------------------------
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        """``GET /videos/{id}/download`` with the key (the endpoint is on Runcrate's own host)."""
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        vid = self.segment(state.provider_video_id or state.provider_job_id, "provider_video_id")
        return self.request("GET", f"videos/{vid}/download")

    # -- helpers ------------------------------------------------------------------------------
