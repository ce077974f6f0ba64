"""`StudioHandle`: the little of a `Studio` that its `Job` and `Batch` handles may use.

A Job or Batch holds a handle, not the whole Studio, the way an openai-python resource holds only
the client calls its ``_resource.py`` binds. The handle is made once per Studio (``Studio._handle``)
and binds, by name, everything a Job or Batch does through its Studio:

| member            | what it is                                                     | used by |
|-------------------|----------------------------------------------------------------|---------|
| ``studio``        | the Studio itself, for its *public* API (``remix``, ``extend``) and as the display's link back (``job.studio``) | Job |
| ``ledger``        | the Studio's ledger: rows, annotations, a batch's DataFrame    | Job, Batch |
| ``snapshot(ids)`` | the engine's live state of jobs (progress between ledger writes) | Job.progress |
| ``runtimes()``    | the engine's provider runtimes (what cancel can do there)      | Job.cancel_support |
| ``latency(model, provider, emulated)`` | the model's usual latency from history  | Job.usual_latency |
| ``eta(ids)``      | when open jobs are expected to finish                          | Batch.eta |
| ``wait(ids, ...)`` / ``wait_async(ids, timeout, raise_)`` | block / await until done (progress, Ctrl-C) | Job, Batch |
| ``cancel(ids)`` / ``cancel_async(ids)`` | stop jobs, one `CancelResult` each          | Job, Batch |
| ``retry_download(ids, timeout)`` | fetch again a video whose download failed       | Job |
| ``settle_unknown(id, video_id, absent, resend, timeout)`` | a person settles a create whose outcome stayed unknown | Job |

This module imports nothing of the Studio's: `_studio` and `_job` both import it, and `_job` no
longer imports `_studio` (that was the ``_job ↔ _launch ↔ _studio`` circle).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from .._types import CancelResult

__all__ = ["StudioHandle", "handle_of"]


class StudioHandle:
    """What a `Job` or `Batch` may do through its Studio (see the module docstring), bound once."""

    __slots__ = ("studio", "ledger", "snapshot", "latency", "eta", "wait", "retry_download", "settle_unknown",
                 "_engine", "_loop", "_wait_ids", "_cancel_ids")

    def __init__(self, studio: Any) -> None:
        self.studio = studio
        self.ledger = studio.ledger
        self.snapshot = studio._engine.snapshot
        self.latency = studio._latency.get
        self.eta = studio._eta
        self.wait = studio._wait_blocking
        self.retry_download = studio._retry_download
        self.settle_unknown = studio._settle_unknown
        self._engine = studio._engine
        self._loop = studio._loop
        self._wait_ids = studio._wait_ids
        self._cancel_ids = studio._cancel_ids

    def runtimes(self) -> Mapping[Any, Any]:
        """The engine's runtimes by ``(provider, emulated)`` (the live mapping)."""
        return self._engine.runtimes

    async def wait_async(self, ids: list[str], timeout: Optional[float], raise_: bool) -> None:
        """Wait for ``ids`` from any event loop (the work runs on the engine loop)."""
        await self._loop.run_async(self._wait_ids(ids, timeout, raise_=raise_))

    def cancel(self, ids: Sequence[str]) -> list[CancelResult]:
        """Cancel ``ids`` on the engine loop, all at once, and block for the results."""
        return self._loop.run(self._cancel_ids(list(ids)))

    async def cancel_async(self, ids: Sequence[str]) -> list[CancelResult]:
        return await self._loop.run_async(self._cancel_ids(list(ids)))

    def __repr__(self) -> str:
        return f"<StudioHandle of {self.studio!r}>"


def handle_of(studio_or_handle: Any) -> StudioHandle:
    """The handle to keep: ``studio_or_handle`` itself, or the one its Studio bound.

    ``Job(studio, id)`` and ``Batch(studio, jobs)`` take either, so code that builds them from a
    Studio keeps working."""
    if isinstance(studio_or_handle, StudioHandle):
        return studio_or_handle
    handle = getattr(studio_or_handle, "_handle", None)
    if not isinstance(handle, StudioHandle):
        raise TypeError(f"a Job or Batch needs a sorakit Studio (or its handle), not {type(studio_or_handle).__name__}")
    return handle
