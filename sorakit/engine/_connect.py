"""Which providers a Studio can drive, and how: its runtimes (one per provider and mode) and the
emulator behind the emulated ones. Part of `Studio` (a mixin over its attributes ``catalog``,
``_setups``, ``_engine``, ``_keys``, ``_base_urls``, ``_options``, ``_concurrency``,
``_emulator*``, ``_time_scale``, ``_policy``, ``_lock``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional

import httpx

from .._exceptions import ConfigurationError, ValidationError
from ..providers import provider_class
from ._config import DEFAULT_CONCURRENCY, DEFAULT_EMULATOR_TIME_SCALE, resolve_setups
from ._engine import Runtime

__all__ = ["Connections", "LazyEmulatorTransport"]


class LazyEmulatorTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that creates the Studio's built-in emulator on the first request."""

    def __init__(self, studio: Any):
        self._studio = studio
        self._inner = None

    async def handle_async_request(self, request):
        if self._inner is None:
            emu = self._studio._builtin_emulator()
            self._inner = emu.transport()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    def __repr__(self) -> str:
        return "<built-in emulator transport>"


class Connections:
    """The Studio's providers: implemented protocols, concurrency, the emulator, runtimes."""

    def _build_runtimes(self) -> dict[tuple[str, bool], Runtime]:
        """A runtime per provider this session can drive; why not for the others (``_unavailable``)."""
        self._unavailable: dict[str, str] = {}
        runtimes: dict[tuple[str, bool], Runtime] = {}
        for name, setup in self._setups.items():
            if not self._implemented(setup.info.protocol):
                self._unavailable[name] = f"its protocol {setup.info.protocol!r} has no client"
                continue
            try:
                runtimes[(name, setup.emulated)] = Runtime(setup, self._concurrency_for(name), self._policy)
            except ConfigurationError as exc:  # e.g. a relay without a base URL: usable once configured
                self._unavailable[name] = str(exc)
        return runtimes

    def check_catalog(self, timeout: float = 30.0):
        """Ask each provider this session can reach which models it serves now; a DataFrame of
        findings against the catalog: ``gone`` (catalog says served, provider no longer lists it),
        ``new`` (a video model the catalog lacks), ``still_listed``, ``ok``, and ``not_checked``
        with the reason (e.g. no API key). Providers emulated for lack of a key are not checked;
        with ``emulate=True`` the emulator answers from its own catalog."""
        from ._check import check, findings_frame

        rows = self._loop.run(check(self.catalog, self._setups, auto_emulated=self._emulate is None,
                                    today=dt.datetime.now(dt.timezone.utc).date(), timeout=timeout))
        for name, why in self._unavailable.items():
            for r in rows:
                if r["provider"] == name and r["finding"] == "not_checked":
                    r["detail"] = f"{r['detail']}; sorakit cannot use it: {why}"
        return findings_frame(rows)

    def update_catalog(self, source: Optional[str] = None, *, from_package: bool = False,
                       listings: bool = True, timeout: float = 30.0):
        """Refresh the catalog from LiteLLM's price map (``source``: a URL or file in its format;
        default ``$SORAKIT_PRICE_MAP_URL``, else LiteLLM's public URL; ``from_package=True``: the copy
        in the installed ``litellm`` package) and, with ``listings``, the model listings of the
        providers this session reaches with a key. Writes the dated overlay to sorakit's cache (what
        ``sorakit models --update`` writes), switches this studio to the refreshed catalog and returns
        a DataFrame of every change: provider, model, fact, old, new, applied, source, url, fetched.
        Only this call fetches anything; nothing is fetched at import or when a Studio starts."""
        import os

        from ..catalog import Catalog, load_catalog
        from ..catalog._catalog import ENV_OVERLAY, refreshed_overlay_path
        from ..catalog._refresh import refresh
        from ..providers.relay import with_relays
        from ._check import check

        today = dt.datetime.now(dt.timezone.utc).date()
        arg = getattr(self, "_catalog_arg", None)
        if isinstance(arg, Catalog):
            user, base = None, arg
        else:
            if arg is None:
                env = os.environ.get(ENV_OVERLAY, "").strip()
                user = [env] if env else []
            else:
                user = [arg] if isinstance(arg, (str, os.PathLike)) else list(arg)
            base = load_catalog(overlays=user)
        findings = None
        if listings:
            findings = self._loop.run(check(base, self._setups, auto_emulated=self._emulate is None,
                                            today=today, timeout=timeout))
        result = refresh(base, source=source, from_package=from_package, findings=findings, today=today,
                         timeout=timeout)
        if user is not None:
            fresh = load_catalog(overlays=[refreshed_overlay_path()] + user)
            self.catalog = with_relays(fresh, self.relays.values())
            self._engine.catalog = self.catalog
        return result.df

    def emulated(self, provider: Optional[str] = None) -> bool:
        """Whether ``provider`` (or, with None, every provider) goes to the emulator."""
        if provider is None:
            return all(s.emulated for s in self._setups.values())
        setup = self._setups.get(provider)
        return bool(setup and setup.emulated)

    @property
    def providers(self) -> dict[str, str]:
        """``{provider: "live" | "emulated"}`` for the providers this session can drive."""
        return {name: s.mode for name, s in self._setups.items() if name not in self._unavailable}

    @property
    def emulator(self):
        """The in-process emulator (None when using a server URL or only live services)."""
        return self._emulator


    @staticmethod
    def _implemented(protocol: str) -> bool:
        try:
            provider_class(protocol)
            return True
        except ConfigurationError:
            return False

    def _concurrency_for(self, provider: str) -> int:
        c = self._concurrency
        if isinstance(c, Mapping):
            return int(c.get(provider, DEFAULT_CONCURRENCY))
        if c is None:
            return DEFAULT_CONCURRENCY
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValidationError("concurrency", c, "a positive integer or {provider: int}")
        return c

    def _emulator_transport(self):
        """The transport to the emulator: None for a server URL; an in-process app otherwise
        (the built-in emulator is created on first use)."""
        if self._emulator_url is not None:
            return None
        if self._emulator_arg is not None:
            self._emulator = self._emulator_arg
            transport = getattr(self._emulator, "transport", None)
            if callable(transport):
                return transport()
            return httpx.ASGITransport(app=self._emulator.app)
        return LazyEmulatorTransport(self)

    def _builtin_emulator(self):
        with self._lock:
            if self._emulator is None:
                from ..emulator import Emulator, EmulatorConfig

                scale = DEFAULT_EMULATOR_TIME_SCALE if self._time_scale is None else float(self._time_scale)
                self._emulator = Emulator(EmulatorConfig(time_scale=scale))
                self._owns_emulator = True
            return self._emulator

    def _runtime(self, provider: str, emulated: bool) -> Optional[Runtime]:
        """The runtime for rows of ``provider`` (emulated or live), built on demand for resume."""
        key = (provider, bool(emulated))
        rt = self._engine.runtimes.get(key)
        if rt is not None:
            return rt
        info = self.catalog.providers.get(provider)
        if info is None or not self._implemented(info.protocol):
            return None
        with self._lock:
            if emulated:
                transport = self._emulator_transport()
                setups, _ = resolve_setups(self.catalog, emulate=True, keys=self._keys,
                                           emulator_base_url=self._emulator_url,
                                           emulator_transport=transport, options=self._options)
            else:
                setups, _ = resolve_setups(self.catalog, emulate=None, keys=self._keys,
                                           base_urls=self._base_urls, options=self._options)
                if setups[provider].emulated:
                    return None  # no key for the live service in this session
            try:
                rt = Runtime(setups[provider], self._concurrency_for(provider), self._policy)
            except ConfigurationError:
                return None
            self._engine.runtimes[key] = rt
            return rt

    def _row_runtime(self, row: dict) -> Optional[Runtime]:
        return self._runtime(row.get("provider"), bool(row.get("emulated")))

    def _candidates(self, model: str) -> list[str]:
        """Providers serving ``model`` that this session can drive (live and serving, or emulated),
        in catalog order."""
        m = self.catalog.models.get(model)
        if m is None:
            return []
        today = dt.datetime.now(dt.timezone.utc).date()
        driven = {(n, e) for (n, e) in self._engine.runtimes}
        out = []
        for offer in m.offers:
            setup = self._setups.get(offer.provider)
            if setup is None or (offer.provider, setup.emulated) not in driven:
                continue
            if setup.emulated or offer.serves_on(today):
                out.append(offer.provider)
        return out
