"""Gemini Omni Flash through the Interactions API, as the emulator's Gemini surface serves it.

Shapes are those of the official ``google-genai`` 3.x package (3.6.1), read from its source:
``google/genai/_gaos/interactions.py`` (``POST /{api_version}/interactions``,
``GET /{api_version}/interactions/{id}?stream=false``), ``_gaos/types/interactions/
createmodelinteraction.py`` (the request), ``interaction.py`` (the answer; status ``in_progress`` …
``completed`` / ``failed``, ``steps``, ``errors``), ``videoresponseformat.py`` (``aspect_ratio``
16:9|9:16, ``duration`` a string, ``resolution``, ``delivery`` inline|uri, ``gcs_uri``),
``videocontent.py`` (``{type: "video", data | uri, mime_type}``), ``modeloutputstep.py`` and
``generationconfig.py`` (``seed``, ``video_config.task``). The SDK turns a list of contents into
one ``{"type": "user_input", "content": [...]}`` step and derives ``output_video`` from the last
``model_output`` step (``_gaos/google_genai.py`` ``_output_properties_from_steps``). google-genai
3.6.1 sends ``/v1/interactions``; Google's docs show ``/v1beta/interactions``: both are served.

Model facts from Google's model page (Gemini Omni Flash Preview): 720p, 16:9 or 9:16, video up to
10 s (which resolutions and durations each model takes is the catalog's sizes and seconds: Omni 1.2
renders 360p to 4k for 3 to 15 s), up to 10 input images (png/jpeg/webp/heic/heif). Emulator choices, *unconfirmed* against
the live service: video output needs ``background: true`` (the emulator does not hold a request
open while it renders); a safety block is ``status: "failed"`` with ``errors: [{code: "SAFETY",
message}]``; ``duration`` is read as ``"6s"`` or ``"6"``; inline delivery is the default.

Multi-turn editing: ``previous_interaction_id`` names a completed interaction of the same
surface; the new interaction edits its video (same size, seed and duration unless the request
sets them) and records the link.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import SEED_MAX, image_size
from ._store import Job, key_fingerprint

__all__ = ["InteractionsMixin", "API_VERSIONS", "is_interactions_model_id"]

API_VERSIONS = ("v1beta", "v1", "v1alpha")
_TOP = {"model", "background", "cached_content", "continuation_token", "environment", "generation_config",
        "input", "labels", "previous_interaction_id", "response_format", "response_mime_type",
        "response_modalities", "safety_settings", "service_tier", "store", "stream", "system_instruction",
        "tools", "webhook_config"}
_GENERATION = {"image_config", "max_output_tokens", "seed", "speech_config", "stop_sequences", "temperature",
               "thinking_level", "thinking_summaries", "tool_choice", "top_p", "transcription_config",
               "video_config"}
_TASKS = ("text_to_video", "image_to_video", "reference_to_video", "edit", "extend", "upscale")
_VIDEO_FORMAT = {"type", "aspect_ratio", "delivery", "duration", "gcs_uri", "resolution"}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
_MODALITIES = ("text", "image", "audio", "video", "document")
MAX_IMAGES = 10
SAFETY_CODE = "SAFETY"
VIDEO_TOKENS_PER_SECOND = 5792
"""Output video tokens per second of 720p video (with audio) that a completed interaction reports
in ``usage``, unless the catalog's price rule for the offer names its own
``video_tokens_per_second``. Source (read 2026-12-06): Runware's model page for Gemini Omni Flash
(https://runware.ai/docs/models/google-gemini-omni-flash: "5792 per second of 720p video output
(with audio)"), consistent with Google's model page for Gemini Omni Flash Preview on the
Enterprise Agent Platform (maximum output tokens 57,920 for at most 10 s of video). The emulator
bills nothing; it reports usage in Google's shape so a client can compute the cost."""


_TIERS = {"360p": 360, "720p": 720, "1080p": 1080, "4k": 2160}
"""``response_format.resolution`` -> short side (google-genai 3.6.1 ``videoresponseformat.py``)."""


def _size(resolution: Any, aspect: str) -> Optional[str]:
    """``"1280x720"`` for ``("720p", "16:9")``; None for a resolution that is not a tier."""
    short = _TIERS.get(resolution) if isinstance(resolution, str) else None
    if short is None:
        return None
    long = short * 16 // 9
    return f"{long}x{short}" if aspect == "16:9" else f"{short}x{long}"


def is_interactions_model_id(model_id: str) -> bool:
    """Gemini models (``gemini-*``) are served through interactions; Veo through predictLongRunning."""
    return model_id.startswith("gemini-")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Bad(Exception):
    """A 400 INVALID_ARGUMENT with this message."""


class InteractionsMixin:
    """Routes and handlers of ``/{version}/interactions`` for a `GoogleSurface`."""

    def interaction_routes(self) -> list:
        return [
            Route("/{version}/interactions", self._wrap("create", self._interaction_create), methods=["POST"]),
            Route("/{version}/interactions/{iid}", self._wrap("poll", self._interaction_get), methods=["GET"]),
            Route("/{version}/interactions/{iid}", self._wrap("delete", self._interaction_delete),
                  methods=["DELETE"]),
            Route("/{version}/interactions/{iid}/cancel", self._wrap("delete", self._interaction_cancel),
                  methods=["POST"]),
        ]

    def is_interactions_model(self, offer) -> bool:
        return is_interactions_model_id(offer.id)

    def known_veo_ids(self) -> str:
        return ", ".join(o.id for o in self.emu.catalog.offers(provider=self.provider)
                         if not is_interactions_model_id(o.id))

    # ------------------------------------------------------------------ create
    async def _interaction_create(self, request: Request, key: Optional[str]) -> Response:
        version = request.path_params["version"]
        if version not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self.json_body(request)
        if isinstance(body, Response):
            return body
        model_id = body.get("model")
        if "agent" in body and model_id is None:
            return self.invalid("agent interactions are not emulated; pass model.")
        offer = self.offer_by_id(model_id) if isinstance(model_id, str) else None
        if offer is None and isinstance(model_id, str) and is_interactions_model_id(model_id):
            offer = self.open_offer(model_id, among=self.is_interactions_model)  # a newer Gemini id
        if offer is None or not self.is_interactions_model(offer):
            known = ", ".join(o.id for o in self.emu.catalog.offers(provider=self.provider)
                              if self.is_interactions_model(o))
            return self.error(404, f"models/{model_id} is not found for API version {version}, or is not "
                                   f"supported for interactions. (emulated: {known})")
        if self.emu.is_shut_down(self.provider, offer):
            return self.error(404, f"models/{model_id} is no longer available. Please see the Gemini API "
                                   "deprecations page for the recommended replacement.")
        try:
            parsed = self._parse_interaction(body, offer)
        except _Bad as exc:
            return self.invalid(str(exc))
        prompt = parsed["prompt"]
        refused = self.refuse_early(prompt, key, "Resource has been exhausted (e.g. check quota).")
        if refused is not None:
            return refused
        job = self._new_interaction_job(key, offer, parsed)
        self.emu.counters.incr(self.provider, "creates")
        self.emu.counters.note_create(self.provider, [job.group], prompt, accepted=True)
        return JSONResponse(await self.interaction(job, request, include_input=False))

    def _parse_interaction(self, body: dict, offer) -> dict:
        for name in body:
            if name not in _TOP:
                raise _Bad(f"Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
        if body.get("stream"):
            raise _Bad("stream: true is not emulated for video output; use background: true and get the "
                       "interaction.")
        if body.get("background") is not True:
            raise _Bad("Video generation runs in the background: set background to true and get the "
                       "interaction until it is done.")
        modalities = body.get("response_modalities")
        if modalities is not None:
            if not isinstance(modalities, list) or any(m not in _MODALITIES for m in modalities):
                raise _Bad(f"response_modalities {modalities!r}: each must be one of {', '.join(_MODALITIES)}.")
            if "video" not in modalities:
                raise _Bad(f"{offer.id} answers with video here: response_modalities must include \"video\".")
        fmt = self._video_format(body.get("response_format"))
        previous = body.get("previous_interaction_id")
        source: Optional[Job] = None
        if previous is not None:
            if not isinstance(previous, str) or not previous:
                raise _Bad("previous_interaction_id must be an interaction id.")
            group = self.emu.store.group(previous)
            if not group or group[0].provider != self.provider or group[0].deleted:
                raise _Bad(f"previous_interaction_id {previous!r} is not an interaction of this API key's "
                           f"project (or it expired).")
            source = group[0]
            if not source.terminal(self.emu.clock.now()):
                raise _Bad(f"previous_interaction_id {previous!r} is still in progress; continue it once it "
                           f"is completed.")
            if source.error is not None or source.spec is None:
                raise _Bad(f"previous_interaction_id {previous!r} failed and has no video to edit.")
        prompt, images = self._read_input(body.get("input"))
        if not prompt.strip() and not images:
            raise _Bad("input is required: a prompt, or content with text and images.")
        if len(prompt) > 32000:
            raise _Bad("The prompt is too long.")
        gen = body.get("generation_config") or {}
        if not isinstance(gen, dict):
            raise _Bad("generation_config must be an object.")
        for name in gen:
            if name not in _GENERATION:
                raise _Bad(f"Invalid JSON payload received. Unknown name \"{name}\" at 'generation_config': "
                           f"Cannot find field.")
        seed = gen.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
            raise _Bad(f"generation_config.seed {seed!r} must be an integer from 0 to {SEED_MAX}.")
        task = (gen.get("video_config") or {}).get("task") if isinstance(gen.get("video_config"), dict) else None
        if task is not None and task not in _TASKS:
            raise _Bad(f"generation_config.video_config.task {task!r} is not one of {', '.join(_TASKS)}.")
        # size and duration: the request's, else the edited video's, else the model's defaults
        aspect = fmt.get("aspect_ratio")
        if aspect is None:
            aspect = ("16:9" if source.width >= source.height else "9:16") if source else "16:9"
        if aspect not in ("16:9", "9:16"):
            raise _Bad(f"response_format.aspect_ratio {aspect!r} is not supported; use 16:9 or 9:16.")
        resolution = fmt.get("resolution", "720p")
        size = _size(resolution, aspect)
        if size is None or size not in offer.sizes:
            tiers = [t for t in _TIERS if _size(t, aspect) in offer.sizes]
            raise _Bad(f"response_format.resolution {resolution!r} is not supported by {offer.id}; "
                       f"supported: {', '.join(tiers)}.")
        allowed = [int(s) for s in offer.seconds]
        duration = fmt.get("duration")
        if duration is None:
            seconds = float(source.seconds) if source else float(offer.default_seconds)
        else:
            m = re.fullmatch(r"\s*(\d+)\s*s?\s*", str(duration))
            if not m or int(m.group(1)) not in allowed:
                raise _Bad(f"response_format.duration {duration!r} is not supported by {offer.id}; use a "
                           f"whole number of seconds from {min(allowed)} to {max(allowed)} such as \"8s\".")
            seconds = float(m.group(1))
        if fmt.get("gcs_uri") is not None or fmt.get("delivery") not in (None, "inline", "uri"):
            if fmt.get("gcs_uri") is not None:
                raise _Bad("response_format.gcs_uri is for the Gemini Enterprise Agent Platform; the Gemini API "
                           "delivers inline or as a file URI.")
            raise _Bad(f"response_format.delivery {fmt.get('delivery')!r} is not one of inline, uri.")
        w, h = (int(v) for v in size.split("x"))
        return {"prompt": prompt, "image": images[0] if images else None, "images": len(images),
                "source": source, "seed": seed, "width": w, "height": h, "seconds": seconds,
                "delivery": fmt.get("delivery") or "inline", "previous": previous,
                "response_format": body.get("response_format")}

    @staticmethod
    def _video_format(value: Any) -> dict:
        if value is None:
            return {}
        items = value if isinstance(value, list) else [value]
        video = None
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise _Bad("response_format must be an object (or a list of objects) with a type.")
            if item["type"] == "video":
                video = item
        if video is None:
            raise _Bad("response_format has no {\"type\": \"video\"} entry; this model answers with video.")
        for name in video:
            if name not in _VIDEO_FORMAT:
                raise _Bad(f"Invalid JSON payload received. Unknown name \"{name}\" at 'response_format': "
                           f"Cannot find field.")
        return video

    def _read_input(self, value: Any) -> tuple[str, list[bytes]]:
        """(prompt text, image bytes) from a string, a content, a list of contents or of steps."""
        if value is None:
            return "", []
        if isinstance(value, str):
            return value, []
        items = value if isinstance(value, list) else [value]
        contents: list = []
        for item in items:
            if not isinstance(item, dict):
                raise _Bad("input must be a string, a content object or a list of them.")
            if item.get("type") == "user_input":
                inner = item.get("content")
                if isinstance(inner, str):
                    inner = [{"type": "text", "text": inner}]
                if not isinstance(inner, list):
                    raise _Bad("input[].content of a user_input step must be a list of contents.")
                contents.extend(inner)
            elif item.get("type") in ("model_output", "thought"):
                continue  # history the client replays: nothing to render from it
            else:
                contents.append(item)
        texts, images = [], []
        for i, c in enumerate(contents):
            kind = c.get("type") if isinstance(c, dict) else None
            if kind == "text":
                if not isinstance(c.get("text"), str):
                    raise _Bad(f"input content {i}: text must be a string.")
                texts.append(c["text"])
            elif kind == "image":
                if c.get("uri") is not None and c.get("data") is None:
                    raise _Bad(f"input content {i}: image.uri cannot be fetched by the emulator; send data "
                               f"(base64) with mime_type.")
                try:
                    raw = base64.b64decode(c.get("data") or "", validate=True)
                except (binascii.Error, ValueError):
                    raw = b""
                if not raw or image_size(raw) is None:
                    raise _Bad(f"input content {i}: image.data is not a readable base64 image.")
                if c.get("mime_type") not in _IMAGE_TYPES:
                    raise _Bad(f"input content {i}: image.mime_type {c.get('mime_type')!r} is not supported; use "
                               f"{', '.join(_IMAGE_TYPES)}.")
                images.append(raw)
            else:
                raise _Bad(f"input content {i}: type {kind!r} is not accepted by the emulated video model "
                           f"(text and image are).")
        if len(images) > MAX_IMAGES:
            raise _Bad(f"At most {MAX_IMAGES} images per prompt.")
        return "\n".join(texts), images

    def _new_interaction_job(self, key, offer, p: dict) -> Job:
        from ._render import RenderSpec

        emu = self.emu
        source: Optional[Job] = p["source"]
        prompt = p["prompt"]
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, offer.model, p["seconds"], p["width"],
                                              p["height"], fails=blocked is not None)
        seed = p["seed"] if p["seed"] is not None else (source.seed if source is not None else emu.new_seed())
        render_prompt = f"{source.prompt} → {prompt}" if source is not None else prompt
        spec = None if blocked else RenderSpec(
            model=offer.model, prompt=render_prompt or "(image only)", seed=seed, width=p["width"],
            height=p["height"], seconds=p["seconds"], fps=int(round(offer.fps)), audio=True,
            input_image=p["image"] if p["image"] is not None else (source.spec.input_image if source else None))
        iid = "v1_" + emu.ids.hex(12)
        job = Job(
            id=emu.ids.hex(6), provider=self.provider, key=key_fingerprint(key), model=offer.model,
            provider_model=offer.id, prompt=prompt, width=p["width"], height=p["height"], seconds=p["seconds"],
            fps=offer.fps, audio=True, seed=seed, created_at=created, start_at=start, finish_at=finish,
            kind="edit" if source is not None else "generate", source_id=source.group if source else None,
            error=(SAFETY_CODE, "The interaction was blocked by the safety filter: the prompt may violate the "
                                f"usage guidelines (emulated: it contains {blocked!r}).") if blocked else None,
            group=iid, index=0, spec=spec,
            extra={"delivery": p["delivery"], "previous": p["previous"], "response_format": p["response_format"],
                   "images": p["images"]},
        )
        return emu.add_job(job)

    # ------------------------------------------------------------------ read
    async def interaction(self, job: Job, request: Request, *, include_input: bool) -> dict:
        """The Interaction object as of now (the video inline or as a file URI once completed)."""
        now = self.emu.clock.now()
        status, _ = job.state(now)
        out: dict[str, Any] = {
            "id": job.group, "object": "interaction", "model": job.provider_model,
            "status": "in_progress" if status in ("queued", "in_progress") else status,
            "created": _iso(job.created_at), "updated": _iso(min(now, job.finish_at)),
        }
        if job.extra.get("previous"):
            out["previous_interaction_id"] = job.extra["previous"]
        if job.extra.get("response_format") is not None:
            out["response_format"] = job.extra["response_format"]
        steps: list[dict] = []
        # A live answer lists the turn's user_input, a thought and the model_output (GET without
        # include_input: tests/published/gemini-interactions, the TanStack/ai #871 thread, 2026-07-01)
        if include_input or status != "queued" and status != "in_progress":
            steps.append({"type": "user_input", "content": [{"type": "text", "text": job.prompt}]})
        if status == "failed":
            code, message = job.error
            out["errors"] = [{"code": code, "message": message}]
        elif status == "completed":
            if job.extra.get("delivery") == "uri":
                video = {"type": "video", "uri": self.file_uri(request, job.id), "mime_type": "video/mp4"}
            else:
                info = await self.emu.video_file(job)
                data = base64.b64encode(info.path.read_bytes()).decode("ascii")
                video = {"type": "video", "data": data, "mime_type": "video/mp4"}
            signature = base64.b64encode(f"emulated-{job.group}".encode()).decode("ascii")
            steps.append({"type": "thought", "signature": signature})
            steps.append({"type": "model_output", "content": [video]})
            out["usage"] = self.interaction_usage(job)
        if steps:
            out["steps"] = steps
        return out

    def interaction_usage(self, job: Job) -> dict:
        """``usage`` of a completed interaction, in google-genai 3.6.1's shape
        (``_gaos/types/interactions/usage.py``: ``total_output_tokens``, ``output_tokens_by_modality``
        of ``{modality, tokens}``): the video's seconds × `VIDEO_TOKENS_PER_SECOND` (or the
        catalog rule's ``video_tokens_per_second``). Input tokens are not emulated (left out)."""
        per_second = float(VIDEO_TOKENS_PER_SECOND)
        offer = self.offer_by_id(job.provider_model)
        for rule in (offer.prices if offer is not None else ()):
            if rule.video_tokens_per_second and rule.matches(job.width, job.height, job.audio):
                per_second = rule.video_tokens_per_second
                break
        tokens = int(round(job.seconds * per_second))
        return {"total_output_tokens": tokens, "output_tokens_by_modality": [{"modality": "video", "tokens": tokens}]}

    async def _interaction_cancel(self, request: Request, key: Optional[str]) -> Response:
        """``POST /{version}/interactions/{id}/cancel`` (google-genai 3.6.1 ``_gaos/interactions.py``
        ``cancel``: "only applies to background interactions that are still running"): a running
        interaction answers itself with status ``cancelled``; an ended one 400 FAILED_PRECONDITION."""
        version = request.path_params["version"]
        if version not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        self.emu.counters.incr(self.provider, "cancel_calls")
        iid = request.path_params["iid"]
        group = self.emu.store.group(iid)
        if not group or group[0].provider != self.provider or group[0].deleted:
            return self.error(404, f"Interaction {iid} not found.")
        now = self.emu.clock.now()
        if not self.emu.store.cancel(group[0].id, now):
            status, _ = group[0].state(now)
            return self.error(400, f"Interaction {iid} is {status}; only a running background interaction "
                                   f"can be cancelled.")
        self.emu.counters.incr(self.provider, "cancels")
        return JSONResponse(await self.interaction(group[0], request, include_input=False))

    async def _interaction_delete(self, request: Request, key: Optional[str]) -> Response:
        """``DELETE /{version}/interactions/{id}`` (google-genai 3.6.1 ``_gaos/interactions.py``
        ``delete``: 200 with no body the SDK reads): the stored interaction is forgotten (a running one
        is stopped first); a later get answers 404."""
        version = request.path_params["version"]
        if version not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        iid = request.path_params["iid"]
        group = self.emu.store.group(iid)
        if not group or group[0].provider != self.provider or group[0].deleted:
            return self.error(404, f"Interaction {iid} not found.")
        for job in group:
            self.emu.store.cancel(job.id, self.emu.clock.now())
            self.emu.store.delete(job.id)
        self.emu.counters.incr(self.provider, "deletes")
        return JSONResponse({})

    async def _interaction_get(self, request: Request, key: Optional[str]) -> Response:
        version = request.path_params["version"]
        if version not in API_VERSIONS:
            return self.error(404, f"The requested URL {request.url.path} was not found on this server.")
        self.emu.counters.incr(self.provider, "polls")
        iid = request.path_params["iid"]
        if request.query_params.get("stream", "false").lower() == "true":
            return self.invalid("stream=true is not emulated; get the interaction without streaming.")
        group = self.emu.store.group(iid)
        if not group or group[0].provider != self.provider or group[0].deleted:
            return self.error(404, f"Interaction {iid} not found.")
        include = request.query_params.get("include_input", "false").lower() == "true"
        try:
            return JSONResponse(await self.interaction(group[0], request, include_input=include))
        except Exception as exc:  # a render failure is the emulator's bug: say so
            return self.error(500, f"The emulator could not render interaction {iid}: {exc}")
