"""The driver: one per task (one create call and the rows it feeds), sequencing the phases.

It takes a provider slot, runs the create phase while the rows are in create states
(`create.Creator`: `Created` -> apply what the provider said, `CreateFailed` -> the rows fail),
polls while they are in poll states (`poll.Poller`: `Polled` -> start the downloads of the rows
it reports ready; `Lost` -> an emulator that forgot the job gets it again, a real provider's job
fails), gives the slot back, and waits for the downloads (`download.Downloader`: `Downloaded` ->
``completed``, `DownloadFailed` -> ``failed``). Every write goes through the book.

How a task ends: its wait bound (`_Deadline`) -> ``timed_out_waiting``; a cancel (`_Cancel`) ->
`cancel.Canceller`; a stop (`_Suspend`, an unexpected error) -> the rows keep a resumable status
with the reason (`Book.stop_rows`); the engine closing, or another process taking the lease ->
the rows keep their committed state. Then, always: waiters are woken (`Book.release`) and the
leases released.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from ..._exceptions import SorakitError, StoreError
from ..._types import TERMINAL
from ...catalog import Plan
from .book import Book
from .cancel import Canceller
from .create import CreateFailed, Creator
from .download import Downloaded, Downloader
from .leases import Leases
from .poll import Lost, Poller
from .runtime import DRIVERS, Pacing, Runtime, _Cancel, _Deadline, _Suspend, _Task
from .transitions import phase

__all__ = ["Driver"]

log = logging.getLogger("sorakit.engine")


class Driver:
    """Starts and runs the tasks of one engine. ``registrant`` is what `DRIVERS` names as the
    driver of a job (the `Engine` façade); ``active`` maps job ids to their running task."""

    def __init__(self, book: Book, leases: Leases, pace: Pacing, creator: Creator, poller: Poller,
                 downloader: Downloader, canceller: Canceller, active: dict[str, _Task], registrant: Any):
        self.book = book
        self.leases = leases
        self.pace = pace
        self.creator = creator
        self.poller = poller
        self.downloader = downloader
        self.canceller = canceller
        self.active = active
        self.registrant = registrant
        self.tasks: set[asyncio.Task] = set()
        self.closed = False

    def phase(self, t: _Task) -> str:
        return phase(self.book.rows[j].get("status") for j in t.job_ids)

    def start(self, rt: Runtime, job_ids: list[str], client_ref: str, plan: Optional[Plan], max_wait: float,
              resumed: bool = False) -> _Task:
        """Begin driving the rows of one create (call on the engine loop)."""
        t = _Task(key=client_ref, rt=rt, job_ids=list(job_ids), client_ref=client_ref, plan=plan,
                  max_wait=float(max_wait), resumed=resumed)
        for jid in t.job_ids:
            self.active[jid] = t
            self.book.events[jid] = asyncio.Event()
            self.book.errors.pop(jid, None)
            DRIVERS[jid] = self.registrant
        task = asyncio.get_running_loop().create_task(self.run(t), name=f"sorakit:{client_ref}")
        t.runner = task
        self._track(task)
        return t

    def _track(self, task: asyncio.Task) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------------ sequencing the phases
    async def _drive(self, t: _Task) -> None:
        book = self.book
        first = self.phase(t)
        if first in ("create", "poll"):
            await self.pace.acquire_slot(t)
            try:
                create = first == "create"
                while True:
                    if create:
                        outcome = await self.creator.ensure_remote(t)
                        if isinstance(outcome, CreateFailed):
                            await book.fail_rows(t.job_ids, outcome.code, outcome.message, attempts=outcome.attempts)
                            if outcome.error is not None:
                                for jid in t.job_ids:
                                    book.errors[jid] = outcome.error
                        elif outcome.states:
                            self._start_downloads(t, await self.poller.apply(t, outcome.states))
                    lost = await self._poll(t)
                    if lost is None:
                        break
                    if not t.rt.emulated:
                        await book.fail_rows(lost.job_ids, lost.error.code or "not_found",
                                             f"the provider no longer knows this job: {lost.error.message}")
                        break
                    # an in-process emulator forgets its jobs with its process; nothing was billed
                    await book.write_rows(
                        lost.job_ids, status="pending", attempts=0,
                        provider_job_id=t.client_ref if t.rt.provider.create_is_idempotent else None,
                        error_message="the emulator no longer knows this job; sending it again")
                    t.resumed = False
                    create = True
            finally:
                self.pace.release_slot(t)
        self._start_downloads(t, [jid for jid in t.job_ids if book.rows[jid].get("status") == "downloading"])
        if t.downloads:
            await asyncio.gather(*t.downloads)

    async def _poll(self, t: _Task) -> Optional[Lost]:
        """Poll until no row waits for the provider; `Lost` when it no longer knows the job."""
        delay = self.poller.first_delay(t)
        n = 0
        states: tuple = ()
        while self.poller.open(t):
            out = await self.poller.poll_once(t, delay, states)
            if isinstance(out, Lost):
                return out
            self._start_downloads(t, out.ready)
            states = out.states
            delay = self.poller.next_delay(t, states, n)
            n += 1
        t.rt.wake_oldest()  # the provider's queue is FIFO: our oldest waiting job has likely started
        return None

    def _start_downloads(self, t: _Task, job_ids: list[str] | tuple[str, ...]) -> None:
        for jid in job_ids:
            if not any(getattr(d, "sorakit_job", None) == jid for d in t.downloads):
                task = asyncio.get_running_loop().create_task(self._download(t, jid), name=f"sorakit:dl:{jid}")
                task.sorakit_job = jid  # type: ignore[attr-defined]
                t.downloads.append(task)
                self._track(task)

    async def _download(self, t: _Task, jid: str) -> None:
        book = self.book
        try:
            outcome = await self.downloader.fetch(t, jid)
            if isinstance(outcome, Downloaded):
                await book.write(jid, **outcome.changes)
            else:
                await book.fail_rows([jid], outcome.code, outcome.message, generated=True)
        except _Deadline:
            t.error = t.error or _Deadline()
            if book.rows[jid].get("status") == "downloading":
                await book.write(jid, status="timed_out_waiting")
        except _Suspend as exc:
            book.errors[jid] = exc.error
            await book.download_failed(jid, getattr(exc.error, "message", None) or str(exc.error))
        except StoreError as exc:  # the media store refused (no bucket, access denied): recorded, retryable
            book.errors[jid] = exc
            log.warning("sorakit: job %s: %s", jid, exc)
            await book.download_failed(jid, str(exc), "stored")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            book.errors[jid] = exc
            log.exception("sorakit: download of %s failed", jid)
            await book.download_failed(jid, f"{type(exc).__name__}: {exc}")
        finally:
            ev = book.events.get(jid)
            if ev is not None and book.rows[jid].get("status") in TERMINAL | {"timed_out_waiting"}:
                ev.set()

    @staticmethod
    async def _settle_downloads(t: _Task) -> None:
        """Let downloads already under way finish (each ends by the task's deadline) before the
        task's rows are marked stopped: a row is never judged while its download still runs."""
        pending = [d for d in t.downloads if not d.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ how a task ends
    async def run(self, t: _Task) -> None:
        book = self.book
        cancelled = False
        try:
            await self._drive(t)
        except _Deadline as exc:
            t.error = exc
            await self._settle_downloads(t)
            await book.mark_timed_out(t.job_ids)
        except _Cancel:
            await self.canceller.run(t)
        except _Suspend as exc:
            t.error = exc.error
            log.warning("sorakit: stopped driving %s: %s", t.job_ids, exc.error)
            await self._settle_downloads(t)
            await book.stop_rows(t.job_ids, exc.error)
        except asyncio.CancelledError:
            cancelled = True
            if t.lost_to is not None:
                t.error = SorakitError(f"job {t.job_ids[0]}: {t.lost_to} drives it now (this process "
                                       f"lost its lease); job.wait() watches it")
            else:
                t.error = SorakitError("the engine was closed while the job was running; resume() finishes it")
            for d in t.downloads:
                d.cancel()
            raise
        except Exception as exc:  # a bug or an unexpected answer: keep the row resumable
            t.error = exc
            log.exception("sorakit: unexpected error driving %s", t.job_ids)
            try:
                await self._settle_downloads(t)
                await book.stop_rows(t.job_ids, exc)
            except Exception:  # the ledger itself failed: the row keeps its last committed state
                log.exception("sorakit: could not record why %s stopped", t.job_ids)
        finally:
            if t.cancel_req is not None and not t.cancel_req.done():  # finished before a safe point
                t.cancel_req.set_result(self.canceller.outcome(t))
            for jid in t.job_ids:
                if t.error is not None and book.rows.get(jid, {}).get("status") not in TERMINAL:
                    book.errors[jid] = t.error
                current = self.active.get(jid)
                if current is t:
                    del self.active[jid]
                    if DRIVERS.get(jid) is self.registrant:
                        del DRIVERS[jid]
                if current is t or current is None:
                    book.release(jid)
            if not cancelled and not self.closed:
                # done driving (terminal, or stopped with the reason recorded): free the lease for
                # the next resume; a cancelled task's leases are released by `aclose` in one go
                ours = [j for j in t.job_ids if self.active.get(j) is None]
                try:
                    await self.leases.release(ours, defer=True)
                except asyncio.CancelledError:
                    pass

    async def aclose(self) -> None:
        """Cancel every task (rows keep their committed state: resume finishes them)."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
