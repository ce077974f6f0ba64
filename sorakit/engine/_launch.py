"""From arguments to running jobs, and waiting for them: the one launch path of `Studio`.

```
arguments ─▶ VideoRequest ─▶ Plan (catalog; provider chosen) ─▶ ledger rows ─▶ budget reserved
          ─▶ [engine loop] one insert transaction ─▶ tasks started ─▶ (wait)
```
Everything before the engine loop runs in the caller's thread and raises before anything is
written or sent. The part on the loop is one coroutine, `Launcher._launch`: the blocking methods
run it with `Launcher._block` (progress display, Ctrl-C stops the waiting only) and the
``*_async`` methods await it. Part of `Studio` (a mixin over ``catalog``, ``ledger``, ``media_dir``,
``_engine``, ``_budget``, ``_loop``, ``_setups``, ``_unavailable``, ``last``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Iterable, NamedTuple, Optional, Sequence, Union

from .._exceptions import ConfigurationError, StoreError, ValidationError
from .._types import TERMINAL, CancelResult, VideoRequest
from ..catalog import Plan, plan as make_plan, split_model
from ..ledger._rowcodec import row_from_plan
from ..media import store_bytes
from ..media._store import INPUT_IMAGE_SUFFIX_OF_TYPE, local_copy
from . import _validate as checks
from ._config import notice
from ._engine import OWNER, Runtime
from ._hooks import call_hook
from ._job import Batch, Job
from ._progress import TextProgress, in_kernel

__all__ = ["Launcher", "Launch", "Rejected"]

REQUEST_FIELDS = {f for f in VideoRequest.__dataclass_fields__} - {"prompt", "model", "provider"}


class Rejected(NamedTuple):
    """A combination of a ``batch(..., skip_invalid=True)`` that was not sent, and why."""

    prompt: Any
    model: Any
    provider: Any
    error: Exception


@dataclass
class Launch:
    """A validated, budgeted launch: rows ready to insert, how to hand them back, whether to wait."""

    prepared: list
    batch_id: Optional[str]
    as_batch: bool
    """Hand back a `Batch` (``batch``, or ``variations > 1``) rather than a `Job`."""
    timeout: Optional[float]
    wait: bool
    raise_: bool
    rejected: list = field(default_factory=list)
    result: Any = None

    @property
    def ids(self) -> list[str]:
        return [r["job_id"] for _, _, rows, _ in self.prepared for r in rows]


def as_list(value: Any, default: Sequence[Any]) -> list:
    if value is None:
        return list(default)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


class Launcher:
    """Plan, budget, insert, start and wait: shared by every method that starts or waits for jobs."""

    # ------------------------------------------------------------------ planning (caller's thread)
    def _request(self, prompt: str, model: Optional[str], provider: Optional[str], fields: dict) -> VideoRequest:
        unknown = set(fields) - REQUEST_FIELDS
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(name, fields[name], sorted(REQUEST_FIELDS | {"prompt", "model", "provider"}),
                                  f"unknown argument {name!r}")
        checks.request_fields(prompt, model, provider, fields)
        model, provider = split_model(model, provider, self.catalog.providers)
        if "tags" in fields:
            fields["tags"] = checks.tag_list("tags", fields["tags"])
        return VideoRequest(prompt=prompt, model=model or self.catalog.default_model, provider=provider, **fields)

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
        p = make_plan(req, self.catalog, emulated=emulated)
        rt = self._engine.runtimes.get((provider, emulated))
        if rt is None:
            raise ConfigurationError(
                f"sorakit cannot use the {provider!r} provider in this session: "
                f"{self._unavailable.get(provider, 'no client')}")
        if not emulated and setup is not None and setup.key is None:
            env = " or ".join(setup.info.key_env) or "a key"
            raise ConfigurationError(f"no API key for {provider}: set {env} or pass keys={{{provider!r}: ...}}")
        if rt.provider.wants_source_file(p):
            p = self._with_source_file(p, rt)
        return p, rt

    def _derive(self, action: str, job: Any, prompt: Any, wait: Any, timeout: Any, progress: Any,
                fields: dict) -> Union[Job, Batch]:
        """`Studio.remix` / `Studio.extend`: a new job from a completed job's video, same model and
        provider (its size, and for a remix its length, unless the caller says otherwise)."""
        checks.call_options(timeout=timeout, wait=wait, progress=progress)
        if not isinstance(job, (Job, str)):
            raise ValidationError("job", job, "a Job or a job id")
        checks.text("prompt", prompt, allow_none=False)
        for name in ("model", "provider", "action", "source_video_id"):
            if name in fields:
                raise ValidationError(name, fields[name], f"not given: {action} keeps the source job's "
                                      f"model and provider and works on its video")
        checks.request_fields(prompt, None, None, fields)
        src = job if isinstance(job, Job) else self.job(job)
        row = src.row
        if row.get("status") != "completed":
            raise ValidationError("job", src.id, "a completed job", f"only a completed video can be "
                                  f"{action.rstrip('e')}ed (this one is {row.get('status')})")
        fields.setdefault("tags", tuple(row.get("tags") or ()))
        # it continues the source video: its size (and a remix its length) unless the caller says otherwise
        for name in ("size", "seconds") if action == "remix" else ("size",):
            if row.get(name) is not None and fields.get(name) is None:
                fields[name] = row[name]
        return self.generate(prompt, row.get("model"), row.get("provider"), wait=wait, timeout=timeout,
                             progress=progress, action=action, source_video_id=src.video_id, **fields)

    def _with_source_file(self, p: Plan, rt: Runtime) -> Plan:
        """The plan with its source video's bytes: the completed job of this ledger whose video is
        ``source_video_id``. A source kept in Cloud Storage (its row's ``video_url`` is ``gs://``)
        is named by that URI instead, and the provider is asked again."""
        vid = p.source_video_id
        why = f"the video id of a completed {p.provider.name} job in this ledger (its file is sent inline)"
        rows = self.ledger.rows(provider=p.provider.name, provider_job_id=str(vid).split("#", 1)[0])
        row = next((r for r in rows if r.get("status") == "completed"
                    and ((r.get("extra") or {}).get("video_id") or r.get("provider_job_id")) == vid), None)
        if row is None:
            raise ValidationError("source_video_id", vid, why + ", or a gs:// URI",
                                  "no completed job of this ledger made that video")
        if str(row.get("video_url") or "").startswith("gs://"):
            p = dataclasses.replace(p, source_video_id=row["video_url"])
            if not rt.provider.wants_source_file(p):
                return p
        try:
            data = local_copy(row.get("file_path") or None).read_bytes()
        except (StoreError, OSError, AttributeError) as exc:
            raise ValidationError("source_video_id", vid, why,
                                  f"job {row['job_id']}'s file cannot be read: {exc}") from None
        return dataclasses.replace(p, source_video=data, source_video_sha256=row.get("sha256"))

    def _batch_plans(self, prompts, models, seeds, providers, common: dict,
                     skip_invalid: bool = False) -> tuple[list[tuple[Plan, Runtime]], list[Rejected]]:
        """Every prompt × model × provider × seed, planned. With ``skip_invalid`` a combination
        that cannot run (`ValidationError`, or a provider this session cannot use) is returned in
        the second list instead of raising; argument errors of the call itself always raise."""
        checks.texts("prompts", prompts, allow_none=False, allowed="one prompt or a non-empty list of prompts")
        checks.texts("models", models)
        checks.texts("providers", providers)
        checks.seeds_arg(seeds)
        checks.flag("skip_invalid", skip_invalid)
        items, rejected = [], []
        for prompt, model, provider, seed in itertools.product(
                as_list(prompts, []), as_list(models, [self.catalog.default_model]),
                as_list(providers, [None]), as_list(seeds, [None])):
            fields = dict(common)
            if seed is not None:
                fields["seed"] = seed
            try:
                items.append(self._plan(self._request(prompt, model, provider, fields)))
            except (ValidationError, ConfigurationError) as exc:
                if not skip_invalid:
                    raise
                rejected.append(Rejected(prompt, model, provider, exc))
        return items, rejected

    def _rows(self, p: Plan, rt: Runtime, batch_id: Optional[str], client_ref: str) -> list[dict]:
        """The ledger rows of ``p``, one per variation (`sorakit.ledger.row_from_plan`)."""
        from ..ledger import new_job_id

        model_id = getattr(rt.provider, "model_id", None)
        provider_model = model_id(p) if callable(model_id) else p.provider_model
        return [row_from_plan(p, job_id=new_job_id(), client_ref=client_ref, owner=OWNER, batch_id=batch_id,
                              variation_index=i, provider_model=provider_model,
                              provider_job_id=client_ref if rt.provider.create_is_idempotent else None)
                for i in range(p.variations)]

    def _prepare(self, items: list[tuple[Plan, Runtime]], *, as_batch: bool, budget: Optional[float],
                 allow_unknown_cost: bool, timeout: Optional[float], wait: bool, raise_: bool,
                 rejected: Optional[list] = None) -> Launch:
        """Rows for every plan and the budget reserved for all of them at once (raises
        `BudgetExceeded` with nothing written)."""
        batch_id = f"batch_{uuid.uuid4().hex[:12]}" if as_batch else None
        prepared = []
        for p, rt in items:
            if p.input_image is not None:  # kept (and shared) so a restart can send it again
                ext = INPUT_IMAGE_SUFFIX_OF_TYPE.get(p.input_image_mime or "", ".img")
                self.media_store.put(store_bytes(p.input_image, self.media_dir, ext).path)
            ref = str(uuid.uuid4())
            prepared.append((p, rt, self._rows(p, rt, batch_id, ref), ref))
        amounts = {r["job_id"]: r["estimated_cost"] for _, _, rows, _ in prepared for r in rows}
        what = ", ".join(sorted({f"{p.model.name}@{p.provider.name}" for p, _, _, _ in prepared
                                 if p.estimated_cost is None}))
        self._budget.reserve(amounts, batch_cap=budget, allow_unknown_cost=allow_unknown_cost, what=what)
        return Launch(prepared, batch_id, as_batch, timeout, wait, raise_, list(rejected or []))

    # ------------------------------------------------------------------ resuming
    def _resumable(self) -> list[dict]:
        """Every unfinished row; which of them this process may drive is the leases' call
        (`Engine.resume_rows` claims them atomically)."""
        return self.ledger.pending()

    def _retry_download(self, ids: list[str], timeout: Optional[float]) -> None:
        async def go() -> None:
            for jid in ids:
                row = await self._engine._db_call(self.ledger.get, jid)
                rt = self._row_runtime(row)
                if rt is None:
                    raise ConfigurationError(f"job {jid}: its provider {row.get('provider')!r} cannot be "
                                             f"reached in this session")
                await self._engine.retry_download(row, rt, timeout)

        self._loop.run(go())

    def _settle_unknown(self, job_id: str, video_id: Optional[str], absent: bool, resend: bool,
                        timeout: Optional[float]) -> list[str]:
        async def go() -> list[str]:
            row = await self._engine._db_call(self.ledger.get, job_id)
            rt = self._row_runtime(row)
            if rt is None:
                raise ConfigurationError(f"job {job_id}: its provider {row.get('provider')!r} cannot be "
                                         f"reached in this session")
            return await self._engine.settle_unknown(row, rt, video_id, absent, resend, timeout)

        return self._loop.run(go())

    def _auto_resume(self) -> None:
        try:
            rows = self._resumable()
        except Exception:  # a ledger we cannot read fully must not stop the studio opening
            return
        if not rows:
            return
        ids = self._loop.run(self._resume_rows(rows, None))
        if ids:
            notice(f"sorakit: resuming {len(ids)} unfinished job(s) from the ledger in the background "
                   f"(studio.resume() waits for them)")

    # ------------------------------------------------------------------ on the engine loop
    async def _launch(self, launch: Launch) -> Union[Job, Batch]:
        """Commit all rows (one transaction), start every task, hand back the Job/Batch and, when
        asked, wait for it. The one path of generate/submit/batch/remix, blocking or async."""
        rows = [r for _, _, rs, _ in launch.prepared for r in rs]
        if rows:
            try:
                await self._engine.insert(rows)
            except BaseException:
                self._budget.release(r["job_id"] for r in rows)
                raise
        for p, rt, rs, ref in launch.prepared:
            self._engine.start_task(rt, [r["job_id"] for r in rs], ref, p, launch.timeout)
        ids = launch.ids
        if launch.as_batch:
            launch.result = Batch(self, [Job(self, i) for i in ids], launch.batch_id, rejected=launch.rejected)
        else:
            launch.result = Job(self, ids[0])
        self.last = launch.result
        if launch.wait and ids:
            await self._wait_ids(ids, None, raise_=launch.raise_, drive=False)
        return launch.result

    async def _resume_rows(self, rows: list[dict], timeout: Optional[float], force: bool = False) -> list[str]:
        driving, skipped, elsewhere = await self._engine.resume_rows(rows, self._row_runtime, timeout, force=force)
        if skipped:
            notice(f"sorakit: {len(skipped)} unfinished job(s) cannot be resumed in this session "
                   f"(their provider has no API key or no client here)")
        if elsewhere:
            owners = sorted({who for _, who in elsewhere})
            notice(f"sorakit: {len(elsewhere)} unfinished job(s) are driven by another process "
                   f"({', '.join(owners[:3])}{' ...' if len(owners) > 3 else ''}); left to it "
                   f"(job.wait() watches them, resume(force=True) takes them)")
        return driving

    async def _resume_launch(self, force: bool, timeout: Optional[float], wait: bool,
                             holder: list) -> list[Job]:
        """`resume`'s path on the loop: read the unfinished rows, drive them, maybe wait."""
        rows = await self._engine._db_call(self._resumable)
        ids = await self._resume_rows(rows, timeout, force=force)
        holder.extend(Job(self, i) for i in ids)
        if wait and ids:
            await self._wait_ids(ids, None, raise_=False, drive=False)
        return list(holder)

    async def _cancel_ids(self, ids: list[str]) -> list[CancelResult]:
        """Cancel ``ids`` on the engine loop, all at once (`Engine.cancel`)."""
        return list(await asyncio.gather(*(self._engine.cancel(j, self._row_runtime) for j in ids)))

    async def _wait_ids(self, ids: list[str], timeout: Optional[float], raise_: bool, drive: bool = True) -> None:
        """Wait for ``ids``. ``drive``: a job nobody drives now (another session's, or one the
        engine stopped: ``timed_out_waiting``, ``unknown``) is driven again first, bounded by
        ``timeout`` — a user's ``job.wait()`` / ``batch.wait()``. The wait right after a submit or
        resume passes False: a job that stopped already is reported, not restarted.
        A job another process drives (it holds the lease) is watched in the ledger until it ends,
        and taken over if that process dies (its lease runs out)."""
        eng = self._engine
        watched: set[str] = set()
        for jid in ids if drive else ():
            if not eng.is_active(jid):
                row = await eng._db_call(self.ledger.get, jid)
                if row.get("status") not in TERMINAL:
                    _, _, elsewhere = await eng.resume_rows([row], self._row_runtime, timeout)
                    watched.update(j for j, _ in elsewhere)

        async def take_over(row: dict) -> bool:
            driving, _, _ = await eng.resume_rows([row], self._row_runtime, timeout)
            return row["job_id"] in driving

        waits = [eng.watch(j, timeout, take_over) if j in watched else eng.wait(j, timeout) for j in ids]
        if raise_ and len(ids) == 1:
            await waits[0]
            return
        results = await asyncio.gather(*waits, return_exceptions=True)
        if raise_:
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    # ------------------------------------------------------------------ blocking (caller's thread)
    def _block(self, coro: Coroutine, *, progress: bool,
               shown: Callable[[], Optional[tuple[list[str], Any]]]) -> Any:
        """Run ``coro`` on the engine loop and block for it. ``shown()`` gives ``(ids, handle)``
        once the jobs exist (None before); with ``progress`` they are shown live while waiting.
        Ctrl-C stops the waiting only: the jobs keep running and stay in the ledger."""
        shower: Any = None

        def tick() -> None:
            nonlocal shower
            if shower is None:
                what = shown()
                if what is None:
                    return
                shower = self._progress(*what)
            shower.tick()

        try:
            return self._loop.run(coro, tick=tick if progress else None)
        except KeyboardInterrupt:
            what = shown()
            n = len(what[0]) if what else 0
            if shower is not None:
                shower.close()
                shower = None
            print(f"\nsorakit: stopped waiting — {n} job(s) keep running in the background and stay "
                  f"in the ledger; .wait() again or studio.resume() (see studio.last)", flush=True)
            raise
        finally:
            if progress and shower is None:
                what = shown()
                if what is not None and what[0]:
                    shower = self._progress(*what)  # finished before the first tick: its final state
            if shower is not None:
                shower.close()

    def _run_launch(self, launch: Launch, progress: bool) -> Union[Job, Batch]:
        return self._block(self._launch(launch), progress=progress and launch.wait,
                           shown=lambda: None if launch.result is None else (launch.ids, launch.result))

    def _wait_blocking(self, ids: list[str], *, timeout: Optional[float], progress: bool, target: Any,
                       raise_: bool, drive: bool = True) -> None:
        self._block(self._wait_ids(ids, timeout, raise_, drive), progress=progress, shown=lambda: (ids, target))

    def _progress(self, ids: list[str], target: Any) -> Any:
        """A live display of ``target`` (widgets in a kernel, else one line of text)."""
        if in_kernel():
            ran, live = call_hook("show_progress" if isinstance(target, Job) else "show_batch", target)
            if ran:
                return live if hasattr(live, "close") else _NoDisplay()
        label = f"{len(ids)} jobs" if len(ids) > 1 else self._label(ids[0])
        return TextProgress(self._engine, ids, label, eta=lambda: self._eta_line(ids))

    def _eta_line(self, ids: list[str]) -> str:
        """The single job's usual latency, or the batch's expected finish (history only)."""
        if len(ids) == 1:
            row = self._engine._rows.get(ids[0]) or self.ledger.get(ids[0])
            return self._latency.get(row.get("model"), row.get("provider"), row.get("emulated")).describe()
        return self._eta(ids).describe()

    def _label(self, job_id: str) -> str:
        row = self._engine._rows.get(job_id) or {}
        return f"{row.get('model', '?')}@{row.get('provider', '?')} {job_id[-6:]}"


class _NoDisplay:
    """The display hook showed something with nothing to tick (e.g. already shown in this cell)."""

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass
