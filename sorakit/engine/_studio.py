"""What a notebook user types: `Studio` (its handles `Job` and `Batch` live in `_job`).

```python
studio = sorakit.Studio()                       # keys from the environment, else the emulator
job = studio.generate("a red fox in snow")      # the catalog's default model
job.file_path, job.cost, job.row                # on disk, in the ledger
batch = studio.batch(["a fox", "a heron"], models=["veo-3-fast@runware", "kling-3-standard"], seeds=[1, 2])
batch.df                                        # the batch's ledger rows
studio.resume()                                 # finish whatever a dead kernel left running
```

The blocking calls hand work to the engine loop (a daemon thread) and wait on a future in short
slices, so they work in a plain script and inside a running Jupyter kernel without
``nest_asyncio`` (and still work when a user applied it). Async code awaits the same work with
the ``*_async`` twins (``generate_async``, ``batch_async``, ``resume_async``; the older
``agenerate``/``abatch``/``aresume`` are deprecated aliases). Both run one coroutine
(`_launch.Launcher._launch`). Ctrl-C stops the *waiting*: the job keeps running in the background
and stays in the ledger; ``job.wait()`` or ``studio.resume()`` picks it up again.

The engine's module map is in `sorakit.engine` (kept in one place, so there is no second one to
disagree with it).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from .._exceptions import BudgetExceeded, ValidationError
from ..catalog import Catalog, Estimate, estimate as catalog_estimate, load_catalog, stale_notice
from ..providers.relay import relay_configs, with_relays
from . import _validate as checks
from ._budget import Budget, BudgetStatus
from ..media._store import LocalStore, MediaStore
from ._compat import DeprecatedAliases
from ._config import (clip_checks_from_env, default_media_dir, emulate_from_env, notice, remote_media,
                      resolve_setups, time_scale_from_env)
from ._connect import Connections
from ._engine import Engine
from ._policy import Policy
from ._quality import QualityChecks
from ._eta import BatchEta, LatencyCache, batch_eta
from ._handle import StudioHandle
from ._hooks import NotebookViews
from ._job import Batch, Job
from ._judge import Judgements
from ._launch import Launcher
from ._loop import EngineLoop, get_loop

__all__ = ["Studio", "Job", "Batch"]

_CALL_OPTIONS = ("wait", "budget", "timeout", "progress", "allow_unknown_cost")


def _user_facing(fn: Callable) -> Callable:
    """A public call whose input errors read as one line, not a trace through sorakit's internals.

    A `ValidationError` or `BudgetExceeded` (nothing was sent) is re-raised from this frame with its
    traceback cut here: a notebook shows the user's own line, this one and the message. The full
    trace goes to the ``sorakit`` logger at DEBUG level for whoever debugs sorakit itself.
    """
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (ValidationError, BudgetExceeded) as exc:  # bad input: nothing was sent
                logging.getLogger("sorakit").debug("%s raised", fn.__qualname__, exc_info=True)
                raise exc.with_traceback(None) from None  # the message says it all
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValidationError, BudgetExceeded) as exc:  # bad input: nothing was sent
            logging.getLogger("sorakit").debug("%s raised", fn.__qualname__, exc_info=True)
            raise exc.with_traceback(None) from None  # the message says it all
    return run


def _today() -> dt.date:
    """Today (UTC); one seam so tests judge the catalog's age against a date they choose."""
    return dt.datetime.now(dt.timezone.utc).date()


class Studio(Launcher, Connections, NotebookViews, Judgements, DeprecatedAliases, QualityChecks):
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
        media_dir: where videos are kept: a folder (default ``$SORAKIT_MEDIA``, else
            ``sorakit-media`` beside the ledger file), or the URL of a shared store such as
            ``s3://bucket/prefix`` (any fsspec URL; ``pip install 'sorakit[s3]'`` for S3): each
            video is uploaded under its sha256 before its row says completed, rows record the
            object's URL, and reads go through a local cache (``$SORAKIT_CACHE``). Credentials come
            from the environment or ``~/.aws``; a URL carrying them is refused.
        media_options: fsspec storage options for a store URL, without secrets (``endpoint_url``,
            ``client_kwargs={"region_name": ...}``); refused when they name a key, secret or token.
        max_wait: seconds to wait for one job before leaving it ``timed_out_waiting``.
        concurrency: jobs in flight per provider (int, or ``{provider: int}``; default 32).
        emulator: an ``Emulator`` to use in-process, or the base URL of an emulator server.
        resume: on opening, resume unfinished jobs found in the ledger in the background
            (default True; a one-line notice says how many).
        adopt: while open, take over unfinished jobs whose holder stopped renewing its lease (a
            teammate's kernel killed on a shared ledger), checked every ``policy.lease_heartbeat``
            seconds; one Studio wins each job, nothing is created twice (default True).
        policy: engine timing (`sorakit.engine.Policy`), for tests and tuning.
        provider_options: ``{provider: {option: value}}`` passed to the provider (e.g. relay
            ``model_ids``).
        catalog: the model catalog: a `Catalog`, or the path of a TOML overlay (or a list of paths)
            merged over the shipped catalog (default: the shipped one with ``$SORAKIT_CATALOG``
            merged over it). A shipped catalog checked more than 60 days ago gets a one-line notice.
        relays: relays this studio may use, each a ``RelayConfig`` or a dict of
            `sorakit.providers.relay.make_relay`'s arguments (``name``, ``base_url``, ``key_env``,
            ``models``, ``paths``...); they join this studio's catalog as providers. (Relays
            registered process-wide with the deprecated ``register_relay`` are added too.)
        clip_checks: check each finished video, run ``studio.scorers`` in the background (`_quality`); default ``$SORAKIT_CLIP_CHECKS`` (unset: on)
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
        media_options: Optional[Mapping[str, Any]] = None,
        max_wait: float = 1800,
        concurrency: Union[int, Mapping[str, int], None] = None,
        emulator: Any = None,
        resume: bool = True,
        adopt: bool = True,
        policy: Optional[Policy] = None,
        provider_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
        catalog: Union[Catalog, str, os.PathLike, Sequence[Union[str, os.PathLike]], None] = None,
        relays: Optional[Iterable[Any]] = None,
        clip_checks: Optional[bool] = None,
    ):
        from ..ledger import Ledger

        checks.studio_args(ledger=ledger, emulate=emulate, keys=keys, base_urls=base_urls, budget=budget,
                          time_scale=time_scale, media_dir=media_dir, max_wait=max_wait,
                          concurrency=concurrency, emulator=emulator, resume=resume, adopt=adopt, policy=policy,
                          provider_options=provider_options, catalog=catalog)
        clip_checks = clip_checks_from_env() if clip_checks is None else checks.flag("clip_checks", clip_checks)
        remote = remote_media(media_dir, media_options)  # checked before the ledger is created
        base = catalog if isinstance(catalog, Catalog) else load_catalog(overlays=catalog)
        self._catalog_arg = catalog  # what update_catalog() merges the refreshed overlay under
        self.relays = relay_configs(relays, base)
        """The relays this studio was given (``RelayConfig`` by name)."""
        self.catalog: Catalog = with_relays(base, self.relays.values())
        if emulate is None:
            emulate = emulate_from_env()
        if time_scale is None:
            time_scale = time_scale_from_env()
        self._owns_ledger = not isinstance(ledger, Ledger)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        location = None if not self._owns_ledger else (None if ledger is None else os.fspath(ledger))
        if location is None and getattr(self.ledger, "path", None) is not None:
            location = str(self.ledger.path)
        self.media_store: MediaStore = remote or LocalStore(
            Path(media_dir).expanduser() if media_dir is not None else default_media_dir(location))
        """Where videos are kept: a `LocalStore` (a folder) or a `RemoteStore` (a shared URL)."""
        self.media_dir = self.media_store.root  # a RemoteStore's read-through cache: downloads land here
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
        for name, cfg in self.relays.items():  # a scoped relay's provider reads its own config
            self._options.setdefault(name, {}).setdefault("config", cfg)
        self._emulate = emulate
        self._concurrency = concurrency
        self._lock = threading.RLock()
        self._closed = False
        self.last: Any = None
        """The last Job/Batch started (handy after a Ctrl-C)."""

        transport = self._emulator_transport() if emulate is not False else None
        self._setups, setup_notice = resolve_setups(
            self.catalog, emulate=emulate, keys=self._keys, base_urls=self._base_urls,
            emulator_base_url=self._emulator_url, emulator_transport=transport, options=self._options)
        self._budget = Budget(budget)
        self._loop: EngineLoop = get_loop()
        self._policy = policy or Policy()
        runtimes = self._build_runtimes()
        self._engine = Engine(self.ledger, self.catalog, runtimes, media_dir=self.media_dir, store=self.media_store,
                              budget=self._budget, max_wait=self.max_wait, policy=self._policy)
        self._latency = LatencyCache(self.ledger)
        self._handle = StudioHandle(self)
        """What this studio's `Job` and `Batch` objects use of it (`sorakit.engine._handle`)."""
        # a completed job is new history for its model: the next card or tile must count it
        self._engine.subscribe(lambda jid, changes: self._latency.on_job_change(
            self._engine._rows.get(jid) or {}, changes))
        self._start_checks(clip_checks, self.media_dir / ".checks", self._engine._book.notify, self._engine.subscribe)
        if setup_notice:
            notice(setup_notice)
        stale = stale_notice(self.catalog, _today())
        if stale:
            notice(stale)
        if resume:
            self._auto_resume()
        if adopt:
            self._loop.run(self._engine.start_adopting(self._row_runtime, notice))

    # ------------------------------------------------------------------ info (providers: see _connect)
    def latency(self, model: str, provider: Optional[str] = None, *, emulated: Optional[bool] = None):
        """A model's usual latency here, from the ledger (`sorakit.ledger.Latency`: median, p90 and
        count of submitted -> completed over its newest runs; ``count == 0``: no history yet)."""
        return self.ledger.latency(model, provider, emulated=emulated)

    def _eta(self, ids: Sequence[str]) -> BatchEta:
        """The expected finish of ``ids`` from history (see `sorakit.engine._eta`)."""
        rows = [self._engine._rows.get(i) or self.ledger.get(i) for i in ids]
        return batch_eta(rows, self._latency.get, self._concurrency_for, time.time())

    @property
    def budget(self) -> BudgetStatus:
        """``cap``, ``spent`` (committed this session), ``remaining``."""
        return self._budget.status()

    def __repr__(self) -> str:
        modes = ", ".join(f"{n}={m}" for n, m in self.providers.items())
        media = self.media_store.url or str(self.media_dir)
        return (f"<Studio ledger={getattr(self.ledger, 'location', '?')!r} media={media!r} "
                f"providers({modes}) {self.budget!r}>")

    # ------------------------------------------------------------------ the user API
    def _generate_launch(self, prompt, model, provider, *, wait, timeout, budget, allow_unknown_cost,
                         fields: dict, progress: bool = False):
        checks.call_options(timeout=timeout, budget=budget, wait=wait, progress=progress,
                            allow_unknown_cost=allow_unknown_cost)
        p, rt = self._plan(self._request(prompt, model, provider, dict(fields)))
        return self._prepare([(p, rt)], as_batch=p.variations > 1, budget=budget,
                             allow_unknown_cost=allow_unknown_cost, timeout=timeout, wait=wait,
                             raise_=p.variations == 1)

    @_user_facing
    def generate(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
                 wait: bool = True, timeout: Optional[float] = None, progress: bool = True,
                 budget: Optional[float] = None, allow_unknown_cost: bool = False,
                 **fields: Any) -> Union[Job, Batch]:
        """Make one video (validated before any network call) and, by default, wait for it.

        ``model`` defaults to ``studio.catalog.default_model``; ``"model@provider"`` names the
        provider too. A provider's model id the catalog does not list is sent as is when its
        provider is named (``"gemini-omni-1.3-flash@gemini"``): said once on the ``sorakit.catalog``
        logger, its price unknown, the provider's answer judges it. ``fields`` are `VideoRequest` fields: ``size``, ``seconds``, ``seed``,
        ``variations``, ``negative_prompt``, ``audio``, ``input_image``, ``tags``... ``timeout``
        bounds the wait for this job (default: the studio's ``max_wait``); when it runs out the job
        is left ``timed_out_waiting`` and `JobTimeout` is raised. ``wait=False`` returns at once.
        With ``variations > 1`` the result is a `Batch` of one job per video.

        Raises `ValidationError` (nothing sent), `BudgetExceeded`, `JobFailed`, `JobTimeout`.
        """
        launch = self._generate_launch(prompt, model, provider, wait=wait, timeout=timeout, budget=budget,
                                       allow_unknown_cost=allow_unknown_cost, fields=fields, progress=progress)
        return self._run_launch(launch, progress)

    @_user_facing
    async def generate_async(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
                             wait: bool = True, timeout: Optional[float] = None, budget: Optional[float] = None,
                             allow_unknown_cost: bool = False, **fields: Any) -> Union[Job, Batch]:
        """``await studio.generate_async(...)``: `generate` for async code (a notebook's loop, asyncio)."""
        launch = self._generate_launch(prompt, model, provider, wait=wait, timeout=timeout, budget=budget,
                                       allow_unknown_cost=allow_unknown_cost, fields=fields)
        return await self._loop.run_async(self._launch(launch))

    @_user_facing
    def submit(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, *,
               timeout: Optional[float] = None, budget: Optional[float] = None,
               allow_unknown_cost: bool = False, **fields: Any) -> Union[Job, Batch]:
        """Start a job and return at once (``generate(..., wait=False)``)."""
        return self.generate(prompt, model, provider, wait=False, timeout=timeout, progress=False,
                             budget=budget, allow_unknown_cost=allow_unknown_cost, **fields)

    def _batch_launch(self, prompts, models, seeds, providers, *, wait, budget, timeout, allow_unknown_cost,
                      skip_invalid, common: dict, progress: bool = False):
        checks.call_options(timeout=timeout, budget=budget, wait=wait, progress=progress,
                            allow_unknown_cost=allow_unknown_cost)
        try:
            items, rejected = self._batch_plans(prompts, models, seeds, providers, dict(common), skip_invalid)
        except ValidationError as exc:
            if exc.field not in ("prompts", "models", "providers", "seeds", "skip_invalid") and exc.args:
                # one combination cannot run: say how to run the others
                exc.args = (f"{exc.args[0]}; batch(..., skip_invalid=True) leaves out the combinations "
                            "that cannot run and runs the rest",)
            raise
        return self._prepare(items, as_batch=True, budget=budget, allow_unknown_cost=allow_unknown_cost,
                             timeout=timeout, wait=wait, raise_=False, rejected=rejected)

    @_user_facing
    def batch(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
              seeds: Union[int, Sequence[Optional[int]], None] = None,
              providers: Union[str, Sequence[str], None] = None, *, wait: bool = True,
              budget: Optional[float] = None, timeout: Optional[float] = None, progress: bool = True,
              allow_unknown_cost: bool = False, skip_invalid: bool = False, **common: Any) -> Batch:
        """Every combination of prompts × models × providers × seeds, run concurrently.

        A model may be ``"model@provider"``. Everything is validated and the whole batch's
        estimate checked against ``budget`` (this batch) and the studio's cap before anything is
        sent. All rows are written in one transaction. ``skip_invalid=True`` leaves out the
        combinations a model or provider cannot take (they are in ``batch.rejected`` with their
        `ValidationError`) and runs the rest; otherwise the first such error raises. ``wait=False``
        returns at once; failures never raise here (see ``Batch.failed``).
        """
        launch = self._batch_launch(prompts, models, seeds, providers, wait=wait, budget=budget, timeout=timeout,
                                    allow_unknown_cost=allow_unknown_cost, skip_invalid=skip_invalid,
                                    common=common, progress=progress)
        return self._run_launch(launch, progress)

    @_user_facing
    async def batch_async(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
                          seeds: Union[int, Sequence[Optional[int]], None] = None,
                          providers: Union[str, Sequence[str], None] = None, *, wait: bool = True,
                          budget: Optional[float] = None, timeout: Optional[float] = None,
                          allow_unknown_cost: bool = False, skip_invalid: bool = False, **common: Any) -> Batch:
        """``await studio.batch_async(...)``: `batch` for async code."""
        launch = self._batch_launch(prompts, models, seeds, providers, wait=wait, budget=budget, timeout=timeout,
                                    allow_unknown_cost=allow_unknown_cost, skip_invalid=skip_invalid,
                                    common=common)
        return await self._loop.run_async(self._launch(launch))

    @_user_facing
    def estimate(self, prompts: Union[str, Sequence[str]], models: Union[str, Sequence[str], None] = None,
                 seeds: Union[int, Sequence[Optional[int]], None] = None,
                 providers: Union[str, Sequence[str], None] = None, **common: Any) -> Estimate:
        """What `batch` with the same arguments would cost (validated; nothing is sent).

        ``sorakit.estimate(requests)`` prices a list of `VideoRequest` against the catalog
        alone; this one plans like `batch` does in this session (the providers it can drive,
        ``model@provider``, the default model) and returns the same `Estimate`.
        """
        options = {k: common.pop(k) for k in _CALL_OPTIONS if k in common}
        checks.call_options(**options)
        items, _ = self._batch_plans(prompts, models, seeds, providers, dict(common))
        return catalog_estimate([p for p, _ in items], self.catalog)

    @_user_facing
    def remix(self, job: Union[Job, str], prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
              progress: bool = True, **fields: Any) -> Union[Job, Batch]:
        """A new job remixing a completed job's video with ``prompt`` (same model and provider)."""
        return self._derive("remix", job, prompt, wait, timeout, progress, fields)

    @_user_facing
    def extend(self, job: Union[Job, str], prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
               progress: bool = True, **fields: Any) -> Union[Job, Batch]:
        """A new job continuing a completed job's video with ``prompt`` (same model, provider and
        size; ``seconds`` is what the extension adds, the offer's ``extend_seconds`` by default).
        Vertex: a source kept in Cloud Storage is named by its ``gs://`` URI, else its file is sent."""
        return self._derive("extend", job, prompt, wait, timeout, progress, fields)

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
    def resume(self, *, wait: bool = True, timeout: Optional[float] = None, progress: bool = True,
               force: bool = False) -> list[Job]:
        """Finish every unfinished job in the ledger without submitting anything twice.

        * ``pending`` with a client-chosen id (Runware taskUUID): poll it first; create only if the
          provider does not know it (a conflict then means it exists);
        * ``pending`` OpenAI rows never sent (``attempts == 0``): send; ones that may have been
          sent, and ``unknown`` rows: reconcile by listing (see `sorakit.engine` docs);
        * ``submitted`` / ``queued`` / ``in_progress`` / ``timed_out_waiting``: poll, then download;
          ``downloading``: download.

        Only jobs whose lease is free or expired are taken: a job another process drives (on this
        machine or a teammate's, on a shared ledger) is left to it, with a notice naming it
        (``force=True`` takes it anyway; ``job.wait()`` watches it and takes it over only once the
        other process's lease runs out). Returns the jobs this process now drives; with
        ``wait=True`` after they are done (failures do not raise).
        """
        checks.call_options(timeout=timeout, wait=wait, progress=progress)
        checks.flag("force", force)
        jobs: list[Job] = []

        def shown():
            return ([j.id for j in jobs], Batch(self, jobs) if len(jobs) != 1 else jobs[0]) if jobs else None

        return self._block(self._resume_launch(force, timeout, wait, jobs), progress=progress and wait, shown=shown)

    async def resume_async(self, *, wait: bool = True, timeout: Optional[float] = None,
                           force: bool = False) -> list[Job]:
        """``await studio.resume_async()``: `resume` for async code."""
        checks.call_options(timeout=timeout, wait=wait)
        checks.flag("force", force)
        return await self._loop.run_async(self._resume_launch(force, timeout, wait, []))

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop driving jobs (they stay resumable in the ledger), close clients and owned resources."""
        if self._closed:
            return
        self._closed = True
        self._stop_checks()
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
