"""The job book: the only writer of job-state columns, and the engine's memory of the jobs it drives.

Every state transition is one committed ledger update, made before anyone is told: `Book.write`
commits (group commit, `Book.commit`), then updates the row cache, settles the budget of a row that
ended, tells the subscribers, and only then wakes the waiters of a terminal row. Nothing else in
the engine writes ledger rows; the phases hand their changes (`transitions`) to the book.

Changes nothing waits on — a job's progress, queued -> in_progress (`Book.write_later`), a finished
task's lease release (`Book.release_later`) — are *deferred*: they ride on the next transaction
another caller starts, or get one of their own `DEFER_SECONDS` later (and at the latest when the
engine closes). They are still told only after their commit, in commit order. A crash in between
loses only such a change: the row keeps its previous poll state, which resume polls the same way,
and a lease not released runs out by itself.

No job is ever left behind silently: when the engine stops driving a task, every row that is not
terminal is ``timed_out_waiting`` (poll states, `Book.stop_rows` / `Book.mark_timed_out`),
``pending``/``unknown`` (create states: resume reconciles) with the reason in
``error_code``/``error_message``, and only then are waiters woken (`Book.release`). A download the
engine gives up on is ``failed`` with ``download_failed`` (the provider made, and billed, the
video), so ``Batch.wait`` never returns on a row still ``downloading``.

Per-job state (``rows``, ``live``, ``events``, ``errors``) is dropped when a task ends, so a kernel
that runs thousands of jobs stays flat; the ledger keeps the record, and ``recent`` (bounded) the
last status of finished jobs for progress displays and for a wait that begins after the job ended.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import datetime as dt
import functools
import logging
from typing import Any, Callable, Iterable, Optional

from ..._types import TERMINAL
from .transitions import DOWNLOAD_FAILED, POLL_STATUSES, fail_changes

__all__ = ["Book", "COMMIT_WINDOW", "DEFER_SECONDS"]

log = logging.getLogger("sorakit.engine")
UTC = dt.timezone.utc


DEFER_SECONDS = 0.25
"""The longest a deferred ledger entry (`Book.write_later`, a finished task's lease release) waits
for another caller's transaction to ride on before it is committed on its own. Each transaction is
a trip to the ledger thread and back (bench/cpu.py): progress writes and lease releases rarely need
one of their own."""


COMMIT_WINDOW = 0.005
"""While the ledger is busy (a commit in the last `BUSY_SPAN` seconds), a transaction waits this long
for the transitions of other jobs to join it: 1,000 concurrent jobs then make about half as many
transactions (each a wake-up of the ledger thread, which costs more CPU here than the SQL) for 5 ms
more per transition; a lone job's writes go at once."""
BUSY_SPAN = 0.1


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _log_failed_later(fut: asyncio.Future) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("sorakit: a deferred ledger update was not committed: %s", fut.exception())


class Book:
    """The row cache and the one path by which job state reaches the ledger.

    Args:
        ledger: the `Ledger`.
        budget: the session `Budget` (settled as rows end).
        runtimes: ``{(provider, emulated): Runtime}`` (their ``claimed`` ids are dropped as jobs end).
        owner: this process's lease owner name (lease releases ride on the group commit).
        recent: how many finished jobs' last status `snapshot` still answers from memory.
    """

    def __init__(self, ledger: Any, budget: Any, runtimes: dict, owner: str, recent: int):
        self.ledger = ledger
        self.budget = budget
        self.runtimes = runtimes
        self.owner = owner
        self.recent_limit = recent
        self._db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sorakit-ledger")
        self.rows: dict[str, dict] = {}
        self.live: dict[str, dict] = {}
        self.last_progress_write: dict[str, float] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.errors: dict[str, BaseException] = {}
        self.recent: collections.OrderedDict[str, tuple[dict, Optional[BaseException]]] = collections.OrderedDict()
        """(last status/progress, error) of recently finished jobs (bounded)."""
        self._subscribers: list[Callable[[str, dict], None]] = []
        self._queued: list[tuple[Optional[str], Optional[dict], list[str], asyncio.Future, Any,
                                 Optional[Callable[[], None]]]] = []
        """Ledger updates and lease releases waiting for the group commit: (job id, fields, leases to
        release, the caller's future, fence, ``after`` — set for a deferred write: its caches and
        subscribers, run once it is committed)."""
        self._flusher: Optional[asyncio.Task] = None
        self._urgent = False
        """Someone waits on a queued entry: the writer commits now (else deferred entries wait)."""
        self._last_commit = -1e9
        self._timer: Optional[asyncio.TimerHandle] = None
        """Commits deferred entries `DEFER_SECONDS` after the first of them, if nothing urgent did."""

    # ------------------------------------------------------------------ ledger I/O
    async def db_call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(fn, *args, **kwargs))

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            try:
                self._subscribers.remove(callback)
            except ValueError:
                pass

        return unsubscribe

    def notify(self, job_id: str, changes: dict) -> None:
        for cb in list(self._subscribers):
            try:
                cb(job_id, dict(changes))
            except Exception:  # a broken widget must not break a job
                log.exception("sorakit: subscriber %r failed", cb)

    async def commit(self, job_id: Optional[str], fields: Optional[dict], release: Iterable[str] = (),
                     fence: Any = None) -> None:
        """Have one ledger update (or a release of this engine's leases) committed; returns once it is.

        Group commit: what the jobs ask while a transaction is under way is queued and committed
        together in the next one (`Ledger.update_many`), so a thousand jobs' transitions cost far
        fewer transactions than transitions, and still no caller moves on before its own update is
        committed. An update that fails fails alone (its caller gets the exception `Ledger.update`
        raises); the others are committed. ``fence`` ``(owner, seconds)``: written only while
        ``owner`` holds the job's lease, renewed by the same statement (else `LeaseLost`). While
        the ledger is busy a transaction waits `COMMIT_WINDOW` for others to join it. (Entries that
        nobody waits on: `write_later`, `release_later`.)"""
        await self._enqueue(job_id, fields, list(release), fence, defer=False)

    def _enqueue(self, job_id: Optional[str], fields: Optional[dict], release: list[str], fence: Any,
                 defer: bool, after: Optional[Callable[[], None]] = None) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if job_id is not None and fields is not None:
            self._absorb(job_id, fields, fut)
        self._queued.append((job_id, fields, release, fut, fence, after))
        if not defer:
            self._kick()
        elif self._timer is None:
            self._timer = loop.call_later(DEFER_SECONDS, self._due)
        return fut

    def _absorb(self, job_id: str, fields: dict, fut: asyncio.Future) -> None:
        """Fold a deferred write of ``job_id`` still queued into ``fields`` (the later values win, in
        the caller's own dict, which it tells the subscribers): the subscribers never hear of a state
        the ledger had already left when they are told."""
        for k, (jid, older, _, older_fut, _, after) in enumerate(self._queued):
            if jid == job_id and after is not None and not older_fut.done():
                merged = {**older, **fields}
                fields.clear()
                fields.update(merged)
                del self._queued[k]
                fut.add_done_callback(lambda f, o=older_fut: o.done() or (
                    o.set_exception(f.exception()) if not f.cancelled() and f.exception() else o.set_result(None)))
                return

    def _kick(self) -> None:
        self._urgent = True
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="sorakit:ledger-writer")

    def _due(self) -> None:
        self._timer = None
        if self._queued:
            self._kick()

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if COMMIT_WINDOW and loop.time() - self._last_commit < BUSY_SPAN:
            await asyncio.sleep(COMMIT_WINDOW)  # busy: the transitions of the next few ms join this commit
        while self._queued and self._urgent:
            self._urgent = False
            if self._timer is not None:  # everything queued goes in this transaction
                self._timer.cancel()
                self._timer = None
            batch = [q for q in self._queued if not q[3].done()]  # a cancelled caller's update is dropped
            self._queued = []
            if not batch:
                continue
            updates = [(jid, fields) if fence is None else (jid, fields, fence)
                       for jid, fields, _, _, fence, _ in batch if jid is not None]
            release = [j for _, _, ids, _, _, _ in batch for j in ids]
            try:
                results = await self.db_call(self.ledger.update_many, updates, release=release, owner=self.owner)
                self._last_commit = loop.time()
            except BaseException as exc:  # the database itself failed (or the engine is closing)
                for entry in batch:
                    fut = entry[3]
                    if not fut.done():
                        fut.cancel() if isinstance(exc, asyncio.CancelledError) else fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            errors = iter(results[:len(updates)])
            release_error = results[len(updates)] if release else None
            for jid, _, ids, fut, _, after in batch:
                error = next(errors) if jid is not None else release_error if ids else None
                if after is not None and error is None:
                    after()  # a deferred write: its caches and subscribers, in commit order
                if not fut.done():
                    fut.set_result(None) if error is None else fut.set_exception(error)

    async def write(self, job_id: str, **fields: Any) -> None:
        """One committed ledger update, then the caches, the budget and the subscribers."""
        await self._write(job_id, fields, None)

    async def write_fenced(self, job_id: str, fence: tuple[str, float], **fields: Any) -> None:
        """`write`, made only while ``fence[0]`` holds the job's lease, which the same statement
        renews for ``fence[1]`` seconds; raises `LeaseLost` (nothing written) otherwise."""
        await self._write(job_id, fields, fence)

    def write_later(self, job_id: str, **fields: Any) -> None:
        """`write` for a change nothing waits on (a job's progress, queued -> in_progress): no
        transaction of its own, it rides on the next group commit, or is committed `DEFER_SECONDS`
        later; a later write of the same job made before then absorbs it (one statement, and its
        subscribers are told the later state only). The engine's row cache has it at once (the next
        write's ``extra`` builds on it); the live state and the subscribers follow its commit, as
        for `write`. A crash before then loses only that change: the row keeps its previous poll
        state, which resume polls again."""
        fields.setdefault("updated_at", _now())
        self.rows.setdefault(job_id, {"job_id": job_id}).update(fields)
        fut = self._enqueue(job_id, fields, [], None, True, after=lambda: self._committed(job_id, fields))
        fut.add_done_callback(_log_failed_later)

    def release_later(self, job_ids: list[str]) -> None:
        """Free this engine's leases of ``job_ids`` with the next group commit (or `DEFER_SECONDS`
        later; at the latest by `aclose`); a failure is logged (the leases then run out by themselves)."""
        self._enqueue(None, None, list(job_ids), None, True).add_done_callback(_log_failed_later)

    def keep_leases(self, job_ids: Iterable[str]) -> None:
        """Take ``job_ids`` out of the lease releases still queued (`release_later`): this engine
        claims them again (a retried download, a wait or a settle right after a task stopped), and
        a release committed after the claim would leave the job unleased while it is driven."""
        ids = set(job_ids)
        for jid, _, release, fut, _, _ in self._queued:
            if jid is None and release and not fut.done():
                release[:] = [j for j in release if j not in ids]

    async def _write(self, job_id: str, fields: dict, fence: Any) -> None:
        fields.setdefault("updated_at", _now())
        await self.commit(job_id, fields, fence=fence)
        self._committed(job_id, fields)

    def _committed(self, job_id: str, fields: dict) -> None:
        """After ``fields`` were committed: the row cache, the live state, the budget of a row that
        ended, the subscribers, then the waiters of a terminal row."""
        row = self.rows.setdefault(job_id, {"job_id": job_id})
        row.update(fields)
        live = self.live.setdefault(job_id, {})
        for k in ("status", "progress", "error_code", "error_message"):
            if k in fields:
                live[k] = fields[k]
        status = fields.get("status")
        if status in TERMINAL:
            source = row.get("billed_cost_source")
            self.budget.settle(job_id, status,
                               row.get("billed_cost") if source in ("provider", "usage", "catalog") else None)
        self.notify(job_id, fields)
        if status in TERMINAL:
            ev = self.events.get(job_id)
            if ev is not None:
                ev.set()

    async def write_rows(self, job_ids: Iterable[str], **fields: Any) -> None:
        for jid in job_ids:
            await self.write(jid, **fields)

    def extra(self, job_id: str, **changes: Any) -> dict:
        """The row's ``extra`` with ``changes`` merged in (for a `write`)."""
        extra = dict(self.rows.get(job_id, {}).get("extra") or {})
        extra.update(changes)
        return extra

    def settle(self, job_id: str, status: str, amount: Optional[float]) -> None:
        """Settle the budget of a job whose charge the provider does not confirm (kept as ``amount``)."""
        self.budget.settle(job_id, status, amount)

    def remember(self, row: dict) -> None:
        """Cache a row read from (or just inserted into) the ledger before driving it."""
        jid = row["job_id"]
        self.rows[jid] = row
        self.live[jid] = {"status": row.get("status"), "progress": row.get("progress")}

    def open_rows(self, job_ids: Iterable[str]) -> list[str]:
        """The ids among ``job_ids`` whose row is not terminal."""
        return [j for j in job_ids if self.rows[j].get("status") not in TERMINAL]

    def snapshot(self, job_ids: list[str]) -> dict[str, dict]:
        """Latest known status/progress per job (from memory; for progress displays)."""
        out = {}
        for j in job_ids:
            live = self.live.get(j) or self.recent.get(j, (None, None))[0]
            out[j] = dict(live) if live else {}
        return out

    # ------------------------------------------------------------------ failure of rows
    async def fail_rows(self, job_ids: Iterable[str], code: str, message: str,
                        billed: Optional[float] = None, generated: bool = False, **more: Any) -> None:
        """Mark jobs failed (`transitions.fail_changes`: who pays what)."""
        now = _now()
        for jid in job_ids:
            await self.write(jid, **fail_changes(self.rows[jid], code, message, now, billed, generated), **more)

    async def download_failed(self, jid: str, reason: str, what: str = "downloaded") -> None:
        """The video exists remotely (and was billed) but the engine gave up fetching (or storing) it."""
        if self.rows[jid].get("status") != "downloading":
            return
        await self.fail_rows([jid], DOWNLOAD_FAILED,
                             f"the video was made but could not be {what}: {reason}. "
                             f"job.retry_download() fetches it again", generated=True)

    async def mark_timed_out(self, job_ids: Iterable[str]) -> None:
        for jid in job_ids:
            status = self.rows[jid].get("status")
            if status in POLL_STATUSES | {"downloading"} and status != "timed_out_waiting":
                await self.write(jid, status="timed_out_waiting")

    async def stop_rows(self, job_ids: Iterable[str], error: BaseException) -> None:
        """The engine stops driving these rows early: leave every open row where a user (and resume)
        can see why. Poll states -> ``timed_out_waiting``; ``downloading`` -> ``download_failed``;
        create states keep their status (resume reconciles them). The reason is recorded."""
        code = getattr(error, "code", None) or type(error).__name__
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        for jid in job_ids:
            status = self.rows[jid].get("status")
            if status in TERMINAL:
                continue
            if status == "downloading":
                await self.download_failed(jid, f"{message}")
            elif status in POLL_STATUSES:
                await self.write(jid, status="timed_out_waiting", error_code=str(code)[:200],
                                 error_message=f"stopped polling: {message}; resume() polls it again"[:2000])
            else:
                await self.write(jid, error_code=str(code)[:200], error_message=str(message)[:2000])

    # ------------------------------------------------------------------ the end of a job here
    def release(self, jid: str) -> None:
        """Wake the job's waiters and drop its per-job state (the ledger has the record)."""
        row = self.rows.pop(jid, None) or {"job_id": jid}
        live = self.live.pop(jid, None)
        error = self.errors.pop(jid, None)
        self.last_progress_write.pop(jid, None)
        ev = self.events.pop(jid, None)
        for rt in self.runtimes.values():
            rt.claimed.discard(row.get("provider_job_id"))  # committed: the ledger now says who owns it
        if live is not None or error is not None:
            self.recent[jid] = (live or {}, error)
            while len(self.recent) > self.recent_limit:
                self.recent.popitem(last=False)
        if ev is not None:
            ev.sorakit_row = row  # type: ignore[attr-defined]
            ev.sorakit_error = error  # type: ignore[attr-defined]
            ev.set()

    async def aclose(self) -> None:
        """Commit what is still queued (deferred entries too), then stop the ledger thread."""
        if self._queued:
            self._kick()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._db.shutdown(wait=True)
