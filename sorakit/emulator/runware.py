"""Runware's task API as the emulator serves it, under ``/runware/v1``.

``POST /runware/v1`` takes a JSON array of tasks and answers ``{"data": [...]}`` and/or
``{"errors": [{code, message, parameter, taskType, taskUUID}]}``:

- ``videoInference`` (``deliveryMethod: "async"``) is validated, then acknowledged with
  ``{"taskType": "videoInference", "taskUUID": ...}``. ``numberResults`` (1–4) makes that many
  videos with distinct seeds (``seed``, ``seed+1``, ... when a seed is given) and distinct
  ``videoUUID`` s under the one ``taskUUID``. A ``taskUUID`` already used is refused: HTTP 409,
  code ``conflictTaskUUID`` (so a client that lost an answer can re-send safely and then poll).
- ``getResponse`` returns one item per result: ``status`` ``processing`` until done, then
  ``success`` with ``videoUUID``, ``videoURL``, ``seed``, ``outputs.videoId`` and (when the create
  had ``includeCost``) ``cost`` in USD = catalog rate × duration, always a number (runware-sdk
  1.8.0 types ``VideoInferenceResult.cost`` as a float): for an offer the catalog has no price for
  (``google:3@3``, an id the catalog lacks) the rate is `emulator_rate` — an *emulator figure*, not
  Runware's price: the median per-second rate of the catalog's priced Runware offers. A failed result (moderation) is an item of ``data`` with ``status: "error"`` and a nested
  ``error: {code: "providerContentPolicyViolation", message}`` and ``cost: 0`` (the poll answers 200).
  An unknown ``taskUUID`` is a 404 ``taskNotFound``.
- ``authentication`` (``apiKey``) is accepted in place of the ``Authorization`` header.
- With ``EmulatorConfig.balance_usd`` set, a task costing more than what is left is refused with
  402 ``insufficientCredits`` (accepted tasks spend the cost they report).

``GET /runware/v1/media/{videoUUID}.mp4`` serves a finished video (no key needed, like a CDN URL)
for ``url_ttl_seconds`` after completion, then 410 Gone.

Validation (PROTOCOLS §2): ``positivePrompt`` 2–6000 characters; ``width``/``height`` together and
one of the model's sizes; either ``inputs.frameImages`` or ``width``/``height``; ``inputs.videoId``
with neither; ``model`` a Runware AIR id from the catalog (retired ones still served);
``duration`` one the model offers. Emulator choices: only ``deliveryMethod: "async"`` and
``outputFormat: "MP4"`` are served (anything else is a clear 400, never a mislabelled file);
frame images given as ``http(s)`` URLs or image UUIDs are refused (offline: send a data URI or
base64); a ``"last"`` frame image is accepted but only the first frame is drawn.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import SEED_MAX, Surface, decode_base64, decode_data_url, image_size, register_surface, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["RunwareSurface"]

_DEFAULT_CODES = {
    400: "invalidRequest",
    401: "invalidApiKey",
    402: "insufficientCredits",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    409: "conflictTaskUUID",
    410: "expired",
    429: "rateLimitExceeded",
    500: "internalServerError",
    502: "badGateway",
    503: "serviceUnavailable",
}


class _TaskError(Exception):
    def __init__(self, status: int, code: str, message: str, parameter: Optional[str] = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter
        self.extra = extra  # more fields of the error item (``allowedValues``)


_PARAMETER_TYPES = {"taskUUID": "string", "positivePrompt": "string", "negativePrompt": "string", "model": "string",
                    "width": "integer", "height": "integer", "duration": "float", "seed": "integer",
                    "numberResults": "integer", "outputQuality": "integer", "outputFormat": "string",
                    "deliveryMethod": "string", "includeCost": "boolean", "inputs": "object"}
_DOCS = {"videoInference": "https://runware.ai/docs/en/video-inference/api-reference",
         "getResponse": "https://runware.ai/docs/en/utilities/task-responses"}


def _parameter_facts(parameter: str, task_type: Any) -> dict:
    """``type`` (Runware's name for the parameter's type) and ``documentation`` (a link to it) of a
    validation error item, as Runware sends them: ``{"code": "invalidWidth", "message", "parameter":
    "width", "type": "integer", "min", "max", "multiplier", "documentation":
    ".../api-reference#request-width", "taskUUID"}`` (tests/published/runware/invalid-width-sample.json).
    ``width``'s type is from that answer and ``duration``'s ("float") from the documented unsupportedDuration
    one (unsupported-duration.json); the others are unconfirmed per parameter."""
    facts: dict[str, Any] = {}
    if parameter in _PARAMETER_TYPES:
        facts["type"] = _PARAMETER_TYPES[parameter]
    if task_type in _DOCS:
        facts["documentation"] = f"{_DOCS[task_type]}#request-{parameter.split('.')[0].lower()}"
    return facts


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register_surface
class RunwareSurface(Surface):
    """Runware ``POST /v1`` task arrays (videoInference, getResponse) and the video CDN."""

    protocol = "runware"

    def routes(self) -> list:
        from .runware_ws import runware_websocket_route

        return [
            Route("/", self._tasks, methods=["POST"]),
            runware_websocket_route(self, "/"),  # the official SDKs' default transport
            Route("/media/{name}", self._media, methods=["GET"]),
        ]

    # ------------------------------------------------------------------ errors
    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, task_type: Optional[str] = None,
              task_uuid: Optional[str] = None, **extra: Any) -> Response:
        """``{"data": [], "errors": [{code, message, parameter, taskType, taskUUID}]}``."""
        if code in (None, "unknown_url", "method_not_allowed", "rate_limit_exceeded",
                    "concurrency_limit_exceeded"):
            code = {"concurrency_limit_exceeded": "concurrencyLimitExceeded"}.get(
                code or "", _DEFAULT_CODES.get(status, "error"))
        item: dict[str, Any] = {"code": code, "message": message}
        if param:
            item["parameter"] = param
        if task_type:
            item["taskType"] = task_type
        if task_uuid:
            item["taskUUID"] = task_uuid
        return JSONResponse({"data": [], "errors": [item]}, status_code=status, headers=headers)

    # ------------------------------------------------------------------ POST /
    async def _tasks(self, request: Request) -> Response:
        # a bad body is answered after the fault, key and rate checks, as Runware orders them
        tasks = await self.json_body(request, expect=list, what="a JSON array of task objects")
        bad_body = tasks if isinstance(tasks, Response) else None
        tasks = None if bad_body is not None else tasks
        task_types = [t.get("taskType") for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []
        operation = "create" if "videoInference" in task_types else ("poll" if "getResponse" in task_types else "create")
        early = await self.pre(request, operation)
        if early is not None:
            return early
        key = self.bearer(request)
        if key is None:
            key = next((t.get("apiKey") for t in tasks or [] if isinstance(t, dict)
                        and t.get("taskType") == "authentication" and isinstance(t.get("apiKey"), str)), None)
        if not self.key_ok(key):
            self.emu.counters.incr(self.provider, "auth_failures")
            return self.error(401, "Invalid API key. Get one at https://my.runware.ai/signup",
                              code="invalidApiKey", param="apiKey", task_type="authentication")
        limited = self.limit(key, operation)
        if limited is not None:
            return limited
        if bad_body is not None:
            return bad_body
        if not tasks:
            return self.error(400, "The request body must be a non-empty array of tasks.", code="invalidRequest")

        data: list[dict] = []
        errors: list[tuple[int, dict]] = []
        for task in tasks:
            if not isinstance(task, dict):
                errors.append((400, {"code": "invalidTask", "message": "Each task must be a JSON object."}))
                continue
            task_type = task.get("taskType")
            try:
                if task_type == "authentication":
                    data.append({"taskType": "authentication",
                                 "connectionSessionUUID": self.emu.ids.uuid4("sessions")})
                elif task_type == "videoInference":
                    data.append(self._video_inference(task, key))
                elif task_type == "modelSearch":
                    data.append(self._model_search(task))
                elif task_type == "getResponse":
                    items, failed = self._get_response(task, request)
                    data.extend(items)
                    errors.extend((200, e) for e in failed)
                else:
                    raise _TaskError(400, "invalidTaskType",
                                     f"Unsupported taskType {task_type!r}: the emulator serves videoInference, "
                                     "getResponse, modelSearch and authentication.", "taskType")
            except _TaskError as exc:
                item = {"code": exc.code, "message": exc.message}
                if exc.parameter:
                    item["parameter"] = exc.parameter
                    item.update(_parameter_facts(exc.parameter, task_type))
                item.update(exc.extra)
                item["taskType"] = task_type if isinstance(task_type, str) else None
                if isinstance(task.get("taskUUID"), str):
                    item["taskUUID"] = task["taskUUID"]
                errors.append((exc.status, item))

        body: dict[str, Any] = {"data": data}
        if errors:
            body["errors"] = [e for _, e in errors]
        ok = bool(data) or any(status == 200 for status, _ in errors)
        status = 200 if ok or not errors else errors[0][0]
        headers = retry_headers(1.0) if status == 429 else None
        return self.post(operation, JSONResponse(body, status_code=status, headers=headers))

    # ------------------------------------------------------------------ videoInference
    def rate(self, offer, width: int, height: int, audio: bool) -> float:
        """USD per second this task reports and spends: the catalog's price, else `emulator_rate`."""
        rule = offer.price(width, height, audio)
        return rule.usd_per_second if rule is not None and rule.usd_per_second else self.emulator_rate()

    def emulator_rate(self) -> float:
        """The *emulator figure* (not a Runware price) for an offer the catalog has no price for:
        the median per-second rate of the catalog's priced offers at this provider ($0.10/s when
        none is priced), so ``cost`` is a number, as runware-sdk types it."""
        rates = sorted(r.usd_per_second for o in self.emu.catalog.offers(provider=self.provider) for r in o.prices
                       if r.usd_per_second)
        if not rates:
            return 0.10
        mid = len(rates) // 2
        return rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2

    def _offer(self, model: Any):
        for offer in self.emu.catalog.offers(provider=self.provider):
            if offer.id == model:
                return offer
        return self.open_offer(model) if isinstance(model, str) and ":" in model else None  # an AIR id

    def _video_inference(self, task: dict, key: Optional[str]) -> dict:
        emu = self.emu
        emu.counters.incr(self.provider, "create_calls")
        task_uuid = task.get("taskUUID")
        try:
            if not isinstance(task_uuid, str):
                raise ValueError
            uuidlib.UUID(task_uuid)
        except ValueError:
            raise _TaskError(400, "invalidTaskUUID", "Invalid value for 'taskUUID' parameter: it must be a UUID v4 "
                             "string chosen by the client.", "taskUUID") from None
        if emu.store.has_group(task_uuid):
            emu.counters.incr(self.provider, "conflicts")
            emu.counters.note_create(self.provider, [task_uuid], None, accepted=False)
            raise _TaskError(409, "conflictTaskUUID", f"A task with taskUUID {task_uuid} already exists; poll it "
                             "with getResponse instead of sending it again.", "taskUUID")

        model = task.get("model")
        offer = self._offer(model)
        if offer is not None and emu.is_shut_down(self.provider, offer):
            # unconfirmed wire: runware-sdk's own code for a model it no longer knows is ``unknownModel``
            raise _TaskError(400, "unknownModel", f"The model {model!r} is no longer available.", "model")
        if offer is None:
            known = sorted(o.id for o in emu.catalog.offers(provider=self.provider))
            raise _TaskError(400, "invalidModel", f"Invalid value for 'model' parameter: {model!r} is not a known "
                             f"video model. Known: {', '.join(known)}.", "model")

        # per-model fields as the runware-sdk schemas publish them (the catalog mirrors them):
        # a field the model's schema lacks is refused like the service does (``unknownParameter``)
        for name, capability in (("seed", "seed"), ("negativePrompt", "negative-prompt")):
            if name in task and capability not in offer.capabilities:
                raise _TaskError(400, "unknownParameter", f"Unknown parameter '{name}' for model {model}.", name)

        prompt = task.get("positivePrompt")
        lo, hi = self.info.prompt_chars
        if not isinstance(prompt, str) or not lo <= len(prompt.strip()) <= hi:
            raise _TaskError(400, "invalidPositivePrompt", f"Invalid value for 'positivePrompt' parameter: it must "
                             f"be a string of {lo} to {hi} characters.", "positivePrompt")
        negative = task.get("negativePrompt")
        if negative is not None and not isinstance(negative, str):
            raise _TaskError(400, "invalidNegativePrompt", "Invalid value for 'negativePrompt' parameter: it must be "
                             "a string.", "negativePrompt")
        if emu.guardrail_hit(prompt):
            raise _TaskError(400, "contentPolicyViolation", "The prompt was refused by the provider's content "
                             "policy (emulated guardrail).", "positivePrompt")

        delivery = task.get("deliveryMethod", "sync")
        if delivery != "async":
            raise _TaskError(400, "invalidDeliveryMethod", "Video inference in the emulator needs "
                             "'deliveryMethod': 'async' (then poll with getResponse).", "deliveryMethod")
        fmt = task.get("outputFormat", "MP4")
        if not isinstance(fmt, str) or fmt.upper() not in ("MP4", "WEBM", "MOV"):
            raise _TaskError(400, "invalidOutputFormat", "Invalid value for 'outputFormat' parameter: use MP4, "
                             "WEBM or MOV.", "outputFormat")
        if fmt.upper() != "MP4":
            raise _TaskError(400, "unsupportedOutputFormat", f"The emulator renders MP4 only (asked for {fmt}).",
                             "outputFormat")
        output_type = task.get("outputType", "URL")
        if output_type not in ("URL", ["URL"]):
            raise _TaskError(400, "unsupportedOutputType", "The emulator delivers videos as URLs only "
                             "('outputType': 'URL').", "outputType")
        quality = task.get("outputQuality")
        if quality is not None and (not _is_int(quality) or not 20 <= quality <= 99):
            raise _TaskError(400, "invalidOutputQuality", "Invalid value for 'outputQuality' parameter: an integer "
                             "from 20 to 99.", "outputQuality")
        max_results = min(4, offer.max_variations)
        n = task.get("numberResults", 1)
        if not _is_int(n) or not 1 <= n <= max_results:
            raise _TaskError(400, "invalidNumberResults", f"Invalid value for 'numberResults' parameter: an integer "
                             f"from 1 to {max_results}.", "numberResults")
        seed = task.get("seed")
        if seed is not None and (not _is_int(seed) or not 0 <= seed <= SEED_MAX):
            raise _TaskError(400, "invalidSeed", f"Invalid value for 'seed' parameter: an integer from 0 to "
                             f"{SEED_MAX}.", "seed")
        include_cost = task.get("includeCost", False)
        if not isinstance(include_cost, bool):
            raise _TaskError(400, "invalidIncludeCost", "Invalid value for 'includeCost' parameter: true or false.",
                             "includeCost")

        duration = task.get("duration")
        allowed_seconds = ", ".join(f"{s:g}" for s in offer.seconds)
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                     or float(duration) not in offer.seconds):
            # Runware's video-inference introduction: code unsupportedDuration, type "float", allowedValues
            raise _TaskError(400, "unsupportedDuration", f"Invalid value for duration parameter. This duration is "
                             f"not supported by the model architecture ({model} accepts {allowed_seconds} "
                             f"seconds).", "duration",
                             allowedValues=[int(v) if float(v).is_integer() else v for v in offer.seconds])

        inputs = task.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise _TaskError(400, "invalidInputs", "Invalid value for 'inputs' parameter: an object.", "inputs")
        frame_images = inputs.get("frameImages", task.get("frameImages"))
        video_id = inputs.get("videoId")
        width, height = task.get("width"), task.get("height")
        if (width is None) != (height is None):
            missing = "height" if height is None else "width"
            raise _TaskError(400, f"invalid{missing.capitalize()}", f"'width' and 'height' must be given together "
                             f"('{missing}' is missing).", missing)
        for name, value in (("width", width), ("height", height)):
            if value is not None and not _is_int(value):
                raise _TaskError(400, f"invalid{name.capitalize()}", f"Invalid value for '{name}' parameter: an "
                                 "integer.", name)

        source: Optional[Job] = None
        image: Optional[bytes] = None
        if video_id is not None:
            if width is not None or frame_images:
                raise _TaskError(400, "invalidInputs", "'inputs.videoId' cannot be combined with width/height or "
                                 "frameImages: the result keeps the source video's size.", "inputs.videoId")
            if "remix" not in offer.capabilities and "extend" not in offer.capabilities:
                raise _TaskError(400, "unsupportedInput", f"{model} cannot remix or extend a video "
                                 "('inputs.videoId').", "inputs.videoId")
            source = emu.store.get(str(video_id), self.provider)
            if source is None or source.spec is None or source.state(emu.clock.now())[0] != "completed":
                raise _TaskError(400, "invalidVideoId", f"'inputs.videoId' {video_id!r} is not a completed video "
                                 "of this account.", "inputs.videoId")
            width, height = source.width, source.height
        elif frame_images:
            if "image-to-video" not in offer.capabilities:
                raise _TaskError(400, "unsupportedInput", f"{model} has no image-to-video ('frameImages').",
                                 "inputs.frameImages")
            image = self._first_frame(frame_images)
            got = image_size(image)
            if got is None:
                raise _TaskError(400, "invalidFrameImages", "The frame image could not be decoded (send PNG, JPEG "
                                 "or WebP).", "inputs.frameImages")
            if width is None:
                width, height = _closest_size(offer.sizes, got)
        elif width is None:
            raise _TaskError(400, "invalidWidth", "Either 'inputs.frameImages' or 'width' and 'height' are "
                             "required.", "width")
        size = f"{width}x{height}"
        if size not in offer.sizes:
            raise _TaskError(400, "invalidWidth", f"Invalid dimensions {size} for {model}: supported sizes are "
                             f"{', '.join(offer.sizes)}.", "width")
        seconds = float(duration) if duration is not None else (
            source.seconds if source is not None and source.seconds in offer.seconds else offer.default_seconds)
        audio = _audio(offer, task.get("providerSettings"))

        if emu.over_concurrency(self.provider, key):
            emu.counters.incr(self.provider, "rate_limited")
            raise _TaskError(429, "concurrencyLimitExceeded", f"Too many tasks in progress for this key (at most "
                             f"{emu.config.concurrency_per_key}).")

        total = None if emu.moderation_hit(prompt) else self.rate(offer, width, height, audio) * seconds * n
        if not emu.charge(self.provider, total):
            left = (emu.config.balance_usd or 0.0) - emu.spent_usd.get(self.provider, 0.0)
            raise _TaskError(402, "insufficientCredits", f"Insufficient credits: this task costs ${total:.4f}, "
                             f"the balance is ${left:.4f}.")
        self._create_jobs(task_uuid, key, offer, prompt.strip(), width, height, seconds, audio, n, seed,
                          include_cost, image, source)
        emu.counters.incr(self.provider, "creates")
        emu.counters.note_create(self.provider, [task_uuid], prompt.strip(), accepted=True)
        return {"taskType": "videoInference", "taskUUID": task_uuid}

    def _first_frame(self, frame_images: Any) -> bytes:
        if not isinstance(frame_images, list) or not frame_images:
            raise _TaskError(400, "invalidFrameImages", "'inputs.frameImages' must be a non-empty array.",
                             "inputs.frameImages")
        chosen = None
        for item in frame_images:
            if isinstance(item, str):
                value, frame = item, None
            elif isinstance(item, dict) and isinstance(item.get("image"), str):
                value, frame = item["image"], item.get("frame")
            else:
                raise _TaskError(400, "invalidFrameImages", "Each frame image is a string or an object with "
                                 "'image' (and optional 'frame').", "inputs.frameImages")
            if frame not in (None, "first", "last") and not _is_int(frame):
                raise _TaskError(400, "invalidFrameImages", "'frame' is 'first', 'last' or a frame number.",
                                 "inputs.frameImages")
            if chosen is None and frame in (None, "first", 0):
                chosen = value
        if chosen is None:
            chosen = frame_images[0] if isinstance(frame_images[0], str) else frame_images[0]["image"]
        if chosen.startswith(("http://", "https://")):
            raise _TaskError(400, "invalidFrameImages", "The sorakit emulator works offline and does not fetch "
                             "image URLs: send a data URI or base64 image.", "inputs.frameImages")
        data = decode_data_url(chosen) if chosen.startswith("data:") else None
        if data is None and not chosen.startswith("data:"):
            try:
                uuidlib.UUID(chosen)
            except ValueError:
                data = decode_base64(chosen)
            else:
                raise _TaskError(400, "invalidFrameImages", f"Unknown image UUID {chosen}: the emulator has no image "
                                 "uploads; send a data URI or base64 image.", "inputs.frameImages")
        if not data:
            raise _TaskError(400, "invalidFrameImages", "The frame image is neither a valid data URI nor base64.",
                             "inputs.frameImages")
        return data

    def _create_jobs(self, task_uuid: str, key: Optional[str], offer, prompt: str, width: int, height: int,
                     seconds: float, audio: bool, n: int, seed: Optional[int], include_cost: bool,
                     image: Optional[bytes], source: Optional[Job]) -> list[Job]:
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, offer.model, seconds, width, height,
                                              fails=blocked is not None)
        unit_cost = round(self.rate(offer, width, height, audio) * seconds, 6)
        jobs = []
        for i in range(n):
            job_seed = (seed + i) % (SEED_MAX + 1) if seed is not None else emu.new_seed()
            spec = None
            if blocked is None:
                spec = RenderSpec(model=offer.model, prompt=prompt, seed=job_seed, width=width, height=height,
                                  seconds=seconds, fps=int(round(offer.fps)), audio=audio, input_image=image,
                                  source_key=source.spec.key() if source is not None else None)
            job = Job(
                id=emu.ids.uuid4(),
                provider=self.provider,
                key=key_fingerprint(key),
                model=offer.model,
                provider_model=offer.id,
                prompt=prompt,
                width=width,
                height=height,
                seconds=seconds,
                fps=offer.fps,
                audio=audio,
                seed=job_seed,
                created_at=created,
                start_at=start,
                finish_at=finish,
                kind="remix" if source is not None else "generate",
                source_id=source.id if source is not None else None,
                error=("providerContentPolicyViolation", "The request was flagged by content moderation (emulated: the prompt "
                       f"contains {blocked!r}).") if blocked else None,
                group=task_uuid,
                index=i,
                cost=0.0 if blocked else unit_cost,
                spec=spec,
                extra={"include_cost": include_cost},
            )
            jobs.append(emu.add_job(job))
        return jobs

    # ------------------------------------------------------------------ modelSearch
    def _model_search(self, task: dict) -> dict:
        """``modelSearch`` (runware-sdk ``ModelSearchParams``/``ModelSearchResult``): ``{taskType,
        taskUUID, totalResults, results: [{air, name, status, capabilities}]}`` with ``search``,
        ``capabilities``, ``limit`` and ``offset``. Capabilities are tagged ``io:text-to-video``,
        ``io:image-to-video`` (Runware's model cards)."""
        results = []
        for o in self.emu.listed_offers(self.provider):
            caps = ["io:text-to-video"] + (["io:image-to-video"] if "image-to-video" in o.capabilities else [])
            results.append({"air": o.id, "name": self.emu.catalog.models[o.model].title, "status": "live",
                            "category": "video", "capabilities": caps})
        search = task.get("search")
        if isinstance(search, str) and search.strip():
            results = [r for r in results if search.lower() in (r["air"] + " " + r["name"]).lower()]
        wanted = task.get("capabilities")
        if isinstance(wanted, list) and wanted:
            results = [r for r in results if set(wanted) & set(r["capabilities"])]
        offset = task.get("offset", 0) if _is_int(task.get("offset", 0)) else 0
        limit = task.get("limit", 20) if _is_int(task.get("limit", 20)) else 20
        return {"taskType": "modelSearch", "taskUUID": task.get("taskUUID"), "totalResults": len(results),
                "results": results[offset:offset + max(1, min(limit, 100))]}

    # ------------------------------------------------------------------ getResponse
    def _get_response(self, task: dict, request: Request) -> tuple[list[dict], list[dict]]:
        emu = self.emu
        task_uuid = task.get("taskUUID")
        if not isinstance(task_uuid, str):
            raise _TaskError(400, "invalidTaskUUID", "getResponse needs the 'taskUUID' of an earlier task.",
                             "taskUUID")
        emu.counters.incr(self.provider, "polls")
        jobs = emu.store.group(task_uuid)
        if not jobs:
            raise _TaskError(404, "taskNotFound", f"No task with taskUUID {task_uuid} was found.", "taskUUID")
        now = emu.clock.now()
        data, errors = [], []
        for job in jobs:
            status, progress = job.state(now)
            if status in ("queued", "in_progress"):
                data.append({"taskType": "videoInference", "taskUUID": task_uuid, "status": "processing"})
            elif status == "completed":
                item = {
                    "taskType": "videoInference",
                    "taskUUID": task_uuid,
                    "status": "success",
                    "videoUUID": job.id,
                    "videoURL": self.video_url(request, job),
                    "seed": job.seed,
                    "outputs": {"videoId": job.id},
                }
                if job.extra.get("include_cost"):
                    item["cost"] = job.cost
                data.append(item)
            elif emu.config.runware_failures_in == "errors":
                # Runware's docs: failed generations are moved to the ``errors`` array
                code, message = job.error or ("error", "The task failed.")
                errors.append({"code": code, "status": "error", "message": message,
                               "documentation": _DOCS["videoInference"], "taskType": "videoInference",
                               "taskUUID": task_uuid})
            else:
                # a failed result is an item of ``data`` with a nested error (PROTOCOLS §2; the
                # runware-sdk reads ``{error: {code, message}}``); ``runware_failures_in="errors"``
                # gives the other published form
                code, message = job.error or ("error", "The task failed.")
                item = {"taskType": "videoInference", "taskUUID": task_uuid, "status": "error",
                        "error": {"code": code, "message": message}}
                if job.extra.get("include_cost"):
                    item["cost"] = 0.0
                data.append(item)
        return data, errors

    def video_url(self, request: Request, job: Job) -> str:
        return f"{self.base_url(request)}/media/{job.id}.mp4"

    # ------------------------------------------------------------------ media
    async def _media(self, request: Request) -> Response:
        early = await self.pre(request, "download")
        if early is not None:
            return early
        name = request.path_params["name"]
        video_uuid = name[:-4] if name.endswith(".mp4") else name
        job = self.emu.store.get(video_uuid, self.provider)
        now = self.emu.clock.now()
        if job is None or job.state(now)[0] != "completed":
            return self.error(404, f"No video at {request.url.path}.", code="notFound")
        if self.link_expired(job, now):
            return self.error(410, "This video URL has expired; generate the video again.", code="expired")
        return self.post("download", await self.rendered(request, job, "the video"))


def _closest_size(sizes, image_wh: tuple[int, int]) -> tuple[int, int]:
    """The offered size whose aspect ratio is nearest the image's."""
    iw, ih = image_wh
    target = iw / ih

    def distance(size: str) -> float:
        w, h = (int(v) for v in size.split("x"))
        return abs(w / h - target)

    best = min(sizes, key=distance)
    w, h = (int(v) for v in best.split("x"))
    return w, h


def _audio(offer, provider_settings: Any) -> bool:
    if offer.audio == "always":
        return True
    if offer.audio == "never":
        return False
    if isinstance(provider_settings, dict):
        for settings in provider_settings.values():
            if isinstance(settings, dict):
                for name in ("generateAudio", "audio"):
                    if isinstance(settings.get(name), bool):
                        return settings[name]
    return offer.default_audio
