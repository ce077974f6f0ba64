"""Load the model catalog (``models.toml`` shipped in this package) into small typed objects."""

from __future__ import annotations

import datetime as dt
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

__all__ = [
    "Catalog",
    "Model",
    "Offer",
    "PriceRule",
    "ProviderInfo",
    "load_catalog",
    "parse_size",
    "resolution_tier",
]

AudioMode = Literal["always", "optional", "never"]


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
    """Price per second of output for the sizes / resolution / audio it matches."""

    usd_per_second: float
    as_of: dt.date
    source: str
    resolution: Optional[str] = None
    sizes: Optional[tuple[str, ...]] = None
    audio: Optional[bool] = None

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
    """One provider serving one model: its id there, what it allows and what it costs."""

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
    unconfirmed: tuple[str, ...] = ()

    def serves_on(self, day: dt.date) -> bool:
        """False once the provider has stopped serving the model."""
        return self.served_until is None or day < self.served_until

    def price(self, width: int, height: int, audio: bool) -> Optional[PriceRule]:
        """The price rule for this output, or None when the price is unknown."""
        for rule in self.prices:
            if rule.matches(width, height, audio):
                return rule
        return None


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

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(o.provider for o in self.offers)

    def offer(self, provider: str) -> Optional[Offer]:
        for o in self.offers:
            if o.provider == provider:
                return o
        return None


@dataclass(frozen=True)
class Catalog:
    """All models and providers. ``catalog.df`` is one row per offer."""

    models: dict[str, Model]
    providers: dict[str, ProviderInfo]
    source: str = ""
    _offers: tuple[Offer, ...] = field(default=(), repr=False)

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

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())

    @property
    def df(self):
        """One row per (model, provider) offer with its limits and prices, as a pandas DataFrame."""
        import pandas as pd

        rows = []
        for o in self._offers:
            m = self.models[o.model]
            rates = "; ".join(
                f"${r.usd_per_second:g}/s"
                + (f" {r.resolution}" if r.resolution else "")
                + (f" {'/'.join(r.sizes)}" if r.sizes else "")
                + ("" if r.audio is None else (" with audio" if r.audio else " without audio"))
                for r in o.prices
            ) or "unknown"
            rows.append({
                "model": o.model, "title": m.title, "vendor": m.vendor, "status": m.status,
                "provider": o.provider, "provider_model": o.id,
                "served_until": o.served_until, "sizes": ", ".join(o.sizes),
                "seconds": ", ".join(f"{s:g}" for s in o.seconds), "fps": o.fps,
                "audio": o.audio, "max_variations": o.max_variations,
                "capabilities": ", ".join(sorted(o.capabilities)), "price": rates,
                "price_as_of": max((r.as_of for r in o.prices), default=None),
            })
        return pd.DataFrame(rows)


def _offer(model: str, raw: dict[str, Any]) -> Offer:
    sizes = tuple(raw["sizes"])
    seconds = tuple(float(s) for s in raw["seconds"])
    audio = raw.get("audio", "never")
    prices = tuple(
        PriceRule(
            usd_per_second=float(p["usd_per_second"]),
            as_of=p["as_of"],
            source=p["source"],
            resolution=p.get("resolution"),
            sizes=tuple(p["sizes"]) if "sizes" in p else None,
            audio=p.get("audio"),
        )
        for p in raw.get("prices", [])
    )
    for s in sizes:
        parse_size(s)
    return Offer(
        model=model,
        provider=raw["provider"],
        id=raw["id"],
        sizes=sizes,
        seconds=seconds,
        fps=float(raw.get("fps", 24)),
        audio=audio,
        capabilities=frozenset(raw.get("capabilities", ["text-to-video"])),
        max_variations=int(raw.get("max_variations", 1)),
        prices=prices,
        default_size=raw.get("default_size", sizes[0]),
        default_seconds=float(raw.get("default_seconds", seconds[0])),
        default_audio=bool(raw.get("default_audio", audio == "always")),
        image_must_match_size=bool(raw.get("image_must_match_size", False)),
        served_until=raw.get("served_until"),
        unconfirmed=tuple(raw.get("unconfirmed", ())),
    )


def _parse(data: dict[str, Any], source: str) -> Catalog:
    providers = {
        name: ProviderInfo(
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
        for name, p in data.get("providers", {}).items()
    }
    models: dict[str, Model] = {}
    all_offers: list[Offer] = []
    for name, m in data.get("models", {}).items():
        offers = tuple(_offer(name, o) for o in m.get("offers", []))
        for o in offers:
            if o.provider not in providers:
                raise ValueError(f"catalog: model {name} names unknown provider {o.provider!r}")
        models[name] = Model(
            name=name,
            title=m.get("title", name),
            vendor=m.get("vendor", ""),
            status=m.get("status", "live"),
            offers=offers,
            shut_down=m.get("shut_down"),
            notes=m.get("notes", ""),
        )
        all_offers.extend(offers)
    return Catalog(models=models, providers=providers, source=source, _offers=tuple(all_offers))


@lru_cache(maxsize=8)
def _load_cached(path: str | None) -> Catalog:
    if path is None:
        text = resources.files("sorakit.catalog").joinpath("models.toml").read_text("utf-8")
        return _parse(tomllib.loads(text), "sorakit/catalog/models.toml")
    return _parse(tomllib.loads(Path(path).read_text("utf-8")), str(path))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog shipped with sorakit, or one from a TOML file of the same shape."""
    return _load_cached(None if path is None else str(Path(path).resolve()))
