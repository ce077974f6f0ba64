"""What a request form knows, without a widget: the choices a model and provider allow, the
fields a form sends to ``studio.submit`` / ``studio.remix``, the estimate and budget text, and
which field an error belongs to.

The form (``RequestForm``, one anywidget in every front end) calls this module and only turns its
plain values into synced state. Validation itself stays in the catalog and the Studio
(``plan`` and ``studio.submit`` raise `sorakit.ValidationError`); nothing here re-checks a value
the Studio checks, except the seed text, which is parsed from a text box before it is an int.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Optional

from .._exceptions import ValidationError
from .._types import SEED_MAX, VideoRequest
from ..catalog import plan, split_model
from ._base import error_text, is_emulated
from ._format import duration, esc, model_at, money, short_id, truncate

if TYPE_CHECKING:
    from ..engine._hooks import StudioLike

__all__ = ["NEW", "today", "size_label", "open_model", "model_value", "model_options", "model_served",
           "provider_options", "usable",
           "offer_choices", "model_notice", "remix_sources", "parse_seed", "request_fields", "prompt_limits",
           "counter_text", "check", "budget", "cost_html", "error_field", "send", "FIELDS"]

NEW = ""
"""The remix-from value meaning "a new video"."""

FIELDS = ("prompt", "model", "provider", "size", "seconds", "variations", "seed", "audio",
          "negative_prompt", "input_image", "source_video_id")
"""The fields a form shows errors next to (any other error shows in its message area)."""


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def size_label(size: str) -> str:
    """``1280x720`` -> ``1280×720  landscape``."""
    w, _, h = size.partition("x")
    try:
        wi, hi = int(w), int(h)
    except ValueError:
        return size
    shape = "landscape" if wi > hi else "portrait" if hi > wi else "square"
    return f"{wi}×{hi}  {shape}"


# -- catalog-driven options ----------------------------------------------------------------------
def open_model(catalog: Any, value: Any) -> Optional[tuple[str, str]]:
    """``(model id, provider)`` when a form's model value names a provider's model id the catalog
    does not list (``"gemini-omni-1.2-flash@gemini"``: the open catalog); None otherwise."""
    if not isinstance(value, str) or value in catalog.models or "@" not in value:
        return None
    try:
        name, provider = split_model(value, None, catalog.providers)
    except ValidationError:
        return None
    if provider not in catalog.providers or name in catalog.models:
        return None
    return str(name), str(provider)


def model_value(catalog: Any, model: Any, provider: Any) -> Any:
    """The form's model value for ``model`` at ``provider``: the catalog name, or ``"id@provider"``
    for an id the catalog does not list (a ledger row of one, or what the form was opened with)."""
    if model in catalog.models or not provider or provider not in catalog.providers:
        return model
    offer = catalog.offer_by_id(provider, model)
    return offer.model if offer is not None else f"{model}@{provider}"


def model_served(catalog: Any, name: str, day: dt.date) -> bool:
    """True when some provider still serves the model on ``day`` (an uncatalogued id: assumed)."""
    if open_model(catalog, name):
        return True
    return any(o.serves_on(day) for o in catalog.models[name].offers)


def open_option(catalog: Any, value: str) -> tuple[str, str]:
    """``(label, value)`` of a model id the catalog does not list."""
    name, provider = open_model(catalog, value) or (value, "")
    info = catalog.providers.get(provider)
    return f"{name} — not in the catalog ({info.title if info else provider})", value


def model_options(catalog: Any, day: dt.date, extra: Any = ()) -> list[tuple[str, str]]:
    """``(label, name)`` for every model; a model no provider serves any more says since when.
    ``extra``: ``"id@provider"`` values of ids the catalog does not list, listed after them."""
    opts = []
    for m in catalog:
        label = m.title
        if not any(o.serves_on(day) for o in m.offers):
            ended = m.shut_down or max((o.served_until for o in m.offers if o.served_until), default=None)
            label += f" — shut down {ended}" if ended else " — shut down"
        opts.append((label, m.name))
    return opts + [open_option(catalog, v) for v in extra if open_model(catalog, v)]


def provider_options(catalog: Any, model: str, day: dt.date) -> list[tuple[str, str]]:
    """``(label, provider)`` for every offer of the model; a stopped offer says since when. An
    uncatalogued ``"id@provider"`` has that one provider."""
    unlisted = open_model(catalog, model)
    if unlisted:
        return [(catalog.providers[unlisted[1]].title, unlisted[1])]
    out = []
    for o in catalog.models[model].offers:
        label = catalog.providers[o.provider].title
        if not o.serves_on(day):
            label += f" — stopped {o.served_until}"
        out.append((label, o.provider))
    return out


def offer_of(catalog: Any, model: Optional[str], provider: Optional[str]) -> Any:
    """The catalog offer of ``model`` at ``provider`` (None before a choice, or when there is none);
    for an uncatalogued ``"id@provider"`` the open offer (`Catalog.open_offer`: suggested sizes and
    lengths, every option, price unknown)."""
    unlisted = open_model(catalog, model)
    if unlisted:
        return catalog.open_offer(unlisted[1], unlisted[0])
    try:
        return catalog.models[model].offer(provider)
    except (KeyError, AttributeError, TypeError):
        return None


def usable(catalog: Any, studio: StudioLike, model: str, provider: str, day: dt.date) -> bool:
    """True when this Studio can submit ``model`` at ``provider`` (served, or on the emulator)."""
    offer = offer_of(catalog, model, provider)
    return offer is not None and (offer.serves_on(day) or is_emulated(studio, provider))


def offer_choices(offer: Any) -> dict[str, Any]:
    """The controls an offer allows, as plain values (what a form renders)::

        sizes [(label, size)], default_size, seconds [(label, float)], default_seconds,
        max_variations, seed (bool), audio (the catalog's "optional" | "always" | "never"), default_audio,
        audio_note, negative_prompt (bool), image (bool), remix (bool)
    """
    audio = offer.audio
    return {
        "sizes": [(size_label(s), s) for s in offer.sizes],
        "default_size": offer.default_size,
        "seconds": [(duration(s), float(s)) for s in offer.seconds],
        "default_seconds": float(offer.default_seconds),
        "max_variations": max(1, int(offer.max_variations)),
        "seed": "seed" in offer.capabilities,
        "audio": audio,
        "default_audio": bool(offer.default_audio),
        "audio_note": {"optional": "", "always": "always with audio"}.get(audio, "silent (no audio track)"),
        "negative_prompt": "negative-prompt" in offer.capabilities,
        "image": "image-to-video" in offer.capabilities,
        "remix": "remix" in offer.capabilities,
    }


def model_notice(catalog: Any, studio: StudioLike, model: str, offer: Any, day: dt.date) -> tuple[str, str, bool]:
    """``(kind, text, can_submit)`` about an offer its provider stopped serving (``("", "", True)``
    when it is served): on the emulator it still runs; at a real provider it cannot be sent."""
    if offer is not None and not getattr(offer, "catalogued", True):
        info = catalog.providers[offer.provider]
        return ("warn", f"{offer.id} is not in the catalog: sorakit sends it to {info.title} as is, its "
                        f"options unchecked ({info.title}'s answer judges them) and its price unknown.", True)
    if offer is None or offer.serves_on(day):
        return "", "", True
    m = catalog.models[model]
    info = catalog.providers[offer.provider]
    if is_emulated(studio, offer.provider):
        return ("warn", f"{info.title} stopped serving {m.title} on {offer.served_until}; the emulator still "
                        f"serves it, so this request runs on the emulator.", True)
    return ("error", f"{info.title} stopped serving {m.title} on {offer.served_until}: it cannot be submitted "
                     f"there. Pick another model, or use Studio(emulate=True) (the emulator still serves it).",
            False)


def remix_sources(studio: StudioLike, catalog: Any) -> list[tuple[str, str]]:
    """``(label, job_id)`` of the ledger's completed jobs whose offer can remix, newest first,
    after ``("— no, a new video", NEW)``."""
    opts: list[tuple[str, str]] = [("— no, a new video", NEW)]
    try:
        rows = studio.ledger.rows(status="completed")
    except Exception:
        rows = []
    for r in reversed(rows[-200:]):
        try:
            offer = offer_of(catalog, model_value(catalog, r["model"], r["provider"]), r["provider"])
        except (KeyError, TypeError):
            continue
        if offer is None or "remix" not in offer.capabilities:
            continue
        opts.append((f"{short_id(r['job_id'])} · {model_at(r)} · {truncate(r.get('prompt'), 48)}", r["job_id"]))
    return opts


# -- request fields ------------------------------------------------------------------------------
def parse_seed(text: Any) -> Optional[int]:
    """A seed box's text: blank is None (random), else an integer in the catalog's seed range."""
    text = str(text or "").strip()
    if not text:
        return None
    allowed = f"blank (random) or an integer from 0 to {SEED_MAX}"
    try:
        seed = int(text)
    except ValueError:
        raise ValidationError("seed", text, allowed) from None
    if not 0 <= seed <= SEED_MAX:
        raise ValidationError("seed", seed, allowed)
    return seed


def video_id(studio: StudioLike, row: dict) -> Optional[str]:
    """The provider's id of a ledger row's finished video (what a remix names)."""
    try:
        vid = getattr(studio.job(row["job_id"]), "video_id", None)
    except Exception:
        vid = None
    return vid or row.get("provider_job_id")


def request_fields(studio: StudioLike, offer: Any, *, model: str, provider: str, remix_from: str = NEW,
                   size: Any = None, seconds: Any = None, variations: Any = 1, seed: Any = "",
                   audio: Any = None, negative_prompt: Any = "", image: Optional[bytes] = None) -> dict[str, Any]:
    """The keyword arguments a form passes to ``studio.submit`` after the prompt.

    A remix names the source's video (``action="remix"``); otherwise only what the offer takes is
    passed: the seed when given, audio where optional, the negative prompt and first-frame image
    where supported. Raises `ValidationError` for a seed box that is not a seed.
    """
    fields: dict[str, Any] = {"model": model, "provider": provider}
    if remix_from:
        row = studio.ledger.get(remix_from)
        fields.update(action="remix", source_video_id=video_id(studio, row))
        return fields
    fields.update(size=size, seconds=seconds, variations=int(variations))
    value = parse_seed(seed)
    if value is not None:
        fields["seed"] = value
    if offer is not None and offer.audio == "optional":
        fields["audio"] = bool(audio)
    negative = str(negative_prompt or "").strip()
    if offer is not None and "negative-prompt" in offer.capabilities and negative:
        fields["negative_prompt"] = negative
    if image is not None and offer is not None and "image-to-video" in offer.capabilities:
        fields["input_image"] = image
    return fields


def prompt_limits(catalog: Any, provider: Optional[str]) -> tuple[int, int, Any]:
    """``(min, max, provider_info)`` characters of a prompt at ``provider``."""
    info = catalog.providers.get(provider) if provider else None
    lo, hi = info.prompt_chars if info else (1, 32000)
    return lo, hi, info


def counter_text(catalog: Any, provider: Optional[str], prompt: str) -> tuple[str, bool]:
    """``("30 / 1,024 characters", over)`` for the prompt box."""
    lo, hi, _ = prompt_limits(catalog, provider)
    n = len((prompt or "").strip())
    return f"{n:,} / {hi:,} characters", n > hi or 0 < n < lo


def check(studio: StudioLike, catalog: Any, prompt: str, fields: dict, day: dt.date, *, attempted: bool) -> Any:
    """Plan the request against the catalog (`sorakit.catalog.plan`): the estimate, or the
    `ValidationError` the Studio would raise. A blank prompt is only an error once the user
    tried to submit (``attempted``); until then the rest of the request is checked."""
    lo, hi, info = prompt_limits(catalog, fields.get("provider"))
    text = prompt if (prompt or "").strip() else "x" * max(lo, 1)
    p = plan(VideoRequest(prompt=text, **fields), catalog,
             emulated=is_emulated(studio, fields.get("provider")), today=day)
    if not (prompt or "").strip() and attempted:
        raise ValidationError("prompt", prompt, f"{lo} to {hi} characters at {info.name if info else ''}",
                              "write a prompt first")
    return p


def blank_prompt_text(catalog: Any, provider: Optional[str]) -> str:
    """What a form says when Submit is pressed with no prompt."""
    lo, hi, info = prompt_limits(catalog, provider)
    return f"Write a prompt first ({lo} to {hi:,} characters at {info.title if info else provider})."


# -- estimate and budget -------------------------------------------------------------------------
def budget(studio: StudioLike) -> tuple[Optional[float], float, Optional[float]]:
    """``(cap, spent, remaining)`` of the Studio's budget (cap None: no cap)."""
    b = getattr(studio, "budget", None)
    if b is None:
        return None, 0.0, None
    if callable(getattr(b, "status", None)):
        b = b.status()
    cap = getattr(b, "cap", None)
    spent = getattr(b, "spent", 0.0) or 0.0
    remaining = getattr(b, "remaining", None)
    if callable(remaining):
        remaining = remaining()
    if remaining is None and cap is not None:
        remaining = cap - spent
    return cap, float(spent), remaining


def rate_text(rate: Any) -> str:
    """A price per second with every digit it has (``$0.0968``, ``$0.10``), so seconds × price
    recomputes the estimate shown beside it."""
    if rate is None:
        return "unknown"
    text = f"{float(rate):.6f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{float(rate):.2f}"
    return "$" + text


def cost_html(p: Any, studio: StudioLike) -> str:
    """The estimate of a plan (None: the request has an error) and the remaining budget, as HTML."""
    if p is None:
        est = "<b>—</b> <span class='sk-faint'>(fix the request to see its cost)</span>"
        amount = None
    elif p.estimated_cost is None and not p.catalogued:
        est = (f"<b>unknown</b> <span class='sk-faint'>— {esc(p.model.name)} is not in the catalog: sent as is "
               f"to {esc(p.offer.provider)}, which judges it; its price is unknown (not counted as $0)</span>")
        amount = None
    elif p.estimated_cost is None and p.price is not None and p.price.per_token:
        est = (f"<b>unknown</b> <span class='sk-faint'>— billed by its output video tokens at "
               f"${p.price.usd_per_video_token:g}/token; the catalog knows no tokens per second to estimate "
               f"from (not counted as $0)</span>")
        amount = None
    elif p.estimated_cost is None:
        est = (f"<b>unknown</b> <span class='sk-faint'>— the catalog has no price for {esc(p.model.name)} at "
               f"{esc(p.offer.provider)} (not counted as $0)</span>")
        amount = None
    elif p.price.per_token:
        amount = p.estimated_cost
        breakdown = (f"{p.seconds:g} s × {p.price.video_tokens_per_second:g} video tokens/s × "
                     f"${p.price.usd_per_video_token:g}/token" + (f" × {p.variations}" if p.variations > 1 else ""))
        est = (f"<b>~{esc(money(amount))}</b> <span class='sk-faint'>{esc(breakdown)} (estimated; billed by the "
               f"tokens reported) · price as of {esc(p.price.as_of)}</span>")
    else:
        amount = p.estimated_cost
        breakdown = f"{p.seconds:g} s × {rate_text(p.rate)}/s" + (f" × {p.variations}" if p.variations > 1 else "")
        est = (f"<b>{esc(money(amount))}</b> <span class='sk-faint'>{esc(breakdown)}"
               f" · price as of {esc(p.price.as_of)}</span>")
    if p is not None and p.emulated:
        est += " <span class='sk-faint'>· emulated: nothing is charged</span>"
    cap, spent, remaining = budget(studio)
    if cap is None and p is not None and p.emulated:
        # the emulator charges nothing: the session's estimates are not spend
        left = f"no cap · {esc(money(spent))} of emulated estimates this session, nothing charged"
    elif cap is None:
        left = f"no cap · {esc(money(spent))} committed this session"
    else:
        left = f"<b>{esc(money(remaining))}</b> of {esc(money(cap))} left"
        if amount is not None and remaining is not None and amount > remaining + 1e-9:
            left += " <span style='color:#c4242f'>· this request would exceed the budget</span>"
    return (f'<div style="display:flex;flex-direction:column;gap:3px"><span>Estimated {est}</span>'
            f"<span class='sk-muted'>Budget: {left}</span></div>")


# -- errors and sending ----------------------------------------------------------------------------
def error_field(exc: BaseException) -> Optional[str]:
    """The form field a `ValidationError` belongs to (None: show it in the form's message area)."""
    if not isinstance(exc, ValidationError):
        return None
    return exc.field if exc.field in FIELDS else None


def readable(exc: BaseException) -> str:
    """The error as one line a user reads (`error_text`): field, value and what is allowed."""
    return error_text(exc)


STATIC_HTML = ("<div style='font:12px sans-serif;color:#57606a;border:1px dashed #ccc;border-radius:6px;"
               "padding:8px 12px;display:inline-block'>sorakit request form — run the notebook to use it; "
               "every job it started is in the ledger (<code>studio.browse()</code>).</div>")
"""What a saved notebook shows in place of either form (GitHub, nbviewer, HTML exports)."""
STATIC_TEXT = "<sorakit form: run the notebook to use it>"


def send(studio: StudioLike, prompt: str, fields: dict[str, Any], remix_from: str = NEW) -> Any:
    """Start the request (returns at once): a remix through ``studio.remix`` (it keeps the
    source's model and provider), anything else through ``studio.submit``."""
    if fields.get("action") == "remix" and remix_from:
        return studio.remix(remix_from, prompt, wait=False, progress=False)
    return studio.submit(prompt, **fields)
