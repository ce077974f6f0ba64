"""Load the model catalog (``models.toml`` shipped in this package) into small typed objects.

Every fact of an offer (its id, sizes, seconds, fps, audio, capabilities, variations, shut-down date,
prices) names where it comes from: a ``sources`` table per offer maps the field to an entry of the
top-level ``[sources]`` table (title, url, ``as_of``); a fact no public source confirms is listed in
``unconfirmed`` instead. The loader refuses a shipped fact that has neither.

A user's overlay (``SORAKIT_CATALOG=path.toml`` or ``Studio(catalog="path.toml")``) is merged over
the shipped file table by table (an offer is matched by its provider) and validated the same way;
every error names the file, the table and the field. Facts an overlay sets without a source are
sourced to the overlay file itself.

``sorakit models --update`` (`sorakit.catalog.refresh`) writes one more overlay, generated from
maintained machine-readable sources, to ``refreshed_overlay_path()`` in the user's cache; it carries
``refreshed = <date>`` and a ``[sources.*]`` entry (URL, fetched date) for every fact it sets.
``load_catalog()`` merges it first (under the user's own overlays) whenever it exists; reading it is
the only thing the loader does with it — nothing is fetched here.

Lifecycle: an offer with ``served_until`` in the past is *shut down*; with ``served_until`` in the
future it is *deprecated, shuts down on* that day (`Offer.lifecycle`).

``[[differences]]`` in ``models.toml`` lists facts where the shipped catalog knowingly disagrees with
a maintained source (the source, its key, the fact and why): the refresh does not apply them and
the catalog-honesty test accepts them.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .._exceptions import CatalogError

__all__ = [
    "Catalog",
    "CatalogError",
    "Source",
    "Model",
    "Offer",
    "PriceRule",
    "ProviderInfo",
    "load_catalog",
    "parse_size",
    "resolution_tier",
    "stale_notice",
    "refreshed_overlay_path",
    "Difference",
]

AudioMode = Literal["always", "optional", "never"]

OFFER_FACTS = ("id", "sizes", "seconds", "extend_seconds", "fps", "audio", "capabilities", "max_variations",
               "served_until", "replacement", "prices")
"""The fields of an offer that state a fact about the provider, each needing a source."""
MODEL_FACTS = ("status", "shut_down", "replacement")
CAPABILITIES = frozenset({"text-to-video", "image-to-video", "remix", "extend", "edit", "negative-prompt", "seed"})
ENV_OVERLAY = "SORAKIT_CATALOG"
"""Environment variable naming a user's TOML overlay merged over the shipped catalog."""


@dataclass(frozen=True)
class Source:
    """Where a fact comes from and the day it was read there."""

    key: str
    title: str
    as_of: dt.date
    url: str = ""


def parse_size(size: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``; raises ValueError on anything else."""
    w, sep, h = str(size).lower().partition("x")
    if not sep or not w.strip().isdigit() or not h.strip().isdigit():
        raise ValueError(f"size {size!r} is not WIDTHxHEIGHT")
    return int(w), int(h)


def resolution_tier(width: int, height: int) -> str:
    """Resolution class by the short side: ``480p``, ``720p``, ``1080p`` or ``4k``."""
    short = min(width, height)
    if short <= 540:
        return "480p"
    if short <= 800:
        return "720p"
    if short <= 1200:
        return "1080p"
    return "4k"


@dataclass(frozen=True)
class ProviderInfo:
    """A service and the protocol it speaks."""

    name: str
    title: str
    protocol: str
    base_url: str
    key_env: tuple[str, ...]
    prompt_chars: tuple[int, int]
    emulator_prefix: str
    key_prefix: Optional[str] = None
    docs: str = ""


@dataclass(frozen=True)
class PriceRule:
    """Price per second of output for the sizes / resolution / audio it matches.

    A model billed by its output tokens (Gemini Omni: the Interactions API reports ``usage``) has a
    token rule: ``usd_per_video_token`` with ``video_tokens_per_second`` (how many output video
    tokens one second of video costs, from a source, when one is known). Its ``usd_per_second`` is
    then the product, an *estimate* (``per_token`` True), or None without ``video_tokens_per_second``
    (no estimate: unknown, never 0); the billed cost of a finished job is its reported output video
    tokens × ``usd_per_video_token`` either way.
    """

    usd_per_second: Optional[float]
    as_of: dt.date
    source: str
    resolution: Optional[str] = None
    sizes: Optional[tuple[str, ...]] = None
    audio: Optional[bool] = None
    usd_per_video_token: Optional[float] = None
    """USD per output video token (token-billed models); None for a per-second price."""
    video_tokens_per_second: Optional[float] = None
    """Output video tokens per second of video, the figure the per-second estimate uses."""

    @property
    def per_token(self) -> bool:
        """True when the provider bills output tokens (``usd_per_second`` is then estimated)."""
        return self.usd_per_video_token is not None

    def describe(self) -> str:
        """``$0.1/s 720p`` or ``$1.75e-05/video token (~$0.1014/s at 5792 tokens/s)``."""
        if self.per_token:
            head = f"${self.usd_per_video_token:g}/video token" + (
                f" (~${self.usd_per_second:.4g}/s at {self.video_tokens_per_second:g} tokens/s)"
                if self.usd_per_second is not None else " (per second: unknown)")
        else:
            head = f"${self.usd_per_second:g}/s"
        return (head + (f" {self.resolution}" if self.resolution else "")
                + (f" {'/'.join(self.sizes)}" if self.sizes else "")
                + ("" if self.audio is None else (" with audio" if self.audio else " without audio")))

    def matches(self, width: int, height: int, audio: bool) -> bool:
        if self.sizes is not None and f"{width}x{height}" not in self.sizes:
            return False
        if self.resolution is not None and resolution_tier(width, height) != self.resolution:
            return False
        if self.audio is not None and self.audio != audio:
            return False
        return True


@dataclass(frozen=True)
class Offer:
    """One provider serving one model: its id there, what it allows and what it costs.

    ``served_until`` is the day the provider shut the model down (None: still served);
    ``replacement`` the canonical model the provider (or we) suggest instead. ``sources`` maps each
    fact field to its `Source`; ``unconfirmed`` lists the facts no public source confirms.
    """

    model: str
    provider: str
    id: str
    sizes: tuple[str, ...]
    seconds: tuple[float, ...]
    fps: float
    audio: AudioMode
    capabilities: frozenset[str]
    max_variations: int
    prices: tuple[PriceRule, ...]
    default_size: str
    default_seconds: float
    default_audio: bool
    image_must_match_size: bool = False
    served_until: Optional[dt.date] = None
    extend_seconds: tuple[float, ...] = ()
    """Lengths an extension may add when they differ from ``seconds`` (Veo 3.1 on the enterprise
    platform: always 7 s); empty = the same as ``seconds``."""
    unconfirmed: tuple[str, ...] = ()
    replacement: Optional[str] = None
    sources: Any = field(default_factory=dict, compare=False, hash=False, repr=False)
    catalogued: bool = True
    """False for an offer built for a provider model id the catalog does not list
    (`Catalog.open_offer`): its limits are defaults, unchecked; the provider's answer judges."""

    def serves_on(self, day: dt.date) -> bool:
        """False once the provider has stopped serving the model."""
        return self.served_until is None or day < self.served_until

    def lifecycle(self, day: dt.date) -> str:
        """``"live"``, ``"deprecated, shuts down 2027-03-01"`` or ``"shut down 2026-10-22"`` on ``day``."""
        if self.served_until is None:
            return "live"
        if day < self.served_until:
            return f"deprecated, shuts down {self.served_until.isoformat()}"
        return f"shut down {self.served_until.isoformat()}"

    def price(self, width: int, height: int, audio: bool) -> Optional[PriceRule]:
        """The price rule for this output, or None when the price is unknown. A token rule (Gemini
        Omni, `PriceRule.per_token`) may have no per-second figure: estimates call that unknown,
        while a finished job is billed from its reported tokens."""
        for rule in self.prices:
            if rule.matches(width, height, audio):
                return rule
        return None

    def token_price(self) -> Optional[PriceRule]:
        """The per-output-video-token rule (Gemini Omni), or None."""
        return next((r for r in self.prices if r.per_token), None)

    def source_of(self, fact: str) -> tuple[Source, ...]:
        """The sources of one fact field (empty when it is unconfirmed or unsourced)."""
        return tuple(self.sources.get(fact, ()))

    @property
    def as_of(self) -> Optional[dt.date]:
        """The newest day any fact of this offer was checked."""
        days = [s.as_of for srcs in self.sources.values() for s in srcs] + [r.as_of for r in self.prices]
        return max(days, default=None)


@dataclass(frozen=True)
class Model:
    """A model under its one canonical name, with every provider offer."""

    name: str
    title: str
    vendor: str
    status: Literal["live", "shut_down"]
    offers: tuple[Offer, ...]
    shut_down: Optional[dt.date] = None
    notes: str = ""
    replacement: Optional[str] = None
    sources: Any = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(o.provider for o in self.offers)

    def offer(self, provider: str) -> Optional[Offer]:
        for o in self.offers:
            if o.provider == provider:
                return o
        return None


@dataclass(frozen=True)
class Difference:
    """A fact on which the shipped catalog knowingly disagrees with a maintained source."""

    source: str
    """``"litellm"``: LiteLLM's price map."""
    key: str
    """The entry in that source (``"vertex_ai/veo-3.1-generate-001"``)."""
    fact: str
    """``"served_until"`` or ``"prices"``."""
    reason: str


@dataclass(frozen=True)
class Catalog:
    """All models and providers. ``catalog.df`` is one row per offer; ``catalog.facts`` one per fact.

    ``as_of`` is the day the shipped catalog was last checked against its sources.
    """

    models: dict[str, Model]
    providers: dict[str, ProviderInfo]
    source: str = ""
    _offers: tuple[Offer, ...] = field(default=(), repr=False)
    as_of: Optional[dt.date] = None
    sources: dict[str, Source] = field(default_factory=dict, repr=False)
    default_model: Optional[str] = None
    """The model a request without one gets (``default_model`` in ``models.toml``)."""
    refreshed: Optional[dt.date] = None
    """The day a refreshed overlay (``sorakit models --update``) was fetched, when one is merged."""
    differences: tuple[Difference, ...] = field(default=(), repr=False)

    @property
    def data_as_of(self) -> Optional[dt.date]:
        """The newer of the shipped ``as_of`` and the refreshed overlay's fetch date."""
        days = [d for d in (self.as_of, self.refreshed) if d is not None]
        return max(days, default=None)

    def difference(self, source: str, key: str, fact: str) -> Optional[Difference]:
        """The listed known difference with ``source`` for ``key``/``fact``, or None."""
        return next((d for d in self.differences if (d.source, d.key, d.fact) == (source, key, fact)), None)

    def model(self, name: str) -> Model:
        """The model by canonical name (raises KeyError)."""
        return self.models[name]

    def offers(self, model: str | None = None, provider: str | None = None,
               live_on: dt.date | None = None) -> list[Offer]:
        """Offers filtered by model, provider and (optionally) still served on a date."""
        return [
            o for o in self._offers
            if (model is None or o.model == model)
            and (provider is None or o.provider == provider)
            and (live_on is None or o.serves_on(live_on))
        ]

    def offer_by_id(self, provider: str, provider_model: str) -> Optional[Offer]:
        """The offer a provider serves under its own id, or None."""
        for o in self._offers:
            if o.provider == provider and o.id == provider_model:
                return o
        return None

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())

    def open_offer(self, provider: str, provider_model: str) -> Offer:
        """An offer for a model id the catalog does not list at ``provider`` (the catalog is open:
        a model released yesterday can be called by naming its provider).

        Nothing about it is known: every fact is ``unconfirmed``, the price is unknown, every
        capability is allowed and the provider's answer judges the request. Its defaults (size,
        seconds, fps, audio) and its lists of sizes and seconds — suggestions, not limits — are
        those of the catalogued offer at that provider whose id is closest (``gemini-omni-1.2-flash``
        borrows Omni's, ``veo-3.1-lite-generate-001`` Veo 3.1's); a provider with no catalogued
        offer gets 1280x720, 8 s, 24 fps. ``max_variations`` is the most the provider's catalogued
        offers take (what its protocol can carry), at least 1.
        """
        import difflib

        if provider not in self.providers:
            raise KeyError(provider)
        at = self.offers(provider=provider)
        today = dt.date.today()
        pool = [o for o in at if o.serves_on(today)] or at
        close = difflib.get_close_matches(provider_model, [o.id for o in pool], n=1, cutoff=0.0)
        template = next((o for o in pool if close and o.id == close[0]), None)
        sizes = template.sizes if template else ("1280x720", "720x1280")
        return Offer(
            model=provider_model, provider=provider, id=provider_model, sizes=sizes,
            seconds=template.seconds if template else (8.0,),
            fps=template.fps if template else 24.0, audio="optional",
            capabilities=CAPABILITIES, max_variations=max([o.max_variations for o in at] + [1]), prices=(),
            default_size=template.default_size if template else sizes[0],
            default_seconds=template.default_seconds if template else 8.0,
            default_audio=template.default_audio if template else False,
            unconfirmed=OFFER_FACTS, catalogued=False,
        )

    def open_model(self, provider: str, provider_model: str) -> Model:
        """The `Model` of `open_offer`: named by the provider's id, with that one offer."""
        return Model(name=provider_model, title=provider_model, vendor="", status="live",
                     offers=(self.open_offer(provider, provider_model),),
                     notes=f"not in the catalog: {provider}'s model id, sent as is")

    def shutdown_text(self, model: str, provider: str) -> str:
        """``"shut down 2026-06-30; suggested replacement: gemini-omni-flash (at runware, gemini)"``,
        from what the catalog knows (empty parts are left out)."""
        m = self.models.get(model)
        o = m.offer(provider) if m is not None else None
        parts = []
        day = (o.served_until if o is not None else None) or (m.shut_down if m is not None else None)
        if day is not None:
            parts.append(f"shut down {day.isoformat()}")
        repl = (o.replacement if o is not None else None) or (m.replacement if m is not None else None)
        if repl:
            today = dt.date.today()
            where = [x.provider for x in self.offers(model=repl) if x.serves_on(today)]
            parts.append(f"suggested replacement: {repl}" + (f" (at {', '.join(where)})" if where else ""))
        return "; ".join(parts)

    @property
    def df(self):
        """One row per (model, provider) offer with its limits and prices, as a pandas DataFrame."""
        import pandas as pd

        rows = []
        today = dt.datetime.now(dt.timezone.utc).date()
        for o in self._offers:
            m = self.models[o.model]
            rates = "; ".join(r.describe() for r in o.prices) or "unknown"
            rows.append({
                "model": o.model, "title": m.title, "vendor": m.vendor,
                "status": "live" if o.serves_on(today) and m.status == "live" else "shut_down",
                "lifecycle": o.lifecycle(today) if m.status == "live" or not o.serves_on(today)
                else f"shut down {m.shut_down or ''}".strip(),
                "provider": o.provider, "provider_model": o.id,
                "served_until": o.served_until, "replacement": o.replacement or m.replacement,
                "sizes": ", ".join(o.sizes),
                "seconds": ", ".join(f"{s:g}" for s in o.seconds), "fps": o.fps,
                "audio": o.audio, "max_variations": o.max_variations,
                "capabilities": ", ".join(sorted(o.capabilities)), "price": rates,
                "price_as_of": max((r.as_of for r in o.prices), default=None),
                "as_of": o.as_of, "unconfirmed": ", ".join(o.unconfirmed),
            })
        return pd.DataFrame(rows)

    @property
    def facts(self):
        """One row per offer fact: model, provider, fact, value, source, url, as_of, unconfirmed."""
        import pandas as pd

        rows = []
        for o in self._offers:
            for fact in OFFER_FACTS:
                value = getattr(o, fact)
                if fact == "prices":
                    for r in o.prices:
                        rows.append({"model": o.model, "provider": o.provider, "fact": "price",
                                     "value": r.describe(),
                                     "source": r.source, "url": "", "as_of": r.as_of,
                                     "unconfirmed": "prices" in o.unconfirmed})
                    if not o.prices:
                        rows.append({"model": o.model, "provider": o.provider, "fact": "price",
                                     "value": "unknown", "source": "", "url": "", "as_of": None,
                                     "unconfirmed": True})
                    continue
                if value is None or (fact == "extend_seconds" and not value):
                    continue
                if isinstance(value, (tuple, frozenset)):
                    value = ", ".join(sorted(str(v) for v in value)) if isinstance(value, frozenset) \
                        else ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
                srcs = o.source_of(fact)
                rows.append({"model": o.model, "provider": o.provider, "fact": fact, "value": str(value),
                             "source": "; ".join(s.title for s in srcs), "url": "; ".join(s.url for s in srcs if s.url),
                             "as_of": max((s.as_of for s in srcs), default=None),
                             "unconfirmed": fact in o.unconfirmed})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- parsing
class _Ctx:
    """Which file each table came from, so an error names the right one."""

    def __init__(self, base: str):
        self.base = base
        self.origin: dict[str, str] = {}

    def file(self, table: str) -> str:
        return self.origin.get(table, self.base)

    def fail(self, table: str, fact: Optional[str], problem: str) -> CatalogError:
        return CatalogError(self.file(table), table, fact, problem)


def _table_name(model: str, provider: Any = None) -> str:
    name = f'models."{model}"'
    return name if provider is None else f"{name}.offers[{provider}]"


def _as_date(ctx: _Ctx, table: str, fact: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ctx.fail(table, fact, f"{value!r} is not a date; allowed: a TOML date such as 2026-11-27")


def _str_list(ctx: _Ctx, table: str, fact: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ctx.fail(table, fact, f"{value!r} is not allowed; allowed: a non-empty list of strings")
    return tuple(value)


def _sources(ctx: _Ctx, data: dict) -> dict[str, Source]:
    out = {}
    raw = data.get("sources", {})
    if not isinstance(raw, dict):
        raise ctx.fail("sources", None, "must be a table of [sources.<key>] entries")
    for key, s in raw.items():
        table = f"sources.{key}"
        if not isinstance(s, dict):
            raise ctx.fail(table, None, "must be a table with title, as_of and optional url")
        if not isinstance(s.get("title"), str) or not s["title"].strip():
            raise ctx.fail(table, "title", f"{s.get('title')!r} is not allowed; allowed: a non-empty string")
        if "as_of" not in s:
            raise ctx.fail(table, "as_of", "is missing; allowed: the date the source was read (YYYY-MM-DD)")
        out[key] = Source(key=key, title=s["title"], as_of=_as_date(ctx, table, "as_of", s["as_of"]),
                          url=str(s.get("url", "")))
    return out


def _fact_sources(ctx: _Ctx, table: str, raw: Any, allowed: tuple[str, ...], known: dict[str, Source],
                  overlay_source: Optional[Source]) -> dict[str, tuple[Source, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ctx.fail(table, "sources", "must be a table {fact = \"source-key\" or [keys]}")
    out = {}
    for fact, keys in raw.items():
        if fact not in allowed:
            raise ctx.fail(table, f"sources.{fact}", f"is not a fact; allowed: {', '.join(allowed)}")
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys:
            raise ctx.fail(table, f"sources.{fact}", f"{keys!r} is not allowed; allowed: a source key or a list")
        srcs = []
        for k in keys:
            if k not in known:
                raise ctx.fail(table, f"sources.{fact}", f"names unknown source {k!r}; known: "
                               + ", ".join(sorted(known)))
            srcs.append(known[k])
        out[fact] = tuple(srcs)
    return out


def _price(ctx: _Ctx, table: str, i: int, p: Any, known: dict[str, Source]) -> PriceRule:
    fact = f"prices[{i}]"
    if not isinstance(p, dict):
        raise ctx.fail(table, fact, "must be a table {usd_per_second, as_of, source, ...} or "
                       "{usd_per_video_token, video_tokens_per_second, as_of, source, ...}")
    unknown = sorted(set(p) - _PRICE_KEYS)
    if unknown:
        raise ctx.fail(table, f"{fact}.{unknown[0]}", "is not a price field; allowed: " + ", ".join(sorted(_PRICE_KEYS)))
    token_rate = tokens_per_s = None
    if "usd_per_video_token" in p:  # billed by output video tokens (Gemini Omni)
        if "usd_per_second" in p:
            raise ctx.fail(table, f"{fact}.usd_per_second", "is not allowed with usd_per_video_token: a token "
                           "rule's per-second price is video_tokens_per_second × usd_per_video_token")
        for name in ("usd_per_video_token", "video_tokens_per_second"):
            v = p.get(name)
            if name not in p and name == "video_tokens_per_second":
                continue  # billed from reported tokens; no per-second estimate
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ctx.fail(table, f"{fact}.{name}", f"{v!r} is not allowed; allowed: a positive number"
                               + (" (the output video tokens one second of video costs, from a source; "
                                  "leave it out when unknown)" if name == "video_tokens_per_second" else ""))
        token_rate = float(p["usd_per_video_token"])
        tokens_per_s = float(p["video_tokens_per_second"]) if "video_tokens_per_second" in p else None
        rate = None if tokens_per_s is None else token_rate * tokens_per_s
    else:
        rate = p.get("usd_per_second")
    if token_rate is None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0):
        raise ctx.fail(table, f"{fact}.usd_per_second", f"{rate!r} is not allowed; allowed: a positive number "
                       "(leave an unknown price out: unknown is never 0), or usd_per_video_token instead")
    src = p.get("source")
    if not isinstance(src, str) or not src.strip():
        raise ctx.fail(table, f"{fact}.source", f"{src!r} is not allowed; allowed: a source key or a text")
    if src in known:
        as_of = known[src].as_of if "as_of" not in p else _as_date(ctx, table, f"{fact}.as_of", p["as_of"])
        src = known[src].title
    elif "as_of" not in p:
        raise ctx.fail(table, f"{fact}.as_of", "is missing; every price needs the date it was read")
    else:
        as_of = _as_date(ctx, table, f"{fact}.as_of", p["as_of"])
    res = p.get("resolution")
    if res is not None and res not in ("480p", "720p", "1080p", "4k"):
        raise ctx.fail(table, f"{fact}.resolution", f"{res!r} is not allowed; allowed: 480p, 720p, 1080p, 4k")
    audio = p.get("audio")
    if audio is not None and not isinstance(audio, bool):
        raise ctx.fail(table, f"{fact}.audio", f"{audio!r} is not allowed; allowed: true or false")
    return PriceRule(usd_per_second=None if rate is None else float(rate), as_of=as_of, source=src, resolution=res,
                     sizes=_str_list(ctx, table, f"{fact}.sizes", p["sizes"]) if "sizes" in p else None,
                     audio=audio, usd_per_video_token=token_rate, video_tokens_per_second=tokens_per_s)


_PRICE_KEYS = {"usd_per_second", "usd_per_video_token", "video_tokens_per_second", "as_of", "source",
               "resolution", "sizes", "audio"}


_OFFER_KEYS = {"provider", "id", "sizes", "seconds", "extend_seconds", "fps", "audio", "capabilities", "max_variations", "prices",
               "default_size", "default_seconds", "default_audio", "image_must_match_size", "served_until",
               "unconfirmed", "replacement", "sources", "_overlay_facts"}


def _offer(ctx: _Ctx, model: str, raw: dict[str, Any], known: dict[str, Source],
           strict: bool, overlay_source: Optional[Source]) -> Offer:
    table = _table_name(model, raw.get("provider"))
    unknown = set(raw) - _OFFER_KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise ctx.fail(table, name, "is not an offer field; allowed: " + ", ".join(sorted(_OFFER_KEYS - {"_overlay_facts"})))
    for req in ("provider", "id", "sizes", "seconds"):
        if req not in raw:
            raise ctx.fail(table, req, "is missing")
    if not isinstance(raw["id"], str) or not raw["id"].strip():
        raise ctx.fail(table, "id", f"{raw['id']!r} is not allowed; allowed: the provider's model id")
    sizes = _str_list(ctx, table, "sizes", raw["sizes"])
    for s in sizes:
        try:
            parse_size(s)
        except ValueError:
            raise ctx.fail(table, "sizes", f"{s!r} is not allowed; allowed: WIDTHxHEIGHT such as 1280x720") from None
    secs = raw["seconds"]
    if not isinstance(secs, list) or not secs or any(isinstance(s, bool) or not isinstance(s, (int, float))
                                                      or s <= 0 for s in secs):
        raise ctx.fail(table, "seconds", f"{secs!r} is not allowed; allowed: a non-empty list of positive numbers")
    seconds = tuple(float(s) for s in secs)
    ext = raw.get("extend_seconds", [])
    if not isinstance(ext, list) or any(isinstance(s, bool) or not isinstance(s, (int, float)) or s <= 0
                                        for s in ext):
        raise ctx.fail(table, "extend_seconds", f"{ext!r} is not allowed; allowed: a list of positive numbers")
    audio = raw.get("audio", "never")
    if audio not in ("always", "optional", "never"):
        raise ctx.fail(table, "audio", f"{audio!r} is not allowed; allowed: always, optional, never")
    caps = raw.get("capabilities", ["text-to-video"])
    if not isinstance(caps, list) or not set(caps) <= CAPABILITIES:
        bad = sorted(set(caps) - CAPABILITIES) if isinstance(caps, list) else caps
        raise ctx.fail(table, "capabilities", f"{bad!r} is not allowed; allowed: {', '.join(sorted(CAPABILITIES))}")
    mv = raw.get("max_variations", 1)
    if isinstance(mv, bool) or not isinstance(mv, int) or mv < 1:
        raise ctx.fail(table, "max_variations", f"{mv!r} is not allowed; allowed: a positive integer")
    fps = raw.get("fps", 24)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0:
        raise ctx.fail(table, "fps", f"{fps!r} is not allowed; allowed: a positive number")
    prices = raw.get("prices", [])
    if not isinstance(prices, list):
        raise ctx.fail(table, "prices", "must be a list of price tables")
    unconfirmed = raw.get("unconfirmed", [])
    if not isinstance(unconfirmed, list) or not set(unconfirmed) <= set(OFFER_FACTS) | {"status"}:
        raise ctx.fail(table, "unconfirmed", f"{unconfirmed!r} is not allowed; allowed: a list among "
                       + ", ".join(OFFER_FACTS + ("status",)))
    default_size = raw.get("default_size", sizes[0])
    if default_size not in sizes:
        raise ctx.fail(table, "default_size", f"{default_size!r} is not allowed; allowed: {', '.join(sizes)}")
    default_seconds = float(raw.get("default_seconds", seconds[0]))
    if default_seconds not in seconds:
        raise ctx.fail(table, "default_seconds", f"{default_seconds:g} is not allowed; allowed: "
                       + ", ".join(f"{s:g}" for s in seconds))
    sources = _fact_sources(ctx, table, raw.get("sources"), OFFER_FACTS, known, overlay_source)
    if overlay_source is not None:  # an overlay's own facts are sourced to the overlay file
        for fact in raw.get("_overlay_facts", ()):
            if fact in OFFER_FACTS and fact not in (raw.get("sources") or {}):
                sources[fact] = (overlay_source,)
    if strict:
        for fact in OFFER_FACTS:
            present = fact in raw and fact != "prices"
            if present and fact not in sources and fact not in unconfirmed:
                raise ctx.fail(table, fact, "has no source: name one in sources.%s or list it in unconfirmed" % fact)
    served_until = raw.get("served_until")
    return Offer(
        model=model,
        provider=raw["provider"],
        id=raw["id"],
        sizes=sizes,
        seconds=seconds,
        fps=float(fps),
        audio=audio,
        capabilities=frozenset(caps),
        max_variations=mv,
        prices=tuple(_price(ctx, table, i, p, known) for i, p in enumerate(prices)),
        default_size=default_size,
        default_seconds=default_seconds,
        default_audio=bool(raw.get("default_audio", audio == "always")),
        image_must_match_size=bool(raw.get("image_must_match_size", False)),
        served_until=None if served_until is None else _as_date(ctx, table, "served_until", served_until),
        extend_seconds=tuple(float(s) for s in ext),
        unconfirmed=tuple(unconfirmed),
        replacement=raw.get("replacement"),
        sources=sources,
    )


def _parse(data: dict[str, Any], source: str, ctx: Optional[_Ctx] = None, strict: bool = True,
           overlay_sources: Optional[dict[str, Source]] = None) -> Catalog:
    ctx = ctx or _Ctx(source)
    known = _sources(ctx, data)
    providers = {}
    for name, p in data.get("providers", {}).items():
        table = f"providers.{name}"
        if not isinstance(p, dict):
            raise ctx.fail(table, None, "must be a table")
        for req in ("title", "protocol", "emulator_prefix"):
            if not isinstance(p.get(req), str):
                raise ctx.fail(table, req, "is missing" if req not in p else f"{p[req]!r} is not a string")
        providers[name] = ProviderInfo(
            name=name,
            title=p["title"],
            protocol=p["protocol"],
            base_url=p.get("base_url", ""),
            key_env=tuple(p.get("key_env", ())),
            prompt_chars=tuple(p.get("prompt_chars", (1, 32000))),  # type: ignore[arg-type]
            emulator_prefix=p["emulator_prefix"],
            key_prefix=p.get("key_prefix"),
            docs=p.get("docs", ""),
        )
    models: dict[str, Model] = {}
    all_offers: list[Offer] = []
    for name, m in data.get("models", {}).items():
        table = _table_name(name)
        if not isinstance(m, dict):
            raise ctx.fail(table, None, "must be a table")
        ov = (overlay_sources or {}).get(ctx.file(table))
        raw_offers = m.get("offers", [])
        if not isinstance(raw_offers, list):
            raise ctx.fail(table, "offers", "must be a list of [[offers]] tables")
        offers = []
        for raw in raw_offers:
            if not isinstance(raw, dict):
                raise ctx.fail(table, "offers", "each offer must be a table")
            otable = _table_name(name, raw.get("provider"))
            offer = _offer(ctx, name, raw, known, strict and ctx.file(otable) == ctx.base,
                           (overlay_sources or {}).get(ctx.file(otable)))
            if offer.provider not in providers:
                raise ctx.fail(otable, "provider", f"names unknown provider {offer.provider!r}; known: "
                               + ", ".join(sorted(providers)))
            offers.append(offer)
        status = m.get("status", "live")
        if status not in ("live", "shut_down"):
            raise ctx.fail(table, "status", f"{status!r} is not allowed; allowed: live, shut_down")
        shut_down = m.get("shut_down")
        msources = _fact_sources(ctx, table, m.get("sources"), MODEL_FACTS, known, ov)
        if ov is not None:
            for fact in m.get("_overlay_facts", ()):
                if fact in MODEL_FACTS and fact not in (m.get("sources") or {}):
                    msources[fact] = (ov,)
        models[name] = Model(
            name=name,
            title=m.get("title", name),
            vendor=m.get("vendor", ""),
            status=status,
            offers=tuple(offers),
            shut_down=None if shut_down is None else _as_date(ctx, table, "shut_down", shut_down),
            notes=m.get("notes", ""),
            replacement=m.get("replacement"),
            sources=msources,
        )
        all_offers.extend(offers)
    for m in models.values():
        for holder, table in [(m, _table_name(m.name))] + [(o, _table_name(m.name, o.provider)) for o in m.offers]:
            if holder.replacement is not None and holder.replacement not in models:
                raise ctx.fail(table, "replacement", f"names unknown model {holder.replacement!r}; known: "
                               + ", ".join(sorted(models)))
    as_of = data.get("as_of")
    default_model = data.get("default_model")
    if default_model is not None and default_model not in models:
        raise ctx.fail("catalog", "default_model", f"names unknown model {default_model!r}; known: "
                       + ", ".join(sorted(models)))
    differences = []
    for i, d in enumerate(data.get("differences", [])):
        table = f"differences[{i}]"
        for req in ("source", "key", "fact", "reason"):
            if not isinstance(d.get(req), str) or not d[req].strip():
                raise ctx.fail(table, req, f"{d.get(req)!r} is not allowed; allowed: a non-empty string")
        differences.append(Difference(d["source"], d["key"], d["fact"], d["reason"]))
    refreshed = data.get("_refreshed")
    return Catalog(models=models, providers=providers, source=source, _offers=tuple(all_offers),
                   as_of=None if as_of is None else _as_date(ctx, "catalog", "as_of", as_of), sources=known,
                   default_model=default_model, refreshed=refreshed, differences=tuple(differences))


def _merge(base: dict, overlay: dict, file: str, ctx: _Ctx) -> None:
    """Merge ``overlay`` (one user file) into ``base`` in place, recording which tables it touched."""
    for key, value in overlay.items():
        if key == "models":
            if not isinstance(value, dict):
                raise CatalogError(file, "models", None, "must be a table of [models.<name>] tables")
            for name, m in value.items():
                table = _table_name(name)
                if not isinstance(m, dict):
                    raise CatalogError(file, table, None, "must be a table")
                target = base.setdefault("models", {}).setdefault(name, {})
                ctx.origin[table] = file
                target["_overlay_facts"] = [k for k in m if k != "offers"]
                for k, v in m.items():
                    if k != "offers":
                        target[k] = copy.deepcopy(v)
                offers = m.get("offers", [])
                if not isinstance(offers, list):
                    raise CatalogError(file, table, "offers", "must be a list of [[offers]] tables")
                for o in offers:
                    if not isinstance(o, dict) or not isinstance(o.get("provider"), str):
                        raise CatalogError(file, table, "offers", "each offer needs provider = \"<name>\"")
                    ctx.origin[_table_name(name, o["provider"])] = file
                    existing = next((x for x in target.setdefault("offers", [])
                                     if x.get("provider") == o["provider"]), None)
                    if existing is None:
                        existing = {}
                        target["offers"].append(existing)
                    existing.update(copy.deepcopy(o))
                    existing["_overlay_facts"] = [k for k in o if k != "provider"] + (
                        ["prices"] if "prices" in o else [])
        elif key in ("providers", "sources"):
            if not isinstance(value, dict):
                raise CatalogError(file, key, None, f"must be a table of [{key}.<name>] tables")
            for name, table in value.items():
                ctx.origin[f"{key}.{name}"] = file
                base.setdefault(key, {}).setdefault(name, {}).update(copy.deepcopy(table))
        elif key in ("as_of", "schema_version"):
            continue  # the shipped catalog's date stays the one the staleness notice reads
        elif key == "refreshed":  # a refreshed overlay (sorakit models --update): its fetch date
            day = _as_date(ctx, "catalog", "refreshed", value) if not isinstance(value, dt.date) else value
            base["_refreshed"] = max(day, base.get("_refreshed", day))
        else:
            raise CatalogError(file, key, None, "is not a catalog table; allowed: providers, sources, models, "
                               "refreshed")


def _read(path: Path) -> dict:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise CatalogError(str(path), "file", None, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(str(path), "file", None, f"is not valid TOML ({exc})") from None


@lru_cache(maxsize=16)
def _load_cached(path: str | None, overlays: tuple[str, ...], _stamps: tuple = ()) -> Catalog:
    """``_stamps`` (the files' modification times) keys the cache, so a rewritten overlay is re-read."""
    if path is None:
        text = resources.files("sorakit.catalog").joinpath("models.toml").read_text("utf-8")
        data, name = tomllib.loads(text), "sorakit/catalog/models.toml"
    else:
        data, name = _read(Path(path)), str(path)
    if not overlays:
        return _parse(data, name, strict=path is None)
    ctx = _Ctx(name)
    overlay_sources = {}
    for file in overlays:
        raw = _read(Path(file))
        day = raw.get("as_of")
        day = day if isinstance(day, dt.date) else dt.date.fromtimestamp(os.path.getmtime(file))
        overlay_sources[file] = Source(key=f"overlay:{file}", title=f"user overlay {file}", as_of=day)
        _merge(data, raw, file, ctx)
    return _parse(data, name + " + " + " + ".join(overlays), ctx, strict=path is None,
                  overlay_sources=overlay_sources)


def load_catalog(path: str | Path | None = None, *, overlays: Any = None) -> Catalog:
    """The catalog shipped with sorakit (or one from a TOML file of the same shape), with user
    overlays merged over it.

    ``overlays``: a path or a list of paths; None (the default) means the refreshed overlay
    (``refreshed_overlay_path()``, written by ``sorakit models --update``) if it exists, then the file
    named by ``$SORAKIT_CATALOG`` if set. Pass ``overlays=()`` for the shipped data alone.
    Raises `CatalogError` naming the file, table and field of anything malformed.
    """
    if overlays is None:
        env = os.environ.get(ENV_OVERLAY, "").strip()
        overlays = (env,) if env else ()
        refreshed = refreshed_overlay_path()
        if refreshed.is_file():  # written by `sorakit models --update`; the user's own overlay wins
            overlays = (str(refreshed),) + overlays
    elif isinstance(overlays, (str, os.PathLike)):
        overlays = (overlays,)
    resolved = tuple(str(Path(p).expanduser().resolve()) for p in overlays)
    stamps = tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in resolved)
    return _load_cached(None if path is None else str(Path(path).resolve()), resolved, stamps)


STALE_DAYS = 30
"""Catalog data older than this many days gets a one-line notice (models ship monthly)."""


def refreshed_overlay_path() -> Path:
    """Where ``sorakit models --update`` writes the refreshed overlay: ``catalog/refreshed.toml``
    in sorakit's cache folder (``$SORAKIT_CACHE``, else ``~/.cache/sorakit`` on Linux,
    ``~/Library/Caches/sorakit`` on macOS, ``%LOCALAPPDATA%\\sorakit\\Cache`` on Windows)."""
    from ..media._store import cache_root

    return cache_root() / "catalog" / "refreshed.toml"


def stale_notice(catalog: Catalog, today: dt.date, max_age_days: int = STALE_DAYS) -> Optional[str]:
    """A one-line notice when the catalog's data (the newer of the shipped ``as_of`` and the
    refreshed overlay's fetch date) is more than ``max_age_days`` older than ``today``."""
    day = catalog.data_as_of
    if day is None or (today - day).days <= max_age_days:
        return None
    what = "refreshed" if catalog.refreshed is not None and catalog.refreshed >= (catalog.as_of or day) else "checked"
    return (f"sorakit: the model catalog was last {what} on {day.isoformat()} "
            f"({(today - day).days} days ago); models and prices may have changed — run "
            f"`sorakit models --update` (or studio.update_catalog()) to refresh it from LiteLLM's price map "
            f"and the providers' listings")
