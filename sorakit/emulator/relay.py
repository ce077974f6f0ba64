"""A "unified" ``videos/generations`` relay as the emulator serves it, under ``/relay/v1``.

| method + path                      | does                                                        |
|------------------------------------|-------------------------------------------------------------|
| POST /videos/generations           | create: ``{model, prompt, duration, resolution, aspect_ratio, n, image?, webhook_url?}`` -> ``{id, status}`` |
| GET /videos/generations/{id}       | ``{id, status, progress, data: [{url, expires_at}], error?}`` |
| POST /video/generations, GET /video/generations/{id} | the same (new-api's spelling)     |
| GET /files/{file}                  | a result video (public, like a signed CDN link; Range requests) |

Sizes: ``resolution`` (``480p``/``720p``/``1080p``) × ``aspect_ratio`` (``16:9``/``9:16``/``1:1``)
-> 854x480, 1280x720, 1920x1080, 480x854, ... (``1:1``: 480/720/1080 square). For a model the
catalog knows (a relay id such as ``veo3-fast`` or ``kling-v3``, a canonical name, or any
provider's id), the size and ``duration`` must be among the model's relay offer (or, without one,
its first offer), and ``n`` at most its ``max_variations``.

Choices where there is no standard: a model name the catalog does not know is served as a
permissive upstream would (``duration`` 1–20, any listed resolution, ``n`` 1–4), so a relay
registered with its own model names can be tried offline; ``webhook_url`` is accepted and never
called (the emulator is offline); ``image`` must be a ``data:`` URL (an ``http(s)`` URL is refused,
nothing is fetched); keys are accepted as ``Authorization: Bearer``, ``x-api-key`` or ``api-key``.
``n`` results are ``n`` jobs of one task; the task is ``completed`` once all are, ``failed`` when a
moderation term blocks the prompt (never billed). Errors are ``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._surface import Surface, decode_data_url, image_size, register_surface, retry_headers
from ._store import Job, key_fingerprint

__all__ = ["RelaySurface", "SIZES"]

SIZES = {
    ("480p", "16:9"): (854, 480), ("480p", "9:16"): (480, 854), ("480p", "1:1"): (480, 480),
    ("720p", "16:9"): (1280, 720), ("720p", "9:16"): (720, 1280), ("720p", "1:1"): (720, 720),
    ("1080p", "16:9"): (1920, 1080), ("1080p", "9:16"): (1080, 1920), ("1080p", "1:1"): (1080, 1080),
}
"""(resolution, aspect_ratio) -> (width, height) the relay produces."""

_FIELDS = {"model", "prompt", "duration", "resolution", "aspect_ratio", "n", "image", "webhook_url",
           "negative_prompt", "seed"}
_STATUS = {"queued": "queued", "in_progress": "processing", "completed": "completed", "failed": "failed"}
MAX_PROMPT = 32000


def _tier_aspect(size: str) -> Optional[tuple[str, str]]:
    w, h = (int(v) for v in size.split("x"))
    for k, (sw, sh) in SIZES.items():
        if (sw, sh) == (w, h):
            return k
    # 864x480-style sizes of other providers: same tier and orientation
    short = min(w, h)
    tier = "480p" if short <= 540 else "720p" if short <= 800 else "1080p" if short <= 1200 else None
    if tier is None:
        return None
    return tier, "16:9" if w > h else "9:16" if w < h else "1:1"


@register_surface
class RelaySurface(Surface):
    """``/v1/videos/generations`` (and new-api's ``/v1/video/generations``)."""

    protocol = "relay"

    def routes(self) -> list:
        routes = []
        for base in ("/videos/generations", "/video/generations"):
            routes.append(Route(base, self._wrap("create", self._create), methods=["POST"]))
            routes.append(Route(base + "/{task_id}", self._wrap("poll", self._retrieve), methods=["GET"]))
        routes.append(Route("/files/{file_name}", self._file, methods=["GET"]))
        return routes

    # ------------------------------------------------------------------ errors
    def error(self, status: int, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
              headers: Optional[dict] = None, kind: Optional[str] = None, **extra: Any) -> Response:
        """``{"error": {"message", "type", "code"}}``."""
        type_ = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
        if code is None:
            code = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed"}.get(status)
        err: dict[str, Any] = {"message": message, "type": type_, "code": code}
        if param:
            err["param"] = param
        return JSONResponse({"error": err}, status_code=status, headers=headers)

    def _invalid(self, message: str, param: Optional[str] = None, code: str = "invalid_parameter") -> Response:
        return self.error(400, message, code=code, param=param)

    def bad_body(self, message: str, problem: str) -> Response:
        return self._invalid(message)

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def api_key(request: Request) -> Optional[str]:
        """The key from ``Authorization: Bearer``, ``x-api-key`` or ``api-key``."""
        return (Surface.bearer(request) or request.headers.get("x-api-key")
                or request.headers.get("api-key") or None)


    def resolve(self, name: str):
        """(canonical model, offer or None) for a model name; canonical None when unknown."""
        cat = self.emu.catalog
        for o in cat.offers(provider=self.provider):
            if o.id == name:
                return o.model, o
        model = name if name in cat.models else next((o.model for o in cat.offers() if o.id == name), None)
        if model is None:
            return None, None
        offers = cat.offers(model=model)
        return model, next((o for o in offers if o.provider == self.provider), offers[0])

    # ------------------------------------------------------------------ objects
    def task(self, group: str, base: str) -> dict:
        """The status object of one create (its ``n`` jobs), as of now; result URLs under ``base``."""
        jobs = self.emu.store.group(group)
        now = self.emu.clock.now()
        states = [j.state(now) for j in jobs]
        statuses = {s for s, _ in states}
        first = jobs[0]
        obj: dict[str, Any] = {
            "id": group, "object": "video.generation", "model": first.provider_model,
            "created_at": int(first.created_at),
        }
        if "failed" in statuses and all(j.terminal(now) for j in jobs if j.error):
            failed = next(j for j in jobs if j.error)
            obj.update(status="failed", progress=100,
                       error={"code": failed.error[0], "message": failed.error[1]})
            return obj
        if statuses == {"completed"}:
            ttl = self.emu.config.url_ttl_seconds
            obj.update(status="completed", progress=100, completed_at=int(max(j.finish_at for j in jobs)),
                       data=[{"url": f"{base}/files/{j.id}.mp4", "expires_at": int(j.finish_at + ttl)}
                             for j in jobs])
            return obj
        status = "processing" if statuses & {"in_progress", "completed"} else "queued"
        obj.update(status=status, progress=min(p for _, p in states) if status == "processing" else 0)
        return obj

    # ------------------------------------------------------------------ create
    async def _create(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "create_calls")
        body = await self.json_body(request)
        if isinstance(body, Response):
            return body
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            return self._invalid(f"Unknown parameter '{unknown[0]}'.", unknown[0], "unknown_parameter")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._invalid("'prompt' is required.", "prompt", "missing_required_parameter")
        if len(prompt) > MAX_PROMPT:
            return self._invalid(f"'prompt' is longer than {MAX_PROMPT} characters.", "prompt")
        name = body.get("model")
        if not isinstance(name, str) or not name.strip():
            return self._invalid("'model' is required.", "model", "missing_required_parameter")
        model, offer = self.resolve(name)
        resolution = body.get("resolution", "720p")
        aspect = body.get("aspect_ratio", "16:9")
        if (resolution, aspect) not in SIZES:
            return self._invalid(f"Unsupported resolution/aspect_ratio {resolution!r}/{aspect!r}: resolution is "
                                 f"480p, 720p or 1080p; aspect_ratio 16:9, 9:16 or 1:1.", "resolution")
        width, height = SIZES[(resolution, aspect)]
        allowed_seconds = [int(s) for s in offer.seconds] if offer else list(range(1, 21))
        max_n = offer.max_variations if offer else 4
        duration = body.get("duration", allowed_seconds[0])
        if isinstance(duration, float) and duration.is_integer():
            duration = int(duration)
        if isinstance(duration, bool) or not isinstance(duration, int):
            return self._invalid("'duration' must be an integer number of seconds.", "duration", "invalid_type")
        if duration not in allowed_seconds:
            return self._invalid(f"'duration' {duration} is not supported for {name}; allowed: "
                                 f"{', '.join(map(str, allowed_seconds))}.", "duration")
        if offer is not None:
            formats = {_tier_aspect(s) for s in offer.sizes}
            if (resolution, aspect) not in formats:
                listed = ", ".join(f"{r} {a}" for r, a in sorted(f for f in formats if f))
                return self._invalid(f"{name} does not offer {resolution} {aspect}; it offers {listed}.",
                                     "resolution")
            for size in offer.sizes:  # produce the offer's own size for this tier (864x480 vs 854x480)
                if _tier_aspect(size) == (resolution, aspect):
                    width, height = (int(v) for v in size.split("x"))
                    break
        n = body.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= max_n:
            return self._invalid(f"'n' must be an integer from 1 to {max_n} for {name}.", "n")
        image = None
        if body.get("image") is not None:
            value = body["image"]
            image = decode_data_url(value) if isinstance(value, str) else None
            if image is None:
                return self._invalid("'image' must be a base64 data: URL (the emulator is offline and fetches "
                                     "no URLs).", "image")
            if image_size(image) is None:
                return self._invalid("'image' could not be decoded (send PNG, JPEG or WebP).", "image")
            if offer is not None and "image-to-video" not in offer.capabilities:
                return self._invalid(f"{name} has no image-to-video.", "image")
        if self.emu.guardrail_hit(prompt):
            return self._invalid("The prompt was rejected by the upstream content policy (emulated guardrail).",
                                 "prompt", "content_policy_violation")
        if self.emu.over_concurrency(self.provider, key):
            self.emu.counters.incr(self.provider, "rate_limited")
            return self.error(429, "Too many concurrent generations for this key.", code="concurrency_limit",
                              headers=retry_headers(1.0))
        group = "gen_" + self.emu.ids.hex(12)
        fps = int(round(offer.fps)) if offer else 24
        audio = bool(offer and offer.audio != "never" and (offer.audio == "always" or offer.default_audio))
        for i in range(n):
            self._new_job(key, group, i, model or name, name, prompt, width, height, float(duration), fps, audio,
                          image)
        self.emu.counters.incr(self.provider, "creates")
        self.emu.counters.note_create(self.provider, [group], prompt, accepted=True)
        return JSONResponse({"id": group, "object": "video.generation", "status": "queued", "model": name,
                             "created_at": int(self.emu.clock.now())})

    def _new_job(self, key, group, index, model, provider_model, prompt, width, height, seconds, fps, audio,
                 image) -> Job:
        from ._render import RenderSpec

        emu = self.emu
        blocked = emu.moderation_hit(prompt)
        created, start, finish = emu.timeline(self.provider, key, model, seconds, width, height,
                                              fails=blocked is not None)
        seed = emu.new_seed()
        spec = None if blocked else RenderSpec(model=model, prompt=prompt, seed=seed, width=width, height=height,
                                               seconds=seconds, fps=fps, audio=audio, input_image=image)
        job = Job(
            id=f"{group}-{index}", provider=self.provider, key=key_fingerprint(key), model=model,
            provider_model=provider_model, prompt=prompt, width=width, height=height, seconds=seconds,
            fps=fps, audio=audio, seed=seed, created_at=created, start_at=start, finish_at=finish,
            error=("content_policy_violation", f"The upstream model refused the prompt (emulated: it contains "
                                               f"{blocked!r}).") if blocked else None,
            group=group, index=index, spec=spec,
        )
        return emu.add_job(job)

    # ------------------------------------------------------------------ read
    async def _retrieve(self, request: Request, key: Optional[str]) -> Response:
        self.emu.counters.incr(self.provider, "polls")
        group = request.path_params["task_id"]
        jobs = self.emu.store.group(group)
        if not jobs or jobs[0].provider != self.provider:
            return self.error(404, f"Task {group!r} does not exist.", code="task_not_found")
        return JSONResponse(self.task(group, self.base_url(request)))

    async def _file(self, request: Request) -> Response:
        early = await self.pre(request, "download")
        if early is not None:
            return early
        name = request.path_params["file_name"]
        job_id = name[:-4] if name.endswith(".mp4") else name
        job = self.emu.store.get(job_id, self.provider)
        now = self.emu.clock.now()
        if job is None or job.spec is None or job.state(now)[0] != "completed":
            return self.error(404, f"File {name!r} not found.", code="file_not_found")
        if self.link_expired(job, now):
            return self.error(404, f"The link to {name!r} has expired.", code="file_expired")
        return self.post("download", await self.rendered(request, job, repr(name)))
