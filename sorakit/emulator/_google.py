"""What Google's video surfaces share: the error shape, key handling and the Veo request.

Two surfaces speak Veo's ``predictLongRunning`` body — the Gemini Developer API's old
``/v1beta/models/{m}:predictLongRunning`` (`sorakit.emulator.gemini`) and the Enterprise Agent
Platform's ``…/publishers/google/models/{m}:predictLongRunning`` (`sorakit.emulator.vertex`) — with
different field spellings. `parse_veo` reads both, as the official ``google-genai`` package writes
them (``google/genai/models.py`` 3.6: ``_GenerateVideosParameters_to_vertex``,
``_GenerateVideosConfig_to_vertex``, ``_Image_to_vertex``, ``_Video_to_vertex``; 2.34:
the ``_to_mldev`` twins), and refuses what the mode does not take, naming the field.

Errors are Google's ``{"error": {"code": <HTTP status>, "message", "status": <gRPC status>,
"details"?}}`` on every path under the surface's mount, unknown paths included.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._surface import SEED_MAX, Surface, image_size, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["GoogleSurface", "GRPC_STATUS", "NOT_AN_OBJECT", "VeoInput", "parse_veo", "version_mount"]

GRPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               405: "UNIMPLEMENTED", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
               502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
"""HTTP status -> the ``status`` text Google puts beside it."""

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
PERSON = ("allow_all", "allow_adult", "dont_allow")
RESOLUTION_SHORT_SIDE = {"720p": 720, "1080p": 1080, "4k": 2160}
EXTEND_BY_S = 7.0
EXTEND_MAX_SOURCE_S = 30
"""Veo extends an input video of 1 to 30 s by 7 s (Google's "Extend videos" page for the
Gemini Enterprise Agent Platform, read 2026-11-27; the 30 s bound is checked in enterprise mode)."""


def version_mount(prefix: str) -> str:
    """``/gemini/v1beta`` -> ``/gemini``: the parent of a versioned prefix (else the prefix)."""
    head, _, last = prefix.rstrip("/").rpartition("/")
    return head if head and last[:2] == "v1" else prefix.rstrip("/")


class GoogleSurface(Surface):
    """A Google API surface: Google's error body, ``x-goog-api-key`` (or ``?key=``) for the key."""

    google_service = "generativelanguage.googleapis.com"
    """The API's service name in ErrorInfo metadata (the enterprise platform: aiplatform.googleapis.com)."""

    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, reason: Optional[str] = None,
              **extra: Any) -> Response:
        """``{"error": {"code": <http status>, "message", "status": <gRPC status>, "details"?}}``."""
        err: dict[str, Any] = {"code": status, "message": message, "status": GRPC_STATUS.get(status, "UNKNOWN")}
        if reason:  # as Google sends it: ErrorInfo with the service, then the message localized
            # (tests/published/gemini-veo/wrong-key-400.json)
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                               "domain": "googleapis.com", "metadata": {"service": self.google_service}},
                              {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                               "message": message}]
        return JSONResponse({"error": err}, status_code=status, headers=headers)

    def invalid(self, message: str) -> Response:
        return self.error(400, message)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return self.error(404, f"The requested URL {request.url.path} was not found on this server "
                               f"({request.method}).")

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return self.error(405, f"Method {request.method} is not allowed for {request.url.path}.")

    @staticmethod
    def goog_key(request: Request) -> Optional[str]:
        """The key from ``x-goog-api-key`` or the ``key`` query parameter."""
        return request.headers.get("x-goog-api-key") or request.query_params.get("key") or None

    def api_key(self, request: Request) -> Optional[str]:
        return self.goog_key(request)

    def auth_error(self, api_key: Optional[str]) -> Response:
        if api_key is None:
            return self.error(403, "Method doesn't allow unregistered callers (callers without established "
                                   "identity). Please use API Key or other form of API consumer identity "
                                   "to call this API.")
        return self.error(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")

    def bad_body(self, message: str, problem: str) -> Response:
        return self.invalid(NOT_AN_OBJECT)

    def refuse_early(self, prompt: str, key: Optional[str], quota_message: str) -> Optional[Response]:
        """The synchronous refusals every Google create shares: guardrail 400, concurrency 429."""
        if self.emu.guardrail_hit(prompt):
            return self.invalid("The prompt could not be submitted: it violates the usage guidelines "
                                "(emulated guardrail).")
        if self.emu.over_concurrency(self.provider, key):
            self.emu.counters.incr(self.provider, "rate_limited")
            return self.error(429, quota_message, headers=retry_headers(1.0))
        return None

    def offer_by_id(self, model_id: str):
        return next((o for o in self.emu.catalog.offers(provider=self.provider) if o.id == model_id), None)

    def known_ids(self) -> str:
        return ", ".join(o.id for o in self.emu.catalog.offers(provider=self.provider))

    def new_veo_job(self, key, name: str, index: int, offer, veo: "VeoInput", *,
                    source: Optional[Job] = None) -> Job:
        """One sample of a Veo request (both Veo surfaces)."""
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(veo.prompt)
        created, start, finish = emu.timeline(self.provider, key, offer.model, veo.seconds, veo.width, veo.height,
                                              fails=blocked is not None)
        seed = (veo.seed + index) % (SEED_MAX + 1) if veo.seed is not None else emu.new_seed()
        prompt = veo.prompt or (source.prompt if source is not None else "")
        image = veo.image
        if image is None and veo.reference_images:
            image = veo.reference_images[0][1]
        spec = None if blocked else RenderSpec(model=offer.model, prompt=prompt or "(image only)", seed=seed,
                                               width=veo.width, height=veo.height, seconds=veo.seconds,
                                               fps=int(round(offer.fps)), audio=veo.audio, input_image=image)
        job = Job(
            id=emu.ids.hex(6), provider=self.provider, key=key_fingerprint(key), model=offer.model,
            provider_model=offer.id, prompt=prompt, width=veo.width, height=veo.height, seconds=veo.seconds,
            fps=offer.fps, audio=veo.audio, seed=seed, created_at=created, start_at=start, finish_at=finish,
            kind="extend" if source is not None or veo.source_video_bytes else "generate",
            source_id=source.id if source else None,
            error=("safety_filtered", "Video generation was blocked by the safety filter: the prompt may violate "
                                      f"the usage guidelines (emulated: it contains {blocked!r}).")
            if blocked else None,
            group=name, index=index, spec=spec,
        )
        return emu.add_job(job)



# --------------------------------------------------------------------------- the Veo request
@dataclass
class VeoInput:
    """A validated ``predictLongRunning`` request."""

    prompt: str
    width: int
    height: int
    seconds: float
    count: int
    image: Optional[bytes] = None
    last_frame: Optional[bytes] = None
    reference_images: list = field(default_factory=list)
    source_video: Optional[str] = None
    """The file id (Developer API) or ``gs://`` URI (enterprise) of a video to extend."""
    source_video_bytes: Optional[bytes] = None
    seed: Optional[int] = None
    audio: bool = True
    storage_uri: Optional[str] = None
    negative_prompt: Optional[str] = None


# field sets per mode; the Developer API's are what google-genai 2.34 `_to_mldev` writes
_DEV_INSTANCE = {"prompt", "image", "lastFrame", "referenceImages", "video"}
_DEV_PARAMETERS = {"aspectRatio", "resolution", "durationSeconds", "negativePrompt", "sampleCount",
                   "personGeneration", "enhancePrompt", "numberOfVideos"}
_DEV_ENTERPRISE_ONLY = {"seed", "generateAudio", "storageUri", "fps", "pubsubTopic", "compressionQuality",
                        "resizeMode", "mask", "labels"}
_ENT_INSTANCE = {"prompt", "image", "lastFrame", "referenceImages", "video", "mask"}
_ENT_PARAMETERS = {"aspectRatio", "resolution", "durationSeconds", "negativePrompt", "sampleCount",
                   "personGeneration", "enhancePrompt", "seed", "generateAudio", "storageUri", "fps",
                   "pubsubTopic", "compressionQuality", "resizeMode", "labels"}


def _decode_image(value: Any, where: str, enterprise: bool) -> tuple[Optional[bytes], Optional[str]]:
    """(bytes, None) or (None, error message) for ``{bytesBase64Encoded, mimeType}`` (or ``gcsUri``)."""
    if not isinstance(value, dict):
        return None, f"{where} must be an object with bytesBase64Encoded and mimeType."
    if enterprise and isinstance(value.get("gcsUri"), str):
        return None, (f"{where}.gcsUri {value['gcsUri']!r} cannot be read by the emulator (it has no Cloud "
                      f"Storage); send bytesBase64Encoded.")
    data = value.get("bytesBase64Encoded")
    if not isinstance(data, str):
        return None, f"{where}.bytesBase64Encoded is required" + (" (or gcsUri)." if enterprise else ".")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or image_size(raw) is None:
        return None, f"{where}.bytesBase64Encoded is not a readable image."
    if value.get("mimeType") not in IMAGE_TYPES:
        return None, (f"{where}.mimeType {value.get('mimeType')!r} is not supported; use "
                      f"{', '.join(IMAGE_TYPES)}.")
    return raw, None


def _sizes_for(offer) -> dict[tuple[str, str], tuple[int, int]]:
    out = {}
    for s in offer.sizes:
        w, h = (int(v) for v in s.split("x"))
        short = min(w, h)
        tier = next((t for t, px in RESOLUTION_SHORT_SIDE.items() if px == short), None)
        if tier is not None and w != h:
            out[(tier, "16:9" if w > h else "9:16")] = (w, h)
    return out


NOT_AN_OBJECT = "Invalid JSON payload received. Expected an object."


def parse_veo(body: Any, offer, *, enterprise: bool, video_lookup=None) -> "VeoInput | str":
    """The validated request, or the message of a 400 INVALID_ARGUMENT.

    ``video_lookup(ref) -> (seconds, width, height) | None`` resolves a video to extend: a reference
    (an earlier output of this emulator), or, in enterprise mode, the bytes of a video sent inline;
    None = extension is not offered.
    """
    mode = "the Gemini Enterprise Agent Platform" if enterprise else "the Gemini API"
    if not isinstance(body, dict):
        return NOT_AN_OBJECT
    top = {"instances", "parameters"} | (set() if enterprise else {"webhookConfig"})
    for name in body:
        if name not in top:
            return f"Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
    if "webhookConfig" in body and not isinstance(body["webhookConfig"], dict):
        return "webhookConfig must be an object."
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance."
    inst = instances[0]
    allowed_inst = _ENT_INSTANCE if enterprise else _DEV_INSTANCE
    for name in inst:
        if name not in allowed_inst:
            return (f"Invalid JSON payload received. Unknown name \"{name}\" at 'instances[0]': "
                    f"Cannot find field.")
    if "mask" in inst:
        return "instances[0].mask (video inpainting) is not offered by the emulator for Veo 3.1."
    prompt = inst.get("prompt")
    has_video = inst.get("video") is not None
    if not isinstance(prompt, str) or not prompt.strip():
        if not (has_video or inst.get("image") is not None):
            return "A prompt is required."
        prompt = prompt if isinstance(prompt, str) else ""
    if len(prompt) > 1024:
        return "The prompt is longer than 1024 characters."
    out_image = last = None
    if inst.get("image") is not None:
        out_image, err = _decode_image(inst["image"], "instances[0].image", enterprise)
        if err:
            return err
        if "image-to-video" not in offer.capabilities:
            return f"{offer.id} has no image-to-video."
    if inst.get("lastFrame") is not None:
        if out_image is None:
            return "instances[0].lastFrame needs instances[0].image (the first frame)."
        last, err = _decode_image(inst["lastFrame"], "instances[0].lastFrame", enterprise)
        if err:
            return err
    refs = []
    if inst.get("referenceImages") is not None:
        items = inst["referenceImages"]
        if not isinstance(items, list) or not 1 <= len(items) <= 3:
            return "instances[0].referenceImages must be a list of 1 to 3 reference images."
        for i, ref in enumerate(items):
            if not isinstance(ref, dict):
                return f"instances[0].referenceImages[{i}] must be an object {{image, referenceType}}."
            kind = str(ref.get("referenceType", "asset")).lower()
            if kind not in ("asset", "style"):
                return (f"instances[0].referenceImages[{i}].referenceType {ref.get('referenceType')!r} is not "
                        f"supported; use asset or style.")
            raw, err = _decode_image(ref.get("image"), f"instances[0].referenceImages[{i}].image", enterprise)
            if err:
                return err
            refs.append((kind, raw))
        if out_image is not None:
            return "instances[0].referenceImages cannot be combined with instances[0].image."
    source = None
    source_meta = None
    source_bytes = None
    if has_video:
        video = inst["video"]
        if not isinstance(video, dict):
            return "instances[0].video must be an object."
        ref = video.get("gcsUri") if enterprise else video.get("uri")
        inline = video.get("bytesBase64Encoded") if enterprise else video.get("encodedVideo")
        if ref is None and inline and not enterprise:
            return "instances[0].video: the emulator extends only videos it made; pass the uri it returned."
        if ref is None and inline is not None and video_lookup is not None:
            # the enterprise platform takes the video inline too (Veo API reference; google-genai
            # _Video_to_vertex: video_bytes -> bytesBase64Encoded): any readable MP4 is probed
            try:
                source_bytes = base64.b64decode(inline, validate=True) if isinstance(inline, str) else b""
            except (binascii.Error, ValueError):
                source_bytes = b""
            if video.get("mimeType") != "video/mp4":
                return f"instances[0].video.mimeType {video.get('mimeType')!r} is not supported; use video/mp4."
            source_meta = video_lookup(source_bytes) if source_bytes else None
            if source_meta is None:
                return "instances[0].video.bytesBase64Encoded is not a readable video."
        elif not isinstance(ref, str) or video_lookup is None:
            return "instances[0].video needs " + ("gcsUri (or bytesBase64Encoded)." if enterprise else "uri.")
        else:
            source_meta = video_lookup(ref)
            if source_meta is None:
                return f"instances[0].video {ref!r} is not a video this service made (or it expired)."
            source = ref
        if enterprise and not 1 <= source_meta[0] <= EXTEND_MAX_SOURCE_S:
            return (f"The input video must be 1 to {EXTEND_MAX_SOURCE_S} seconds long to be extended; it is "
                    f"{source_meta[0]:g} s.")
        if out_image is not None or refs:
            return "instances[0].video (extension) cannot be combined with image or referenceImages."
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        return "parameters must be an object."
    allowed = _ENT_PARAMETERS if enterprise else _DEV_PARAMETERS
    for name in params:
        if name not in allowed:
            if not enterprise and name in _DEV_ENTERPRISE_ONLY:
                return (f"`{name}` isn't supported by {mode}; it is a Gemini Enterprise Agent Platform "
                        f"(Vertex AI) parameter.")
            return f"Invalid JSON payload received. Unknown name \"{name}\" at 'parameters': Cannot find field."
    aspect = params.get("aspectRatio", "16:9")
    resolution = params.get("resolution", "720p")
    if aspect not in ("16:9", "9:16"):
        return f"aspectRatio {aspect!r} is not supported; use 16:9 or 9:16."
    if resolution not in RESOLUTION_SHORT_SIDE:
        return f"resolution {resolution!r} is not supported; use 720p, 1080p or 4k."
    sizes = _sizes_for(offer)
    if (resolution, aspect) not in sizes:
        offered = sorted({t for t, _ in sizes})
        return (f"{offer.id} does not support resolution {resolution} with aspectRatio {aspect}; "
                f"resolutions offered: {', '.join(offered)}.")
    width, height = sizes[(resolution, aspect)]
    allowed_s = [int(s) for s in offer.seconds]
    duration = params.get("durationSeconds", max(allowed_s))
    if isinstance(duration, str) and duration.isdigit():
        duration = int(duration)
    if isinstance(duration, float) and duration.is_integer():
        duration = int(duration)
    if source_meta is not None:
        seconds = float(source_meta[0]) + EXTEND_BY_S
        width, height = source_meta[1], source_meta[2]
    elif isinstance(duration, bool) or not isinstance(duration, int) or duration not in allowed_s:
        return (f"durationSeconds {duration!r} is out of bounds for {offer.id}; supported: "
                f"{', '.join(map(str, allowed_s))}.")
    else:
        seconds = float(duration)
    count = params.get("sampleCount", params.get("numberOfVideos", 1))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= offer.max_variations:
        return f"sampleCount must be from 1 to {offer.max_variations} for {offer.id}."
    neg = params.get("negativePrompt")
    if neg is not None and not isinstance(neg, str):
        return "negativePrompt must be a string."
    person = params.get("personGeneration")
    if person is not None and person not in PERSON:
        return f"personGeneration {person!r} is not supported; use {', '.join(PERSON)}."
    if "enhancePrompt" in params and not isinstance(params["enhancePrompt"], bool):
        return "enhancePrompt must be a boolean."
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        return f"seed {seed!r} must be an integer from 0 to {SEED_MAX}."
    audio = params.get("generateAudio", True)
    if not isinstance(audio, bool):
        return "generateAudio must be a boolean."
    storage = params.get("storageUri")
    if storage is not None and (not isinstance(storage, str) or not storage.startswith("gs://")
                                or len(storage) <= len("gs://")):
        return f"storageUri {storage!r} must be a Cloud Storage URI such as gs://bucket/folder/."
    return VeoInput(prompt=prompt, width=width, height=height, seconds=seconds, count=count, image=out_image,
                    last_frame=last, reference_images=refs, source_video=source, source_video_bytes=source_bytes,
                    seed=seed,
                    audio=audio, storage_uri=storage, negative_prompt=neg)
