"""Gemini Omni Flash through Google's Interactions API: the wire mapping, no I/O.

```
POST {base}/interactions        header x-goog-api-key
     {"model": "gemini-omni-flash-preview", "background": true,
      "input": "<prompt>" | [{"type": "user_input", "content": [{"type": "text", "text"},
                                                               {"type": "image", "data", "mime_type"}]}],
      "response_format": {"type": "video", "aspect_ratio": "16:9"|"9:16", "duration": "8s",
                          "resolution"?: "360p"|"1080p"|"4k"},
      "generation_config"?: {"seed"}, "previous_interaction_id"?: "<id>"}     -> Interaction
GET  {base}/interactions/{id}   -> Interaction {id, status, steps?: [{type: "model_output",
                                   content: [{type: "video", data | uri, mime_type}]}], errors?,
                                   usage?: {total_output_tokens, output_tokens_by_modality:
                                            [{modality: "video", tokens}], ...}}
```

Sources: the official ``google-genai`` 3.6.1 package — ``google/genai/_gaos/interactions.py``
(paths), ``_gaos/types/interactions/createmodelinteraction.py`` (request fields; the SDK marks
``response_modalities`` deprecated in favour of ``response_format``), ``interaction.py`` (status
values ``in_progress``, ``requires_action``, ``completed``, ``failed``, ``cancelled``,
``incomplete``, ``budget_exceeded``, ``queued``...), ``videoresponseformat.py``,
``videocontent.py``, ``generationconfig.py``; and ``_gaos/google_genai.py``
``_output_properties_from_steps`` (the video is the last ``video`` content of the
``model_output`` steps after the last ``user_input`` step), whose reading this module repeats.

Multi-turn editing: ``remix`` / ``edit`` of an Omni job sends ``previous_interaction_id`` = the
earlier job's interaction id (its ``provider_job_id``, which sorakit's ``Job.remix`` passes as
``source_video_id``): the conversation continues on the server.

The video comes inline (base64 ``data``) or as a ``uri``. Inline bytes are never written to the
ledger: `strip_inline` replaces them in the raw object, and the download re-reads the
interaction and decodes the video (`video_bytes`).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Mapping, Optional

from .._exceptions import ValidationError
from .._types import JobState
from ..catalog import Plan
from ._base import CancelSupport

__all__ = ["is_interactions_model", "interaction_body", "interaction_states", "interaction_video",
           "strip_inline", "video_bytes", "check_interaction_id", "usage_video_tokens"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.~-]*$")

_STATUS = {"queued": "queued", "in_progress": "in_progress", "completed": "completed", "failed": "failed",
           "cancelled": "cancelled", "incomplete": "failed", "budget_exceeded": "failed",
           "requires_action": "failed", "requires_continuation": "in_progress", "idle": "in_progress"}
"""Interaction status -> sorakit status. ``requires_action`` (a tool call) cannot happen for a
video-only request and is treated as a failure with its status as the code."""

OMNI_RESOLUTIONS = {360: "360p", 720: "720p", 1080: "1080p", 2160: "4k"}
"""Short side in pixels -> ``response_format.resolution`` (google-genai 3.6.1
``_gaos/types/interactions/videoresponseformat.py``: ``360p``, ``720p``, ``1080p``, ``4k``;
"Defaults to 720p"). Which tiers a model renders is the catalog's ``sizes``."""


CANCEL = CancelSupport(
    "cancel", "unconfirmed",
    "Google's Interactions API cancels a background interaction that is still running "
    "(POST interactions/{id}/cancel, answered with the interaction, status 'cancelled'); whether "
    "the work done before the cancel is charged is not documented",
    "google-genai 3.6.1 _gaos/interactions.py cancel(): \"Cancels an interaction by id. This only "
    "applies to background interactions that are still running.\"")
"""How an Omni Flash job stops."""


def is_interactions_model(model_id: str) -> bool:
    """Gemini models (``gemini-*``) go through interactions; Veo ids through predictLongRunning."""
    return model_id.startswith("gemini-")


def check_interaction_id(value: str, field: str = "provider_job_id") -> str:
    """An interaction id safe as one path segment, or a `ValidationError` naming it."""
    if not isinstance(value, str) or not _ID.match(value) or value in (".", ".."):
        raise ValidationError(field, value, "an interaction id (letters, digits, '_', '-', '.', '~')",
                              "it is used as one URL path segment")
    return value


def interaction_body(plan: Plan) -> dict[str, Any]:
    """The create body for `plan` (generate, or remix/edit continuing an earlier interaction)."""
    if plan.input_image_url is not None:
        raise ValidationError("input_image", plan.input_image_url, "image bytes, a file path or a data: URL",
                              "the Interactions API takes the image inline here, not as a URL")
    if plan.input_image is not None:
        content: list[dict[str, Any]] = [{"type": "text", "text": plan.prompt}] if plan.prompt else []
        content.append({"type": "image", "data": base64.b64encode(plan.input_image).decode("ascii"),
                        "mime_type": plan.input_image_mime or "image/png"})
        input_: Any = [{"type": "user_input", "content": content}]
    else:
        input_ = plan.prompt
    seconds = float(plan.seconds)
    body: dict[str, Any] = {
        "model": plan.provider_model,
        "background": True,
        "input": input_,
        "response_format": {
            "type": "video",
            "aspect_ratio": "16:9" if plan.width >= plan.height else "9:16",
            "duration": f"{int(seconds) if seconds.is_integer() else seconds}s",
        },
    }
    resolution = OMNI_RESOLUTIONS.get(min(plan.width, plan.height))
    if resolution is None:
        raise ValidationError("size", f"{plan.width}x{plan.height}",
                              [f"{16 * s // 9}x{s} or {s}x{16 * s // 9}" for s in OMNI_RESOLUTIONS],
                              "the Interactions API renders 16:9 or 9:16 at 360p, 720p, 1080p or 4k")
    if resolution != "720p":  # 720p is the API's default: the request stays as Google's examples write it
        body["response_format"]["resolution"] = resolution
    if plan.seed is not None:
        body["generation_config"] = {"seed": plan.seed}
    if plan.action in ("remix", "edit"):
        body["previous_interaction_id"] = check_interaction_id(plan.source_video_id or "", "source_video_id")
    elif plan.action != "generate":
        raise ValidationError("action", plan.action, ["generate", "remix", "edit"],
                              "Gemini Omni Flash continues an interaction (remix/edit); it cannot extend")
    return body


def interaction_video(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The output video content (``{type: "video", data | uri, mime_type}``) of an interaction."""
    steps = obj.get("steps")
    if isinstance(steps, list):
        for step in reversed(steps):
            if not isinstance(step, Mapping):
                continue
            if step.get("type") == "user_input":
                break
            if step.get("type") != "model_output" or not isinstance(step.get("content"), list):
                continue
            for item in reversed(step["content"]):
                if isinstance(item, Mapping) and item.get("type") == "video":
                    return item
    out = obj.get("output_video")  # what the SDK adds; accepted when a relay passes it through
    return out if isinstance(out, Mapping) else None


def strip_inline(obj: Any) -> Any:
    """A copy of ``obj`` without inline base64 payloads (``data`` of media contents)."""
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if k == "data" and isinstance(v, str) and obj.get("type") in ("video", "image", "audio"):
                out[k] = f"<{len(v)} base64 characters, not kept>"
            else:
                out[k] = strip_inline(v)
        return out
    if isinstance(obj, list):
        return [strip_inline(v) for v in obj]
    return obj


def interaction_states(obj: Mapping[str, Any], expires_at: Optional[float]) -> list[JobState]:
    """An Interaction object -> one `JobState`."""
    iid = str(obj.get("id") or "")
    raw = strip_inline(obj)
    status = _STATUS.get(str(obj.get("status")), "in_progress")
    if status in ("queued", "in_progress"):
        return [JobState(provider_job_id=iid, status=status, raw=raw)]
    if status in ("failed", "cancelled"):
        errors = obj.get("errors") if isinstance(obj.get("errors"), list) else []
        first = next((e for e in errors if isinstance(e, Mapping)), {})
        code = str(first.get("code") or obj.get("status"))
        if code.upper() in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"):
            code = "safety_filtered"
        message = str(first.get("message") or f"the interaction ended {obj.get('status')}")
        return [JobState(provider_job_id=iid, status=status, error_code=code, error_message=message, raw=raw)]
    video = interaction_video(obj)
    if video is None or not (video.get("uri") or video.get("data")):
        return [JobState(provider_job_id=iid, status="failed", error_code="no_output",
                         error_message="the interaction completed without a video", raw=raw)]
    uri = str(video["uri"]) if video.get("uri") and not video.get("data") else None
    return [JobState(provider_job_id=iid, status="completed", progress=100, video_url=uri,
                     video_url_expires_at=expires_at if uri else None, provider_video_id=iid,
                     output_video_tokens=usage_video_tokens(obj), raw=raw)]


def usage_video_tokens(obj: Mapping[str, Any]) -> Optional[int]:
    """The output video tokens an Interaction reports: the ``video`` entries of
    ``usage.output_tokens_by_modality`` (``[{modality, tokens}]``, google-genai 3.6.1
    ``_gaos/types/interactions/usage.py`` and ``modalitytokens.py``); None when not reported."""
    usage = obj.get("usage")
    by_modality = usage.get("output_tokens_by_modality") if isinstance(usage, Mapping) else None
    if not isinstance(by_modality, list):
        return None
    counts = [m.get("tokens") for m in by_modality if isinstance(m, Mapping) and m.get("modality") == "video"]
    counts = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
    return sum(counts) if counts else None


def video_bytes(obj: Any) -> bytes:
    """The inline video of an Interaction object (`ValueError` when there is none)."""
    video = interaction_video(obj) if isinstance(obj, Mapping) else None
    data = video.get("data") if video is not None else None
    if not isinstance(data, str):
        raise ValueError("the interaction holds no inline video")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the interaction's inline video is not valid base64") from None
