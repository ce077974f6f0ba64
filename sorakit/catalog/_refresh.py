"""Refresh the catalog from maintained machine-readable sources into a dated overlay with provenance.

```
fetch_price_map(source | from_package)   LiteLLM's model_prices_and_context_window.json
        │                                (its public URL, a URL you give, or the copy inside the
        │                                 installed `litellm` package — never at import)
        ▼
litellm_changes(map, catalog, fetched)   entries of providers sorakit speaks (gemini/, vertex_ai/,
        │                                openai/) → price rules, served_until, replacement, new offers
        ▼
+ listing_changes(findings)              `check()` findings from providers whose key is set
        ▼
overlay_toml(changes) ──write──▶ refreshed_overlay_path()  (merged by load_catalog() from then on)
```

Mapping LiteLLM fields onto a sorakit offer (the key is ``<prefix>/<provider's model id>``):

| LiteLLM field | sorakit |
|---|---|
| ``output_cost_per_second_{480p,720p,1080p,4k}`` | a price rule with that ``resolution`` |
| ``output_cost_per_second_768p`` | the ``720p`` rule when there is no 720p field (768 is a 720p-class short side) |
| ``output_cost_per_second`` / ``output_cost_per_video_per_second`` | the rule for any other size |
| ``output_cost_per_video_token`` | a ``usd_per_video_token`` rule (Gemini Omni) |
| ``deprecation_date`` (+ ``deprecation_source``) | ``served_until`` (future: "deprecated, shuts down on"; past: shut down) |
| ``successor_model`` | ``replacement`` when the successor is an offer in the catalog |
| ``source`` | named in the provenance of every fact taken from the entry |

``output_cost_per_second_2k`` has no sorakit tier (a 1440-line short side is ``4k`` by
`resolution_tier`) and is left out. A fact listed in ``[[differences]]`` of ``models.toml`` (with
its reason) is not applied. An entry with no catalog offer becomes a new offer only where sorakit
can call it: at the provider of a model the catalog already has under the same id, or next to the
offer at the same provider whose id shares the longest family prefix (its limits copied and marked
unconfirmed). Anything else is reported, not guessed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from .._exceptions import ConfigurationError
from ._catalog import Catalog, Offer, refreshed_overlay_path

__all__ = [
    "ENV_SOURCE",
    "LITELLM_MAP_URL",
    "Change",
    "Refresh",
    "fetch_price_map",
    "litellm_changes",
    "listing_changes",
    "overlay_toml",
    "refresh",
    "write_overlay",
]

LITELLM_MAP_URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
"""LiteLLM's public price map (the same file ships in the `litellm` package as
``litellm/model_prices_and_context_window_backup.json``)."""
ENV_SOURCE = "SORAKIT_PRICE_MAP_URL"
"""Environment variable naming another URL (or a local path) of a map in LiteLLM's format."""
PACKAGE_FILE = "litellm/model_prices_and_context_window_backup.json"

PREFIXES = {"gemini/": "gemini", "vertex_ai/": "vertex", "openai/": "openai"}
"""LiteLLM key prefix → the sorakit provider that speaks that service's protocol."""
CALLABLE = {"gemini": ("gemini-omni", "veo-"), "vertex": ("veo-",), "openai": ("sora",)}
"""Ids a new offer may have at each provider: sorakit's vertex provider speaks predictLongRunning
only (no Interactions API), so Gemini Omni on the enterprise platform is not callable through it."""
TIERS = ("480p", "720p", "1080p", "4k")
LIMIT_FACTS = ("sizes", "seconds", "fps", "audio", "capabilities", "max_variations")


@dataclass(frozen=True)
class Change:
    """One fact the refresh sets (or reports): where, what, before → after, and from where."""

    provider: str
    model: str
    provider_model: str
    fact: str
    """``prices``, ``served_until``, ``replacement``, ``offer`` (a new offer) or ``model`` (a new model)."""
    old: str
    new: str
    source: str
    """The source's title (``LiteLLM price map entry vertex_ai/veo-3.1-generate-001``)."""
    url: str
    fetched: dt.date
    applied: bool = True
    """False when reported only (a listed difference, or nothing sorakit can call)."""
    note: str = ""
    data: Any = field(default=None, compare=False, repr=False)
    """What goes into the overlay for this fact."""
    source_key: str = ""


@dataclass
class Refresh:
    """The result of one refresh: the changes (applied and reported) and the overlay file written."""

    changes: list[Change]
    fetched: dt.date
    sources: dict[str, dict]
    path: Optional[Path] = None

    @property
    def applied(self) -> list[Change]:
        return [c for c in self.changes if c.applied]

    @property
    def df(self):
        """One row per change: provider, model, provider_model, fact, old, new, applied, source, url, fetched, note."""
        import pandas as pd

        cols = ["provider", "model", "provider_model", "fact", "old", "new", "applied", "source", "url",
                "fetched", "note"]
        return pd.DataFrame([{c: getattr(x, c) for c in cols} for x in self.changes], columns=cols)


# --------------------------------------------------------------------------- fetching
def fetch_price_map(source: Optional[str] = None, *, from_package: bool = False,
                    timeout: float = 30.0) -> tuple[dict, str, str]:
    """``(map, url, title)`` of LiteLLM's price map: from ``source`` (a URL or a local path), else
    ``$SORAKIT_PRICE_MAP_URL``, else LiteLLM's public URL; or, with ``from_package=True``, the copy
    inside the installed ``litellm`` package (read as a file: importing litellm would itself fetch).
    Raises `ConfigurationError` naming the source when it cannot be read or is not such a map."""
    if from_package:
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            dist = distribution("litellm")
        except PackageNotFoundError:
            raise ConfigurationError("--from-package: the litellm package is not installed "
                                     "(pip install litellm), or give a URL with --source") from None
        path = Path(str(dist.locate_file(PACKAGE_FILE)))
        url = f"litellm {dist.version} package: {PACKAGE_FILE}"
        text = _read_path(path, url)
        return _parse_map(text, url), url, f"LiteLLM price map (litellm {dist.version} package)"
    url = source or os.environ.get(ENV_SOURCE, "").strip() or LITELLM_MAP_URL
    if re.match(r"^https?://", url):
        import httpx

        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise ConfigurationError(f"the price map at {url} could not be fetched "
                                     f"({type(exc).__name__}: {exc})") from None
        if response.status_code != 200:
            raise ConfigurationError(f"the price map at {url} answered HTTP {response.status_code}")
        text = response.text
    else:
        path = Path(url[7:] if url.startswith("file://") else url).expanduser()
        text = _read_path(path, url)
    return _parse_map(text, url), url, "LiteLLM price map (model_prices_and_context_window.json)"


def _read_path(path: Path, label: str) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise ConfigurationError(f"the price map {label} cannot be read ({exc.strerror or exc})") from None


def _parse_map(text: str, url: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"the price map at {url} is not JSON ({exc})") from None
    if not isinstance(data, dict) or not any(isinstance(v, dict) and "litellm_provider" in v for v in data.values()):
        raise ConfigurationError(f"the price map at {url} is not in LiteLLM's format "
                                 "(an object of model entries with litellm_provider)")
    return data


# --------------------------------------------------------------------------- mapping
def _is_video(entry: dict) -> bool:
    return entry.get("mode") == "video_generation" or "output_cost_per_video_token" in entry


def _rate(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def price_rules(entry: dict) -> list[dict]:
    """The sorakit price rules (without source/as_of) a LiteLLM entry states, most specific first."""
    rules = []
    tiers = {t: _rate(entry.get(f"output_cost_per_second_{t}")) for t in TIERS}
    if tiers["720p"] is None and _rate(entry.get("output_cost_per_second_768p")) is not None:
        tiers["720p"] = _rate(entry["output_cost_per_second_768p"])
    for tier in TIERS:
        if tiers[tier] is not None:
            rules.append({"usd_per_second": tiers[tier], "resolution": tier})
    base = _rate(entry.get("output_cost_per_second")) or _rate(entry.get("output_cost_per_video_per_second"))
    if base is not None:
        rules.append({"usd_per_second": base})
    token = _rate(entry.get("output_cost_per_video_token"))
    if token is not None:
        rules.append({"usd_per_video_token": token})
    return rules


def _rules_text(rules: Iterable[dict]) -> str:
    parts = []
    for r in rules:
        rate = f"${r['usd_per_second']:g}/s" if r.get("usd_per_second") is not None \
            else f"${r['usd_per_video_token']:g}/video token"
        extra = [r["resolution"]] if r.get("resolution") else []
        extra += ["/".join(r["sizes"])] if r.get("sizes") else []
        extra += [] if r.get("audio") is None else ["with audio" if r["audio"] else "without audio"]
        parts.append(" ".join([rate] + extra))
    return "; ".join(parts) or "unknown"


def _offer_rules(offer: Offer) -> list[dict]:
    out = []
    for r in offer.prices:
        d = {"usd_per_second": r.usd_per_second, "usd_per_video_token": r.usd_per_video_token,
             "resolution": r.resolution, "sizes": list(r.sizes) if r.sizes else None, "audio": r.audio}
        out.append({k: v for k, v in d.items() if v is not None})
    return out


def _same_rules(a: list[dict], b: list[dict]) -> bool:
    """Whether LiteLLM's rules ``a`` say what the catalog's ``b`` say. When ``b`` is finer than
    LiteLLM can express (rules by exact sizes or by audio), ``a`` agrees if its rates are among ``b``'s."""
    if any(r.get("sizes") or r.get("audio") is not None for r in b):
        rates = {(r.get("usd_per_second"), r.get("usd_per_video_token")) for r in b}
        return all((r.get("usd_per_second"), r.get("usd_per_video_token")) in rates for r in a)

    def key(rules):
        return sorted((r.get("usd_per_second") or 0, r.get("usd_per_video_token") or 0, r.get("resolution") or "",
                       tuple(r.get("sizes") or ()), str(r.get("audio"))) for r in rules)
    return key(a) == key(b)


def _date(value: Any) -> Optional[dt.date]:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _source_key(key: str) -> str:
    return "litellm:" + key


def _sibling(catalog: Catalog, provider: str, pid: str) -> Optional[Offer]:
    """The offer at ``provider`` whose id shares the longest family prefix with ``pid`` (at least
    the part before the version: ``gemini-omni-``, ``veo-``, ``alibaba:wan@``), or None."""
    best, best_len = None, 0
    family = re.match(r"^[a-z]+(?:[-:][a-z]+)*[-:@]", pid)  # gemini-omni-, veo-, alibaba:wan@
    need = len(family.group(0)) if family else len(pid)
    for o in catalog.offers(provider=provider):
        n = len(os.path.commonprefix([o.id, pid]))
        if n >= need and n > best_len:
            best, best_len = o, n
    return best


def _recorder(changes: list, catalog: Catalog, key: str, provider: str, pid: str, src_title: str, url: str,
              fetched: dt.date, skey: str):
    """A function recording one change of the LiteLLM entry ``key`` (a listed difference is kept)."""
    def change(model: str, fact: str, old: str, new: str, data_: Any = None, note: str = "",
               applied: bool = True) -> None:
        diff = catalog.difference("litellm", key, fact)
        if diff is not None:
            applied, note = False, f"kept: a listed difference ({diff.reason})"
        changes.append(Change(provider, model, pid, fact, old, new, src_title, url, fetched, applied,
                              note, data_, skey))
    return change


def litellm_changes(data: dict, catalog: Catalog, *, fetched: dt.date, url: str,
                    title: str = "LiteLLM price map") -> tuple[list[Change], dict[str, dict]]:
    """What LiteLLM's map says differently from ``catalog`` for the providers sorakit speaks:
    ``(changes, sources)`` where ``sources`` are the ``[sources.*]`` tables the overlay needs."""
    changes: list[Change] = []
    sources: dict[str, dict] = {}
    pending: list = []
    today = fetched
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict) or not _is_video(entry):
            continue
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        if prefix is None or PREFIXES[prefix] not in catalog.providers:
            continue
        provider, pid = PREFIXES[prefix], key[len(prefix):]
        skey = _source_key(key)
        cites = entry.get("source") or ""
        src_title = f"{title}, entry {key}" + (f" (cites {cites})" if cites else "")
        sources[skey] = {"title": src_title, "url": url, "as_of": fetched}
        dep_src = entry.get("deprecation_source")
        rules = price_rules(entry)
        shutdown = _date(entry.get("deprecation_date"))
        successor = entry.get("successor_model")
        offer = catalog.offer_by_id(provider, pid)

        change = _recorder(changes, catalog, key, provider, pid, src_title, url, fetched, skey)

        if offer is None:
            sib = next((o for o in catalog.offers() if o.id == pid and o.provider != provider), None)
            model = sib.model if sib is not None else None
            near = _sibling(catalog, provider, pid)
            template = sib or near
            if not pid.startswith(CALLABLE.get(provider, ())):
                continue  # e.g. vertex_ai/gemini-omni-*: not through sorakit's vertex protocol
            if shutdown is not None and shutdown <= today:
                continue  # already shut down: nothing to call
            if template is None:
                changes.append(Change(provider, "", pid, "offer", "", "not in the catalog", src_title, url, fetched,
                                      False, "no similar offer to take sizes and durations from: call it by "
                                      f"naming the provider (model=\"{pid}@{provider}\")", None, skey))
                continue
            new_model = model is None
            model = model or pid
            raw = {"provider": provider, "id": pid}
            for fact in LIMIT_FACTS:
                value = getattr(template, fact)
                raw[fact] = sorted(value) if isinstance(value, frozenset) else list(value) \
                    if isinstance(value, tuple) else value
            raw["default_seconds"] = template.default_seconds
            raw["default_size"] = template.default_size
            raw["unconfirmed"] = list(LIMIT_FACTS)
            raw["sources"] = {"id": skey}
            if rules:
                raw["prices"] = [dict(r, source=skey) for r in rules]
            if shutdown is not None:
                raw["served_until"] = shutdown
                raw["sources"]["served_until"] = skey
            note = (f"limits copied from {template.model} at {template.provider} ({template.id}), unconfirmed")
            change(model, "model" if new_model else "offer", "", f"{pid} at {provider}: {_rules_text(rules)}",
                   {"raw": raw, "new_model": new_model, "title": pid, "vendor": _vendor(pid)}, note)
            continue

        if rules and not _same_rules(rules, _offer_rules(offer)):
            change(offer.model, "prices", _rules_text(_offer_rules(offer)), _rules_text(rules),
                   [dict(r, source=skey) for r in rules], note=("cites " + cites) if cites else "")
        if shutdown is not None and shutdown != offer.served_until:
            dsrc = f"; deprecation source {dep_src}" if dep_src else ""
            old = offer.lifecycle(today)
            new = f"shut down {shutdown}" if shutdown <= today else f"deprecated, shuts down {shutdown}"
            change(offer.model, "served_until", old, new, shutdown, note=dsrc.lstrip("; "))
        if successor and isinstance(successor, str):
            pending.append((offer, successor, change))
    # successors last: one may be a model this same refresh adds
    added = {(c.provider, c.provider_model): c.model for c in changes if c.fact in ("model", "offer") and c.applied}
    for offer, successor, change in pending:
        sp = next((p for p in PREFIXES if successor.startswith(p)), None)
        if sp is None:
            continue
        succ = catalog.offer_by_id(PREFIXES[sp], successor[len(sp):])
        name = succ.model if succ is not None else added.get((PREFIXES[sp], successor[len(sp):]))
        current = offer.replacement or catalog.model(offer.model).replacement
        if name is not None and name != current and name != offer.model:
            change(offer.model, "replacement", current or "", name, name)
    return changes, sources


def _vendor(pid: str) -> str:
    return "Google" if pid.startswith(("gemini", "veo")) else "OpenAI" if pid.startswith("sora") else ""


def listing_changes(findings: Iterable[dict], catalog: Catalog, *, fetched: dt.date) -> tuple[list[Change], dict]:
    """Changes from provider listings (`sorakit.engine._check.check` rows checked live): an offer
    the provider no longer lists is marked shut down on ``fetched``; a new video model next to a
    similar offer becomes a new offer with copied, unconfirmed limits (else it is reported)."""
    changes, sources = [], {}
    for r in findings:
        if r.get("checked") != "live" or r.get("finding") not in ("gone", "new"):
            continue
        provider, pid = r["provider"], r["provider_model"]
        info = catalog.providers[provider]
        skey = f"listing:{provider}"
        title = f"{info.title} model listing"
        sources[skey] = {"title": title, "url": info.base_url, "as_of": fetched}
        if r["finding"] == "gone":
            o = catalog.offer_by_id(provider, pid)
            changes.append(Change(provider, r["model"], pid, "served_until", o.lifecycle(fetched) if o else "live",
                                  f"shut down {fetched} (no longer listed)", title, info.base_url, fetched, True,
                                  "the provider's listing no longer names it", fetched, skey))
            continue
        template = _sibling(catalog, provider, pid)
        if template is None:
            changes.append(Change(provider, "", pid, "offer", "", "listed by the provider", title, info.base_url,
                                  fetched, False, "no similar offer to take limits from: call it by naming the "
                                  f"provider (model=\"{pid}@{provider}\")", None, skey))
            continue
        raw = {"provider": provider, "id": pid, "unconfirmed": list(LIMIT_FACTS) + ["prices"],
               "sources": {"id": skey}, "default_seconds": template.default_seconds,
               "default_size": template.default_size}
        for fact in LIMIT_FACTS:
            value = getattr(template, fact)
            raw[fact] = sorted(value) if isinstance(value, frozenset) else list(value) \
                if isinstance(value, tuple) else value
        changes.append(Change(provider, pid, pid, "model", "", f"{pid} at {provider}: listed, price unknown",
                              title, info.base_url, fetched, True,
                              f"limits copied from {template.model} ({template.id}), unconfirmed",
                              {"raw": raw, "new_model": True, "title": pid, "vendor": ""}, skey))
    return changes, sources


# --------------------------------------------------------------------------- the overlay file
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def overlay_toml(changes: Iterable[Change], sources: dict[str, dict], *, fetched: dt.date,
                 origin: str = "") -> str:
    """The refreshed overlay as TOML text: ``refreshed`` date, the sources it cites, and one offer
    table per changed offer with only the facts that changed (each sourced)."""
    offers: dict[tuple[str, str], dict] = {}
    new_models: dict[str, dict] = {}
    used: set[str] = set()
    for c in changes:
        if not c.applied:
            continue
        used.add(c.source_key)
        if c.fact in ("offer", "model"):
            raw = dict(c.data["raw"])
            if c.data["new_model"]:
                new_models[c.model] = {"title": c.data["title"], "vendor": c.data["vendor"]}
            offers[(c.model, c.provider)] = raw
            continue
        o = offers.setdefault((c.model, c.provider), {"provider": c.provider, "sources": {}})
        if c.fact == "prices":
            o["prices"] = c.data
        else:
            o[c.fact] = c.data
            o.setdefault("sources", {})[c.fact] = c.source_key
    lines = [f"# sorakit refreshed catalog overlay, written by `sorakit models --update` on {fetched}",
             f"# from {origin}" if origin else "# ",
             "# Regenerated by every update: edit your own overlay ($SORAKIT_CATALOG) instead.",
             "", f"refreshed = {fetched.isoformat()}", f"as_of = {fetched.isoformat()}", ""]
    for k in sorted(used):
        s = sources[k]
        lines += [f"[sources.{_toml_key(k)}]", f"title = {_toml_value(s['title'])}",
                  f"url = {_toml_value(s.get('url', ''))}", f"as_of = {_toml_value(s['as_of'])}", ""]
    for name, m in new_models.items():
        lines += [f"[models.{_toml_key(name)}]", f"title = {_toml_value(m['title'])}",
                  f"vendor = {_toml_value(m['vendor'])}", 'status = "live"', ""]
    for (model, _provider), o in offers.items():
        if not o.get("sources"):
            o.pop("sources", None)
        lines.append(f"[[models.{_toml_key(model)}.offers]]")
        for k, v in o.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


def write_overlay(text: str, fetched: dt.date, path: Optional[Path] = None) -> Path:
    """Write the overlay atomically to ``path`` (default `refreshed_overlay_path()`), keeping a
    dated copy beside it (``refreshed-2026-12-06.toml``)."""
    path = Path(path) if path is not None else refreshed_overlay_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    dated = path.with_name(f"{path.stem}-{fetched.isoformat()}{path.suffix}")
    for target in (dated, path):
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, target)
    return path


def refresh(catalog: Catalog, *, source: Optional[str] = None, from_package: bool = False,
            findings: Optional[Iterable[dict]] = None, today: Optional[dt.date] = None,
            write: bool = True, path: Optional[Path] = None, timeout: float = 30.0) -> Refresh:
    """Fetch LiteLLM's map (see `fetch_price_map`), compare it (and ``findings`` from provider
    listings, if given) with ``catalog`` and, when ``write``, write the refreshed overlay.
    ``catalog`` should be the shipped catalog with the user's own overlays but without an earlier
    refreshed overlay, so every run states the full difference from the shipped data."""
    fetched = today or dt.datetime.now(dt.timezone.utc).date()
    data, url, title = fetch_price_map(source, from_package=from_package, timeout=timeout)
    changes, sources = litellm_changes(data, catalog, fetched=fetched, url=url, title=title)
    if findings is not None:
        more, more_sources = listing_changes(findings, catalog, fetched=fetched)
        changes += more
        sources.update(more_sources)
    result = Refresh(changes, fetched, sources)
    if write:
        result.path = write_overlay(overlay_toml(changes, sources, fetched=fetched, origin=url), fetched, path)
    return result
