"""The handles a user holds: `Job` (one video, by its ledger id) and `Batch` (jobs started
together). Both read the ledger fresh on every access and wait through their Studio — through the
`StudioHandle` it binds (`_handle`), never its private members."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from .._types import TERMINAL, CancelResult
from ..ledger._rowcodec import seed_used
from ..media._store import local_copy, try_local_copy
from . import _validate as checks
from ._handle import StudioHandle, handle_of
from ._hooks import call_hook

__all__ = ["Job", "Batch"]


# ====================================================================================== Job
class Job:
    """One video job, by its ledger id. Every property reads the ledger (fresh).

    ``job.wait()`` blocks until it is done (raising `JobFailed` / `JobTimeout`), ``job.file_path``
    is the video on disk, ``job.cost`` what it cost (billed when known, else the estimate).
    """

    __slots__ = ("_h", "id")

    def __init__(self, studio: Any, job_id: str):
        self._h: StudioHandle = handle_of(studio)
        self.id = job_id

    @property
    def studio(self) -> Any:
        """The `Studio` this job belongs to."""
        return self._h.studio

    # -- reading
    @property
    def row(self) -> dict:
        """The job's ledger row, fresh (a dict of Python values)."""
        return self._h.ledger.get(self.id)

    @property
    def status(self) -> str:
        return self.row.get("status") or "pending"

    @property
    def progress(self) -> Optional[int]:
        live = self._h.snapshot([self.id]).get(self.id) or {}
        if live.get("progress") is not None:
            return live["progress"]
        return self.row.get("progress")

    @property
    def done(self) -> bool:
        """True once nothing more will happen (completed, failed or cancelled)."""
        return self.status in TERMINAL

    @property
    def file_path(self) -> Optional[Path]:
        """The video on this machine: its path, or for a shared store (``s3://...``) the local
        cached copy, fetched on first use with its sha256 checked (`StoreError` when unreachable)."""
        return local_copy(self.row.get("file_path") or None)

    @property
    def file_url(self) -> Optional[str]:
        """Where the ledger says the video is: a local path, or the shared store's URL."""
        return self.row.get("file_path") or None

    @property
    def poster_path(self) -> Optional[Path]:
        """The poster image on this machine (through the cache for a shared store, like `file_path`)."""
        return local_copy(self.row.get("poster_path") or None)

    @property
    def video_id(self) -> Optional[str]:
        """The provider's id of the finished video (for remix / extend / edit)."""
        row = self.row
        return (row.get("extra") or {}).get("video_id") or row.get("provider_job_id")

    @property
    def seed(self) -> Optional[int]:
        """The seed that made this video, to pass as ``seed=`` to get it again: the one the provider
        reports it used (``provider_seed``: it chose one, or each variation got its own), else the
        one you asked for (``seed``); None when neither is known."""
        return seed_used(self.row)

    @property
    def cost(self) -> Optional[float]:
        """Billed cost when known, else the estimate (None when neither is known)."""
        row = self.row
        for key in ("billed_cost", "estimated_cost"):
            v = row.get(key)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                if key == "billed_cost" and row.get("billed_cost_source") == "none" \
                        and row.get("status") not in ("failed", "cancelled"):
                    continue
                return float(v)
        return None

    @property
    def usual_latency(self):
        """How long this job's model took at its provider before, from the ledger
        (`sorakit.ledger.Latency`; ``.describe()`` -> "usually ready in ~N s (median of K runs,
        p90 M s)" or "no history for this model yet"). Emulated and real runs are kept apart."""
        row = self.row
        return self._h.latency(row.get("model"), row.get("provider"), row.get("emulated"))

    @property
    def cancel_support(self):
        """What ``cancel()`` can do at this job's provider once the job is sent (the provider's
        `CancelSupport`: ``how`` is ``cancel``, ``delete`` or ``none``, ``billed``, ``note``), or None
        while it is not sent (a cancel then stops it here, unbilled) or the provider is not set up."""
        row = self.row
        pjid = row.get("provider_job_id")
        if not pjid:
            return None
        runtimes = self._h.runtimes()
        rt = runtimes.get((row.get("provider"), bool(row.get("emulated")))) or next(
            (r for (name, _emu), r in runtimes.items() if name == row.get("provider")), None)
        if rt is None:
            return None
        return rt.provider.cancel_support(str(pjid))

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
        self._h.wait([self.id], timeout=timeout, progress=progress, target=self, raise_=True)
        return self

    async def wait_async(self, timeout: Optional[float] = None) -> "Job":
        """``await job.wait_async()`` from any event loop (a notebook cell, an async script)."""
        await self._h.wait_async([self.id], timeout, raise_=True)
        return self

    # -- stopping
    def cancel(self) -> CancelResult:
        """Stop this job and return what happened (a `CancelResult`: ``cancelled``, ``billed``,
        ``reason``).

        Not yet sent: cancelled here, nothing billed. Sent: the provider's own call where it has
        one (Gemini Omni Flash: interaction cancel; OpenAI: ``DELETE /videos/{id}``, which the API
        documents only for finished videos) and the ledger says ``cancelled``. Where the provider
        cannot stop it (Runware, Runcrate, relays, Veo operations) or refuses, sorakit stops waiting
        but the job stays open in the ledger (``timed_out_waiting``, ``error_code`` ``not_cancelled``):
        ``job.wait()`` or ``studio.resume()`` still fetch its video and record its cost. Other
        results of the same request (``variations``) are stopped with it.
        """
        return self._h.cancel([self.id])[0]

    async def cancel_async(self) -> CancelResult:
        """``await job.cancel_async()``: `cancel` from any event loop."""
        return (await self._h.cancel_async([self.id]))[0]

    # -- annotating
    def rate(self, n: Optional[int]) -> "Job":
        """Rate 1–5 (None clears)."""
        self._h.ledger.rate(self.id, checks.rating(n))
        return self

    def tag(self, *tags: str) -> "Job":
        self._h.ledger.tag(self.id, *checks.tag_list("tags", tags))
        return self

    def untag(self, *tags: str) -> "Job":
        self._h.ledger.untag(self.id, *checks.tag_list("tags", tags))
        return self

    def note(self, text: Optional[str]) -> "Job":
        self._h.ledger.note(self.id, checks.text("text", text))
        return self

    def retry_download(self, *, wait: bool = True, timeout: Optional[float] = None,
                       progress: bool = False) -> "Job":
        """Download again the video of a job that failed with ``download_failed`` (the provider
        made it, the engine gave up fetching it). Waits for it unless ``wait=False``."""
        self._h.retry_download([self.id], timeout)
        if wait:
            self._h.wait([self.id], timeout=None, progress=progress, target=self, raise_=True, drive=False)
        return self

    def settle_unknown(self, video_id: Optional[str] = None, *, absent: bool = False, resend: bool = False,
                       wait: bool = True, timeout: Optional[float] = None, progress: bool = False) -> "Job":
        """Settle a job whose create's outcome stayed ``unknown`` (the answer was lost and the
        provider cannot be asked which jobs it has: Gemini, Veo, Runcrate, relays), once you have
        checked the provider's dashboard. Other jobs of the same request are settled with it.

        ``video_id="..."``: the provider made it under that id (asked for there first; an id it does
        not know is refused): the job is polled and its video downloaded, then this waits for it
        unless ``wait=False``. ``absent=True``: the provider has no such job: the job fails
        ``not_created`` with nothing billed — or, with ``resend=True``, it is sent again (and
        waited for). Who settled it and how is kept in ``extra.settled``."""
        self._h.settle_unknown(self.id, video_id, absent, resend, timeout)
        if wait and not (absent and not resend):
            self._h.wait([self.id], timeout=timeout, progress=progress, target=self, raise_=True, drive=False)
        return self

    def remix(self, prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
              progress: bool = True, **fields: Any) -> "Job":
        """A new job remixing this one's video with ``prompt``."""
        return self.studio.remix(self, prompt, wait=wait, timeout=timeout, progress=progress, **fields)

    def extend(self, prompt: str, *, wait: bool = True, timeout: Optional[float] = None,
               progress: bool = True, **fields: Any) -> "Job":
        """A new job continuing this one's video with ``prompt`` (`Studio.extend`)."""
        return self.studio.extend(self, prompt, wait=wait, timeout=timeout, progress=progress, **fields)

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
        poster = try_local_copy(row.get("poster_path") or None)
        if poster:
            import base64

            mime = "image/webp" if poster.endswith(".webp") else "image/jpeg"
            data = base64.b64encode(Path(poster).read_bytes()).decode()
            img = f"<img src='data:{mime};base64,{data}' style='max-width:320px'/><br/>"
        return f"<div>{img}{' · '.join(parts)}</div>"

    def _ipython_display_(self) -> None:
        ran, _ = call_hook("show_job", self)
        if ran:
            return
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))

    def _display_(self) -> Any:
        """marimo (which calls ``_display_`` before any ``_repr_*_``; docs.marimo.io, "Richly display
        objects"): a Job as a cell's last line shows its live card, the widget Jupyter shows."""
        import marimo as mo  # only ever called by marimo

        ran, card = call_hook("job_card", self)
        if ran and card is not None:
            return mo.ui.anywidget(card)
        return mo.Html(self._repr_html_())


# ==================================================================================== Batch
class Batch(Sequence[Job]):
    """Jobs started together: a sequence of `Job` with batch-level waiting and a ledger view."""

    def __init__(self, studio: Any, jobs: Sequence[Job], batch_id: Optional[str] = None,
                 rejected: Sequence[Any] = ()):
        self._h: StudioHandle = handle_of(studio)
        self.jobs = list(jobs)
        self.id = batch_id
        self.rejected = list(rejected)
        """Combinations ``batch(..., skip_invalid=True)`` did not send: ``(prompt, model,
        provider, error)`` tuples, the error a `ValidationError` (or `ConfigurationError`)."""

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Batch(self._h, self.jobs[i], self.id, self.rejected)
        return self.jobs[i]

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    @property
    def studio(self) -> Any:
        """The `Studio` these jobs belong to."""
        return self._h.studio

    @property
    def ids(self) -> list[str]:
        return [j.id for j in self.jobs]

    def _rows(self) -> list[dict]:
        if self.id is not None:
            rows = {r["job_id"]: r for r in self._h.ledger.rows(batch_id=self.id)}
            return [rows[j] for j in self.ids if j in rows]
        return [self._h.ledger.get(j) for j in self.ids]

    @property
    def df(self):
        """The batch's ledger rows as a DataFrame (same columns and dtypes as ``Ledger.df``)."""
        if self.id is not None:
            df = self._h.ledger.query(batch_id=self.id)
            return df[df["job_id"].isin(self.ids)].reset_index(drop=True)
        df = self._h.ledger.df
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
        return [Job(self._h, r["job_id"]) for r in self._rows() if r.get("status") == "completed"]

    @property
    def failed(self) -> list[Job]:
        return [Job(self._h, r["job_id"]) for r in self._rows() if r.get("status") in ("failed", "cancelled")]

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

    def eta(self):
        """When the open jobs are expected to finish, from the ledger's history and the
        provider's concurrency (`sorakit.engine._eta.BatchEta`; ``.describe()`` says it, or
        which model has no history yet)."""
        return self._h.eta(self.ids)

    def cancel(self) -> list[CancelResult]:
        """Cancel every job of the batch that is not done; one `CancelResult` per job (see `Job.cancel`)."""
        return self._h.cancel(self.ids)

    async def cancel_async(self) -> list[CancelResult]:
        return await self._h.cancel_async(self.ids)

    def wait(self, timeout: Optional[float] = None, *, raise_on_error: bool = False,
             progress: bool = False) -> "Batch":
        """Block until every job is done (failures do not raise unless ``raise_on_error``)."""
        self._h.wait(self.ids, timeout=timeout, progress=progress, target=self, raise_=raise_on_error)
        return self

    async def wait_async(self, timeout: Optional[float] = None, *, raise_on_error: bool = False) -> "Batch":
        await self._h.wait_async(self.ids, timeout, raise_=raise_on_error)
        return self

    def __repr__(self) -> str:
        return f"<Batch {self.id or ''} {self.summary()}>".replace("  ", " ")

    def _ipython_display_(self) -> None:
        ran, _ = call_hook("show_batch", self)
        if not ran:
            print(repr(self))
