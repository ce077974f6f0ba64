"""The OpenAI Videos protocol (``/v1/videos``): Sora 2 and OpenAI-compatible relays.

Pure mapping, no I/O. Works against any ``base_url`` (the real API, a LiteLLM proxy, new-api, the
emulator's ``/openai/v1`` prefix). For a relay whose model names differ from OpenAI's, pass
``model_ids={"canonical": "relay-id"}`` or ``canonical_model_ids=True`` (send the catalog's
canonical name).

There is no idempotency key on create: the engine never re-sends a create whose outcome is
unknown; it lists recent videos (`build_list` / `parse_list`) and adopts the one that `matches`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import httpx

from .._types import JobState
from ..catalog import Plan
from ._base import CancelSupport, ListedModel, Provider, Variant, as_float, as_int, header_float

__all__ = ["OpenAIProvider", "format_seconds"]

_STATUS = {
    "queued": "queued",
    "in_progress": "in_progress",
    "processing": "in_progress",
    "completed": "completed",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def format_seconds(value: float) -> str:
    """``4.0`` -> ``"4"``: the API takes ``seconds`` as a string enum, never a number."""
    f = float(value)
    return str(int(f)) if f.is_integer() else f"{f:g}"




class OpenAIProvider(Provider):
    """``POST /videos`` (JSON or multipart), ``GET /videos/{id}``, ``GET /videos/{id}/content``.

    Options:
        model_ids: mapping canonical model name -> id to send (relays with their own names).
        canonical_model_ids: send the canonical name instead of the catalog's provider id.
        poll_after_default: seconds to wait between polls when the server gives no hint (1.0,
            as the official SDK).
    """

    protocol: ClassVar[str] = "openai"
    create_is_idempotent: ClassVar[bool] = False
    supports_reconcile: ClassVar[bool] = True
    variants: ClassVar[tuple[str, ...]] = ("video", "thumbnail", "spritesheet")
    lists_models: ClassVar[bool] = True
    cancel: ClassVar[CancelSupport] = CancelSupport(
        "delete", "unconfirmed",
        "OpenAI has no cancel call; sorakit sends DELETE /videos/{id}, which the API documents only "
        "for completed or failed videos: for a queued or running video the API's answer decides "
        "(a refusal leaves the job running, and billed when it finishes); what a delete of a running "
        "video costs is not documented",
        "openai 3.57.0 resources/videos.py delete() \"Permanently delete a completed or failed video "
        "and its stored assets\"; OpenAI OpenAPI spec DeleteVideo (shared/specs/openai-videos.openapi.yaml)")

    # -- model listing --------------------------------------------------------------------------
    def build_models(self, page: Any = None) -> httpx.Request:
        """``GET /models`` (OpenAI API reference: Models, list)."""
        return self.request("GET", "models")

    def parse_models(self, response: httpx.Response) -> tuple[list[ListedModel], Any]:
        """``{object: "list", data: [{id, object: "model", ...}]}``. The list has no modality field:
        a ``sora`` id (or one the catalog names at this provider) counts as a video model."""
        self.raise_for_error(response)
        data = self.json_object(response).get("data") or []
        ids = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
        return [ListedModel(i, i.startswith("sora")) for i in ids], None

    # -- create ------------------------------------------------------------------------------
    def model_id(self, plan: Plan) -> str:
        ids = self.options.get("model_ids") or {}
        if plan.model.name in ids:
            return ids[plan.model.name]
        if self.options.get("canonical_model_ids"):
            return plan.model.name
        return plan.provider_model

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        # X-Client-Request-Id is OpenAI's tracing header (not an idempotency key); relays ignore it.
        headers = {"X-Client-Request-Id": client_ref}
        if plan.action == "remix":
            vid = self.segment(plan.source_video_id, "source_video_id")
            return self.request("POST", f"videos/{vid}/remix",
                                json_body={"prompt": plan.prompt}, headers=headers)
        if plan.action == "extend":
            return self.request("POST", "videos/extensions", headers=headers, json_body={
                "video": {"id": plan.source_video_id}, "prompt": plan.prompt,
                "seconds": format_seconds(plan.seconds)})
        if plan.action == "edit":
            return self.request("POST", "videos/edits", headers=headers, json_body={
                "video": {"id": plan.source_video_id}, "prompt": plan.prompt})
        fields = {
            "model": self.model_id(plan),
            "prompt": plan.prompt,
            "seconds": format_seconds(plan.seconds),
            "size": plan.size,
        }
        if plan.input_image is not None:
            ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
                plan.input_image_mime or "", "png")
            files = {"input_reference": (f"reference.{ext}", plan.input_image,
                                         plan.input_image_mime or "application/octet-stream")}
            return self.request("POST", "videos", data=fields, files=files, headers=headers)
        if plan.input_image_url is not None:
            fields["input_reference"] = {"image_url": plan.input_image_url}
        return self.request("POST", "videos", json_body=fields, headers=headers)

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        self.raise_for_error(response)
        return [self.video_state(self.json_object(response), response)]

    # -- poll ---------------------------------------------------------------------------------
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        return self.request("GET", f"videos/{self.segment(provider_job_id, 'provider_job_id')}")

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        self.raise_for_error(response)
        return [self.video_state(self.json_object(response), response)]

    def video_state(self, obj: dict, response: httpx.Response | None = None) -> JobState:
        """A Video object -> `JobState` (``poll_after`` from ``openai-poll-after-ms``)."""
        status = _STATUS.get(str(obj.get("status") or "").lower(), "in_progress")
        error = obj.get("error") if isinstance(obj.get("error"), dict) else None
        code = message = None
        if status == "failed":
            code = (error or {}).get("code") or "failed"
            message = (error or {}).get("message") or "the provider reported a failure without a message"
        progress = as_int(obj.get("progress"))
        if status == "completed":
            progress = 100
        poll_after = None
        if response is not None:
            poll_after = header_float(response, "openai-poll-after-ms", 0.001)
            if poll_after is None:
                poll_after = header_float(response, "retry-after")
        return JobState(
            provider_job_id=str(obj.get("id")),
            status=status,  # type: ignore[arg-type]
            progress=progress,
            video_url=None,
            video_url_expires_at=as_float(obj.get("expires_at")),
            provider_video_id=str(obj.get("id")),
            error_code=code,
            error_message=message,
            poll_after=poll_after,
            raw=obj,
        )

    # -- download -----------------------------------------------------------------------------
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        if variant not in self.variants:
            raise ValueError(f"variant {variant!r} is not one of {self.variants}")
        vid = self.segment(state.provider_video_id or state.provider_job_id, "provider_video_id")
        return self.request("GET", f"videos/{vid}/content", params={"variant": variant})

    # -- list / reconcile ---------------------------------------------------------------------
    def build_list(self, after: str | None = None, limit: int = 100) -> httpx.Request:
        params: dict[str, Any] = {"limit": max(0, min(int(limit), 100)), "order": "desc"}
        if after:
            params["after"] = after
        return self.request("GET", "videos", params=params)

    def parse_list(self, response: httpx.Response) -> tuple[list[JobState], Optional[str]]:
        self.raise_for_error(response)
        body = self.json_object(response)
        items = body.get("data") or []
        states = [self.video_state(o) for o in items if isinstance(o, dict)]
        cursor = None
        if body.get("has_more") and states:
            cursor = body.get("last_id") or states[-1].provider_job_id
        return states, cursor

    def matches(self, plan: Plan, state: JobState, created_after: float) -> bool:
        """Same prompt, model, size, duration (and source video), created no earlier than
        ``created_after`` (the engine passes the send time minus a clock-skew slack)."""
        raw = state.raw or {}
        created = as_float(raw.get("created_at"))
        if created is None or created < created_after:
            return False
        if (raw.get("prompt") or "").strip() != plan.prompt:
            return False
        model = raw.get("model")
        if model and model not in {self.model_id(plan), plan.provider_model, plan.model.name}:
            return False
        if plan.action == "generate":
            if raw.get("size") and raw.get("size") != plan.size:
                return False
            if raw.get("seconds") is not None and as_float(raw.get("seconds")) != float(plan.seconds):
                return False
        if plan.action == "remix" and raw.get("remixed_from_video_id") not in (None, plan.source_video_id):
            return False
        return True

    def build_cancel(self, provider_job_id: str) -> httpx.Request:
        """``DELETE /videos/{id}`` (answer ``{id, object: "video.deleted", deleted}``)."""
        return self.request("DELETE", f"videos/{self.segment(provider_job_id, 'provider_job_id')}")

    def parse_cancel(self, provider_job_id: str, response: httpx.Response) -> Optional[JobState]:
        self.raise_for_error(response)
        body = self.json_object(response)
        if body.get("deleted") is False:
            raise self.error(response, "the API answered deleted: false", "not_deleted")
        return JobState(provider_job_id=provider_job_id, status="cancelled", raw=body)

    # -- helpers ------------------------------------------------------------------------------
