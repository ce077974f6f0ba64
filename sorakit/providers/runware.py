"""The Runware protocol: one endpoint, JSON arrays of tasks, client-chosen ``taskUUID``.

Pure mapping, no I/O. The client chooses the ``taskUUID`` (the engine records it in the ledger
before sending), so a create can be re-sent safely: the service refuses a used UUID as a conflict,
which means "already exists, go and poll" (``create_is_idempotent = True``).

Only ``status == "success"`` means done; ``processing`` (and the older ``pending``) mean running;
``error`` means failed. One task with ``numberResults > 1`` yields several result items, one
`JobState` each with its ``variation_index``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

import httpx

from .._exceptions import ConflictError, ModelUnavailable, ModerationError, NotFoundError, ProviderError
from .._types import JobState
from ..catalog import Plan
from ._base import CancelSupport, ListedModel, Provider, Variant, as_float, as_int

__all__ = ["RunwareProvider"]

_RUNNING = {"processing", "pending", "queued", "in_progress", "started", "running"}
_NOT_FOUND_CODES = ("notfound", "not_found", "unknowntask", "tasknotfound", "invalidtaskuuid")
_CONFLICT_CODES = ("conflict", "duplicate", "alreadyexists", "already_exists")
_MODERATION_CODES = ("moderation", "safety", "nsfw", "content_policy", "contentpolicy", "blocked",
                     "sensitivecontent", "unsafecontent", "invalidprovidercontent")
"""Safety codes, matched loosely; runware-sdk ``errors.py`` ``_SAFETY_CODES`` lists the real ones:
contentPolicyViolation, providerContentPolicyViolation, sensitiveContentDetected, unsafeContentDetected,
nsfwContentDetected, promptBlocked, imageBlocked, moderationFailed, invalidProviderContent."""
_GONE_CODES = ("unknownmodel", "modelnotfound", "modeldisabled", "modeldeprecated", "modelretired")
"""A model Runware no longer serves (runware-sdk ``errors.py``: ``unknownModel`` is the SDK's code for a
model missing from its registry; ``modelDisabled`` a server code). Not ``modelUnavailable`` /
``modelNotReady``: the SDK counts those as temporary (retryable) provider errors."""


def _norm(code: Any) -> str:
    return str(code or "").replace("-", "").replace(" ", "").lower()




def _item_error(item: dict) -> tuple[str, str]:
    """(code, message) of a failed result item. Runware nests them: ``{"status": "error", "error":
    {"code", "message"}}`` (PROTOCOLS §2; runware-sdk ``parse_api_error`` reads the same envelope).
    A safety code becomes ``moderation_blocked`` so the ledger and `ModerationError` agree across
    providers; the provider's own code stays in the message."""
    err = item.get("error")
    if isinstance(err, dict):
        code, message = err.get("code"), err.get("message")
    else:
        code, message = item.get("code") or item.get("errorCode"), err if isinstance(err, str) else item.get("message")
    code = str(code or "error")
    message = str(message or "the task failed")
    if any(c in _norm(code) for c in _MODERATION_CODES):
        return "moderation_blocked", f"{message} (runware code {code})"
    return code, message


class RunwareProvider(Provider):
    """``POST {base}`` with ``videoInference`` / ``getResponse`` tasks.

    Options:
        output_format: ``"MP4"`` (default), ``"WEBM"`` or ``"MOV"``.
        output_quality: 20–99 (omitted by default).
        send_audio_setting: send ``providerSettings`` audio flags for models with optional
            audio (default True).
    """

    protocol: ClassVar[str] = "runware"
    cancel: ClassVar[CancelSupport] = CancelSupport(
        "none", "unconfirmed",
        "Runware documents no way to stop a video task once sent (its SDK's cancel_event only stops "
        "the client waiting); the task runs to the end and is billed",
        "runware-sdk 1.8.0 client.py (cancel_event aborts polling only); PROTOCOLS.md §2 (no cancel task)")
    create_is_idempotent: ClassVar[bool] = True
    supports_reconcile: ClassVar[bool] = False
    variants: ClassVar[tuple[str, ...]] = ("video",)
    lists_models: ClassVar[bool] = True

    # -- model listing --------------------------------------------------------------------------
    def build_models(self, page: Any = None) -> httpx.Request:
        """A ``modelSearch`` task for video models, 100 per page (runware-sdk ``ModelSearchParams``)."""
        import uuid

        task = {"taskType": "modelSearch", "taskUUID": str(uuid.uuid4()),
                "capabilities": ["io:text-to-video", "io:image-to-video"], "limit": 100, "offset": int(page or 0)}
        return self.request("POST", self.base_url, json_body=[task])

    def parse_models(self, response: httpx.Response) -> tuple[list[ListedModel], Any]:
        """``data: [{taskType: "modelSearch", totalResults, results: [{air, status, capabilities}]}]``.
        A model whose ``status`` is not ``live`` (deprecated, coming-soon) counts as not served."""
        self.raise_for_error(response)
        body = self._body(response)
        self._raise_task_errors(body, response, "", allow_failed_items=False)
        out, total, offset = [], 0, 0
        for item in body.get("data") or []:
            if not isinstance(item, dict) or item.get("taskType") != "modelSearch":
                continue
            total = as_int(item.get("totalResults")) or 0
            results = [r for r in item.get("results") or [] if isinstance(r, dict) and r.get("air")]
            offset += len(results)
            for r in results:
                if str(r.get("status") or "live").lower() != "live":
                    continue
                caps = [str(c) for c in r.get("capabilities") or []]
                out.append(ListedModel(str(r["air"]), not caps or any(c.endswith("-to-video") for c in caps)))
        try:  # the page token is the offset: read back the one this request asked for
            asked = int(json.loads(response.request.content)[0].get("offset") or 0)
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            asked = 0
        return out, (asked + offset if offset and asked + offset < total else None)

    # -- create -------------------------------------------------------------------------------
    def task(self, plan: Plan, client_ref: str) -> dict[str, Any]:
        """The ``videoInference`` task object for `plan` with ``taskUUID = client_ref``."""
        t: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": client_ref,
            "model": plan.provider_model,
            "positivePrompt": plan.prompt,
            "duration": int(plan.seconds) if float(plan.seconds).is_integer() else plan.seconds,
            "numberResults": plan.variations,
            "deliveryMethod": "async",
            "includeCost": True,
            "outputFormat": self.options.get("output_format", "MP4"),
        }
        if self.options.get("output_quality") is not None:
            t["outputQuality"] = int(self.options["output_quality"])
        if plan.negative_prompt:
            t["negativePrompt"] = plan.negative_prompt
        if plan.seed is not None:
            t["seed"] = plan.seed
        inputs: dict[str, Any] = {}
        if plan.source_video_id:
            inputs["videoId"] = plan.source_video_id
        elif plan.input_image is not None or plan.input_image_url is not None:
            if plan.input_image is not None:
                mime = plan.input_image_mime or "image/png"
                image = f"data:{mime};base64," + base64.b64encode(plan.input_image).decode("ascii")
            else:
                image = plan.input_image_url
            inputs["frameImages"] = [{"image": image, "frame": "first"}]
        else:
            t["width"], t["height"] = plan.width, plan.height
        if inputs:
            t["inputs"] = inputs
        if (self.options.get("send_audio_setting", True) and plan.offer.audio == "optional"
                and plan.provider_model.split(":")[0] == "google"):
            t["providerSettings"] = {"google": {"generateAudio": bool(plan.audio)}}
        return t

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        return self.request("POST", self.base_url, json_body=[self.task(plan, client_ref)])

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        """The acknowledgement (``submitted``), or result items if the service answered at once.

        Raises `ConflictError` when the taskUUID already exists (the engine then polls it).
        """
        self.raise_for_error(response)
        body = self._body(response)
        self._raise_task_errors(body, response, client_ref, allow_failed_items=False)
        items = self._items(body, client_ref)
        results = [i for i in items if i.get("taskType") != "getResponse" and "status" in i]
        if results:
            return self._states(client_ref, results)
        return [JobState(provider_job_id=client_ref, status="submitted", raw=items[0] if items else {})]

    # -- poll ---------------------------------------------------------------------------------
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        return self.request("POST", self.base_url,
                            json_body=[{"taskType": "getResponse", "taskUUID": provider_job_id}])

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        """One state per result item. ``[]`` means the service knows nothing yet (keep polling).

        A task the service never saw raises `NotFoundError` (the engine may then send it).
        """
        body = self._body(response, check=False)
        failed = self._raise_task_errors(body, response, provider_job_id, allow_failed_items=True)
        if not failed:
            self.raise_for_error(response)
        items = [i for i in self._items(body, provider_job_id) if "status" in i or "videoURL" in i]
        return failed + self._states(provider_job_id, items)

    # -- download -----------------------------------------------------------------------------
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        if not state.video_url:
            raise ValueError("the job has no videoURL yet")
        # The file lives on a CDN: the key goes only below the API's base URL (see _base).
        return self.download_request(state.video_url)

    # -- errors -------------------------------------------------------------------------------
    def error_details(self, body: Any, response: httpx.Response):
        if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
            e = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
            return (str(e.get("message") or response.reason_phrase or "error"),
                    e.get("code"), e.get("parameter"))
        if isinstance(body, dict) and isinstance(body.get("error"), (dict, str)):
            e = body["error"]
            if isinstance(e, str):
                return e, None, None
            return str(e.get("message") or response.reason_phrase), e.get("code"), e.get("parameter")
        return super().error_details(body, response)

    def model_gone(self, status_code: int, code: str | None, message: str) -> bool:
        return _norm(code) in _GONE_CODES or super().model_gone(status_code, code, message)

    def error(self, response: httpx.Response, message: str, code: str | None = None,
              param: str | None = None) -> ProviderError:
        err = super().error(response, message, code, param)
        if isinstance(err, ModelUnavailable):
            return err
        n = _norm(code)
        cls = None
        if any(c in n for c in _CONFLICT_CODES):
            cls = ConflictError
        elif any(c in n for c in _MODERATION_CODES):
            cls = ModerationError
        elif any(c in n for c in _NOT_FOUND_CODES):
            cls = NotFoundError
        if cls is not None and not isinstance(err, cls):
            new = cls(message, provider=self.name, status_code=err.status_code, code=code,
                      request_id=err.request_id, retry_after=err.retry_after, param=param)
            return new
        return err

    # -- helpers ------------------------------------------------------------------------------
    def _body(self, response: httpx.Response, check: bool = True) -> dict:
        try:
            body = response.json()
        except ValueError:
            if check or response.is_success:
                raise self.error(response, "the response is not JSON", "invalid_response") from None
            return {}
        if isinstance(body, list):  # tolerate a bare array of items
            body = {"data": body}
        if not isinstance(body, dict):
            raise self.error(response, "the response is not a JSON object", "invalid_response")
        return body

    @staticmethod
    def _items(body: dict, task_uuid: str) -> list[dict]:
        data = body.get("data") or []
        return [i for i in data if isinstance(i, dict) and i.get("taskUUID") in (None, task_uuid)]

    def _raise_task_errors(self, body: dict, response: httpx.Response, task_uuid: str,
                           allow_failed_items: bool) -> list[JobState]:
        """Errors about this task: a generation failure becomes a ``failed`` state (polls), any
        other error raises the right `ProviderError` subclass."""
        errors = [e for e in (body.get("errors") or []) if isinstance(e, dict)]
        if not errors:
            return []
        mine = [e for e in errors if e.get("taskUUID") in (None, task_uuid)]
        if not mine:
            return []
        failed: list[JobState] = []
        for e in mine:
            code = e.get("code")
            n = _norm(code)
            request_level = (
                response.status_code in (401, 402, 403, 429) or response.status_code >= 500
                or any(c in n for c in _CONFLICT_CODES + _NOT_FOUND_CODES)
                or e.get("taskType") == "getResponse" and not any(c in n for c in _MODERATION_CODES)
            )
            if allow_failed_items and not request_level:
                # a failed generation in the errors array (Runware's docs) reads like one inside data
                # (runware-sdk): the same codes, a safety code as moderation_blocked
                code, message = _item_error(e)
                failed.append(JobState(
                    provider_job_id=task_uuid, status="failed", error_code=code, error_message=message,
                    billed_cost=as_float(e.get("cost")), raw=e))
            else:
                raise self.error(response, str(e.get("message") or "error"), code, e.get("parameter"))
        return failed

    def _states(self, task_uuid: str, items: list[dict]) -> list[JobState]:
        states = []
        for index, item in enumerate(items):
            raw_status = str(item.get("status") or ("success" if item.get("videoURL") else "processing")).lower()
            if raw_status == "success":
                status = "completed"
            elif raw_status in ("error", "failed"):
                status = "failed"
            else:  # processing, pending, anything new: never done until "success"
                status = "in_progress"
            outputs = item.get("outputs") if isinstance(item.get("outputs"), dict) else {}
            video_id = outputs.get("videoId") or item.get("videoUUID")
            states.append(JobState(
                provider_job_id=task_uuid,
                status=status,  # type: ignore[arg-type]
                progress=100 if status == "completed" else as_int(item.get("progress")),
                video_url=item.get("videoURL") if status == "completed" else None,
                provider_video_id=str(video_id) if video_id else None,
                seed=as_int(item.get("seed")),
                billed_cost=as_float(item.get("cost")),
                error_code=_item_error(item)[0] if status == "failed" else None,
                error_message=_item_error(item)[1] if status == "failed" else None,
                variation_index=index,
                raw=item,
            ))
        return states
