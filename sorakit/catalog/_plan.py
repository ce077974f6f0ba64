"""Validate a `VideoRequest` against the catalog, before any network call, into a `Plan`.

A plan is the request with every default filled in and every limit checked: the offer that will
serve it, the exact size and duration, the provider's model id, the input image's bytes and hash,
and the price rule. Each rejection is a `ValidationError` naming the field, the value given and
what is allowed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
import hashlib
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .._exceptions import ValidationError
from .._types import SEED_MAX, VideoRequest
from ._catalog import Catalog, Model, Offer, PriceRule, ProviderInfo, load_catalog, parse_size

__all__ = ["Plan", "plan", "split_model", "SEED_MAX", "UNCATALOGUED_NOTE"]

log = logging.getLogger("sorakit.catalog")
UNCATALOGUED_NOTE = ("sorakit: {id!r} is not in the catalog at {provider}: sent as is, its fields unchecked "
                     "(the provider's answer judges), price unknown{hint}")
"""The one line said once per (provider, model id) per process when an uncatalogued id is planned."""
_said: set[tuple[str, str]] = set()

ACTIONS = ("generate", "remix", "extend", "edit")
_CAPABILITY_OF_ACTION = {"remix": "remix", "extend": "extend", "edit": "edit"}
_WHY_NOT = {  # (protocol, option) -> why the protocol refuses it, added to the message
    ("gemini", "seed"): "seed is accepted only on Vertex AI, not in Gemini API-key mode",
    ("gemini", "audio"): "generateAudio is accepted only on Vertex AI, not in Gemini API-key mode, "
                         "where Veo always generates audio",
}


@dataclass(frozen=True)
class Plan:
    """A validated request: what exactly will be sent, where, and what it should cost."""

    request: VideoRequest
    model: Model
    offer: Offer
    provider: ProviderInfo
    prompt: str
    width: int
    height: int
    seconds: float
    fps: float
    audio: bool
    variations: int
    seed: Optional[int]
    negative_prompt: Optional[str]
    action: str
    source_video_id: Optional[str]
    input_image: Optional[bytes]
    """Image bytes for image-to-video (None when absent or given as a URL)."""
    input_image_url: Optional[str]
    """An ``http(s)://`` URL given instead of bytes (passed on as is)."""
    input_image_sha256: Optional[str]
    input_image_mime: Optional[str]
    price: Optional[PriceRule]
    emulated: bool
    source_video: Optional[bytes] = None
    """The source video's bytes, for a provider that takes them inline (a vertex extension of a
    video not in Cloud Storage); filled by the engine from the source job's cached file."""
    source_video_sha256: Optional[str] = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def provider_model(self) -> str:
        return self.offer.id

    @property
    def catalogued(self) -> bool:
        """False for a provider model id the catalog does not list (sent as is, limits unchecked)."""
        return self.offer.catalogued

    @property
    def rate(self) -> Optional[float]:
        """USD per second of output, or None when unknown."""
        return None if self.price is None else self.price.usd_per_second

    @property
    def estimated_cost(self) -> Optional[float]:
        """Rate × seconds × variations; None when the price is unknown (never 0 for unknown)."""
        if self.price is None or self.price.usd_per_second is None:
            return None
        return round(self.price.usd_per_second * self.seconds * self.variations, 6)


def _say_uncatalogued(cat: Catalog, provider: str, model_id: str) -> None:
    """`UNCATALOGUED_NOTE` on the ``sorakit.catalog`` logger, once per (provider, id) per process,
    with "did you mean" when the id is close to a catalog name or an id the catalog has there."""
    if (provider, model_id) in _said:
        return
    _said.add((provider, model_id))
    names = list(cat.models) + [o.id for o in cat.offers(provider=provider)]
    close = difflib.get_close_matches(model_id, names, n=1, cutoff=0.8)
    hint = f" (the catalog has {close[0]!r}: did you mean it?)" if close else ""
    log.warning(UNCATALOGUED_NOTE.format(id=model_id, provider=provider, hint=hint))


def _choice(field: str, value, allowed, message=None) -> ValidationError:
    return ValidationError(field, value, allowed, message)


def _suggest(value: str, names) -> str | None:
    close = difflib.get_close_matches(str(value), list(names), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _number(field: str, value, allowed_text) -> float:
    if isinstance(value, bool):
        raise _choice(field, value, allowed_text)
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _choice(field, value, allowed_text) from None
    else:
        raise _choice(field, value, allowed_text)
    if not math.isfinite(number):
        raise _choice(field, value, allowed_text)
    return number


def _fmt_seconds(values) -> list[str]:
    return [f"{v:g}" for v in values]


def _pick_offer(req: VideoRequest, cat: Catalog, model: Model, today: dt.date, any_date: bool) -> Offer:
    """The offer that serves ``req``; ``any_date`` takes offers a provider no longer serves too."""
    if req.provider is None:
        serving = [o for o in model.offers if any_date or o.serves_on(today)]
        if not serving:
            raise _choice(
                "model", req.model,
                [m.name for m in cat if any(o.serves_on(today) for o in m.offers)],
                f"{model.title} is no longer served by any provider"
                + (f" (shut down {model.shut_down})" if model.shut_down else "")
                + "; the emulator still serves it",
            )
        return serving[0]
    if req.provider not in cat.providers:
        raise _choice("provider", req.provider, sorted(cat.providers), _suggest(req.provider, cat.providers))
    offer = model.offer(req.provider)
    if offer is None:
        raise _choice("provider", req.provider, list(model.providers), f"{model.title} is not offered by {req.provider}")
    if not any_date and not offer.serves_on(today):
        live = [o.model for o in cat.offers(provider=req.provider, live_on=today)]
        raise _choice(
            "model", req.model, live or ["(none)"],
            f"{req.provider} stopped serving {model.title} on {offer.served_until}; "
            f"the emulator still serves it (emulate=True)",
        )
    return offer


def _size(req: VideoRequest, offer: Offer) -> tuple[int, int]:
    if (req.width is None) != (req.height is None):
        missing = "height" if req.height is None else "width"
        given = "width" if missing == "height" else "height"
        raise _choice(missing, None, "an integer given together with " + given,
                      f"{given} was given without {missing}")
    if req.width is not None:
        for name, v in (("width", req.width), ("height", req.height)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise _choice(name, v, "a positive integer")
        size = f"{req.width}x{req.height}"
        if req.size is not None and str(req.size).lower() != size:
            raise _choice("size", req.size, [size], f"size disagrees with width/height {size}")
    elif req.size is not None:
        size = str(req.size).strip().lower()
        try:
            parse_size(size)
        except ValueError:
            raise _choice("size", req.size, list(offer.sizes), "size must be WIDTHxHEIGHT") from None
    else:
        size = offer.default_size
    if offer.catalogued and size not in offer.sizes:
        raise _choice("size", size, list(offer.sizes), f"{offer.model} at {offer.provider}")
    w, h = parse_size(size)
    if w <= 0 or h <= 0:
        raise _choice("size", size, "WIDTHxHEIGHT with positive numbers, e.g. 1280x720")
    return w, h


def _image(req: VideoRequest) -> tuple[Optional[bytes], Optional[str]]:
    """(bytes, url) of the input image; validates that it can be read."""
    value = req.input_image
    allowed = "a readable image file path, image bytes, or an http(s):// or data: URL"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, Path) or isinstance(value, str):
        text = str(value)
        if text.startswith(("http://", "https://")):
            return None, text
        if text.startswith("data:"):
            head, _, payload = text.partition(",")
            try:
                return base64.b64decode(payload, validate=True), None
            except (binascii.Error, ValueError):
                raise _choice("input_image", text[:40] + "...", allowed, "the data URL is not valid base64") from None
        path = Path(text).expanduser()
        if not path.is_file():
            raise _choice("input_image", text, allowed, "no such file")
        return path.read_bytes(), None
    raise _choice("input_image", value, allowed)


def _inspect_image(data: bytes) -> tuple[int, int, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            return img.width, img.height, Image.MIME.get(img.format or "", "application/octet-stream")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _choice("input_image", f"<{len(data)} bytes>", "PNG, JPEG or WebP image data",
                      "the input image cannot be read") from None


def split_model(model: object, provider: object = None, providers: Optional[Iterable[str]] = None) -> tuple[object, object]:
    """``"model@provider"`` into ``(model, provider)``: the one place this spelling is parsed.

    A plain model name passes through with ``provider`` unchanged. ``"veo-3-fast@runware"`` with
    ``provider=None`` (or ``"runware"``) gives ``("veo-3-fast", "runware")``; with a different
    ``provider=`` it is a `ValidationError` naming both. The provider is what follows the *last*
    ``@``, so a provider id that contains one (a Runware AIR id) can be named:
    ``"google:3@3@runware"``. Given the known ``providers``, a string whose tail is not one of them
    is a whole model id when ``provider=`` is given (``model="google:3@3", provider="runware"``).
    Non-strings pass through for the field checks to judge.
    """
    if not isinstance(model, str) or "@" not in model:
        return model, provider
    name, _, at = model.rpartition("@")
    name, at = name.strip(), at.strip()
    known = None if providers is None else set(providers)
    if known is not None and at not in known:
        if provider is not None:
            return model, provider  # the provider's own id, '@' and all
        if name and at:
            raise _choice("provider", at, sorted(known),
                          (_suggest(at, known) or f"{at!r} is not a provider")
                          + f"; a model id that contains '@' (a Runware AIR id) needs its provider named: "
                          f"'{model}@runware' or provider='runware'")
    if not name or not at:
        raise _choice("model", model, "a model name, or 'model@provider' (e.g. 'veo-3-fast@runware')")
    if provider is not None and provider != at:
        raise _choice("provider", provider, [at],
                      f"model={model!r} names provider {at!r} but provider={provider!r} was given; "
                      f"name the provider once")
    return name, at


def plan(
    request: VideoRequest,
    catalog: Catalog | None = None,
    *,
    emulated: bool = False,
    today: dt.date | None = None,
    check_dates: bool = True,
) -> Plan:
    """Check `request` against the catalog and fill in defaults; raise `ValidationError` on any fault.

    ``emulated`` allows models a provider no longer serves (the emulator keeps serving them) and is
    recorded in `Plan.emulated`. ``today`` is the date used for shut-down checks (default: today,
    UTC). ``check_dates=False`` skips those checks without claiming emulation: a plan rebuilt from
    a ledger row (the job was accepted when it was sent; a resume must not refuse it because the
    model has been retired since).
    """
    cat = catalog or load_catalog()
    today = today or dt.datetime.now(dt.timezone.utc).date()
    req = request
    if req.model is None:
        if cat.default_model is None:
            raise _choice("model", None, sorted(cat.models), "this catalog names no default_model")
        req = req.replace(model=cat.default_model)
    if isinstance(req.model, str) and "@" in req.model:
        model_name, provider_name = split_model(req.model, req.provider, cat.providers)
        req = req.replace(model=model_name, provider=provider_name)

    model = offer = None
    if isinstance(req.model, str) and req.model.strip() and req.model not in cat.models and req.provider is not None:
        # the open catalog: a provider's own model id, named with its provider
        if req.provider not in cat.providers:
            raise _choice("provider", req.provider, sorted(cat.providers), _suggest(req.provider, cat.providers))
        known = cat.offer_by_id(req.provider, req.model)
        if known is not None:  # the provider's id of a catalogued model: the catalog's limits and price
            req = req.replace(model=known.model)
        else:
            if req.model != req.model.strip() or any(c.isspace() for c in req.model):
                raise _choice("model", req.model, "a model name, or a provider's model id without spaces")
            model = cat.open_model(req.provider, req.model)
            offer = model.offers[0]
            _say_uncatalogued(cat, req.provider, req.model)
    if model is None:
        if not isinstance(req.model, str) or req.model not in cat.models:
            raise _choice("model", req.model, sorted(cat.models), _suggest(str(req.model), cat.models)
                          or "a model the catalog does not list can be called by naming its provider: "
                             "'<provider's model id>@<provider>'")
        model = cat.models[req.model]
        offer = _pick_offer(req, cat, model, today, emulated or not check_dates)
    provider = cat.providers[offer.provider]

    # prompt
    if not isinstance(req.prompt, str):
        raise _choice("prompt", req.prompt, "a string")
    lo, hi = provider.prompt_chars
    n = len(req.prompt.strip())
    if not lo <= n <= hi:
        raise _choice("prompt", req.prompt, f"{lo} to {hi} characters at {provider.name}",
                      f"the prompt has {n} characters")

    # action and source video
    if req.action not in ACTIONS:
        raise _choice("action", req.action, list(ACTIONS))
    if req.action == "generate":
        if req.source_video_id is not None:
            raise _choice("action", req.action, ["remix", "extend", "edit"],
                          "source_video_id was given: say which action uses it")
    else:
        cap = _CAPABILITY_OF_ACTION[req.action]
        if cap not in offer.capabilities:
            raise _choice("action", req.action,
                          ["generate"] + [a for a in ("remix", "extend", "edit") if a in offer.capabilities],
                          f"{offer.model} at {offer.provider} cannot {req.action}")
        if not req.source_video_id or not isinstance(req.source_video_id, str):
            raise _choice("source_video_id", req.source_video_id, f"the provider video id of an earlier job, for {req.action}")

    width, height = _size(req, offer)

    # duration (of an extension: what it adds, where the offer says that differs)
    choices, default = offer.seconds, offer.default_seconds
    if req.action == "extend" and offer.extend_seconds:
        choices, default = offer.extend_seconds, offer.extend_seconds[0]
    allowed_seconds = _fmt_seconds(choices) if offer.catalogued else "a positive number of seconds"
    seconds = default if req.seconds is None else _number("seconds", req.seconds, allowed_seconds)
    if not offer.catalogued:
        if not seconds > 0:
            raise _choice("seconds", req.seconds, allowed_seconds)
    elif seconds not in choices:
        raise _choice("seconds", req.seconds, allowed_seconds,
                      f"{offer.model} at {offer.provider}" + (" extends by" if choices is not offer.seconds else ""))

    # variations
    v = req.variations
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= offer.max_variations:
        raise _choice("variations", v, f"an integer from 1 to {offer.max_variations} at {offer.provider}")

    # seed
    seed = req.seed
    if seed is not None:
        if "seed" not in offer.capabilities:
            with_seed = [o.provider for o in model.offers if "seed" in o.capabilities]
            raise _choice("seed", seed, "None (the provider picks)",
                          _WHY_NOT.get((provider.protocol, "seed"),
                                       f"{provider.title} accepts no seed for {offer.model}")
                          + (f"; providers that do: {', '.join(with_seed)}" if with_seed else ""))
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
            raise _choice("seed", seed, f"an integer from 0 to {SEED_MAX}")

    # negative prompt
    neg = req.negative_prompt
    if neg is not None:
        if not isinstance(neg, str):
            raise _choice("negative_prompt", neg, "a string")
        if neg.strip() and "negative-prompt" not in offer.capabilities:
            raise _choice("negative_prompt", neg, "None", f"{offer.model} at {offer.provider} takes no negative prompt")
        neg = neg.strip() or None

    # audio
    if req.audio is None:
        audio = offer.default_audio
    elif not isinstance(req.audio, bool):
        raise _choice("audio", req.audio, "True, False or None")
    else:
        audio = req.audio
        if offer.audio == "always" and not audio:
            why = _WHY_NOT.get((provider.protocol, "audio"))
            raise _choice("audio", False, "True or None",
                          f"{offer.model} at {offer.provider} always generates audio"
                          + (f" ({why})" if why else ""))
        if offer.audio == "never" and audio:
            raise _choice("audio", True, "False or None", f"{offer.model} at {offer.provider} generates no audio")

    # input image
    image = url = sha = mime = None
    if req.input_image is not None:
        if "image-to-video" not in offer.capabilities:
            raise _choice("input_image", "<image>", "None",
                          f"{offer.model} at {offer.provider} has no image-to-video")
        if req.source_video_id is not None:
            raise _choice("input_image", "<image>", "None when source_video_id is given",
                          "a first-frame image cannot be combined with a source video")
        image, url = _image(req)
        if image is not None:
            iw, ih, mime = _inspect_image(image)
            sha = hashlib.sha256(image).hexdigest()
            if offer.image_must_match_size and (iw, ih) != (width, height):
                raise _choice("input_image", f"<{iw}x{ih} image>", f"an image of exactly {width}x{height}",
                              f"{provider.title} requires the input image to match size")

    tags = req.tags
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise _choice("tags", tags, "a tuple of strings")

    return Plan(
        request=req, model=model, offer=offer, provider=provider, prompt=req.prompt.strip(),
        width=width, height=height, seconds=seconds, fps=offer.fps, audio=audio, variations=v,
        seed=seed, negative_prompt=neg, action=req.action, source_video_id=req.source_video_id,
        input_image=image, input_image_url=url, input_image_sha256=sha, input_image_mime=mime,
        price=offer.price(width, height, audio), emulated=emulated,
    )
