"""The "unified" relay protocol (``POST {base}/videos/generations``) and how to register a relay.

Pure mapping, no I/O. Aggregator relays put many video models behind one small JSON protocol:

```
POST {base}/videos/generations        {model, prompt, duration, resolution, aspect_ratio, n,
                                        image?: data URI, webhook_url?}       -> {id, ...}
GET  {base}/videos/generations/{id}   -> {status: queued|processing|completed|failed,
                                          data: [{url}, ...], error?}
```

There is no shared standard, so everything that differs between relays is configuration: the
base URL, the create and poll paths (new-api uses ``video/generations``), the environment variable
holding the key, the auth header, and the relay's own names for the models.

Adding a relay
--------------
A few lines make a relay a provider like any other, with its own name in the catalog, the plan,
the ledger and comparisons::

    from sorakit.providers.relay import make_relay

    cfg = make_relay(
        "myrelay",
        base_url="https://relay.example.com/v1",     # ends with the version segment, like OpenAI's
        key_env="MYRELAY_API_KEY",
        models={"veo-3-fast": "veo3-fast", "kling-3-standard": "kling-v3"},  # canonical -> relay id
        paths={"create": "video/generations", "poll": "video/generations/{id}"},  # new-api style
        auth_header="Authorization", auth_scheme="Bearer",                  # the default
        prices={"veo-3-fast": {"usd_per_second": 0.12, "as_of": "2026-11-01",
                               "source": "relay.example.com/pricing"}},
    )
    studio = sorakit.Studio(relays=[cfg])        # this studio drives it (or pass the dict of arguments)
    plan(VideoRequest("a fox", model="veo-3-fast@myrelay"), cfg.extend(load_catalog()))

(``register_relay`` with the same arguments is the older, process-wide spelling: deprecated, it
still records the relay for every Studio opened afterwards.)

What a registered relay offers is data, copied and never invented: for each model in ``models``,
the limits (sizes, seconds, capabilities, audio, ...) come from the catalog's canonical ``relay``
offer of that model, or, when the catalog has none, from the provider named by ``like`` (default:
the model's first offer). A value in ``models`` may be a dict instead of an id to override any of
those fields (``{"id": "veo3", "seconds": [8], "sizes": ["1280x720"]}``). Prices are never copied
from another provider: a relay's price is what you give in ``prices`` (with ``as_of`` and
``source``), otherwise unknown.

The `RelayProvider` finds its configuration by its catalog name in the registry, so the engine
builds it like every provider (``RelayProvider(info, base_url=..., api_key=...)``); explicit
options (``paths=``, ``model_ids=``, ``auth_header=``...) override the registry.

Sizes map to ``resolution`` + ``aspect_ratio`` and back exactly (`relay_format` / `relay_size`):
1280x720 <-> 720p 16:9, 720x1280 <-> 720p 9:16, 1080x1080 <-> 1080p 1:1, 854x480 and 864x480 ->
480p 16:9 (back: 854x480), 1920x1080 <-> 1080p 16:9.

Create is *not* idempotent and relays have no list endpoint: a create whose answer was lost cannot
be reconciled (``create_is_idempotent = supports_reconcile = False``); the engine must record it as
``unknown`` and never re-send it blindly. Any job whose id was recorded can be polled and downloaded
after a restart. ``n`` > 1 yields several results: one `JobState` per ``data[i]`` with
``variation_index = i``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Mapping, Optional, Union
from urllib.parse import urljoin, urlsplit

import httpx

from .._exceptions import ConfigurationError, ValidationError
from .._types import JobState
from ..catalog import Catalog, Offer, Plan, PriceRule, ProviderInfo, load_catalog, parse_size, resolution_tier
from ._base import CancelSupport, Provider, Variant, as_float, as_int, header_float

__all__ = [
    "RelayConfig",
    "RelayProvider",
    "make_relay",
    "register_relay",
    "relay_configs",
    "with_relays",
    "unregister_relay",
    "registered_relays",
    "relay_config",
    "relay_catalog",
    "relay_format",
    "relay_size",
    "lenient_error_details",
    "DEFAULT_PATHS",
]

DEFAULT_PATHS: Mapping[str, str] = {"create": "videos/generations", "poll": "videos/generations/{id}"}
"""Paths relative to the base URL (which ends with ``/v1``). new-api: ``video/generations``."""

_ASPECTS = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0}
_SIZE_OF = {
    ("480p", "16:9"): (854, 480), ("480p", "9:16"): (480, 854), ("480p", "1:1"): (480, 480),
    ("720p", "16:9"): (1280, 720), ("720p", "9:16"): (720, 1280), ("720p", "1:1"): (720, 720),
    ("1080p", "16:9"): (1920, 1080), ("1080p", "9:16"): (1080, 1920), ("1080p", "1:1"): (1080, 1080),
}
_RESOLUTIONS = ("480p", "720p", "1080p")

_STATUS = {
    "queued": "queued", "pending": "queued", "submitted": "queued", "waiting": "queued",
    "not_start": "queued", "created": "queued",
    "processing": "in_progress", "in_progress": "in_progress", "running": "in_progress",
    "generating": "in_progress", "started": "in_progress",
    "completed": "completed", "succeeded": "completed", "success": "completed", "done": "completed",
    "finished": "completed",
    "failed": "failed", "failure": "failed", "error": "failed",
    "cancelled": "cancelled", "canceled": "cancelled",
}


# ------------------------------------------------------------------------------ size mapping
def relay_format(width: int, height: int) -> tuple[str, str]:
    """``(resolution, aspect_ratio)`` for a frame size: ``1280x720`` -> ``("720p", "16:9")``.

    The aspect ratio must be within 3 % of 16:9, 9:16 or 1:1 and the short side at most 1200 px;
    anything else raises ValueError (a relay cannot express it).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"size {width}x{height} is not a frame size")
    ratio = width / height
    aspect = next((a for a, r in _ASPECTS.items() if abs(ratio / r - 1) <= 0.03), None)
    tier = resolution_tier(width, height)
    if aspect is None or tier not in _RESOLUTIONS:
        raise ValueError(
            f"size {width}x{height} has no relay resolution/aspect_ratio "
            f"(aspect ratios 16:9, 9:16, 1:1; resolutions {', '.join(_RESOLUTIONS)})")
    return tier, aspect


def relay_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """The frame size a relay produces for ``resolution`` + ``aspect_ratio`` (``720p``, ``9:16`` -> 720x1280)."""
    try:
        return _SIZE_OF[(str(resolution).lower(), str(aspect_ratio))]
    except KeyError:
        raise ValueError(f"no size for resolution={resolution!r} aspect_ratio={aspect_ratio!r}") from None


# ------------------------------------------------------------------------------ lenient errors
def lenient_error_details(body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
    """(message, code, param) from the error bodies relays and resellers send.

    Accepts ``{"error": {"message", "code"|"type", "param"}}``, ``{"error": "text"}``,
    ``{"message": ..., "code"?}``, ``{"detail": ...}`` (FastAPI) and plain text.
    """
    fallback = response.reason_phrase or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message") or err.get("msg") or err.get("detail") or fallback
            code = err.get("code") or err.get("type") or body.get("code")
            return str(message), None if code is None else str(code), err.get("param")
        if isinstance(err, str) and err.strip():
            code = body.get("code") or body.get("type")
            return err.strip(), None if code is None else str(code), None
        for key in ("message", "msg", "detail", "error_message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                code = body.get("code") or body.get("type") or body.get("error_code")
                return value.strip(), None if code is None else str(code), None
            if isinstance(value, list) and value:  # FastAPI validation errors
                first = value[0]
                msg = first.get("msg") if isinstance(first, dict) else str(first)
                return str(msg or fallback), "validation_error", None
    text = response.text.strip()[:300] if response.content else ""
    return text or fallback, None, None


# ------------------------------------------------------------------------------ configuration
_MARK = "registered with sorakit.providers.relay.register_relay"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class RelayConfig:
    """How one relay differs from the canonical ``relay`` protocol.

    Build it with `register_relay` (which also records it in the registry).
    """

    name: str
    """The provider name used in requests, the catalog and the ledger (``"myrelay"``)."""
    base_url: str
    """Base URL including the version segment, e.g. ``https://relay.example.com/v1``."""
    key_env: tuple[str, ...] = ("RELAY_API_KEY",)
    """Environment variables holding the API key, first one set wins."""
    models: Mapping[str, Union[str, Mapping[str, Any]]] = field(default_factory=dict)
    """Canonical model name -> the relay's id, or a dict with ``id`` and offer overrides."""
    paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))
    """``create`` and ``poll`` paths relative to ``base_url``; ``poll`` contains ``{id}``."""
    auth_header: str = "Authorization"
    """Header carrying the key (``Authorization``, ``x-api-key``, ``api-key``...)."""
    auth_scheme: Optional[str] = "Bearer"
    """Prefix before the key in ``auth_header`` (``"Bearer"``), or None for the bare key."""
    like: Optional[str] = None
    """Provider whose offer supplies the limits when the catalog has no ``relay`` offer for a model."""
    prices: Mapping[str, Any] = field(default_factory=dict)
    """Canonical model -> a price rule dict or a list of them (``usd_per_second``, ``as_of``, ``source``,
    optional ``resolution`` / ``sizes`` / ``audio``). Absent = unknown price."""
    title: Optional[str] = None
    """Readable name (default: the name)."""
    webhook_url: Optional[str] = None
    """Sent as ``webhook_url`` on every create when set (sorakit itself polls)."""
    emulator_prefix: str = "/relay/v1"
    """Where the built-in emulator serves this protocol."""

    def model_id(self, canonical: str) -> Optional[str]:
        """The relay's id for a canonical model, or None when the configuration does not say."""
        value = self.models.get(canonical)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return value.get("id")

    def provider_info(self) -> ProviderInfo:
        """The catalog entry for this relay."""
        return ProviderInfo(
            name=self.name, title=self.title or f"{self.name} (relay)", protocol="relay",
            base_url=self.base_url, key_env=tuple(self.key_env), prompt_chars=(1, 32000),
            emulator_prefix=self.emulator_prefix, docs=_MARK,
        )

    def offers(self, catalog: Catalog) -> list[Offer]:
        """This relay's offers, copied from the canonical ``relay`` offers (or ``like``) with its ids."""
        out = []
        for canonical, value in self.models.items():
            if canonical not in catalog.models:
                raise ConfigurationError(
                    f"relay {self.name!r}: unknown model {canonical!r}; catalog models: "
                    f"{', '.join(sorted(catalog.models))}")
            model = catalog.models[canonical]
            base = model.offer("relay") if self.like is None else model.offer(self.like)
            if base is None and self.like is None and model.offers:
                base = model.offers[0]
            if base is None:
                raise ConfigurationError(
                    f"relay {self.name!r}: {canonical} has no {self.like!r} offer to copy limits from; "
                    f"choose like= among {', '.join(model.providers)}")
            overrides = dict(value) if isinstance(value, Mapping) else {"id": value}
            offer = dataclasses.replace(base, provider=self.name, id=str(overrides.pop("id", None) or base.id),
                                        prices=_price_rules(self.name, canonical, self.prices.get(canonical)),
                                        unconfirmed=tuple(u for u in base.unconfirmed
                                                          if u not in ("id", "prices")))
            offer = _override(self.name, offer, overrides)
            for size in offer.sizes:
                try:
                    relay_format(*parse_size(size))
                except ValueError as exc:
                    raise ConfigurationError(f"relay {self.name!r}, {canonical}: {exc}") from None
            out.append(offer)
        return out

    def extend(self, catalog: Catalog | None = None) -> Catalog:
        """A copy of ``catalog`` (default: the shipped one) in which this relay serves its models."""
        return _extend(catalog or load_catalog(), [self])


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{where}: as_of {value!r} is not a date (YYYY-MM-DD)") from None


def _price_rules(relay: str, model: str, raw: Any) -> tuple[PriceRule, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    rules = []
    for item in items:
        where = f"relay {relay!r} price for {model}"
        if not isinstance(item, Mapping) or "usd_per_second" not in item:
            raise ConfigurationError(f"{where}: give a dict with usd_per_second, as_of and source")
        if not item.get("source") or not item.get("as_of"):
            raise ConfigurationError(f"{where}: every price needs as_of and source")
        rate = float(item["usd_per_second"])
        if not rate > 0:
            raise ConfigurationError(f"{where}: usd_per_second must be positive (leave unknown prices out)")
        rules.append(PriceRule(
            usd_per_second=rate, as_of=_date(item["as_of"], where), source=str(item["source"]),
            resolution=item.get("resolution"),
            sizes=tuple(item["sizes"]) if item.get("sizes") is not None else None,
            audio=item.get("audio"),
        ))
    return tuple(rules)


_OVERRIDABLE = {"sizes", "seconds", "fps", "audio", "capabilities", "max_variations", "default_size",
                "default_seconds", "default_audio", "served_until", "image_must_match_size"}


def _override(relay: str, offer: Offer, overrides: Mapping[str, Any]) -> Offer:
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise ConfigurationError(f"relay {relay!r}: cannot override {', '.join(sorted(unknown))} "
                                 f"(allowed: id, {', '.join(sorted(_OVERRIDABLE))})")
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "sizes":
            changes["sizes"] = tuple(str(s) for s in value)
            changes.setdefault("default_size", changes["sizes"][0])
        elif key == "seconds":
            changes["seconds"] = tuple(float(s) for s in value)
            changes.setdefault("default_seconds", changes["seconds"][0])
        elif key == "capabilities":
            changes["capabilities"] = frozenset(value)
        elif key in ("default_seconds", "fps"):
            changes[key] = float(value)
        elif key == "max_variations":
            changes[key] = int(value)
        elif key == "served_until" and value is not None:
            changes[key] = _date(value, f"relay {relay!r}")
        else:
            changes[key] = value
    offer = dataclasses.replace(offer, **changes)
    if offer.default_size not in offer.sizes:
        offer = dataclasses.replace(offer, default_size=offer.sizes[0])
    if offer.default_seconds not in offer.seconds:
        offer = dataclasses.replace(offer, default_seconds=offer.seconds[0])
    return offer


def _extend(catalog: Catalog, configs: Iterable[RelayConfig]) -> Catalog:
    models = dict(catalog.models)
    providers = dict(catalog.providers)
    offers = list(catalog.offers())
    for cfg in configs:
        if cfg.name in providers and providers[cfg.name].docs != _MARK:
            raise ConfigurationError(f"relay name {cfg.name!r} is already a provider in the catalog")
        # re-extending with the same relay replaces its offers
        offers = [o for o in offers if o.provider != cfg.name]
        providers[cfg.name] = cfg.provider_info()
        new = cfg.offers(catalog)
        offers.extend(new)
        for o in new:
            m = models[o.model]
            models[o.model] = dataclasses.replace(
                m, offers=tuple(x for x in m.offers if x.provider != cfg.name) + (o,))
    source = catalog.source + " + relays " + ", ".join(c.name for c in configs)
    return dataclasses.replace(catalog, models=models, providers=providers, source=source, _offers=tuple(offers))


_REGISTRY: dict[str, RelayConfig] = {}
_LOCK = threading.Lock()


def make_relay(
    name: str,
    *,
    base_url: str,
    key_env: Union[str, Iterable[str]] = "RELAY_API_KEY",
    models: Mapping[str, Union[str, Mapping[str, Any]]],
    paths: Optional[Mapping[str, str]] = None,
    auth_header: str = "Authorization",
    auth_scheme: Optional[str] = "Bearer",
    like: Optional[str] = None,
    prices: Optional[Mapping[str, Any]] = None,
    title: Optional[str] = None,
    webhook_url: Optional[str] = None,
    catalog: Catalog | None = None,
) -> RelayConfig:
    """A checked `RelayConfig` for the relay ``name`` (nothing is registered anywhere).

    Checks everything at once (raises `ConfigurationError`): the name, the base URL, the paths,
    that every model exists in ``catalog`` and every size maps to a relay resolution/aspect ratio.
    Give it to a studio: ``Studio(relays=[make_relay(...)])`` or just the arguments as a dict,
    ``Studio(relays=[{"name": ..., "base_url": ..., "models": {...}}])``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"relay name {name!r}: use lowercase letters, digits, '-' or '_' (max 40)")
    cat = catalog or load_catalog()
    if name in cat.providers and cat.providers[name].docs != _MARK:
        raise ConfigurationError(f"relay name {name!r} is already a provider in the catalog; pick another name")
    parts = urlsplit(str(base_url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"relay {name!r}: base_url {base_url!r} must be an http(s):// URL")
    full_paths = dict(DEFAULT_PATHS)
    full_paths.update(paths or {})
    unknown = set(full_paths) - set(DEFAULT_PATHS)
    if unknown:
        raise ConfigurationError(f"relay {name!r}: unknown path keys {sorted(unknown)}; use 'create' and 'poll'")
    if "{id}" not in full_paths["poll"]:
        raise ConfigurationError(f"relay {name!r}: the poll path must contain '{{id}}'")
    if not models:
        raise ConfigurationError(f"relay {name!r}: give models={{canonical name: relay model id}}")
    if not auth_header or not re.match(r"^[A-Za-z0-9-]+$", auth_header):
        raise ConfigurationError(f"relay {name!r}: auth_header {auth_header!r} is not a header name")
    envs = (key_env,) if isinstance(key_env, str) else tuple(key_env)
    cfg = RelayConfig(
        name=name, base_url=str(base_url).rstrip("/"), key_env=envs, models=dict(models),
        paths=full_paths, auth_header=auth_header, auth_scheme=auth_scheme, like=like,
        prices=dict(prices or {}), title=title, webhook_url=webhook_url,
    )
    unpriced = set(cfg.prices) - set(cfg.models)
    if unpriced:
        raise ConfigurationError(f"relay {name!r}: prices for models it does not serve: {sorted(unpriced)}")
    cfg.offers(cat)  # validates models, overrides, sizes and prices
    return cfg


def register_relay(name: str, **kwargs: Any) -> RelayConfig:
    """Deprecated: relays belong to a studio, ``Studio(relays=[{"name": name, ...}])``.

    Still works: checks like `make_relay` and records the relay process-wide, where every Studio
    opened afterwards finds it. Registering the same name again replaces the earlier one.
    """
    warnings.warn("register_relay() is deprecated: pass relays to the studio that uses them, "
                  "Studio(relays=[{'name': ..., 'base_url': ..., 'models': {...}}])",
                  DeprecationWarning, stacklevel=2)
    cfg = make_relay(name, **kwargs)
    with _LOCK:
        _REGISTRY[name] = cfg
    return cfg


def relay_configs(relays: Optional[Iterable[Any]], catalog: Catalog | None = None) -> dict[str, RelayConfig]:
    """``Studio(relays=...)`` as ``{name: RelayConfig}``: each item a `RelayConfig` or a dict of
    `make_relay`'s arguments (``name`` included); a mapping ``{name: {...}}`` works too."""
    if relays is None:
        return {}
    if isinstance(relays, Mapping):
        relays = [r if isinstance(r, RelayConfig) else {"name": n, **dict(r)} for n, r in relays.items()]
    elif isinstance(relays, (str, bytes, RelayConfig)) or not isinstance(relays, Iterable):
        raise ConfigurationError(f"relays={relays!r}: give a list of relays (dicts of make_relay's "
                                 f"arguments, or RelayConfig)")
    out: dict[str, RelayConfig] = {}
    for r in relays:
        if isinstance(r, Mapping):
            args = dict(r)
            if "name" not in args:
                raise ConfigurationError(f"relay {args!r}: give its name (and base_url, models)")
            r = make_relay(args.pop("name"), catalog=catalog, **args)
        elif not isinstance(r, RelayConfig):
            raise ConfigurationError(f"relay {r!r}: a dict of make_relay's arguments or a RelayConfig")
        if r.name in out:
            raise ConfigurationError(f"relay {r.name!r} is given twice")
        out[r.name] = r
    return out


def with_relays(catalog: Catalog, scoped: Iterable[RelayConfig] = ()) -> Catalog:
    """``catalog`` with the relays registered process-wide (deprecated) and then ``scoped`` ones
    (a studio's own, which win on a name clash)."""
    configs = {**registered_relays(), **{c.name: c for c in scoped}}
    return _extend(catalog, configs.values()) if configs else catalog


def unregister_relay(name: str) -> None:
    """Forget a registered relay (no error when it was not registered)."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def registered_relays() -> dict[str, RelayConfig]:
    """A copy of the registry: name -> `RelayConfig`."""
    with _LOCK:
        return dict(_REGISTRY)


def relay_config(name: str) -> Optional[RelayConfig]:
    """The registered configuration for ``name``, or None."""
    with _LOCK:
        return _REGISTRY.get(name)


def relay_catalog(catalog: Catalog | None = None, relays: Iterable[Union[str, RelayConfig]] | None = None) -> Catalog:
    """``catalog`` (default: the shipped one) extended with registered relays (all, or those named)."""
    if relays is None:
        configs = list(registered_relays().values())
    else:
        configs = [r if isinstance(r, RelayConfig) else _require(r) for r in relays]
    cat = catalog or load_catalog()
    return _extend(cat, configs) if configs else cat


def _require(name: str) -> RelayConfig:
    cfg = relay_config(name)
    if cfg is None:
        raise ConfigurationError(f"no relay named {name!r} is registered; use register_relay()")
    return cfg


# ------------------------------------------------------------------------------ the protocol


class RelayProvider(Provider):
    """A ``videos/generations`` relay: the canonical ``relay`` or one made with `register_relay`.

    Options (each overrides the registered `RelayConfig` of the same name):
        paths: ``{"create": ..., "poll": ".../{id}"}`` relative to the base URL.
        model_ids: canonical model name -> the relay's id.
        auth_header / auth_scheme: where and how the key is sent (default ``Authorization: Bearer``).
        webhook_url: sent on create when set.
    """

    protocol: ClassVar[str] = "relay"
    cancel: ClassVar[CancelSupport] = CancelSupport(
        "none", "unconfirmed",
        "the unified relay protocol has no cancel call (relays differ and none is shared); the job "
        "runs to the end at the relay and is billed as the relay bills it",
        "PROTOCOLS.md §4 (no shared standard; no cancel in the tutorials' shape)")
    create_is_idempotent: ClassVar[bool] = False
    supports_reconcile: ClassVar[bool] = False
    variants: ClassVar[tuple[str, ...]] = ("video",)

    def __init__(self, info: ProviderInfo, *, base_url: str | None = None, api_key: str | None = None,
                 **options: Any):
        self.config = options.pop("config", None) or relay_config(info.name)
        cfg = self.config
        if not (base_url or info.base_url or (cfg and cfg.base_url)):
            raise ConfigurationError(
                f"{info.name}: no base URL; relays have no default — register the relay with "
                f"register_relay(name, base_url=...) or pass base_url=")
        super().__init__(info, base_url=base_url or info.base_url or (cfg.base_url if cfg else None),
                         api_key=api_key, **options)
        paths = dict(cfg.paths if cfg else DEFAULT_PATHS)
        paths.update(options.get("paths") or {})
        self.paths = paths
        self.auth_header = options.get("auth_header") or (cfg.auth_header if cfg else "Authorization")
        self.auth_scheme = options["auth_scheme"] if "auth_scheme" in options else (
            cfg.auth_scheme if cfg else "Bearer")
        self.webhook_url = options.get("webhook_url") or (cfg.webhook_url if cfg else None)

    def auth_headers(self) -> dict[str, str]:
        """``auth_header: [auth_scheme ]key`` (``Authorization: Bearer <key>`` by default)."""
        if not self._api_key:
            return {}
        value = f"{self.auth_scheme} {self._api_key}" if self.auth_scheme else self._api_key
        return {self.auth_header: value}

    def error_details(self, body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
        return lenient_error_details(body, response)

    # -- create -------------------------------------------------------------------------------
    def model_id(self, plan: Plan) -> str:
        """The relay's name for the plan's model (options, then registry, then the catalog offer id)."""
        ids = self.options.get("model_ids") or {}
        if plan.model.name in ids:
            return ids[plan.model.name]
        if self.config is not None:
            mapped = self.config.model_id(plan.model.name)
            if mapped:
                return mapped
        return plan.provider_model

    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON body of the create call for `plan`."""
        try:
            resolution, aspect = relay_format(plan.width, plan.height)
        except ValueError as exc:
            raise ValidationError("size", plan.size, "sizes with aspect ratio 16:9, 9:16 or 1:1 at 480p-1080p",
                                  str(exc)) from None
        body: dict[str, Any] = {
            "model": self.model_id(plan),
            "prompt": plan.prompt,
            "duration": int(plan.seconds) if float(plan.seconds).is_integer() else plan.seconds,
            "resolution": resolution,
            "aspect_ratio": aspect,
            "n": plan.variations,
        }
        if plan.input_image is not None:
            mime = plan.input_image_mime or "image/png"
            body["image"] = f"data:{mime};base64," + base64.b64encode(plan.input_image).decode("ascii")
        elif plan.input_image_url is not None:
            body["image"] = plan.input_image_url
        if plan.negative_prompt:
            body["negative_prompt"] = plan.negative_prompt
        if plan.seed is not None:
            body["seed"] = plan.seed
        if self.webhook_url:
            body["webhook_url"] = self.webhook_url
        return body

    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        if plan.action != "generate":
            raise ValidationError("action", plan.action, ["generate"], "relays only generate new videos")
        return self.request("POST", self.paths["create"], json_body=self.body(plan))

    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        """``{id}`` (also ``task_id`` or ``data.id``) -> a ``submitted`` state."""
        self.raise_for_error(response)
        body = self.json_object(response)
        job_id = _job_id(body)
        if not job_id:
            raise self.error(response, "the create answer has no job id", "invalid_response")
        if body.get("status") or body.get("data"):
            states = self.states(job_id, body, response)
            if states and states[0].status in ("completed", "failed", "cancelled"):
                return states  # a relay that answered synchronously
        return [JobState(provider_job_id=job_id, status="submitted", provider_video_id=job_id, raw=body)]

    # -- poll ---------------------------------------------------------------------------------
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        return self.request("GET", self.paths["poll"].replace("{id}", self.segment(provider_job_id, "provider_job_id")))

    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        self.raise_for_error(response)
        return self.states(provider_job_id, self.json_object(response), response)

    def states(self, job_id: str, body: Mapping[str, Any], response: httpx.Response | None = None) -> list[JobState]:
        """A status object -> one state, or one per result (``data[i]`` -> ``variation_index=i``)."""
        data = body.get("data")
        # a one-task list stands for the task only when the answer itself has no status (APIMart);
        # beside a top-level status a list is the results (the unified shape)
        inner = _task_object(data) if isinstance(data, Mapping) or "status" not in body else None
        obj = inner if inner is not None and "status" in inner else body
        raw_status = str(obj.get("status") or "").strip().lower()
        status = _STATUS.get(raw_status, "in_progress")
        poll_after = header_float(response, "retry-after") if response is not None else None
        progress = as_int(obj.get("progress"))
        results = _results(obj)
        if status == "failed":
            code, message = _job_error(obj)
            return [JobState(provider_job_id=job_id, status="failed", progress=progress, error_code=code,
                             error_message=message, raw=body)]
        if status == "completed":
            usable = [r for r in results if r.get("url")]
            if not usable:
                code, message = _job_error(obj)
                return [JobState(provider_job_id=job_id, status="failed", progress=100,
                                 error_code=code if code != "failed" else "no_output",
                                 error_message=message if code != "failed" else
                                 "the relay reported completed but returned no video URL", raw=body)]
            base = str(response.request.url) if response is not None and _has_request(response) else self.base_url
            return [
                JobState(provider_job_id=job_id, status="completed", progress=100,
                         video_url=urljoin(base, str(r["url"])),
                         video_url_expires_at=_expires(r.get("expires_at") or obj.get("expires_at")),
                         provider_video_id=str(r.get("id") or r.get("video_id")
                                               or (job_id if len(usable) == 1 else f"{job_id}#{i}")),
                         seed=_seed(r), billed_cost=as_float(obj.get("cost")) if i == 0 else None,
                         variation_index=i, raw=body)
                for i, r in enumerate(usable)
            ]
        return [JobState(provider_job_id=job_id, status=status, progress=progress,  # type: ignore[arg-type]
                         poll_after=poll_after, raw=body)]

    # -- download -----------------------------------------------------------------------------
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        """GET the result URL; the key goes along only below the relay's base URL (see _base)."""
        if variant != "video":
            raise ValueError(f"{self.name} offers only the 'video' variant")
        if not state.video_url:
            raise ValueError("the job has no result URL yet")
        return self.download_request(state.video_url)

    # -- helpers ------------------------------------------------------------------------------

def _has_request(response: httpx.Response) -> bool:
    try:
        response.request
    except RuntimeError:
        return False
    return True


def _task_object(data: Any) -> Optional[Mapping[str, Any]]:
    """``data`` as one task object: an object, or a list holding exactly one task object (a
    ``status`` or a task id, not a result ``{url}``), as relays answer ``{"code": 200, "data":
    [{"status": "submitted", "task_id": "task_..."}]}`` (tests/published/relay-task)."""
    if isinstance(data, Mapping):
        return data
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], Mapping) \
            and any(k in data[0] for k in ("status", "task_id", "taskId", "job_id")):
        return data[0]
    return None


def _job_id(body: Mapping[str, Any]) -> Optional[str]:
    for key in ("id", "task_id", "taskId", "job_id"):
        if body.get(key):
            return str(body[key])
    data = _task_object(body.get("data"))
    if data is not None:
        return _job_id(data)
    return None


def _results(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = obj.get("data")
    items: list[Any] = []
    if isinstance(data, list):
        items = data
    elif isinstance(data, Mapping) and isinstance(data.get("data"), list):
        items = data["data"]
    result = obj.get("result")
    if not items and isinstance(result, Mapping) and isinstance(result.get("videos"), list):
        # APIMart-style tasks: {result: {videos: [{url: [..] | ".."}]}} (its tasks/status page shows
        # the same form for images, tests/published/relay-task; for videos unconfirmed)
        items = [dict(v, url=u) for v in result["videos"] if isinstance(v, Mapping)
                 for u in (v.get("url") if isinstance(v.get("url"), list) else [v.get("url")]) if u]
    out = []
    for item in items:
        if isinstance(item, Mapping):
            url = item.get("url") or item.get("video_url")
            out.append({**item, "url": url})
        elif isinstance(item, str):
            out.append({"url": item})
    if not out:
        url = obj.get("video_url") or obj.get("url")
        if isinstance(url, str) and url:
            out.append({"url": url})
    return out


def _job_error(obj: Mapping[str, Any]) -> tuple[str, str]:
    err = obj.get("error")
    if isinstance(err, Mapping):
        code = err.get("code") or err.get("type") or "failed"
        message = err.get("message") or err.get("msg") or "the relay reported a failure without a message"
        return str(code), str(message)
    if isinstance(err, str) and err.strip():
        return str(obj.get("code") or "failed"), err.strip()
    for key in ("fail_reason", "failure_reason", "message"):
        if isinstance(obj.get(key), str) and obj[key].strip():
            return str(obj.get("code") or "failed"), obj[key].strip()
    return "failed", "the relay reported a failure without a message"


def _expires(value: Any) -> Optional[float]:
    if value is None:
        return None
    number = as_float(value)
    if number is not None:
        return number / 1000.0 if number > 1e12 else number
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _seed(result: Mapping[str, Any]) -> Optional[int]:
    """A result's seed: ``seed`` or ``metadata.seed`` (as a documented relay answer nests it,
    tests/published/relay-unified/you-token-completed.json)."""
    meta = result.get("metadata")
    return as_int(result.get("seed") if result.get("seed") is not None else
                  meta.get("seed") if isinstance(meta, Mapping) else None)
