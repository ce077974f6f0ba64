"""Drift detection: ask each provider which models it serves now and compare with the catalog.

```
check(catalog, setups, auto_emulated) ─▶ per provider: Provider.build_models / parse_models (pages)
                                      ─▶ findings: ok · gone · new · still_listed · not_checked
```
Findings (one row each, `findings_frame` makes the DataFrame):

- ``gone``: the catalog says the provider serves the model today, its listing no longer names it;
- ``new``: the listing names a video model the catalog has no offer for at that provider;
- ``still_listed``: the catalog says the provider shut it down, the listing still names it;
- ``ok``: listed and live, as the catalog says;
- ``not_checked``: why a provider could not be asked (no key, no client, no listing, an error).

A provider that is emulated only for lack of a key is not checked (the emulator knows only the
catalog); one the caller chose to emulate (``emulate=True``, ``--emulator URL``) is asked through
the emulator, which serves the listing endpoints from its own catalog — that is how it is tested.
Wire details stay in ``providers/``; one GET per page, no retries (a failure is reported).
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Optional

import httpx

from .._exceptions import ConfigurationError, ProviderError
from ..catalog import Catalog
from ..providers import make_provider
from ._config import ProviderSetup

__all__ = ["FINDINGS", "check", "findings_frame"]

FINDINGS = ("gone", "new", "still_listed", "ok", "not_checked")
MAX_PAGES = 20
COLUMNS = ["provider", "checked", "finding", "model", "provider_model", "detail"]


def _row(provider: str, checked: str, finding: str, model: Optional[str] = None,
         provider_model: Optional[str] = None, detail: str = "") -> dict:
    return {"provider": provider, "checked": checked, "finding": finding, "model": model,
            "provider_model": provider_model, "detail": detail}


async def _listing(setup: ProviderSetup, timeout: float) -> tuple[Optional[list], str]:
    """(listed models, "") or (None, why it could not be read)."""
    try:
        prov = make_provider(setup.info, base_url=setup.base_url,
                             api_key=setup.key.reveal() if setup.key else None, **setup.options)
    except ConfigurationError as exc:
        return None, str(exc)
    if not prov.lists_models:
        return None, f"the {setup.info.protocol} protocol has no model listing"
    listed, page = [], None
    client = httpx.AsyncClient(transport=setup.transport, timeout=timeout, follow_redirects=True)
    try:
        for _ in range(MAX_PAGES):
            try:
                response = await client.send(prov.build_models(page))
                await response.aread()
                models, page = prov.parse_models(response)
            except ProviderError as exc:
                return None, f"the listing answered an error: {exc}"
            except httpx.HTTPError as exc:
                return None, f"the listing could not be read ({type(exc).__name__}: {exc})"
            listed.extend(models)
            if page is None:
                break
    finally:
        if setup.transport is None:  # a shared in-process transport stays open for the engine
            await client.aclose()
    return listed, ""


async def check(catalog: Catalog, setups: Mapping[str, ProviderSetup], *, auto_emulated: bool,
                today: Optional[dt.date] = None, timeout: float = 30.0) -> list[dict]:
    """Findings for every provider of ``catalog``. ``auto_emulated``: emulated setups stand in for a
    missing key (they are reported as not checked) rather than being the emulator on purpose."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    rows: list[dict] = []
    for name, info in catalog.providers.items():
        setup = setups.get(name)
        if setup is None:
            rows.append(_row(name, "not checked", "not_checked", detail="not configured in this session"))
            continue
        if setup.emulated and auto_emulated:
            keys = " or ".join(info.key_env) or "a key"
            rows.append(_row(name, "not checked", "not_checked", detail=f"no API key: set {keys} to check it"))
            continue
        if not setup.base_url:
            rows.append(_row(name, "not checked", "not_checked", detail="no base URL configured"))
            continue
        listed, why = await _listing(setup, timeout)
        if listed is None:
            rows.append(_row(name, "not checked", "not_checked", detail=why))
            continue
        checked = "emulator" if setup.emulated else "live"
        before = len(rows)
        ids = {m.id for m in listed}
        offers = catalog.offers(provider=name)
        known = {o.id for o in offers}
        for o in offers:
            live = o.serves_on(today)
            if live and o.id in ids:
                rows.append(_row(name, checked, "ok", o.model, o.id))
            elif live:
                rows.append(_row(name, checked, "gone", o.model, o.id,
                                 "the catalog says it is served; the provider no longer lists it"))
            elif o.id in ids:
                rows.append(_row(name, checked, "still_listed", o.model, o.id,
                                 f"the catalog says it was shut down on {o.served_until}; the provider still lists it"))
        for m in listed:
            if m.video and m.id not in known:
                rows.append(_row(name, checked, "new", None, m.id,
                                 "a video model the provider lists and the catalog lacks (call it as 'id@provider', or add it in an overlay)"))
        if len(rows) == before:
            rows.append(_row(name, checked, "ok", detail=f"lists {len(listed)} model(s): none the catalog has "
                                                          "as served here, no new video model"))
    return rows


def findings_frame(rows: list[dict]):
    """The findings as a DataFrame, most important first (gone, new, still listed, ok, not checked)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=COLUMNS)
    order = {f: i for i, f in enumerate(FINDINGS)}
    return df.sort_values(["finding", "provider"], key=lambda c: c.map(order) if c.name == "finding" else c,
                          kind="stable").reset_index(drop=True)


def summary(rows: list[dict]) -> str:
    """One line: how many offers are gone, new, still listed, and which providers were not checked."""
    count = {f: sum(r["finding"] == f for r in rows) for f in FINDINGS}
    skipped = sorted({r["provider"] for r in rows if r["finding"] == "not_checked"})
    text = (f"{count['gone']} gone, {count['new']} new, {count['still_listed']} still listed, "
            f"{count['ok']} as the catalog says")
    return text + (f"; not checked: {', '.join(skipped)}" if skipped else "")
