"""What a notebook user types: `Studio`, `Job`, `Batch`.

```python
studio = sorakit.Studio()                       # keys from the environment, else the emulator
job = studio.generate("a red fox in snow", model="veo-3-fast")
job.file_path, job.cost, job.row                # on disk, in the ledger
batch = studio.batch(["a fox", "a heron"], models=["veo-3-fast", "kling-3-standard"], seeds=[1, 2])
batch.df                                        # the batch's ledger rows
studio.resume()                                 # finish whatever a dead kernel left running
```

The blocking calls hand work to the engine loop (a daemon thread) and wait on a future in short
slices, so they work in a plain script and inside a running Jupyter kernel without
``nest_asyncio`` (and still work when a user applied it). ``agenerate``/``abatch`` await the same
work from any event loop. Ctrl-C stops the *waiting*: the job keeps running in the background and
stays in the ledger; ``job.wait()`` or ``studio.resume()`` picks it up again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import importlib
import itertools
import math
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import httpx

from .._exceptions import ConfigurationError, ValidationError
from .._types import TERMINAL, VideoRequest
from ..catalog import (Catalog, Estimate, Plan, estimate as catalog_estimate, load_catalog, plan as make_plan,
                       stale_notice)
from ..media import store_bytes
from ..providers import provider_class
from ._budget import Budget, BudgetStatus
from ._config import default_media_dir, resolve_setups
from ._engine import OWNER, Engine, Policy, Runtime, owned_elsewhere
from ._loop import EngineLoop, get_loop
from . import _validate as checks

__all__ = ["Studio", "Job", "Batch"]

_REQUEST_FIELDS = {f for f in VideoRequest.__dataclass_fields__} - {"prompt", "model", "provider"}
DEFAULT_CONCURRENCY = 32
"""Jobs per provider in flight at once (the services queue excess jobs server-side)."""
DEFAULT_EMULATOR_TIME_SCALE = 0.1
"""The built-in emulator runs ten times faster than the real services (sora-2 ≈ 6 s).
``SORAKIT_TIME_SCALE`` overrides it."""
DEFAULT_MODEL = "veo-3-fast"
"""The model used when none is named: live, cheap, and served by two providers."""


def _default_catalog(overlays: Any = None) -> Catalog:
    """The shipped catalog with the user's overlays (default ``$SORAKIT_CATALOG``), extended with
    the relays registered in this process."""
    from ..providers.relay import registered_relays, relay_catalog

    cat = load_catalog(overlays=overlays)
    return relay_catalog(cat) if registered_relays() else cat


def _today() -> dt.date:
    """Today (UTC); one seam so tests judge the catalog's age against a date they choose."""
    return dt.datetime.now(dt.timezone.utc).date()


def _emulate_from_env() -> Union[None, bool, set]:
    """``SORAKIT_EMULATE``: ``1``/``true`` emulate everything (CI, demos, a safe default on a
    machine that has real keys), ``0``/``false`` nothing, ``runware,gemini`` just those."""
    value = os.environ.get("SORAKIT_EMULATE", "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "all"):
        return True
    if value in ("0", "false", "no", "none"):
        return False
    return {v.strip() for v in value.split(",") if v.strip()}


def _time_scale_from_env() -> Optional[float]:
    value = os.environ.get("SORAKIT_TIME_SCALE", "").strip()
    if not value:
        return None
    try:
        scale = float(value)
    except ValueError:
        raise ConfigurationError(f"SORAKIT_TIME_SCALE={value!r} is not a number; allowed: a positive number") from None
    if scale <= 0:
        raise ConfigurationError(f"SORAKIT_TIME_SCALE={value!r} is not allowed; allowed: a positive number")
    return scale


def _notice(text: str) -> None:
    if os.environ.get("SORAKIT_QUIET"):
        return
    print(text, flush=True)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _display_attr(name: str) -> Optional[Callable]:
    try:
        module = importlib.import_module("sorakit.display")
    except Exception:
        return None
    return getattr(module, name, None)


def _as_list(value: Any, default: Sequence[Any]) -> list:
    if value is None:
        return list(default)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


class _LazyEmulatorTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that creates the Studio's built-in emulator on the first request."""

    def __init__(self, studio: "Studio"):
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


# ====================================================================================== Job
class Job:
    """One video job, by its ledger id. Every property reads the ledger (fresh).

    ``job.wait()`` blocks until it is done (raising `JobFailed` / `JobTimeout`), ``job.file_path``
    is the video on disk, ``job.cost`` what it cost (billed when known, else the estimate).
    """

    __slots__ = ("studio", "id")

    def __init__(self, studio: "Studio", job_id: str):
        self.studio = studio
        self.id = job_id

    # -- reading
    @property
    def row(self) -> dict:
        """The job's ledger row, fresh (a dict of Python values)."""
        return self.studio.ledger.get(self.id)

    @property
    def status(self) -> str:
        return self.row.get("status") or "pending"

    @property
    def progress(self) -> Optional[int]:
        live = self.studio._engine.snapshot([self.id]).get(self.id) or {}
        if live.get("progress") is not None:
            return live["progress"]
        return self.row.get("progress")

    @property
    def done(self) -> bool:
        """True once nothing more will happen (completed, failed or cancelled)."""
        return self.status in TERMINAL

    @property
    def file_path(self) -> Optional[Path]:
        p = self.row.get("file_path")
        return Path(p) if p else None

    @property
    def poster_path(self) -> Optional[Path]:
        p = self.row.get("poster_path")
        return Path(p) if p else None

    @property
    def video_id(self) -> Optional[str]:
        """The provider's id of the finished video (for remix / extend / edit)."""
        row = self.row
        return (row.get("extra") or {}).get("video_id") or row.get("provider_job_id")

    @property
    def cost(self) -> Optional[float]:
        """Billed cost when known, else the estimate (None when neither is known)."""
        row = self.row
        for key in ("billed_cost", "estimated_cost"):
            v = row.get(key)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                if key == "billed_cost" and row.get("billed_cost_source") == "none" and row.get("status") != "failed":
                    continue
                return float(v)
        return None

    @property
    def error(self) -> Optional[str]:
        row = self.row
        if row.get("error_code") or row.get("error_message"):
            return f"{row.get('error_code') or 'error'}: {row.get('error_message') or ''}".strip()
        return None

    # -- waiting
    def wait(self, timeout: Optional[float] = None, *, progress: bool = False) -> "Job":
        """Block until the job is done and return it.

        Raises `JobFailed` when it failed, `JobTimeout` when ``timeout`` (this call's bound) or the
        engine's wait bound ran out (the job stays in the ledger; ``wait`` again or ``resume``).
        """
        self.studio._wait_blocking([self.id], timeout=timeout, progress=progress, target=self, raise_=True)
        return self

    async def wait_async(self, timeout: Optional[float] = None) -> "Job":
        """``await job.wait_async()`` from any event loop (a notebook cell, an async script)."""
        await self.studio._loop.arun(self.studio._wait_ids([self.id], timeout, raise_=True))
        return self

    # -- annotating
    def rate(self, n: Optional[int]) -> "Job":
        """Rate 1–5 (None clears)."""
        self.studio.ledger.rate(self.id, checks.rating(n))
        return self

    def tag(self, *tags: str) -> "Job":
        self.studio.ledger.tag(self.id, *checks.tag_list("tags", tags))
        return self

    def untag(self, *tags: str) -> "Job":
        self.studio.ledger.untag(self.id, *checks.tag_list("tags", tags))
        return self

    def note(self, text: Optional[str]) -> "Job":
        self.studio.ledger.note(self.id, checks.text("text", text))
        return self

    def retry_download(self, *, wait: bool = True, timeout: Optional[float] = None,
                       progress: bool = False) -> "Job":
        """Download again the video of a job that failed with ``download_failed`` (the provider
        made it, the engine gave up fetching it). Waits for it unless ``wait=False``."""
        self.studio._retry_download([self.id], timeout)
        if wait:
            self.studio._wait_blocking([self.id], timeout=None, progress=progress, target=self, raise_=True,
                                       drive=False)
        return self

    def remix(self, prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
              progress: bool = True, **fields: Any) -> "Job":
        """A new job remixing this one's video with ``prompt``."""
        return self.studio.remix(self, prompt, wait=wait, timeout=timeout, progress=progress, **fields)

    # -- showing
    def __repr__(self) -> str:
        try:
            row = self.row
        except Exception:
            return f"<Job {self.id}>"
        prompt = (row.get("prompt") or "")
        prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        emu = " emulated" if row.get("emulated") else ""
        return (f"<Job {self.id} {row.get('status')} {row.get('model')}@{row.get('provider')}{emu} "
                f"{prompt!r}>")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("Job", self.id))

    def _repr_html_(self) -> str:
        row = self.row
        parts = [f"<b>{html.escape(str(row.get('model')))}</b> @ {html.escape(str(row.get('provider')))}",
                 html.escape(str(row.get("status"))),
                 html.escape((row.get("prompt") or "")[:120])]
        if row.get("error_code"):
            parts.append(f"<span style='color:#c4242f'>{html.escape(self.error or '')}</span>")
        if row.get("file_path"):
            parts.append(f"<code>{html.escape(str(row.get('file_path')))}</code>")
        img = ""
        poster = row.get("poster_path")
        if poster and Path(poster).is_file():
            import base64

            mime = "image/webp" if poster.endswith(".webp") else "image/jpeg"
            data = base64.b64encode(Path(poster).read_bytes()).decode()
            img = f"<img src='data:{mime};base64,{data}' style='max-width:320px'/><br/>"
        return f"<div>{img}{' · '.join(parts)}</div>"

    def _ipython_display_(self) -> None:
        show = _display_attr("show_job")
        if show is not None:
            try:
                show(self)
                return
            except Exception:
                pass
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))


# ==================================================================================== Batch
class Batch(Sequence[Job]):
    """Jobs started together: a sequence of `Job` with batch-level waiting and a ledger view."""

    def __init__(self, studio: "Studio", jobs: Sequence[Job], batch_id: Optional[str] = None):
        self.studio = studio
        self.jobs = list(jobs)
        self.id = batch_id

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Batch(self.studio, self.jobs[i], self.id)
        return self.jobs[i]

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    @property
    def ids(self) -> list[str]:
        return [j.id for j in self.jobs]

    def _rows(self) -> list[dict]:
        if self.id is not None:
            rows = {r["job_id"]: r for r in self.studio.ledger.rows(batch_id=self.id)}
            return [rows[j] for j in self.ids if j in rows]
        return [self.studio.ledger.get(j) for j in self.ids]

    @property
    def df(self):
        """The batch's ledger rows as a DataFrame (same columns and dtypes as ``Ledger.df``)."""
        if self.id is not None:
            df = self.studio.ledger.query(batch_id=self.id)
            return df[df["job_id"].isin(self.ids)].reset_index(drop=True)
        df = self.studio.ledger.df
        return df[df["job_id"].isin(self.ids)].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Jobs per status."""
        out: dict[str, int] = {}
        for r in self._rows():
            out[r.get("status") or "pending"] = out.get(r.get("status") or "pending", 0) + 1
        return out

    @property
    def done(self) -> bool:
        return all(r.get("status") in TERMINAL for r in self._rows())

    @property
    def completed(self) -> list[Job]:
        return [Job(self.studio, r["job_id"]) for r in self._rows() if r.get("status") == "completed"]

    @property
    def failed(self) -> list[Job]:
        return [Job(self.studio, r["job_id"]) for r in self._rows() if r.get("status") in ("failed", "cancelled")]

    @property
    def cost(self) -> float:
        """Billed where known, else estimated, summed over the batch (unknown prices count 0)."""
        total = 0.0
        for r in self._rows():
            for key in ("billed_cost", "estimated_cost"):
                v = r.get(key)
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    total += float(v)
                    break
        return round(total, 6)

    def summary(self) -> str:
        c = self.counts()
        running = sum(n for s, n in c.items() if s not in TERMINAL)
        parts = [f"{c.get('completed', 0)} completed"]
        if running:
            parts.append(f"{running} running")
        if c.get("failed"):
            parts.append(f"{c['failed']} failed")
        if c.get("cancelled"):
            parts.append(f"{c['cancelled']} cancelled")
        return f"{len(self)} job(s): " + ", ".join(parts) + f" · ${self.cost:.2f}"

    def wait(self, timeout: Optional[float] = None, *, raise_on_error: bool = False,
             progress: bool = False) -> "Batch":
        """Block until every job is done (failures do not raise unless ``raise_on_error``)."""
        self.studio._wait_blocking(self.ids, timeout=timeout, progress=progress, target=self,
                                   raise_=raise_on_error)
        return self

    async def wait_async(self, timeout: Optional[float] = None, *, raise_on_error: bool = False) -> "Batch":
        await self.studio._loop.arun(self.studio._wait_ids(self.ids, timeout, raise_=raise_on_error))
        return self

    def __repr__(self) -> str:
        return f"<Batch {self.id or ''} {self.summary()}>".replace("  ", " ")

    def _ipython_display_(self) -> None:
        for name in ("show_batch", "gallery"):
            fn = _display_attr(name)
            if fn is not None:
                try:
                    out = fn(self)
                    if out is not None and name == "gallery":
                        from IPython.display import display

                        display(out)
                    return
                except Exception:
                    continue
        print(repr(self))


# ============================================================================ progress text
class _TextProgress:
    """A compact one-line progress display (scripts, or notebooks without the widget module)."""

    def __init__(self, studio: "Studio", ids: list[str], label: str):
        self.studio, self.ids, self.label = studio, ids, label
        self.started = time.monotonic()
        self.last = ""
        self.last_at = 0.0
        self.tty = _in_kernel() or getattr(sys.stdout, "isatty", lambda: False)()

    def line(self) -> str:
        snap = self.studio._engine.snapshot(self.ids)
        elapsed = time.monotonic() - self.started
        if len(self.ids) == 1:
            s = snap.get(self.ids[0]) or {}
            pct = f" {s['progress']}%" if s.get("progress") not in (None, 0) and s.get("status") != "completed" else ""
            return f"sorakit: {self.label} · {s.get('status', 'pending')}{pct} · {elapsed:.0f}s"
        counts: dict[str, int] = {}
        for s in snap.values():
            st = s.get("status", "pending")
            counts[st] = counts.get(st, 0) + 1
        done = counts.get("completed", 0)
        failed = counts.get("failed", 0) + counts.get("cancelled", 0)
        running = len(self.ids) - done - failed
        text = f"sorakit: {self.label} · {done}/{len(self.ids)} done"
        if running:
            text += f" · {running} running"
        if failed:
            text += f" · {failed} failed"
        return text + f" · {elapsed:.0f}s"

    def tick(self) -> None:
        now = time.monotonic()
        text = self.line()
        if self.tty:
            if text != self.last and now - self.last_at >= 0.5:
                sys.stdout.write("\r" + text.ljust(len(self.last)))
                sys.stdout.flush()
                self.last, self.last_at = text, now
        elif now - self.last_at >= 10:  # logs: one line every 10 s
            print(text, flush=True)
            self.last, self.last_at = text, now

    def close(self) -> None:
        text = self.line()
        if self.tty:
            sys.stdout.write("\r" + text.ljust(len(self.last)) + "\n")
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()


# =================================================================================== Studio
class Studio:
    """Generate videos from a notebook or a script; every job lands on disk and in the ledger.

    Args:
        ledger: a `sorakit.ledger.Ledger`, a file path, an SQLAlchemy URL, or None
            (``$SORAKIT_LEDGER`` or ``./sorakit-ledger.db``).
        emulate: None = live for providers with a key, the built-in emulator for the rest
            (``SORAKIT_EMULATE=1`` in the environment forces the emulator);
            True = emulator for all; False = live for all; or a set of provider names to emulate.
        keys: ``{provider: api_key}``; else the catalog's variables (``OPENAI_API_KEY`` ...).
            Keys are never written to the ledger, a repr, a log line or an error message.
        base_urls: ``{provider: url}`` (relays such as a LiteLLM proxy; the emulator's server).
        budget: spending cap (USD) for this session; see `studio.budget`.
        time_scale: speed of the built-in emulator (default 0.1: ten times faster than real).
        media_dir: the video cache (default ``sorakit-media`` beside the ledger file).
        max_wait: seconds to wait for one job before leaving it ``timed_out_waiting``.
        concurrency: jobs in flight per provider (int, or ``{provider: int}``; default 32).
        emulator: an ``Emulator`` to use in-process, or the base URL of an emulator server.
        resume: on opening, resume unfinished jobs found in the ledger in the background
            (default True; a one-line notice says how many).
        policy: engine timing (`sorakit.engine.Policy`), for tests and tuning.
        provider_options: ``{provider: {option: value}}`` passed to the provider (e.g. relay
            ``model_ids``).
        catalog: the model catalog: a `Catalog`, or the path of a TOML overlay (or a list of paths)
            merged over the shipped catalog (default: the shipped one with ``$SORAKIT_CATALOG``
            merged over it); every relay registered with `sorakit.providers.relay.register_relay`
            is added. A shipped catalog checked more than 60 days ago gets a one-line notice.
    """

    def __init__(
        self,
        ledger: Any = None,
        *,
        emulate: Union[None, bool, Iterable[str]] = None,
        keys: Optional[Mapping[str, str]] = None,
        base_urls: Optional[Mapping[str, str]] = None,
        budget: Optional[float] = None,
        time_scale: Optional[float] = None,
        media_dir: Union[str, os.PathLike, None] = None,
        max_wait: float = 1800,
        concurrency: Union[int, Mapping[str, int], None] = None,
        emulator: Any = None,
        resume: bool = True,
        policy: Optional[Policy] = None,
        provider_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
        catalog: Union[Catalog, str, os.PathLike, Sequence[Union[str, os.PathLike]], None] = None,
    ):
        from ..ledger import Ledger

        checks.studio_args(ledger=ledger, emulate=emulate, keys=keys, base_urls=base_urls, budget=budget,
                          time_scale=time_scale, media_dir=media_dir, max_wait=max_wait,
                          concurrency=concurrency, emulator=emulator, resume=resume, policy=policy,
                          provider_options=provider_options, catalog=catalog)
        self.catalog: Catalog = catalog if isinstance(catalog, Catalog) else _default_catalog(catalog)
        if emulate is None:
            emulate = _emulate_from_env()
        if time_scale is None:
            time_scale = _time_scale_from_env()
        self._owns_ledger = not isinstance(ledger, Ledger)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        location = None if not self._owns_ledger else (None if ledger is None else os.fspath(ledger))
        if location is None and getattr(self.ledger, "path", None) is not None:
            location = str(self.ledger.path)
        self.media_dir = Path(media_dir).expanduser() if media_dir is not None else default_media_dir(location)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.max_wait = float(max_wait)
        self._time_scale = time_scale
        self._emulator_arg = emulator
        self._emulator = None
        self._owns_emulator = False
        if not isinstance(emulator, str) and emulator is not None and not hasattr(emulator, "app") \
                and isinstance(getattr(emulator, "base_url", None), str):
            emulator = emulator.base_url  # an EmulatorServer: talk to it over loopback HTTP
            self._emulator_arg = emulator
        self._emulator_url: Optional[str] = emulator.rstrip("/") if isinstance(emulator, str) else None
        self._keys = dict(keys or {})
        self._base_urls = dict(base_urls or {})
        self._options = {k: dict(v) for k, v in (provider_options or {}).items()}
        self._emulate = emulate
        self._concurrency = concurrency
        self._lock = threading.RLock()
        self._closed = False
        self.last: Any = None
        """The last Job/Batch started (handy after a Ctrl-C)."""

        transport = self._emulator_transport() if emulate is not False else None
        self._setups, notice = resolve_setups(
            self.catalog, emulate=emulate, keys=self._keys, base_urls=self._base_urls,
            emulator_base_url=self._emulator_url, emulator_transport=transport, options=self._options)
        self._budget = Budget(budget)
        self._loop: EngineLoop = get_loop()
        self._policy = policy or Policy()
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
        self._engine = Engine(self.ledger, self.catalog, runtimes, media_dir=self.media_dir,
                              budget=self._budget, max_wait=self.max_wait, policy=self._policy)
        if notice:
            _notice(notice)
        stale = stale_notice(self.catalog, _today())
        if stale:
            _notice(stale)
        if resume:
            self._auto_resume()

    # ------------------------------------------------------------------ set-up helpers
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
            import httpx

            return httpx.ASGITransport(app=self._emulator.app)
        return _LazyEmulatorTransport(self)

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

    # ------------------------------------------------------------------ info
    def check_catalog(self, timeout: float = 30.0):
        """Ask each provider this session can reach which models it serves now; a DataFrame of
        findings against the catalog: ``gone`` (catalog says served, provider no longer lists it),
        ``new`` (a video model the catalog lacks), ``still_listed``, ``ok``, and ``not_checked``
        with the reason (e.g. no API key). Providers emulated for lack of a key are not checked;
        with ``emulate=True`` the emulator answers from its own catalog."""
        from ._check import check, findings_frame

        rows = self._loop.run(check(self.catalog, self._setups, auto_emulated=self._emulate is None,
                                    today=_today(), timeout=timeout))
        for name, why in self._unavailable.items():
            for r in rows:
                if r["provider"] == name and r["finding"] == "not_checked":
                    r["detail"] = f"{r['detail']}; sorakit cannot use it: {why}"
        return findings_frame(rows)

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

    @property
    def budget(self) -> BudgetStatus:
        """``cap``, ``spent`` (committed this session), ``remaining``."""
        return self._budget.status()

    def __repr__(self) -> str:
        modes = ", ".join(f"{n}={m}" for n, m in self.providers.items())
        return (f"<Studio ledger={getattr(self.ledger, 'location', '?')!r} media_dir={str(self.media_dir)!r} "
                f"providers({modes}) {self.budget!r}>")

    # ------------------------------------------------------------------ planning
    def _candidates(self, model: str) -> list[str]:
        """Providers serving ``model`` that this session can drive (live and serving, or emulated),
        in catalog order."""
        m = self.catalog.models.get(model)
        if m is None:
            return []
        today = dt.datetime.now(dt.timezone.utc).date()
        out = []
        for offer in m.offers:
            setup = self._setups.get(offer.provider)
            if setup is None or (setup.emulated, offer.provider) not in {
                    (e, n) for (n, e) in self._engine.runtimes}:
                continue
            if setup.emulated or offer.serves_on(today):
                out.append(offer.provider)
        return out

    def _request(self, prompt: str, model: Optional[str], provider: Optional[str], fields: dict) -> VideoRequest:
        unknown = set(fields) - _REQUEST_FIELDS
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(name, fields[name], sorted(_REQUEST_FIELDS | {"prompt", "model", "provider"}),
                                  f"unknown argument {name!r}")
        checks.request_fields(prompt, model, provider, fields)
        if "tags" in fields:
            fields["tags"] = checks.tag_list("tags", fields["tags"])
        return VideoRequest(prompt=prompt, model=model or DEFAULT_MODEL, provider=provider, **fields)

    def _plan(self, req: VideoRequest) -> tuple[Plan, Runtime]:
        """Validate; with no provider given, the first one (catalog order) that accepts the request."""
        if req.provider is None:
            candidates = self._candidates(req.model)
            if not candidates:
                make_plan(req, self.catalog)  # the catalog's own, precise ValidationError
                raise ValidationError("provider", None, sorted(self.providers),
                                      f"no provider this session can drive serves {req.model!r}")
            first_error: Optional[ValidationError] = None
            for name in candidates:
                try:
                    return self._plan(req.replace(provider=name))
                except ValidationError as exc:
                    first_error = first_error or exc
            assert first_error is not None
            raise first_error
        provider = req.provider
        setup = self._setups.get(provider)
        emulated = bool(setup and setup.emulated)
        p = make_plan(req.replace(provider=provider), self.catalog, emulated=emulated)
        rt = self._engine.runtimes.get((provider, emulated))
        if rt is None:
            raise ConfigurationError(
                f"sorakit cannot use the {provider!r} provider in this session: "
                f"{self._unavailable.get(provider, 'no client')}")
        if not emulated and setup is not None and setup.key is None:
            env = " or ".join(setup.info.key_env) or "a key"
            raise ConfigurationError(f"no API key for {provider}: set {env} or pass keys={{{provider!r}: ...}}")
        return p, rt

    def _rows(self, p: Plan, rt: Runtime, batch_id: Optional[str], client_ref: str) -> list[dict]:
        from ..ledger import new_job_id

        est = p.estimated_cost
        per = None if est is None else round(est / p.variations, 6)
        model_id = getattr(rt.provider, "model_id", None)
        provider_model = model_id(p) if callable(model_id) else p.provider_model
        extra = {"client_ref": client_ref, "owner": OWNER, "request_seed": p.seed}
        if p.input_image_url:
            extra["input_image_url"] = p.input_image_url
        if p.price is not None:
            extra["price"] = {"usd_per_second": p.price.usd_per_second, "as_of": str(p.price.as_of),
                              "source": p.price.source}
        rows = []
        for i in range(p.variations):
            rows.append(dict(
                job_id=new_job_id(), batch_id=batch_id, provider=p.provider.name, model=p.model.name,
                provider_model=provider_model,
                provider_job_id=client_ref if rt.provider.create_is_idempotent else None,
                variation_index=i, status="pending", progress=0, action=p.action, prompt=p.prompt,
                negative_prompt=p.negative_prompt, seed=p.seed, size=p.size, width=p.width,
                height=p.height, seconds=p.seconds, fps=p.fps, audio=p.audio, variations=p.variations,
                input_image_sha256=p.input_image_sha256, source_video_id=p.source_video_id,
                estimated_cost=per, currency="USD", emulated=rt.emulated, attempts=0,
                tags=list(p.request.tags) or None, extra=dict(extra),
            ))
        return rows

    def _prepare(self, items: list[tuple[Plan, Runtime]], batch_id: Optional[str], *,
                 budget: Optional[float], allow_unknown_cost: bool) -> list[tuple[Plan, Runtime, list[dict], str]]:
        prepared = []
        for p, rt in items:
            if p.input_image is not None:  # kept so a restart can send it again
                ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(
                    p.input_image_mime or "", ".img")
                store_bytes(p.input_image, self.media_dir, ext)
            ref = str(uuid.uuid4())
            prepared.append((p, rt, self._rows(p, rt, batch_id, ref), ref))
        amounts = {r["job_id"]: r["estimated_cost"] for _, _, rows, _ in prepared for r in rows}
        what = ", ".join(sorted({f"{p.model.name}@{p.provider.name}" for p, _, _, _ in prepared
                                 if p.estimated_cost is None}))
        self._budget.reserve(amounts, batch_cap=budget, allow_unknown_cost=allow_unknown_cost, what=what)
        return prepared

    async def _start(self, prepared, max_wait: Optional[float]) -> list[str]:
        """On the engine loop: commit all rows (one transaction), then start every task."""
        all_rows = [r for _, _, rows, _ in prepared for r in rows]
        try:
            await self._engine.insert(all_rows)
        except BaseException:
            self._budget.release(r["job_id"] for r in all_rows)
            raise
        for p, rt, rows, ref in prepared:
            self._engine.start_task(rt, [r["job_id"] for r in rows], ref, p, max_wait)
        return [r["job_id"] for r in all_rows]

    # ------------------------------------------------------------------ waiting
    async def _wait_ids(self, ids: list[str], timeout: Optional[float], raise_: bool, drive: bool = True) -> None:
        """Wait for ``ids``. ``drive``: a job nobody drives now (another session's, or one the
        engine stopped: ``timed_out_waiting``, ``unknown``) is driven again first, bounded by
        ``timeout`` — a user's ``job.wait()`` / ``batch.wait()``. The wait right after a submit or
        resume passes False: a job that stopped already is reported, not restarted."""
        eng = self._engine
        for jid in ids if drive else ():
            if not eng.is_active(jid):
                row = await eng._db_call(self.ledger.get, jid)
                if row.get("status") not in TERMINAL:
                    await eng.resume_rows([row], lambda r: self._runtime(r.get("provider"), bool(r.get("emulated"))),
                                          timeout)
        waits = [eng.wait(j, timeout) for j in ids]
        if raise_ and len(ids) == 1:
            await waits[0]
            return
        results = await asyncio.gather(*waits, return_exceptions=True)
        if raise_:
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    def _wait_blocking(self, ids: list[str], *, timeout: Optional[float], progress: bool, target: Any,
                       raise_: bool, drive: bool = True) -> None:
        shower = self._progress(ids, target) if progress else None
        try:
            self._loop.run(self._wait_ids(ids, timeout, raise_, drive),
                           tick=shower.tick if shower is not None else None)
        except KeyboardInterrupt:
            if shower is not None:
                shower.close()
                shower = None
            print(f"\nsorakit: stopped waiting — {len(ids)} job(s) keep running in the background and stay "
                  f"in the ledger; .wait() again or studio.resume() (see studio.last)", flush=True)
            raise
        finally:
            if shower is not None:
                shower.close()

    def _progress(self, ids: list[str], target: Any):
        if _in_kernel():
            show = _display_attr("show_progress") if isinstance(target, Job) else _display_attr("show_batch")
            if show is not None:
                try:
                    live = show(target)  # a handle with tick()/close(), or None
                    return live if hasattr(live, "close") else None
                except Exception:
                    pass
        label = (f"{len(ids)} jobs" if len(ids) > 1 else self._label(ids[0]))
        return _TextProgress(self, ids, label)

    def _label(self, job_id: str) -> str:
        row = self._engine._rows.get(job_id) or {}
        return f"{row.get('model', '?')}@{row.get('provider', '?')} {job_id[-6:]}"

    # ------------------------------------------------------------------ the user API
    def generate(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
                 wait: bool = True, timeout: Optional[float] = None, progress: bool = True,
                 budget: Optional[float] = None, allow_unknown_cost: bool = False,
                 **fields: Any) -> Union[Job, Batch]:
        """Make one video (validated before any network call) and, by default, wait for it.

        ``fields`` are `VideoRequest` fields: ``size``, ``seconds``, ``seed``, ``variations``,
        ``negative_prompt``, ``audio``, ``input_image``, ``tags``... ``timeout`` bounds the wait
        for this job (default: the studio's ``max_wait``); when it runs out the job is left
        ``timed_out_waiting`` and `JobTimeout` is raised. ``wait=False`` returns at once.
        With ``variations > 1`` the result is a `Batch` of one job per video.

        Raises `ValidationError` (nothing sent), `BudgetExceeded`, `JobFailed`, `JobTimeout`.
        """
        checks.call_options(timeout=timeout, budget=budget, wait=wait, progress=progress,
                           allow_unknown_cost=allow_unknown_cost)
        req = self._request(prompt, model, provider, dict(fields))
        p, rt = self._plan(req)
        batch_id = f"batch_{uuid.uuid4().hex[:12]}" if p.variations > 1 else None
        prepared = self._prepare([(p, rt)], batch_id, budget=budget, allow_unknown_cost=allow_unknown_cost)
        ids = self._loop.run(self._start(prepared, timeout))
        result: Union[Job, Batch] = (Job(self, ids[0]) if len(ids) == 1
                                     else Batch(self, [Job(self, i) for i in ids], batch_id))
        self.last = result
        if wait:
            self._wait_blocking(ids, timeout=None, progress=progress, target=result, raise_=len(ids) == 1,
                                drive=False)
        return result

    def submit(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
               timeout: Optional[float] = None, budget: Optional[float] = None,
               allow_unknown_cost: bool = False, **fields: Any) -> Union[Job, Batch]:
        """Start a job and return at once (``generate(..., wait=False)``)."""
        return self.generate(prompt, model, provider, wait=False, timeout=timeout, progress=False,
                             budget=budget, allow_unknown_cost=allow_unknown_cost, **fields)

    def _batch_plans(self, prompts, models, seeds, providers, common: dict) -> list[tuple[Plan, Runtime]]:
        checks.texts("prompts", prompts, allow_none=False, allowed="one prompt or a non-empty list of prompts")
        checks.texts("models", models)
        checks.texts("providers", providers)
        checks.seeds_arg(seeds)
        prompts_l = _as_list(prompts, [])
        models_l = _as_list(models, [DEFAULT_MODEL])
        seeds_l = _as_list(seeds, [None])
        providers_l = _as_list(providers, [None])
        items = []
        for prompt, model, provider, seed in itertools.product(prompts_l, models_l, providers_l, seeds_l):
            fields = dict(common)
            if seed is not None:
                fields["seed"] = seed
            items.append(self._plan(self._request(prompt, model, provider, fields)))
        return items

    def batch(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
              seeds: Union[int, Sequence[Optional[int]], None] = None,
              providers: Union[str, Sequence[str], None] = None, *, wait: bool = True,
              budget: Optional[float] = None, timeout: Optional[float] = None, progress: bool = True,
              allow_unknown_cost: bool = False, **common: Any) -> Batch:
        """Every combination of prompts × models × providers × seeds, run concurrently.

        Everything is validated and the whole batch's estimate checked against ``budget`` (this
        batch) and the studio's cap before anything is sent. All rows are written in one
        transaction. ``wait=False`` returns at once; failures never raise here (see
        ``Batch.failed``).
        """
        checks.call_options(timeout=timeout, budget=budget, wait=wait, progress=progress,
                           allow_unknown_cost=allow_unknown_cost)
        items = self._batch_plans(prompts, models, seeds, providers, dict(common))
        batch_id = f"batch_{uuid.uuid4().hex[:12]}"
        prepared = self._prepare(items, batch_id, budget=budget, allow_unknown_cost=allow_unknown_cost)
        ids = self._loop.run(self._start(prepared, timeout))
        result = Batch(self, [Job(self, i) for i in ids], batch_id)
        self.last = result
        if wait:
            self._wait_blocking(ids, timeout=None, progress=progress, target=result, raise_=False, drive=False)
        return result

    async def agenerate(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
                        wait: bool = True, timeout: Optional[float] = None, budget: Optional[float] = None,
                        allow_unknown_cost: bool = False, **fields: Any) -> Union[Job, Batch]:
        """``await studio.agenerate(...)``: `generate` for async code (a notebook's loop, asyncio)."""
        checks.call_options(timeout=timeout, budget=budget, wait=wait, allow_unknown_cost=allow_unknown_cost)
        req = self._request(prompt, model, provider, dict(fields))
        p, rt = self._plan(req)
        batch_id = f"batch_{uuid.uuid4().hex[:12]}" if p.variations > 1 else None
        prepared = self._prepare([(p, rt)], batch_id, budget=budget, allow_unknown_cost=allow_unknown_cost)
        ids = await self._loop.arun(self._start(prepared, timeout))
        result: Union[Job, Batch] = (Job(self, ids[0]) if len(ids) == 1
                                     else Batch(self, [Job(self, i) for i in ids], batch_id))
        self.last = result
        if wait:
            await self._loop.arun(self._wait_ids(ids, None, raise_=len(ids) == 1, drive=False))
        return result

    async def abatch(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
                     seeds: Union[int, Sequence[Optional[int]], None] = None,
                     providers: Union[str, Sequence[str], None] = None, *, wait: bool = True,
                     budget: Optional[float] = None, timeout: Optional[float] = None,
                     allow_unknown_cost: bool = False, **common: Any) -> Batch:
        """``await studio.abatch(...)``: `batch` for async code."""
        checks.call_options(timeout=timeout, budget=budget, wait=wait, allow_unknown_cost=allow_unknown_cost)
        items = self._batch_plans(prompts, models, seeds, providers, dict(common))
        batch_id = f"batch_{uuid.uuid4().hex[:12]}"
        prepared = self._prepare(items, batch_id, budget=budget, allow_unknown_cost=allow_unknown_cost)
        ids = await self._loop.arun(self._start(prepared, timeout))
        result = Batch(self, [Job(self, i) for i in ids], batch_id)
        self.last = result
        if wait:
            await self._loop.arun(self._wait_ids(ids, None, raise_=False, drive=False))
        return result

    def estimate(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
                 seeds: Union[int, Sequence[Optional[int]], None] = None,
                 providers: Union[str, Sequence[str], None] = None, **common: Any) -> Estimate:
        """What `batch` with the same arguments would cost (validated; nothing is sent)."""
        options = {k: common.pop(k) for k in ("wait", "budget", "timeout", "progress", "allow_unknown_cost")
                   if k in common}
        checks.call_options(**options)
        items = self._batch_plans(prompts, models, seeds, providers, dict(common))
        return catalog_estimate([p for p, _ in items], self.catalog)

    def remix(self, job: Union[Job, str], prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
              progress: bool = True, **fields: Any) -> Union[Job, Batch]:
        """A new job remixing a completed job's video with ``prompt`` (same model and provider)."""
        checks.call_options(timeout=timeout, wait=wait, progress=progress)
        if not isinstance(job, (Job, str)):
            raise ValidationError("job", job, "a Job or a job id")
        checks.text("prompt", prompt, allow_none=False)
        for name in ("model", "provider", "action", "source_video_id"):
            if name in fields:
                raise ValidationError(name, fields[name], "not given: a remix keeps the source job's "
                                      f"model and provider and remixes its video")
        checks.request_fields(prompt, None, None, fields)
        src = job if isinstance(job, Job) else self.job(job)
        row = src.row
        if row.get("status") != "completed":
            raise ValidationError("job", src.id, "a completed job",
                                  f"only a completed video can be remixed (this one is {row.get('status')})")
        fields.setdefault("tags", tuple(row.get("tags") or ()))
        # a remix continues the source video: its size and length unless the caller says otherwise
        for name in ("size", "seconds"):
            if row.get(name) is not None and fields.get(name) is None:
                fields[name] = row[name]
        return self.generate(prompt, row.get("model"), row.get("provider"), wait=wait, timeout=timeout,
                             progress=progress, action="remix", source_video_id=src.video_id, **fields)

    def job(self, job_id: str) -> Job:
        """The `Job` with this ledger id (raises `JobNotFound`, a KeyError, when absent)."""
        self.ledger.get(job_id)
        return Job(self, job_id)

    def jobs(self, **filters: Any) -> list[Job]:
        """Jobs matching ledger filters (model, provider, status, tag, since, until, emulated, batch_id, action)."""
        return [Job(self, r["job_id"]) for r in self.ledger.rows(**filters)]

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        """Call ``callback(job_id, changes)`` after every committed ledger update (on the engine
        thread: do not block in it). Returns a function that unsubscribes."""
        return self._engine.subscribe(callback)

    # ------------------------------------------------------------------ resume
    def _resumable(self, force: bool = False) -> list[dict]:
        rows = self.ledger.pending()
        if force:
            return rows
        return [r for r in rows if not owned_elsewhere(r)]

    def resume(self, *, wait: bool = True, timeout: Optional[float] = None, progress: bool = True,
               force: bool = False) -> list[Job]:
        """Finish every unfinished job in the ledger without submitting anything twice.

        * ``pending`` with a client-chosen id (Runware taskUUID): poll it first; create only if the
          provider does not know it (a conflict then means it exists);
        * ``pending`` OpenAI rows never sent (``attempts == 0``): send; ones that may have been
          sent, and ``unknown`` rows: reconcile by listing (see `sorakit.engine` docs);
        * ``submitted`` / ``queued`` / ``in_progress`` / ``timed_out_waiting``: poll, then download;
          ``downloading``: download.

        Rows driven by another live process on this machine are left alone (``force=True`` takes
        them anyway). Returns the jobs; with ``wait=True`` after they are done (failures do not raise).
        """
        checks.call_options(timeout=timeout, wait=wait, progress=progress)
        checks.flag("force", force)
        rows = self._resumable(force)
        ids = self._loop.run(self._resume(rows, timeout))
        jobs = [Job(self, i) for i in ids]
        if wait and ids:
            self._wait_blocking(ids, timeout=None, progress=progress,
                                target=Batch(self, jobs) if len(jobs) != 1 else jobs[0], raise_=False, drive=False)
        return jobs

    async def aresume(self, *, wait: bool = True, timeout: Optional[float] = None,
                      force: bool = False) -> list[Job]:
        checks.call_options(timeout=timeout, wait=wait)
        checks.flag("force", force)
        rows = await self._loop.arun(self._engine._db_call(self._resumable, force))
        ids = await self._loop.arun(self._resume(rows, timeout))
        if wait and ids:
            await self._loop.arun(self._wait_ids(ids, None, raise_=False, drive=False))
        return [Job(self, i) for i in ids]

    def _retry_download(self, ids: list[str], timeout: Optional[float]) -> None:
        async def go() -> None:
            for jid in ids:
                row = await self._engine._db_call(self.ledger.get, jid)
                rt = self._runtime(row.get("provider"), bool(row.get("emulated")))
                if rt is None:
                    raise ConfigurationError(f"job {jid}: its provider {row.get('provider')!r} cannot be "
                                             f"reached in this session")
                await self._engine.retry_download(row, rt, timeout)

        self._loop.run(go())

    async def _resume(self, rows: list[dict], timeout: Optional[float]) -> list[str]:
        driving, skipped = await self._engine.resume_rows(
            rows, lambda r: self._runtime(r.get("provider"), bool(r.get("emulated"))), timeout)
        if skipped:
            _notice(f"sorakit: {len(skipped)} unfinished job(s) cannot be resumed in this session "
                    f"(their provider has no API key or no client here)")
        return driving

    def _auto_resume(self) -> None:
        try:
            rows = self._resumable()
        except Exception:  # a ledger we cannot read fully must not stop the studio opening
            return
        if not rows:
            return
        ids = self._loop.run(self._resume(rows, None))
        if ids:
            _notice(f"sorakit: resuming {len(ids)} unfinished job(s) from the ledger in the background "
                    f"(studio.resume() waits for them)")

    # ------------------------------------------------------------------ UI hooks (sorakit.display)
    def _ui(self, name: str) -> Callable:
        fn = _display_attr(name)
        if fn is None:
            raise ConfigurationError(f"sorakit.display provides no {name}() in this installation")
        return fn

    def form(self, **kwargs: Any):
        """A request form (sorakit.display)."""
        return self._ui("form")(self, **kwargs)

    def gallery(self, jobs: Any = None, **kwargs: Any):
        """Completed videos as a grid (sorakit.display)."""
        return self._ui("gallery")(self if jobs is None else jobs, **kwargs)

    def compare(self, jobs: Any = None, **kwargs: Any):
        """Side by side: ``compare(prompts=[...], models=[...])`` runs them; ``compare(jobs)``
        arranges existing jobs (rows are prompts, columns ``model@provider``; sorakit.display)."""
        return self._ui("compare")(self if jobs is None else jobs, studio=self, **kwargs)

    def browse(self, **kwargs: Any):
        """The ledger browser (sorakit.display)."""
        return self._ui("browse")(self, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop driving jobs (they stay resumable in the ledger), close clients and owned resources."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self._engine.aclose(), timeout=30)
        except Exception:  # pragma: no cover - best effort
            pass
        if self._owns_emulator and self._emulator is not None:
            self._emulator.close()
        if self._owns_ledger:
            self.ledger.close()

    def __enter__(self) -> "Studio":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
